//! Wake-ups across nodes: when this node makes a run due that another node
//! may drive (a decision, a published event, a message, a started run, a
//! commit whose events wake waiters), the other nodes' workers hear of it
//! now instead of at their next poll.
//!
//! Three backends ([`WakeupConfig`]), chosen when the [`Runtime`] is built:
//! - **in-process** (the default, and all SQLite needs): a `Notify` that the
//!   worker of this process waits on. Nothing else runs, nothing else costs.
//! - **PostgreSQL** `LISTEN`/`NOTIFY` on a channel of the store's database.
//! - **Redis** pub/sub (`--redis redis://...`).
//!
//! With a remote backend, [`Wakeups::wake`] still rings the local `Notify`
//! and also asks a publisher task to send one small message (this node's id,
//! so a node ignores its own). Requests made while a message is in flight
//! collapse into one more message after it, and a message is followed by a
//! pause of [`COALESCE`]: a group commit loop at thousands of points per
//! second sends at most a few hundred messages per second, never one per point.
//! A subscriber task turns every message from another node into a local wake.
//!
//! A wake-up is only ever a hint: the store's indexed poll (the worker's poll
//! interval) is the safety net that finds every due run. So when the backend is
//! unreachable or drops, the node logs one warning, keeps working at the poll
//! interval, and reconnects by itself with back-off; a wake-up lost meanwhile
//! delays a run, never loses one. After a reconnection the subscriber rings the
//! local worker once, for whatever it may have missed.
//!
//! The channel defaults to one per database and schema (`botflow_wake_` and a
//! hash of `current_database()` and `current_schema()`), so deployments that
//! share a PostgreSQL server or a Redis never wake each other; on SQLite with
//! Redis it is [`DEFAULT_CHANNEL`]. Nodes of one deployment must agree on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};
use store::AnyStore;
use tokio::sync::{Notify, OnceCell};
use tokio::task::AbortHandle;

use crate::Runtime;

/// The wake-up channel when none is given and the store names none (SQLite).
pub const DEFAULT_CHANNEL: &str = "botflow_wake";

/// The pause after each message sent, during which more requests collapse
/// into the next message.
pub const COALESCE: Duration = Duration::from_millis(5);

/// The first pause before reconnecting; it doubles up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(100);
/// The longest pause between reconnection attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long connecting, publishing or a ping may take before it counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// A subscription silent this long is pinged, so a dead peer is noticed.
const PING_AFTER: Duration = Duration::from_secs(15);

/// How a runtime tells other nodes that a run may be due (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum WakeupConfig {
    /// Only this process's worker is woken; other processes find runs by polling.
    #[default]
    InProcess,
    /// `LISTEN`/`NOTIFY` on the store's PostgreSQL database (a SQLite store
    /// falls back to in-process, with a warning).
    Postgres {
        /// The channel; `None` derives one from the database and schema.
        channel: Option<String>,
    },
    /// Redis pub/sub.
    Redis {
        /// `redis://[user:password@]host[:port][/db]`.
        url: String,
        /// The channel; `None` derives one from the store (see the module doc).
        channel: Option<String>,
    },
}

/// A wake-up configuration that cannot be used; nothing was started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WakeupError {
    /// The Redis URL does not parse.
    #[error("the Redis URL {url} cannot be used: {reason}")]
    RedisUrl {
        /// The URL, its password hidden.
        url: String,
        /// What the Redis client said.
        reason: String,
    },
    /// The channel name is empty, too long or has odd characters.
    #[error(
        "the wake-up channel {0:?} cannot be used: give 1 to 63 letters, digits, `_`, `-`, `.` or `:`"
    )]
    Channel(String),
}

impl WakeupConfig {
    /// Redis pub/sub at `url`, checked (not connected: an unreachable Redis
    /// only slows wake-ups, see the module doc).
    pub fn redis(url: &str) -> Result<WakeupConfig, WakeupError> {
        redis::Client::open(url).map_err(|error| WakeupError::RedisUrl {
            url: store::redact_url(url),
            reason: error.to_string(),
        })?;
        Ok(WakeupConfig::Redis {
            url: url.to_owned(),
            channel: None,
        })
    }

