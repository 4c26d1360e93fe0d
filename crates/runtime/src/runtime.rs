//! [`Runtime`]: the store, the deployment, the program cache and the group
//! committer, and the operations on runs built from them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bots::{Deployment, Script};
use engine::RunState;
use serde_json::{Map, Value, json};
use store::{
    AnyStore, ApprovalDecision, ApprovalFilter, ApprovalRecord, ApprovalStatus, DurablePoint,
    MAX_VALUE_BYTES, NewJournalEntry, NewRun, PointOutcome, RunFilter, RunRecord, RunStatus, Store,
};
use tokio::sync::broadcast;

use crate::committer::{CommitStats, Committer};
use crate::driver::{Driven, Driver};
use crate::limits;
use crate::programs::Programs;
use crate::progress::Progress;
use crate::stored::Stored;
use crate::time::now_ms;
use crate::{Error, Result};

/// How a [`Runtime`] behaves.
#[derive(Clone, Debug)]
pub struct Options {
    /// This node's id in leases; a fresh UUID v7 when `None`.
    pub node_id: Option<String>,
    /// How long a claim holds a run; a driver renews it as it goes. A run
    /// whose driver died is taken over once this has passed.
    pub lease_ttl_ms: i64,
    /// The crash-point hook (tests only): abort the process right after this
    /// many group commits have committed, before anybody is told.
    pub crash_after_commits: Option<u64>,
    /// The most durable points one transaction carries.
    pub max_batch: usize,
    /// The first retry back-off of a failed bot attempt; it doubles each time.
    pub retry_base_ms: u64,
    /// Benchmarks only: answer the built-in W1 bots (`classifier`,
    /// `order-checker`, `refund-processor`, `inventory-updater`) without a
    /// package, logging each execution and published event to this log.
    pub builtin_bots: Option<Arc<crate::BotLog>>,
    /// How other nodes hear that this one made a run due (`wakeups.rs`).
    pub wakeups: crate::WakeupConfig,
    /// How long an owed approval notification is left to the node whose
    /// commit owed it before a sweep of any node delivers it
    /// ([`Runtime::deliver_owed_notifications`], `notify/mod.rs`).
    pub notify_grace_ms: i64,
    /// Tests only: when `false`, a driver owes its notifications in the
    /// point that creates the request but does not deliver them after the
    /// commit, as if its process died right then; only a sweep delivers them.
    pub notify_after_commit: bool,
    /// How long [`Runtime::authenticate`] trusts a token it found before it
    /// looks it up again: so also how long a server may still honour a token
    /// revoked by another process (`botflow tokens revoke`). 0 looks up
    /// every request's token.
    pub api_token_cache_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            node_id: None,
            lease_ttl_ms: 30_000,
            crash_after_commits: None,
            max_batch: 1024,
            retry_base_ms: 100,
            builtin_bots: None,
            wakeups: crate::WakeupConfig::InProcess,
            notify_grace_ms: 5_000,
            notify_after_commit: true,
            api_token_cache_ms: 1_000,
        }
    }
}

/// Everything the runtime's tasks share.
pub(crate) struct Inner {
    pub(crate) store: AnyStore,
    pub(crate) deployment: Deployment,
    pub(crate) programs: Programs,
    pub(crate) committer: Committer,
    pub(crate) node: String,
    pub(crate) options: Options,
    progress: broadcast::Sender<Progress>,
    /// Long polls waiting for one run to stop (see [`Runtime::watch_run`]).
    pub(crate) run_watchers: Arc<crate::progress::RunWatchers>,
    /// Rung when a run may have become runnable (a decision, an event, a
    /// message, a new run), here or on another node, so a worker looks for
    /// due runs now instead of at its next poll.
    pub(crate) wakeups: crate::wakeups::Wakeups,
    /// The deployment's `TRIGGER ON EVENT` scripts (`events.rs`).
    pub(crate) triggers: Vec<crate::events::Trigger>,
    /// The deployment's `SET SCHEDULE` scripts, found on first use (`schedules.rs`).
    pub(crate) schedules: std::sync::OnceLock<Arc<Vec<crate::schedules::Scheduled>>>,
    /// The drivers [`Runtime::launch`] started, drained at shutdown (`launch.rs`).
    pub(crate) launched: crate::launch::Launched,
    /// The deployment secret that signs approval links, once read (`notify/links.rs`).
    pub(crate) link_secret: tokio::sync::OnceCell<Vec<u8>>,
    /// The API tokens found lately (`api_tokens.rs`).
    pub(crate) api_tokens: crate::api_tokens::TokenCache,
}

