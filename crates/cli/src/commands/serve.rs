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
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use runtime::Runtime;
use server::{AppState, Reload, ServerOptions};

use crate::UsageError;
use crate::commands::worker::stop_signal;
use crate::config;
use crate::runner;

/// How long a server waits for its last wake-ups to reach the other nodes.
const WAKEUP_FLUSH: Duration = Duration::from_secs(2);

/// Serve the HTTP API and drive runs until stopped.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub node: config::NodeArgs,
    /// The address to listen on (port 0 picks a free port) [default:
    /// 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// An origin allowed to call the API from a browser (CORS), like
    /// https://app.example.com, or * for any; repeat for more. CORS is off
    /// without one.
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_parser = cors_origin)]
    pub cors_origins: Vec<String>,
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
}

fn cors_origin(text: &str) -> Result<String, String> {
    server::check_cors_origin(text).map(|()| text.to_owned())
}

/// The settings after flags, environment, file and defaults are merged.
#[derive(Debug)]
struct Settings {
    node: config::Node,
    listen: SocketAddr,
    cors: Vec<String>,
    header_timeout: Duration,
    request_timeout: Duration,
    reload: Option<Duration>,
}

impl Settings {
    fn merge(args: Args) -> Result<Settings, UsageError> {
        let node = args.node.merge()?;
        let file = &node.file;
        let ms = Duration::from_millis;
        Ok(Settings {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            cors: if args.cors_origins.is_empty() {
                file.cors.clone().unwrap_or_default()
            } else {
                args.cors_origins
            },
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
            node,
        })
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let settings = Settings::merge(args)?;
    let deployment = runner::deployment_at(&settings.node.bots)?;
    runner::init_logging();
    runner::block_on(async move {
        let node = &settings.node;
        let store = super::worker::open_store_retrying(&node.db, node.connect_timeout).await?;
        let mut options = node.runtime_options()?;
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
            worker: node.worker_options(),
            ..ServerOptions::default()
        };
        let reload = settings.reload.map(|interval| Reload {
            folder: node.bots.clone(),
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