    /// The same backend on the channel `name` instead of the derived one
    /// (tests give each theirs; nodes of one deployment must agree).
    pub fn on_channel(self, name: &str) -> Result<WakeupConfig, WakeupError> {
        let plain = !name.is_empty()
            && name.len() <= 63
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c));
        if !plain {
            return Err(WakeupError::Channel(name.to_owned()));
        }
        let channel = Some(name.to_owned());
        Ok(match self {
            WakeupConfig::InProcess => WakeupConfig::InProcess,
            WakeupConfig::Postgres { .. } => WakeupConfig::Postgres { channel },
            WakeupConfig::Redis { url, .. } => WakeupConfig::Redis { url, channel },
        })
    }
}

/// What the tasks and the wakers share.
struct Shared {
    /// The local worker's wake-up (see [`Runtime::woken`]).
    local: Notify,
    /// Set with a remote backend.
    remote: Option<Remote>,
}

/// The state of a remote backend.
struct Remote {
    /// This node's id: the payload of its messages, so it ignores its own.
    origin: String,
    /// The publisher's cue.
    kick: Notify,
    /// A message is asked for and its sending has not started yet.
    pending: AtomicBool,
    /// A message is being sent.
    in_flight: AtomicBool,
    /// The backend is known to be unreachable (one warning per outage).
    down: AtomicBool,
    /// The channel, once known (it may take a query to derive).
    channel: OnceCell<String>,
    /// `Redis at ...` or `PostgreSQL LISTEN/NOTIFY`, for log lines.
    what: String,
}

impl Remote {
    fn report_down(&self, error: &str) {
        if !self.down.swap(true, Ordering::SeqCst) {
            tracing::warn!(
                backend = %self.what,
                %error,
                "wake-ups from other nodes are unavailable: runs they make due are found at \
                 the poll interval until the connection is back; reconnecting in the background"
            );
        }
    }

    fn report_up(&self) {
        if self.down.swap(false, Ordering::SeqCst) {
            tracing::info!(backend = %self.what, "wake-ups from other nodes are back");
        }
    }
}

/// How the remote tasks reach the backend.
enum Transport {
    Postgres {
        /// One connection for `NOTIFY` (apart from the store's pool, so
        /// publishing never waits behind commits, nor a closed store).
        publish: PgPool,
        /// One connection held by the `LISTEN`er.
        listen: PgPool,
    },
    Redis {
        client: redis::Client,
        /// The store's pool when it is PostgreSQL: the channel is derived from it.
        database: Option<PgPool>,
    },
}

/// The runtime's wake-ups: rings the local worker and, with a remote
/// backend, the other nodes. Dropping it stops its tasks.
pub(crate) struct Wakeups {
    shared: Arc<Shared>,
    tasks: Vec<AbortHandle>,
}

/// A cheap handle that wakes like [`Wakeups::wake`] (for the group committer).
#[derive(Clone)]
pub(crate) struct Waker(Arc<Shared>);

impl Waker {
    /// See [`Wakeups::wake`].
    pub(crate) fn wake(&self) {
        self.0.wake();
    }

    /// Rings the other nodes only, not this process's worker.
    pub(crate) fn wake_others(&self) {
        self.0.wake_others();
    }
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waker")
    }
}

impl Shared {
    fn wake(&self) {
        self.local.notify_one();
        self.wake_others();
    }

    fn wake_others(&self) {
        if let Some(remote) = &self.remote
            && !remote.pending.swap(true, Ordering::SeqCst)
        {
            remote.kick.notify_one();
        }
    }
}