impl Inner {
    /// Tells a waiting worker, and other nodes', that a run may be runnable now.
    pub(crate) fn wake(&self) {
        self.wakeups.wake();
    }

    /// Sends a progress event to whoever listens. (A run's watchers hear
    /// that it stopped from its driver's [`Driving`](crate::progress::Driving)
    /// mark.)
    pub(crate) fn emit(&self, progress: Progress) {
        if self.progress.receiver_count() > 0 {
            let _ = self.progress.send(progress);
        }
    }

    /// The retry count of a step without `RETRY`: the workflow bot's `step-retry` config.
    pub(crate) fn default_retry(&self, workflow_bot: &str) -> u32 {
        self.deployment
            .package(workflow_bot)
            .and_then(|p| p.config.get_non_empty("step-retry"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

/// A workflow script ready to start runs of.
#[derive(Clone, Debug)]
pub struct Workflow {
    /// The name in `ORCHESTRATE WORKFLOW "<name>"` (the file stem when it has none).
    pub name: String,
    /// The bot the run acts as: the package that holds the script (LANGUAGE.md §4.7).
    pub bot: String,
    /// The script.
    pub script: Script,
}

impl Workflow {
    /// The workflow of one script file acting as `bot`.
    pub fn from_script(bot: &str, script: Script) -> Workflow {
        let name = script.workflow_names().first().cloned().unwrap_or_else(|| {
            script
                .path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("script")
                .to_owned()
        });
        Workflow {
            name,
            bot: bot.to_owned(),
            script,
        }
    }
}

/// What [`Runtime::execute`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The run's id (the one given, or a fresh UUID v7).
    pub id: String,
    /// Whether this call created the run (false: a run with the id existed).
    pub created: bool,
    /// How driving it stopped.
    pub driven: Driven,
}

/// What [`Runtime::resume_all`] (or [`Runtime::resume_all_with_timers`])
/// did, each run counted once, as its last drive left it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResumeReport {
    /// Runs claimed and driven (fenced ones and failed drives included).
    pub driven: usize,
    /// Of those, how many ended (completed, failed, rejected).
    pub finished: usize,
    /// Of those, how many are waiting now.
    pub waiting: usize,
}

impl ResumeReport {
    /// The report of runs whose last drive ended them (`Some(true)`), left
    /// them waiting (`Some(false)`) or neither (fenced, failed to drive).
    fn of(last: &HashMap<String, Option<bool>>) -> ResumeReport {
        let count = |outcome| last.values().filter(|o| **o == Some(outcome)).count();
        ResumeReport {
            driven: last.len(),
            finished: count(true),
            waiting: count(false),
        }
    }
}

/// Who decides an approval request with [`Runtime::decide`], and with what
/// standing. A plain name (`&str`, `&String`) converts into an approver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decider<'a> {
    /// The name recorded with the vote and the audit entry.
    pub who: &'a str,
    /// An admin may decide requests not addressed to them; every other rule
    /// still applies (pending only, one vote each, never approving a run
    /// they started).
    pub admin: bool,
}

impl<'a> Decider<'a> {
    /// Someone who may decide only the requests addressed to them.
    pub fn approver(who: &'a str) -> Self {
        Decider { who, admin: false }
    }

    /// An admin, who may decide any request.
    pub fn admin(who: &'a str) -> Self {
        Decider { who, admin: true }
    }
}

impl<'a> From<&'a str> for Decider<'a> {
    fn from(who: &'a str) -> Self {
        Decider::approver(who)
    }
}

impl<'a> From<&'a String> for Decider<'a> {
    fn from(who: &'a String) -> Self {
        Decider::approver(who)
    }
}

