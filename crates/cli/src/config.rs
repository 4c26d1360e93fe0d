//! `--config botflow.toml`: the settings of the long-running commands
//! (`serve`, `worker`) in a file. Both read the same file; `worker` uses
//! the keys it has a meaning for (db, bots, redis, poll-ms, concurrency,
//! lease-ms) and leaves the server's to `serve`.
//!
//! Every key is optional. A value is taken from, in order: the command-line
//! flag, its environment variable, the file, the built-in default. A key the
//! file does not know is an error naming the key and the file (exit code 2),
//! so a misspelt setting is never silently ignored.
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! db = "botflow.db"            # or database-url = "postgres://..."; relative
//! bots = "bots"                # paths are relative to the file's folder
//! redis = "redis://127.0.0.1:6379"
//! cors = ["https://app.example.com"]
//! poll-ms = 1000
//! concurrency = 256
//! lease-ms = 30000
//! header-timeout-ms = 10000
//! request-timeout-ms = 30000
//! reload-ms = 1000             # 0: never reload the bots folder
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::UsageError;
use crate::runner::DbArgs;

/// The largest config file read (it is a handful of settings).
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The settings of a `botflow.toml` file; `None` where the file says nothing.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    /// The address `serve` listens on.
    pub listen: Option<SocketAddr>,
    /// The database: a SQLite file or a `postgres://` URL.
    #[serde(alias = "database-url")]
    pub db: Option<String>,
    /// The folder of bot packages (relative paths are relative to the file).
    pub bots: Option<PathBuf>,
    /// Redis for wake-ups across nodes.
    pub redis: Option<String>,
    /// The origins allowed to call the API from a browser (CORS).
    pub cors: Option<Vec<String>>,
    /// The worker's longest pause between looks for due runs, in milliseconds.
    pub poll_ms: Option<u64>,
    /// The most runs driven at once.
    pub concurrency: Option<u64>,
    /// How long a claim holds a run, in milliseconds.
    pub lease_ms: Option<u64>,
    /// How long `serve` waits for a request's headers, in milliseconds.
    pub header_timeout_ms: Option<u64>,
    /// How long `serve` lets a request (its body included) take, in milliseconds.
    pub request_timeout_ms: Option<u64>,
    /// How often `serve` looks at the bots folder for changes, in
    /// milliseconds; 0 never reloads it.
    pub reload_ms: Option<u64>,
}

impl FileConfig {
    /// Reads `path`, or nothing when no file is given.
    pub fn load(path: Option<&Path>) -> Result<FileConfig, UsageError> {
        let Some(path) = path else {
            return Ok(FileConfig::default());
        };
        let shown = path.display();
        let text = read(path).map_err(|reason| {
            UsageError(format!("cannot read the config file {shown}: {reason}"))
        })?;
        let mut config = FileConfig::parse(&text).map_err(|reason| {
            UsageError(format!("the config file {shown} is not usable: {reason}"))
        })?;
        // Relative paths are where the file is, not where botflow runs.
        if let Some(folder) = path.parent() {
            if let Some(bots) = &config.bots
                && bots.is_relative()
            {
                config.bots = Some(folder.join(bots));
            }
            if let Some(db) = &config.db
                && !db.contains("://")
                && !db.starts_with("sqlite:")
                && Path::new(db).is_relative()
            {
                config.db = Some(folder.join(db).display().to_string());
            }
        }
        Ok(config)
    }

    /// Parses the text of a config file, checking the values' ranges.
    pub fn parse(text: &str) -> Result<FileConfig, String> {
        let config: FileConfig =
            toml::from_str(text).map_err(|e| e.to_string().trim().to_owned())?;
        let ranges = [
            ("poll-ms", config.poll_ms, 1, 3_600_000),
            ("concurrency", config.concurrency, 1, 65_536),
            ("lease-ms", config.lease_ms, 1, 86_400_000),
            ("header-timeout-ms", config.header_timeout_ms, 1, 3_600_000),
            (
                "request-timeout-ms",
                config.request_timeout_ms,
                1,
                86_400_000,
            ),
            ("reload-ms", config.reload_ms, 0, 3_600_000),
        ];
        for (key, value, low, high) in ranges {
            if let Some(value) = value
                && !(low..=high).contains(&value)
            {
                return Err(format!("{key} = {value} is not in {low}..={high}"));
            }
        }
        for origin in config.cors.iter().flatten() {
            server::check_cors_origin(origin).map_err(|e| format!("cors: {e}"))?;
        }
        Ok(config)
    }
}

