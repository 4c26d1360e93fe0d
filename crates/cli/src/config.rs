//! `--config botflow.toml`: the settings of the long-running commands
//! (`serve`, `worker`) in a file.
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

use serde::Deserialize;

use crate::UsageError;

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