/// The runtime: drives runs of one deployment over one store.
///
/// Cloning is cheap (an `Arc`). It must be created inside a tokio runtime,
/// which runs its group committer.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("node", &self.inner.node)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime over `store` serving the bots of `deployment`.
    pub fn new(store: AnyStore, deployment: Deployment, options: Options) -> Runtime {
        let node = options
            .node_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let wakeups = crate::wakeups::Wakeups::start(&options.wakeups, &store, &node);
        let triggers = crate::events::find_triggers(&deployment);
        let committer = Committer::spawn(
            store.clone(),
            options.max_batch,
            options.crash_after_commits,
            wakeups.waker(),
            triggers
                .iter()
                .map(|t| store::canonical_event_name(t.event()))
                .collect(),
        );
        let (progress, _) = broadcast::channel(4096);
        Runtime {
            inner: Arc::new(Inner {
                store,
                deployment,
                programs: Programs::default(),
                committer,
                node,
                options,
                progress,
                run_watchers: Arc::default(),
                wakeups,
                triggers,
                schedules: std::sync::OnceLock::new(),
                launched: crate::launch::Launched::default(),
                link_secret: tokio::sync::OnceCell::new(),
                api_tokens: crate::api_tokens::TokenCache::default(),
            }),
        }
    }

    /// Tells a waiting worker that a run may be runnable now (see [`woken`](Self::woken)).
    pub fn wake(&self) {
        self.inner.wake();
    }

    /// Resolves when [`wake`](Self::wake) was called since the last time it
    /// resolved (at most one wake-up is remembered): a worker's cue to claim
    /// due runs before its next poll.
    pub async fn woken(&self) {
        self.inner.wakeups.woken().await;
    }

    /// The store.
    pub fn store(&self) -> &AnyStore {
        &self.inner.store
    }

    /// The deployment whose bots the runs ask.
    pub fn deployment(&self) -> &Deployment {
        &self.inner.deployment
    }

    /// This node's lease owner id.
    pub fn node_id(&self) -> &str {
        &self.inner.node
    }

    /// Commit counters (transactions and points), for tests and benchmarks.
    pub fn stats(&self) -> Arc<CommitStats> {
        self.inner.committer.stats().clone()
    }

    /// Live progress of every run this runtime drives.
    pub fn subscribe(&self) -> broadcast::Receiver<Progress> {
        self.inner.progress.subscribe()
    }

    /// Watches one run: the watch fires each time this runtime stops driving
    /// it (it finished, began to wait, or was taken over). Cheaper than
    /// [`subscribe`](Self::subscribe) for a waiter interested in one run.
    pub fn watch_run(&self, run: &str) -> crate::RunWatch {
        self.inner.run_watchers.watch(run)
    }

    /// The workflow named `name` in the deployment, or its only workflow.
    pub fn workflow(&self, name: Option<&str>) -> Result<Workflow> {
        let deployment = &self.inner.deployment;
        let found = match name {
            Some(name) => deployment.find_workflow(name).ok_or_else(|| {
                Error::Workflow(format!(
                    "no workflow named {name:?} in {}; it has: {}",
                    deployment.root.display(),
                    list(deployment)
                ))
            })?,
            None => {
                let mut all = deployment.workflows();
                if all.len() != 1 {
                    return Err(Error::Workflow(if all.is_empty() {
                        format!(
                            "no package in {} declares an ORCHESTRATE WORKFLOW",
                            deployment.root.display()
                        )
                    } else {
                        format!(
                            "{} declares several workflows; pick one with --workflow: {}",
                            deployment.root.display(),
                            list(deployment)
                        )
                    }));
                }
                all.remove(0)
            }
        };
        let (package, reference) = found;
        let script = package.script(&reference.script).cloned().ok_or_else(|| {
            Error::Workflow(format!("the script {} went missing", reference.script))
        })?;
        Ok(Workflow {
            name: reference.name,
            bot: package.name.clone(),
            script,
        })
    }

    /// Checks a workflow as `botflow check` would; a script with errors never starts.
    pub fn check(&self, workflow: &Workflow, input: &Map<String, Value>) -> Result<()> {
        let mut key = workflow.script.hash.clone();
        for name in input.keys() {
            key.push('\n');
            key.push_str(name);
        }
        if self.inner.programs.was_checked(&key) {
            return Ok(());
        }
        self.check_uncached(workflow, input)?;
        self.inner.programs.mark_checked(key);
        Ok(())
    }

    fn check_uncached(&self, workflow: &Workflow, input: &Map<String, Value>) -> Result<()> {
        let parsed = basic::parse(&workflow.script.source);
        let deployment = &self.inner.deployment;
        let mut variables: std::collections::BTreeSet<String> = input.keys().cloned().collect();
        if let Some(package) = deployment.package(&workflow.bot) {
            variables.extend(package.config.params().iter().map(|(k, _)| k.to_string()));
        }
        let context = basic::CheckContext {
            known_bots: (!deployment.packages.is_empty()).then(|| deployment.bot_names()),
            variables,
        };
        let mut diagnostics = parsed.diagnostics;
        diagnostics.extend(basic::check(&parsed.program, &context));
        if basic::has_errors(&diagnostics) {
            return Err(Error::Check {
                file: workflow.script.path.display().to_string(),
                source_text: workflow.script.source.clone(),
                diagnostics,
            });
        }
        Ok(())
    }

    /// Creates a run of `workflow` (checked first) without driving it. The
    /// same `id` never creates two runs: the second call returns the existing
    /// run and `false`. A fresh UUID v7 is the id when none is given.
    pub async fn start(
        &self,
        workflow: &Workflow,
        input: Value,
        id: Option<String>,
    ) -> Result<(RunRecord, bool)> {
        self.start_by(workflow, input, id, None).await
    }

    /// Like [`start`](Self::start), recording who starts the run: that
    /// identity may never approve the run's own approval requests.
    pub async fn start_by(
        &self,
        workflow: &Workflow,
        input: Value,
        id: Option<String>,
        started_by: Option<String>,
    ) -> Result<(RunRecord, bool)> {
        let mut runs = self
            .start_many_by(workflow, vec![(input, id)], started_by)
            .await?;
        runs.pop()
            .ok_or_else(|| Error::Commit("the store created no run".to_owned()))
    }

    /// Creates many runs of one workflow in one transaction (see [`start`](Self::start)).
    pub async fn start_many(
        &self,
        workflow: &Workflow,
        runs: Vec<(Value, Option<String>)>,
    ) -> Result<Vec<(RunRecord, bool)>> {
        self.start_many_by(workflow, runs, None).await
    }

    async fn start_many_by(
        &self,
        workflow: &Workflow,
        runs: Vec<(Value, Option<String>)>,
        started_by: Option<String>,
    ) -> Result<Vec<(RunRecord, bool)>> {
        let first_input = runs
            .first()
            .and_then(|(input, _)| input.as_object().cloned())
            .unwrap_or_default();
        self.check(workflow, &first_input)?;
        let script = &workflow.script;
        let compiled = self.inner.programs.get_or_compile(
            &script.hash,
            &script.path.display().to_string(),
            &script.source,
        )?;
        let now = now_ms();
        let mut news = Vec::with_capacity(runs.len());
        for (input, id) in runs {
            let (id, input, stored) =
                self.initial_state(&compiled, input, id, started_by.clone())?;
            news.push(NewRun {
                id,
                workflow: workflow.name.clone(),
                bot: workflow.bot.clone(),
                program_hash: script.hash.clone(),
                status: RunStatus::Running,
                state: stored.encode_value(),
                input,
                wake_at: None,
                parent_run: None,
                now,
            });
        }
        self.inner
            .programs
            .ensure_stored(&self.inner.store, &script.hash, &script.source)
            .await?;
        let created = self.inner.store.create_runs(news).await?;
        // Created, not driven: a worker (here or on another node) drives them.
        self.inner.wake();
        Ok(created)
    }

    /// Starts a run of `workflow` and drives it until it ends, waits or is
    /// taken over, in as few transactions as the run has durable points: the
    /// run is created by its first point instead of a transaction of its own.
    /// The same `id` never starts two runs: when it exists, that run is
    /// driven instead (if it is runnable) and `created` is false.
    pub async fn execute(
        &self,
        workflow: &Workflow,
        input: Value,
        id: Option<String>,
        started_by: Option<String>,
    ) -> Result<Execution> {
        let (id, driver) = self.fresh_driver(workflow, input, id, started_by).await?;
        let (driven, existed) = driver.drive_and_tell().await?;
        if existed {
            let driven = self.drive(&id).await?;
            return Ok(Execution {
                id,
                created: false,
                driven,
            });
        }
        Ok(Execution {
            id,
            created: true,
            driven,
        })
    }

    /// A new run's id, input object and first state, each checked against
    /// the limits.
    pub(crate) fn initial_state(
        &self,
        compiled: &engine::Compiled,
        input: Value,
        id: Option<String>,
        started_by: Option<String>,
    ) -> Result<(String, Value, Stored)> {
        let input = match input {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => return Err(Error::InputNotObject(json_kind(&other))),
        };
        if let Some(id) = &id {
            limits::check_run_id(id)?;
        }
        let input = Value::Object(input);
        let input_bytes = limits::json_len(&input);
        if input_bytes > MAX_VALUE_BYTES {
            return Err(Error::TooLarge {
                what: "the run's input".to_owned(),
                bytes: input_bytes,
                limit: MAX_VALUE_BYTES,
            });
        }
        let id = id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let map = match &input {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        let mut stored = Stored::new(engine::start(compiled, map, &id));
        stored.started_by = started_by;
        // The first state holds the input plus the engine's own fields:
        // an input just under the limit can still make it too large.
        let state_bytes = limits::json_len(&stored);
        if state_bytes > MAX_VALUE_BYTES {
            return Err(Error::TooLarge {
                what: format!(
                    "the run's state (its input of {input_bytes} bytes plus the engine's own fields)"
                ),
                bytes: state_bytes,
                limit: MAX_VALUE_BYTES,
            });
        }
        Ok((id, input, stored))
    }

    /// Claims the run and drives it until it ends, waits or is taken over.
    /// A run that is leased by another live driver, or has ended, is left
    /// alone ([`Driven`] from its stored status).
    pub async fn drive(&self, id: &str) -> Result<Driven> {
        let claimed = self
            .inner
            .store
            .claim_run(
                id,
                &self.inner.node,
                now_ms(),
                self.inner.options.lease_ttl_ms,
            )
            .await?;
        match claimed {
            Some(record) => self.drive_claimed(record).await,
            None => {
                let record = self
                    .inner
                    .store
                    .run_outcome(id)
                    .await?
                    .ok_or_else(|| Error::UnknownRun(id.to_owned()))?;
                Ok(match record.status {
                    RunStatus::Waiting => Driven::Waiting {
                        wake_at: record.wake_at,
                    },
                    RunStatus::Running => Driven::Fenced,
                    status => Driven::Finished(status),
                })
            }
        }
    }

    /// Claims up to 256 runs that are runnable now (left `running` by a dead
    /// driver whose lease lapsed, or `waiting` and due), for [`drive_claimed`](Self::drive_claimed).
    pub async fn claim_due(&self) -> Result<Vec<RunRecord>> {
        Ok(self
            .inner
            .store
            .claim(
                &self.inner.node,
                now_ms(),
                self.inner.options.lease_ttl_ms,
                256,
            )
            .await?)
    }

    /// Drives a run this node has claimed.
    pub async fn drive_claimed(&self, record: RunRecord) -> Result<Driven> {
        Driver::new(self.inner.clone(), record).await?.drive().await
    }

    /// Drives the run until it ends or waits on something other than a
    /// timer (a pending approval): timers are slept through here, and a run another driver holds
    /// is waited for until that driver's lease lapses.
    pub async fn run_to_end(&self, id: &str) -> Result<RunStatus> {
        loop {
            match self.drive(id).await? {
                Driven::Finished(status) => return Ok(status),
                Driven::Waiting { wake_at: None } => return Ok(RunStatus::Waiting),
                // An approval's deadline is no timer to sleep through: people decide.
                Driven::Waiting { .. } if !self.pending_approvals(id).await?.is_empty() => {
                    return Ok(RunStatus::Waiting);
                }
                Driven::Waiting { wake_at: Some(due) } => sleep_until(due).await,
                Driven::Fenced => {
                    let record = self.inner.store.run_outcome(id).await?;
                    match record {
                        Some(r) if r.status.is_terminal() => return Ok(r.status),
                        Some(r) => {
                            let until = r.lease_until.unwrap_or(0).max(r.wake_at.unwrap_or(0));
                            sleep_until(until.max(now_ms() + 20)).await;
                        }
                        None => return Err(Error::UnknownRun(id.to_owned())),
                    }
                }
            }
        }
    }

    /// Recovery: claims every run that is `running` (its driver gone) or
    /// `waiting` and due, and drives them all concurrently; repeats until no
    /// run is runnable. Runs still leased by a driver that may be dead are
    /// waited for until their lease lapses.
    pub async fn resume_all(&self) -> Result<ResumeReport> {
        let mut last = HashMap::new();
        self.resume_runnable(&mut last).await?;
        Ok(ResumeReport::of(&last))
    }

    /// [`Runtime::resume_all`], then, while a waiting run's own timer (a
    /// `DELAY`, a `RETRY` back-off, a `WAIT FOR` timeout) falls due within
    /// `wait` of this call's start, sleeps until the run can be claimed
    /// ([`Store::next_timer`]: its timer, or the end of a lease another
    /// driver still holds) and resumes again. An approval's deadline is not
    /// slept through: people decide those. Each run is counted once, as it
    /// stands at the end.
    pub async fn resume_all_with_timers(&self, wait: Duration) -> Result<ResumeReport> {
        let until = now_ms().saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        let mut last = HashMap::new();
        loop {
            self.resume_runnable(&mut last).await?;
            // A run the rounds above left unclaimed is leased elsewhere:
            // `next_timer` is then the end of that lease; never past `until`.
            match self.inner.store.next_timer(until).await? {
                Some(due) if now_ms() <= until => {
                    sleep_until(due.max(now_ms() + 10).min(until)).await;
                }
                _ => return Ok(ResumeReport::of(&last)),
            }
        }
    }

    /// Drives every runnable run until none is, noting in `last` how each
    /// one's last drive left it.
    async fn resume_runnable(&self, last: &mut HashMap<String, Option<bool>>) -> Result<()> {
        loop {
            let claimed = self.claim_due().await?;
            if claimed.is_empty() {
                let running = self
                    .inner
                    .store
                    .list_runs(RunFilter {
                        status: Some(RunStatus::Running),
                        limit: 1000,
                        ..RunFilter::default()
                    })
                    .await?;
                let mut next = None;
                for summary in running {
                    if let Some(run) = self.inner.store.run(&summary.id).await?
                        && run.status == RunStatus::Running
                    {
                        let until = run.lease_until.unwrap_or(0);
                        next = Some(next.map_or(until, |n: i64| n.min(until)));
                    }
                }
                match next {
                    Some(until) => {
                        sleep_until(until.max(now_ms()) + 10).await;
                        continue;
                    }
                    None => return Ok(()),
                }
            }
            let mut tasks = tokio::task::JoinSet::new();
            let mut runs = HashMap::new();
            for record in claimed {
                let runtime = self.clone();
                let id = record.id.clone();
                let task = tasks.spawn(async move { runtime.drive_claimed(record).await });
                runs.insert(task.id(), id);
            }
            while let Some(joined) = tasks.join_next_with_id().await {
                let (task, outcome) = match joined {
                    Ok((task, Ok(Driven::Finished(_)))) => (task, Some(true)),
                    Ok((task, Ok(Driven::Waiting { .. }))) => (task, Some(false)),
                    Ok((task, Ok(Driven::Fenced))) => (task, None),
                    Ok((task, Err(error))) => {
                        tracing::warn!(%error, run = ?runs.get(&task), "resuming a run failed");
                        (task, None)
                    }
                    Err(error) => {
                        tracing::warn!(%error, run = ?runs.get(&error.id()), "a run's driver panicked");
                        (error.id(), None)
                    }
                };
                // Every task was spawned above with its run's id.
                if let Some(id) = runs.remove(&task) {
                    last.insert(id, outcome);
                }
            }
        }
    }

    /// `runs retry`: continues a failed run from the last durable point
    /// before its failure (the failed step is asked again), then drives it.
    pub async fn retry(&self, id: &str) -> Result<RunStatus> {
        let record = self.record(id).await?;
        if record.status != RunStatus::Failed {
            return Err(Error::Conflict {
                run: id.to_owned(),
                message: format!(
                    "only a failed run can be retried; this one is {}",
                    record.status
                ),
            });
        }
        let stored = Stored::decode(id, record.state.clone())?;
        // A run failed by the engine keeps the state before its failure
        // aside; a run failed because its next point could not be stored
        // keeps that last good, unfinished state as its state.
        let before = match stored.before_failure {
            Some(before) => Some(before),
            None if !stored.engine.is_finished() => Some(stored.engine),
            None => None,
        };
        let Some(before) = before else {
            return Err(Error::Conflict {
                run: id.to_owned(),
                message: "the run has no recorded state before its failure to retry from"
                    .to_owned(),
            });
        };
        let reopened = Stored::new(before);
        let point = self.admin_point(&record, RunStatus::Running, reopened.engine, "retry");
        self.commit_admin(id, point).await?;
        // The reopened run is driven at the epoch it failed under (an ended
        // run's lease is left to lapse, so it cannot be claimed before that);
        // a claim by anybody else fences this driver.
        let record = self.record(id).await?;
        match self.drive_claimed(record).await? {
            Driven::Finished(status) => Ok(status),
            _ => self.run_to_end(id).await,
        }
    }

    /// `runs cancel`: ends a run that is running or waiting with status
    /// `cancelled`. A run another driver is driving right now is refused.
    pub async fn cancel(&self, id: &str) -> Result<()> {
        let record = self.record(id).await?;
        if record.status.is_terminal() {
            return Err(Error::Conflict {
                run: id.to_owned(),
                message: format!("the run has already ended ({})", record.status),
            });
        }
        let claimed = self
            .inner
            .store
            .claim_run(
                id,
                &self.inner.node,
                now_ms(),
                self.inner.options.lease_ttl_ms,
            )
            .await?
            .ok_or_else(|| Error::Conflict {
                run: id.to_owned(),
                message: "another driver holds the run right now; try again when its lease lapses"
                    .to_owned(),
            })?;
        let stored = Stored::decode(id, claimed.state.clone())?;
        let point = self.admin_point(
            &claimed,
            RunStatus::Cancelled,
            stored.engine,
            "run_cancelled",
        );
        self.commit_admin(id, point).await?;
        let _ = self
            .inner
            .store
            .release(id, &self.inner.node, claimed.lease_epoch)
            .await;
        Ok(())
    }

    async fn record(&self, id: &str) -> Result<RunRecord> {
        self.inner
            .store
            .run(id)
            .await?
            .ok_or_else(|| Error::UnknownRun(id.to_owned()))
    }

    /// The run's approval requests still waiting for a decision.
    pub async fn pending_approvals(&self, run: &str) -> Result<Vec<ApprovalRecord>> {
        Ok(self
            .inner
            .store
            .approvals(ApprovalFilter {
                status: Some(ApprovalStatus::Pending),
                run_id: Some(run.to_owned()),
                ..ApprovalFilter::default()
            })
            .await?)
    }

    /// Records a decision on an approval request, named by its id or by the
    /// id of a run with exactly one pending request. `by` says who decides:
    /// a plain name decides as that approver, [`Decider::admin`] as an admin.
    /// The store checks the rules (pending, addressed approver unless admin,
    /// one vote each, never approving a run one started) in the decision's
    /// transaction; a settled request makes the run due and wakes this
    /// process's worker: drive it with [`run_to_end`](Self::run_to_end).
    pub async fn decide<'a>(
        &self,
        request_or_run: &str,
        approve: bool,
        by: impl Into<Decider<'a>>,
        comment: Option<String>,
        channel: &str,
    ) -> Result<ApprovalRecord> {
        let (record, _) = self
            .decide_claiming(request_or_run, approve, by.into(), comment, channel, false)
            .await?;
        Ok(record)
    }

    pub(crate) async fn decide_claiming(
        &self,
        request_or_run: &str,
        approve: bool,
        by: Decider<'_>,
        comment: Option<String>,
        channel: &str,
        claim: bool,
    ) -> Result<(ApprovalRecord, Option<RunRecord>)> {
        let decision = ApprovalDecision {
            approve,
            who: by.who.to_owned(),
            comment,
            channel: channel.to_owned(),
            admin: by.admin,
            now: now_ms(),
        };
        // Callers mostly name the request: decide at once, and look for a
        // run of that id only when no request has it.
        let decided = match self
            .decide_in_group(request_or_run.to_owned(), decision.clone(), claim)
            .await
        {
            Err(Error::Store(store::Error::Refused(store::DecisionRefused::Unknown(_)))) => {
                let id = self.only_pending_request(request_or_run).await?;
                self.decide_in_group(id, decision, claim).await
            }
            decided => decided,
        };
        let (record, claimed) = decided?;
        // A settled request made its run due: a worker in this process drives
        // it now, unless this call claimed it for its caller.
        if record.status != ApprovalStatus::Pending && claimed.is_none() {
            self.inner.wake();
        }
        Ok((record, claimed))
    }

    /// The one pending request of run `run`, for a decision that names the
    /// run; an error (nothing changed) when there is no such run, or it
    /// waits for none or for several.
    async fn only_pending_request(&self, run: &str) -> Result<String> {
        if self.inner.store.run_outcome(run).await?.is_none() {
            return Err(Error::Approval(format!(
                "there is no approval request or run with id {run:?}; nothing was changed"
            )));
        }
        let pending = self.pending_approvals(run).await?;
        match pending.as_slice() {
            [one] => Ok(one.id.clone()),
            [] => Err(Error::Approval(format!(
                "run {run} waits for no approval; nothing was changed"
            ))),
            many => {
                let ids: Vec<&str> = many.iter().map(|a| a.id.as_str()).collect();
                Err(Error::Approval(format!(
                    "run {run} waits for {} approvals ({}): name one; nothing was changed",
                    many.len(),
                    ids.join(", ")
                )))
            }
        }
    }

    /// Records a decision inside the next group commit (no transaction of
    /// its own), claiming the run it makes due when `claim` is set.
    async fn decide_in_group(
        &self,
        id: String,
        decision: ApprovalDecision,
        claim: bool,
    ) -> Result<(ApprovalRecord, Option<RunRecord>)> {
        let claim = claim.then(|| store::GroupClaim {
            owner: self.inner.node.clone(),
            ttl_ms: self.inner.options.lease_ttl_ms,
        });
        let write = store::GroupWrite::Decide {
            id,
            decision,
            claim,
        };
        match self.inner.committer.write(write).await?? {
            store::GroupWritten::Decided { approval, claimed } => {
                Ok((*approval, claimed.map(|run| *run)))
            }
            store::GroupWritten::Approval | store::GroupWritten::NoticeDone => Err(Error::Commit(
                "the group commit answered a decision with another write's result".to_owned(),
            )),
        }
    }

    /// [`decide`](Self::decide), and when the decision settles the request,
    /// drives the run it made due right away: the decision and the run's claim
    /// ride on one group commit instead of a transaction each. `None` when the
    /// run was not claimed (still pending, or another driver holds it).
    pub async fn decide_and_drive<'a>(
        &self,
        request_or_run: &str,
        approve: bool,
        by: impl Into<Decider<'a>>,
        comment: Option<String>,
        channel: &str,
    ) -> Result<(ApprovalRecord, Option<Driven>)> {
        let (record, claimed) = self
            .decide_claiming(request_or_run, approve, by.into(), comment, channel, true)
            .await?;
        let driven = match claimed {
            Some(run) => Some(
                Driver::new(self.inner.clone(), run)
                    .await?
                    .knowing(record.clone())
                    .drive()
                    .await?,
            ),
            None => None,
        };
        Ok((record, driven))
    }

    fn admin_point(
        &self,
        record: &RunRecord,
        status: RunStatus,
        engine: RunState,
        kind: &str,
    ) -> DurablePoint {
        let mut stored = Stored::new(engine);
        // The run's starter outlives a retry: it still may not approve.
        stored.started_by = Stored::decode(&record.id, record.state.clone())
            .ok()
            .and_then(|old| old.started_by);
        let mut point = DurablePoint::new(record.id.clone(), record.lease_epoch, status, now_ms());
        point.state = stored.encode();
        point.journal = vec![NewJournalEntry {
            kind: kind.to_owned(),
            data: json!({"by": self.inner.node}),
        }];
        point
    }

    async fn commit_admin(&self, id: &str, point: DurablePoint) -> Result<()> {
        match self.inner.committer.commit(point).await? {
            PointOutcome::Ok => Ok(()),
            PointOutcome::Fenced | PointOutcome::Exists => Err(Error::Conflict {
                run: id.to_owned(),
                message: "the run changed meanwhile; try again".to_owned(),
            }),
            PointOutcome::Rejected(reason) => Err(Error::Commit(reason)),
        }
    }
}

fn list(deployment: &Deployment) -> String {
    let names: Vec<String> = deployment
        .workflows()
        .into_iter()
        .map(|(package, w)| format!("{:?} ({}.gbai/{})", w.name, package.name, w.script))
        .collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

async fn sleep_until(due_ms: i64) {
    let wait = u64::try_from(due_ms - now_ms()).unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(wait)).await;
}

/// A deployment with no packages, for a lone script outside any package.
pub fn empty_deployment(root: &Path) -> Deployment {
    Deployment {
        root: root.to_path_buf(),
        packages: Default::default(),
    }
}