/// The text of the file at `path`, at most [`MAX_CONFIG_BYTES`].
fn read(path: &Path) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| crate::inputs::io_reason(&e))?;
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| crate::inputs::io_reason(&e))?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(format!("it is larger than {MAX_CONFIG_BYTES} bytes"));
    }
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_owned())
}

/// The flags of the settings `serve` and `worker` share.
#[derive(Debug, clap::Args)]
pub struct NodeArgs {
    /// A botflow.toml with settings; flags and environment variables win
    /// over it.
    #[arg(long, env = "BOTFLOW_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The folder of bot packages the runs' steps ask [default: .].
    #[arg(long, env = "BOTFLOW_BOTS", value_name = "FOLDER")]
    pub bots: Option<PathBuf>,
    /// The database: a SQLite file or a postgres:// URL (default:
    /// $BOTFLOW_DATABASE_URL, else the config file's, else botflow.db).
    #[arg(
        long,
        visible_alias = "database",
        env = "BOTFLOW_DB",
        value_name = "FILE"
    )]
    pub db: Option<String>,
    /// Redis for wake-ups across nodes (`redis://host:6379`): a node that
    /// makes a run due tells the others at once.
    #[arg(long, env = "BOTFLOW_REDIS", value_name = "URL")]
    pub redis: Option<String>,
    /// The longest pause between looks for due runs, in milliseconds (a
    /// safety net: runs this node drives wake it on time) [default: 1000].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub poll_ms: Option<u64>,
    /// The most runs driven at once [default: 256].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub concurrency: Option<u64>,
    /// How long to keep trying to reach the database at start-up, in
    /// seconds, before giving up (each attempt that fails is printed).
    #[arg(long, default_value_t = 30, value_name = "S",
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub connect_timeout: u64,
}

/// The settings `serve` and `worker` share, after flags, environment,
/// file and defaults are merged.
#[derive(Debug)]
pub struct Node {
    /// The config file's settings (`serve` reads its own keys from it).
    pub file: FileConfig,
    pub bots: PathBuf,
    pub db: DbArgs,
    pub poll: Duration,
    pub concurrency: usize,
    /// The file's `lease-ms`; `BOTFLOW_LEASE_MS` wins over it.
    pub lease_ms: Option<u64>,
    pub connect_timeout: Duration,
}

impl NodeArgs {
    /// Merges the flags with the config file (read here) and the defaults.
    pub fn merge(self) -> Result<Node, UsageError> {
        let file = FileConfig::load(self.config.as_deref())?;
        Ok(Node {
            bots: self
                .bots
                .or_else(|| file.bots.clone())
                .unwrap_or_else(|| PathBuf::from(".")),
            db: DbArgs {
                db: database(self.db, &file),
                redis: self.redis.or_else(|| file.redis.clone()),
            },
            poll: Duration::from_millis(self.poll_ms.or(file.poll_ms).unwrap_or(1000)),
            // Bounded by the parsers (at most 65,536), so it fits.
            concurrency: usize::try_from(self.concurrency.or(file.concurrency).unwrap_or(256))
                .unwrap_or(256),
            lease_ms: file.lease_ms,
            connect_timeout: Duration::from_secs(self.connect_timeout),
            file,
        })
    }
}

impl Node {
    /// The runtime's options: the environment's, with the file's `lease-ms`
    /// unless `BOTFLOW_LEASE_MS` is set.
    pub fn runtime_options(&self) -> anyhow::Result<runtime::Options> {
        let mut options = crate::runner::runtime_options()?;
        if let Some(lease) = self.lease_ms
            && env("BOTFLOW_LEASE_MS").is_none()
        {
            options.lease_ttl_ms = i64::try_from(lease).unwrap_or(i64::MAX);
        }
        Ok(options)
    }

    /// What `worker` and `serve` ask of their worker loop.
    pub fn worker_options(&self) -> runtime::WorkerOptions {
        runtime::WorkerOptions {
            poll: self.poll,
            concurrency: self.concurrency,
            ..runtime::WorkerOptions::default()
        }
    }
}

/// The environment variable `name`, when set and not blank.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The database: the flag (or `BOTFLOW_DB`), else `BOTFLOW_DATABASE_URL`,
/// else the file's, else `botflow.db`.
pub fn database(flag_or_env: Option<String>, file: &FileConfig) -> String {
    flag_or_env
        .or_else(|| env("BOTFLOW_DATABASE_URL"))
        .or_else(|| file.db.clone())
        .unwrap_or_else(|| "botflow.db".to_owned())
}
