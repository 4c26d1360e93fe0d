//! `botflow serve`: the HTTP API (see the `server` crate) and the worker
//! loop in one process, until Ctrl-C or SIGTERM.
//!
//! It prints `listening on http://ADDR` to stderr once the socket is bound
//! (with the real port when `--listen` asks for port 0), and on a first
//! start with no API token at all, one admin token, once. It watches the
//! bots folder: a changed deployment serves new runs once it checks clean;
//! one with errors is logged and the previous one kept.
//!
//! Settings come from the flags, their environment variables, then
//! `--config botflow.toml` (see `config.rs`), then the defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use runtime::{Runtime, WorkerOptions};
use server::{AppState, Reload, ServerOptions};

use crate::UsageError;
use crate::commands::worker::stop_signal;
use crate::config::{self, FileConfig};
use crate::runner::{self, DbArgs};

/// How long a server waits for its last wake-ups to reach the other nodes.
const WAKEUP_FLUSH: Duration = Duration::from_secs(2);

/// Serve the HTTP API and drive runs until stopped.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A botflow.toml with settings; flags and environment variables win
    /// over it.
    #[arg(long, env = "BOTFLOW_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The address to listen on (port 0 picks a free port) [default:
    /// 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The folder of bot packages the runs' steps ask; watched for changes
    /// [default: .].
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
    /// Redis for wake-ups across nodes (`redis://host:6379`).
    #[arg(long, env = "BOTFLOW_REDIS", value_name = "URL")]
    pub redis: Option<String>,
    /// An origin allowed to call the API from a browser (CORS), like
    /// https://app.example.com, or * for any; repeat for more. CORS is off
    /// without one.
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_parser = cors_origin)]
    pub cors_origins: Vec<String>,
    /// The longest pause between looks for due runs, in milliseconds
    /// [default: 1000].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub poll_ms: Option<u64>,
    /// The most runs driven at once [default: 256].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub concurrency: Option<u64>,
    /// How long a client may take to send a request's headers before its
    /// connection is closed, in milliseconds [default: 10000].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub header_timeout_ms: Option<u64>,
    /// How long a request may take, its body included, before it is
    /// answered 408, in milliseconds (long polls get their wait on top)
    /// [default: 30000].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub request_timeout_ms: Option<u64>,
    /// How often the bots folder is looked at for changes, in
    /// milliseconds; 0 never reloads it [default: 1000].
    #[arg(long, value_name = "N",
          value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub reload_ms: Option<u64>,
    /// How long to keep trying to reach the database at start-up, in
    /// seconds, before giving up (each attempt that fails is printed).
    #[arg(long, default_value_t = 30, value_name = "S",
          value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub connect_timeout: u64,
}

fn cors_origin(text: &str) -> Result<String, String> {
    server::check_cors_origin(text).map(|()| text.to_owned())
}

/// The settings after flags, environment, file and defaults are merged.
#[derive(Debug)]
struct Settings {
    listen: SocketAddr,
    bots: PathBuf,
    db: DbArgs,
    cors: Vec<String>,
    poll: Duration,
    concurrency: usize,
    lease_ms: Option<u64>,
    header_timeout: Duration,
    request_timeout: Duration,
    reload: Option<Duration>,
    connect_timeout: Duration,
}

impl Settings {
    fn merge(args: Args) -> Result<Settings, UsageError> {
        let file = FileConfig::load(args.config.as_deref())?;
        let ms = Duration::from_millis;
        Ok(Settings {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            bots: args
                .bots
                .or_else(|| file.bots.clone())
                .unwrap_or_else(|| PathBuf::from(".")),
            db: DbArgs {
                db: config::database(args.db, &file),
                redis: args.redis.or_else(|| file.redis.clone()),
            },
            cors: if args.cors_origins.is_empty() {
                file.cors.clone().unwrap_or_default()
            } else {
                args.cors_origins
            },
            poll: ms(args.poll_ms.or(file.poll_ms).unwrap_or(1000)),
            // Bounded by the parsers (at most 65,536), so it fits.
            concurrency: usize::try_from(args.concurrency.or(file.concurrency).unwrap_or(256))
                .unwrap_or(256),
            lease_ms: file.lease_ms,
            header_timeout: ms(args
                .header_timeout_ms
                .or(file.header_timeout_ms)
                .unwrap_or(10_000)),
            request_timeout: ms(args
                .request_timeout_ms
                .or(file.request_timeout_ms)
                .unwrap_or(30_000)),
            reload: Some(ms(args.reload_ms.or(file.reload_ms).unwrap_or(1000)))
                .filter(|every| !every.is_zero()),
            connect_timeout: Duration::from_secs(args.connect_timeout),
        })
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = Settings::merge(args)?;
    let deployment = runner::deployment_at(&settings.bots)?;
    runner::init_logging();
    runner::block_on(async move {
        let store =
            super::worker::open_store_retrying(&settings.db, settings.connect_timeout).await?;
        let mut options = runner::runtime_options()?;
        // The environment's BOTFLOW_LEASE_MS wins over the file's lease-ms.
        if let Some(lease) = settings.lease_ms
            && config::env("BOTFLOW_LEASE_MS").is_none()
        {
            options.lease_ttl_ms = i64::try_from(lease).unwrap_or(i64::MAX);
        }
        let rt = Runtime::new(store.clone(), deployment, options.clone());
        // A reloaded deployment gets a runtime of its own over the same store
        // and under the same node id, so the leases this process holds stay its.
        options.node_id = Some(rt.node_id().to_owned());
        let latest = Arc::new(Mutex::new(rt.clone()));
        let make_runtime: server::reload::MakeRuntime = {
            let latest = latest.clone();
            Arc::new(move |deployment| {
                let rt = Runtime::new(store.clone(), deployment, options.clone());
                *latest.lock().unwrap_or_else(|e| e.into_inner()) = rt.clone();
                rt
            })
        };
        if let Some(token) = rt
            .ensure_admin_token()
            .await
            .context("cannot create the first admin token")?
        {
            errln!(
                "created the first API token (role admin); it is shown only this once:\n{token}"
            );
        }
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let address = listener
            .local_addr()
            .context("cannot read the listening address")?;
        let server_options = ServerOptions {
            request_timeout: settings.request_timeout,
            header_timeout: settings.header_timeout,
            cors_origins: settings.cors.clone(),
            worker: WorkerOptions {
                poll: settings.poll,
                concurrency: settings.concurrency,
                ..WorkerOptions::default()
            },
            ..ServerOptions::default()
        };
        let reload = settings.reload.map(|interval| Reload {
            folder: settings.bots.clone(),
            interval,
            make_runtime,
        });
        let state = AppState::new(rt.clone(), server_options);
        errln!("listening on http://{address}");
        let report = server::serve_with(listener, state, reload, stop_signal()).await?;
        errln!(
            "server stopped: {} pass(es), {} run(s) ended, {} left waiting, {} error(s), {} aborted",
            report.driven,
            report.finished,
            report.waiting,
            report.errors,
            report.aborted
        );
        // Wake-ups rung at the end reach the other nodes before the exit.
        let last = latest.lock().unwrap_or_else(|e| e.into_inner()).clone();
        rt.flush_wakeups(WAKEUP_FLUSH).await;
        last.flush_wakeups(WAKEUP_FLUSH).await;
        rt.store().close().await;
        Ok(ExitCode::SUCCESS)
    })
}