impl Wakeups {
    /// Starts the backend's tasks (none in-process) on the current tokio runtime.
    pub(crate) fn start(config: &WakeupConfig, store: &AnyStore, node: &str) -> Wakeups {
        let (transport, channel, what) = match config {
            WakeupConfig::InProcess => return Wakeups::local_only(),
            WakeupConfig::Postgres { channel } => {
                let AnyStore::Postgres(pg) = store else {
                    tracing::warn!(
                        "PostgreSQL LISTEN/NOTIFY wake-ups need a PostgreSQL store; this one is \
                         SQLite, so only this process's worker is woken"
                    );
                    return Wakeups::local_only();
                };
                let options = (*pg.pool().connect_options()).clone();
                let pool = || {
                    PgPoolOptions::new()
                        .max_connections(1)
                        .min_connections(0)
                        .acquire_timeout(IO_TIMEOUT)
                        .max_lifetime(None)
                        .idle_timeout(None)
                        .connect_lazy_with(options.clone())
                };
                let transport = Transport::Postgres {
                    publish: pool(),
                    listen: pool(),
                };
                (
                    transport,
                    channel.clone(),
                    "PostgreSQL LISTEN/NOTIFY".to_owned(),
                )
            }
            WakeupConfig::Redis { url, channel } => {
                let client = match redis::Client::open(url.as_str()) {
                    Ok(client) => client,
                    Err(error) => {
                        // `WakeupConfig::redis` checks this; a config built by hand may not be.
                        tracing::warn!(url = %store::redact_url(url), %error,
                            "the Redis URL cannot be used; only this process's worker is woken");
                        return Wakeups::local_only();
                    }
                };
                let database = match store {
                    AnyStore::Postgres(pg) => Some(pg.pool().clone()),
                    AnyStore::Sqlite(_) => None,
                };
                (
                    Transport::Redis { client, database },
                    channel.clone(),
                    format!("Redis at {}", store::redact_url(url)),
                )
            }
        };
        let shared = Arc::new(Shared {
            local: Notify::new(),
            remote: Some(Remote {
                origin: node.to_owned(),
                kick: Notify::new(),
                pending: AtomicBool::new(false),
                in_flight: AtomicBool::new(false),
                down: AtomicBool::new(false),
                channel: match channel {
                    Some(name) => OnceCell::new_with(Some(name)),
                    None => OnceCell::new(),
                },
                what,
            }),
        });
        let transport = Arc::new(transport);
        let publisher = tokio::spawn(publish_loop(shared.clone(), transport.clone()));
        let subscriber = tokio::spawn(subscribe_loop(shared.clone(), transport));
        Wakeups {
            shared,
            tasks: vec![publisher.abort_handle(), subscriber.abort_handle()],
        }
    }

    fn local_only() -> Wakeups {
        Wakeups {
            shared: Arc::new(Shared {
                local: Notify::new(),
                remote: None,
            }),
            tasks: Vec::new(),
        }
    }

    /// Tells this node's worker, and the other nodes', that a run may be due.
    pub(crate) fn wake(&self) {
        self.shared.wake();
    }

    /// Resolves at the next wake-up (one that came since the last is remembered).
    pub(crate) async fn woken(&self) {
        self.shared.local.notified().await;
    }

    /// A handle that wakes like this.
    pub(crate) fn waker(&self) -> Waker {
        Waker(self.shared.clone())
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Runtime {
    /// Waits (at most `within`) until every wake-up this runtime asked for
    /// has been sent to the other nodes: a short-lived process (`botflow
    /// approve`) calls it before it exits. True when nothing is left to send
    /// (always, in-process); false when the backend did not take it in time
    /// (the other nodes then find the run at their next poll).
    pub async fn flush_wakeups(&self, within: Duration) -> bool {
        let Some(remote) = &self.inner.wakeups.shared.remote else {
            return true;
        };
        let deadline = Instant::now() + within;
        loop {
            let busy =
                remote.pending.load(Ordering::SeqCst) || remote.in_flight.load(Ordering::SeqCst);
            if !busy {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

/// Doubling pauses between reconnection attempts.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(BACKOFF_START)
    }

    fn next(&mut self) -> Duration {
        let pause = self.0;
        self.0 = (self.0 * 2).min(BACKOFF_MAX);
        pause
    }

    fn reset(&mut self) {
        self.0 = BACKOFF_START;
    }
}

/// The channel: given, or derived from the database (retried until it can be).
async fn channel(remote: &Remote, transport: &Transport) -> String {
    remote
        .channel
        .get_or_init(|| async {
            let database = match transport {
                Transport::Postgres { publish, .. } => Some(publish),
                Transport::Redis { database, .. } => database.as_ref(),
            };
            let Some(pool) = database else {
                return DEFAULT_CHANNEL.to_owned();
            };
            let mut backoff = Backoff::new();
            loop {
                let query = sqlx::query_scalar::<_, String>(
                    "SELECT current_database()::text || '.' || coalesce(current_schema()::text, '')",
                )
                .fetch_one(pool);
                match tokio::time::timeout(IO_TIMEOUT, query).await {
                    Ok(Ok(identity)) => return derived_channel(&identity),
                    Ok(Err(error)) => remote.report_down(&error.to_string()),
                    Err(_) => remote.report_down("the database did not answer in time"),
                }
                tokio::time::sleep(backoff.next()).await;
            }
        })
        .await
        .clone()
}

/// `botflow_wake_` and a 64-bit FNV-1a hash of `identity`: short enough for
/// a PostgreSQL channel (63 bytes), and the same in every build of every node.
fn derived_channel(identity: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in identity.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{DEFAULT_CHANNEL}_{hash:016x}")
}

/// Sends one message per burst of wake requests (see the module doc).
async fn publish_loop(shared: Arc<Shared>, transport: Arc<Transport>) {
    let Some(remote) = &shared.remote else {
        return;
    };
    let channel = channel(remote, &transport).await;
    let mut redis: Option<redis::aio::MultiplexedConnection> = None;
    let mut backoff = Backoff::new();
    let mut retry_at: Option<Instant> = None;
    loop {
        remote.kick.notified().await;
        // In flight first, then not pending: `flush_wakeups` never sees neither.
        remote.in_flight.store(true, Ordering::SeqCst);
        remote.pending.store(false, Ordering::SeqCst);
        // While the backend is down, sending waits for the back-off; the
        // message is dropped (the poll finds the run).
        if retry_at.is_none_or(|at| Instant::now() >= at) {
            let sent =
                tokio::time::timeout(IO_TIMEOUT, send(&transport, &channel, remote, &mut redis))
                    .await
                    .unwrap_or_else(|_| Err("no answer in time".to_owned()));
            match sent {
                Ok(()) => {
                    remote.report_up();
                    backoff.reset();
                    retry_at = None;
                }
                Err(error) => {
                    remote.report_down(&error);
                    redis = None;
                    retry_at = Some(Instant::now() + backoff.next());
                }
            }
        }
        remote.in_flight.store(false, Ordering::SeqCst);
        tokio::time::sleep(COALESCE).await;
    }
}

/// Sends one message carrying this node's id.
async fn send(
    transport: &Transport,
    channel: &str,
    remote: &Remote,
    redis: &mut Option<redis::aio::MultiplexedConnection>,
) -> Result<(), String> {
    match transport {
        Transport::Postgres { publish, .. } => {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(&remote.origin)
                .execute(publish)
                .await
                .map_err(|e| e.to_string())?;
        }
        Transport::Redis { client, .. } => {
            let connection = match redis {
                Some(connection) => connection,
                None => {
                    let config = redis::AsyncConnectionConfig::new()
                        .set_connection_timeout(Some(IO_TIMEOUT))
                        .set_response_timeout(Some(IO_TIMEOUT));
                    let connection = client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await
                        .map_err(|e| e.to_string())?;
                    redis.insert(connection)
                }
            };
            redis::cmd("PUBLISH")
                .arg(channel)
                .arg(&remote.origin)
                .query_async::<i64>(connection)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Turns other nodes' messages into local wake-ups, reconnecting forever.
async fn subscribe_loop(shared: Arc<Shared>, transport: Arc<Transport>) {
    let Some(remote) = &shared.remote else {
        return;
    };
    let channel = channel(remote, &transport).await;
    let mut backoff = Backoff::new();
    let mut first = true;
    loop {
        let lost = match &*transport {
            Transport::Postgres { listen, .. } => {
                listen_postgres(&shared, remote, listen, &channel, first, &mut backoff).await
            }
            Transport::Redis { client, .. } => {
                listen_redis(&shared, remote, client, &channel, first, &mut backoff).await
            }
        };
        remote.report_down(&lost);
        first = false;
        tokio::time::sleep(backoff.next()).await;
    }
}

/// Rings the local worker for a message that is not this node's own.
fn deliver(shared: &Shared, remote: &Remote, payload: &[u8]) {
    if payload != remote.origin.as_bytes() {
        shared.local.notify_one();
    }
}

/// Called once subscribed: back to normal, and after an outage the local
/// worker looks for what it may have missed.
fn subscribed(shared: &Shared, remote: &Remote, first: bool, backoff: &mut Backoff) {
    remote.report_up();
    backoff.reset();
    if !first {
        shared.local.notify_one();
    }
}

/// One Redis subscription, until it fails; returns why.
async fn listen_redis(
    shared: &Shared,
    remote: &Remote,
    client: &redis::Client,
    channel: &str,
    first: bool,
    backoff: &mut Backoff,
) -> String {
    let connected = tokio::time::timeout(IO_TIMEOUT, async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, redis::RedisError>(pubsub)
    })
    .await;
    let pubsub = match connected {
        Ok(Ok(pubsub)) => pubsub,
        Ok(Err(error)) => return error.to_string(),
        Err(_) => return "no answer in time".to_owned(),
    };
    subscribed(shared, remote, first, backoff);
    let (mut sink, mut stream) = pubsub.split();
    loop {
        tokio::select! {
            message = stream.next() => match message {
                Some(message) => deliver(shared, remote, message.get_payload_bytes()),
                None => return "the connection was closed".to_owned(),
            },
            () = tokio::time::sleep(PING_AFTER) => {
                match tokio::time::timeout(IO_TIMEOUT, sink.ping::<redis::Value>()).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => return error.to_string(),
                    Err(_) => return "no answer to a ping in time".to_owned(),
                }
            }
        }
    }
}

/// One PostgreSQL `LISTEN`, until it fails; returns why.
async fn listen_postgres(
    shared: &Shared,
    remote: &Remote,
    pool: &PgPool,
    channel: &str,
    first: bool,
    backoff: &mut Backoff,
) -> String {
    let connected = tokio::time::timeout(IO_TIMEOUT, async {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(channel).await?;
        Ok::<_, sqlx::Error>(listener)
    })
    .await;
    let mut listener = match connected {
        Ok(Ok(listener)) => listener,
        Ok(Err(error)) => return error.to_string(),
        Err(_) => return "no answer in time".to_owned(),
    };
    subscribed(shared, remote, first, backoff);
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => deliver(shared, remote, notification.payload().as_bytes()),
            // The connection dropped and the listener has listened again on
            // a new one: notifications in between are lost, so look now.
            Ok(None) => {
                tracing::info!(backend = %remote.what, "wake-up connection re-established");
                shared.local.notify_one();
            }
            Err(error) => return error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            store::redact_url("redis://user:secret@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
        assert_eq!(
            store::redact_url("redis://:secret@host"),
            "redis://:***@host"
        );
        assert_eq!(store::redact_url("redis://host:6379"), "redis://host:6379");
        let error = WakeupConfig::redis("redis://:secret@").err();
        if let Some(error) = error {
            assert!(!error.to_string().contains("secret"), "{error}");
        }
    }

    #[test]
    fn derived_channels_are_short_stable_and_distinct() {
        let a = derived_channel("test.t_1");
        assert_eq!(a, derived_channel("test.t_1"));
        assert_ne!(a, derived_channel("test.t_2"));
        assert!(a.len() <= 63 && a.starts_with("botflow_wake_"), "{a}");
    }

    #[test]
    fn bad_urls_and_channels_are_refused() {
        assert!(matches!(
            WakeupConfig::redis("http://example.com"),
            Err(WakeupError::RedisUrl { .. })
        ));
        let redis = WakeupConfig::redis("redis://127.0.0.1:6379").expect("a good URL");
        assert!(matches!(
            redis.clone().on_channel("no spaces"),
            Err(WakeupError::Channel(_))
        ));
        assert!(matches!(
            redis.clone().on_channel(&"x".repeat(64)),
            Err(WakeupError::Channel(_))
        ));
        assert_eq!(
            redis.on_channel("botflow:test-1").expect("a good channel"),
            WakeupConfig::Redis {
                url: "redis://127.0.0.1:6379".to_owned(),
                channel: Some("botflow:test-1".to_owned())
            }
        );
    }
}
