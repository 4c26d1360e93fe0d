//! `botflow approvals list`, `botflow approve`, `botflow deny`: see and
//! decide human approval requests (LANGUAGE.md §4.3).
//!
//! A decision names the request by its id, or by the id of a run that waits
//! for exactly one request. The store checks it (still pending, an addressed
//! approver, not the run's starter) and records it in one transaction; a
//! refused decision changes nothing and exits 1. A decision that settles the
//! request drives the run on to its next wait or its end, like
//! `botflow resume`, and exits with the run's status code (0 completed,
//! 1 rejected or failed, 3 waiting).
//!
//! `botflow approvals redeem` does the same with a signed link's token.
//!
//! Crash tests set `BOTFLOW_CRASH_AFTER_DECISION` (any value): the process
//! aborts right after the decision committed and before the run is driven,
//! which is where a dying process leaves a decided request and a due run.

use std::process::ExitCode;

use runtime::{Decider, Runtime};
use store::{ApprovalFilter, ApprovalRecord, ApprovalStatus, Store};

use crate::UsageError;
use crate::runner::{self, BotsArgs, DbArgs};

/// See human approval requests.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(subcommand)]
    pub command: ListCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ListCommand {
    /// List approval requests, oldest first.
    List {
        /// Only requests with this status (pending, approved, denied, timed_out, escalated).
        #[arg(long)]
        status: Option<String>,
        /// At most this many requests.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Print one JSON array on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        remote: crate::remote::RemoteArgs,
    },
    /// Use an approve/deny link's token (the part after `/approve/`), as the
    /// link's page will: shows what it does, and with `--yes` records the
    /// decision (the token is spent) and continues the run.
    Redeem {
        /// The token, or the whole link.
        #[arg(value_name = "TOKEN_OR_LINK")]
        token: String,
        /// Record the decision; without it nothing is changed.
        #[arg(long)]
        yes: bool,
        /// A comment kept with the decision.
        #[arg(long, value_name = "TEXT")]
        comment: Option<String>,
        #[command(flatten)]
        bots: BotsArgs,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Approve or deny a request, then continue its run.
#[derive(Debug, clap::Args)]
pub struct DecideArgs {
    /// The approval request id, or the id of a run waiting for one request.
    #[arg(value_name = "REQUEST_OR_RUN_ID")]
    pub id: String,
    /// Who decides (default: $BOTFLOW_USER, else the OS user).
    #[arg(long = "as", value_name = "WHO")]
    pub who: Option<String>,
    /// A comment kept with the decision.
    #[arg(long, value_name = "TEXT")]
    pub comment: Option<String>,
    #[command(flatten)]
    pub bots: BotsArgs,
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub remote: crate::remote::RemoteArgs,
}

/// Who is at the keyboard: `--as`, else `$BOTFLOW_USER`, else the OS user.
pub fn identity(given: Option<String>) -> String {
    given
        .or_else(|| non_empty_env("BOTFLOW_USER"))
        .or_else(|| non_empty_env("USER"))
        .or_else(|| non_empty_env("LOGNAME"))
        .or_else(|| non_empty_env("USERNAME"))
        .unwrap_or_else(|| "unknown".to_owned())
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let (status, limit, json, db, remote) = match args.command {
        ListCommand::List {
            status,
            limit,
            json,
            db,
            remote,
        } => (status, limit, json, db, remote),
        ListCommand::Redeem {
            token,
            yes,
            comment,
            bots,
            db,
        } => return redeem(&token, yes, comment, &bots, &db),
    };
    let status = status
        .map(|s| {
            s.parse::<ApprovalStatus>().map_err(|_| {
                UsageError(format!(
                    "unknown status {s:?}; use pending, approved, denied, timed_out or escalated"
                ))
            })
        })
        .transpose()?;
    if let Some(remote) = remote.client()? {
        let status = status.map(|s| s.as_str().to_owned());
        return runner::block_on(remote.list_approvals(status, limit, json));
    }
    runner::block_on(async move {
        let store = runner::open_store(&db).await?;
        let requests = store
            .approvals(ApprovalFilter {
                status,
                limit,
                ..ApprovalFilter::default()
            })
            .await?;
        if json {
            let rows: Vec<serde_json::Value> = requests.iter().map(to_json).collect();
            outln!("{}", serde_json::to_string_pretty(&rows)?)?;
        } else if requests.is_empty() {
            errln!("no approval requests");
        } else {
            outln!("{:<48} {:<10} {:<32} DEADLINE", "ID", "STATUS", "APPROVERS")?;
            for r in &requests {
                outln!(
                    "{:<48} {:<10} {:<32} {}",
                    r.id,
                    r.status.as_str(),
                    r.approvers.join(", "),
                    r.due_at.map_or_else(|| "none".to_owned(), runner::time)
                )?;
            }
        }
        store.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// `botflow approvals redeem`: previews or uses a link's token.
fn redeem(
    token: &str,
    yes: bool,
    comment: Option<String>,
    bots: &BotsArgs,
    db: &DbArgs,
) -> anyhow::Result<ExitCode> {
    // A whole link is accepted too: the token is its last path segment.
    let token = token.rsplit('/').next().unwrap_or(token).to_owned();
    let deployment = runner::deployment_at(&bots.bots)?;
    runner::block_on(async move {
        let rt = runner::runtime(runner::open_store(db).await?, deployment)?;
        let code = redeem_and_drive(&rt, &token, yes, comment).await;
        rt.store().close().await;
        code
    })
}

async fn redeem_and_drive(
    rt: &Runtime,
    token: &str,
    yes: bool,
    comment: Option<String>,
) -> anyhow::Result<ExitCode> {
    let outcome = match rt.redeem_link(token, yes, comment).await {
        Ok(outcome) => outcome,
        Err(runtime::Error::Store(store::Error::Refused(why))) => {
            errln!("botflow: {why}");
            return Ok(ExitCode::FAILURE);
        }
        Err(runtime::Error::BadLink(message)) => {
            errln!("botflow: {message}");
            return Ok(ExitCode::FAILURE);
        }
        Err(other) => return Err(other.into()),
    };
    let verb = if outcome.approve { "approve" } else { "deny" };
    let request = &outcome.approval;
    if !outcome.decided {
        errln!(
            "this link lets {} {verb} {}{}; run again with --yes to do it",
            outcome.approver,
            request.id,
            request
                .message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let done = if outcome.approve {
        "approved"
    } else {
        "denied"
    };
    errln!(
        "{} {done} {} through the link",
        outcome.approver,
        request.id
    );
    if request.status == ApprovalStatus::Pending {
        errln!("the request needs more approvals; the run keeps waiting");
        return Ok(ExitCode::from(3));
    }
    crash_hook();
    let status = rt.run_to_end(&request.run_id).await?;
    errln!("run {} {status}", request.run_id);
    Ok(runner::exit_code(status))
}

/// The crash-test hook (see the module documentation).
fn crash_hook() {
    if std::env::var_os("BOTFLOW_CRASH_AFTER_DECISION").is_some() {
        std::process::abort();
    }
}

/// One request as the JSON listing shows it.
fn to_json(r: &ApprovalRecord) -> serde_json::Value {
    serde_json::json!({
        "id": r.id, "run_id": r.run_id, "step": r.step, "path": r.path,
        "status": r.status.as_str(), "approvers": r.approvers, "group": r.group,
        "require": r.require_n, "message": r.message, "via": r.via,
        "escalations": r.escalations, "votes": r.votes, "decision": r.decision,
        "created_at": r.created_at, "due_at": r.due_at, "decided_at": r.decided_at,
    })
}

pub fn decide(args: DecideArgs, approve: bool) -> anyhow::Result<ExitCode> {
    if let Some(remote) = args.remote.client()? {
        if args.who.is_some() {
            return Err(UsageError(
                "--as does not apply with --server: the token's holder decides".to_owned(),
            )
            .into());
        }
        return runner::block_on(remote.decide(&args.id, approve, args.comment));
    }
    let who = identity(args.who);
    let deployment = runner::deployment_at(&args.bots.bots)?;
    runner::block_on(async move {
        let rt = runner::runtime(runner::open_store(&args.db).await?, deployment)?;
        let code = decide_and_drive(&rt, &args.id, approve, &who, args.comment).await;
        rt.store().close().await;
        code
    })
}

async fn decide_and_drive(
    rt: &Runtime,
    id: &str,
    approve: bool,
    who: &str,
    comment: Option<String>,
) -> anyhow::Result<ExitCode> {
    // `--as` names who decides but proves nothing, so a local decision never
    // has an admin's standing: only the addressed approvers may decide.
    let by = Decider::approver(who);
    let request = match rt.decide(id, approve, by, comment, "cli").await {
        Ok(request) => request,
        Err(runtime::Error::Store(store::Error::Refused(why))) => {
            errln!("botflow: {why}");
            return Ok(ExitCode::FAILURE);
        }
        Err(runtime::Error::Approval(message)) => {
            errln!("botflow: {message}");
            return Ok(ExitCode::FAILURE);
        }
        Err(other) => return Err(other.into()),
    };
    let verb = if approve { "approved" } else { "denied" };
    if request.status == ApprovalStatus::Pending {
        let yes = request
            .votes
            .iter()
            .filter(|v| v.get("approved").and_then(|a| a.as_bool()) == Some(true))
            .count();
        errln!(
            "{who} {verb} {}: {yes} of {} approvals needed so far; the run keeps waiting",
            request.id,
            request.require_n
        );
        return Ok(ExitCode::from(3));
    }
    errln!(
        "{who} {verb} {}; continuing run {}",
        request.id,
        request.run_id
    );
    crash_hook();
    let status = rt.run_to_end(&request.run_id).await?;
    errln!("run {} {status}", request.run_id);
    if status == store::RunStatus::Waiting {
        print_waiting(rt, &request.run_id, None).await?;
    }
    Ok(runner::exit_code(status))
}

/// Tells what a waiting run waits for: its pending approval requests, their
/// approvers and deadlines, and the exact commands that decide them.
/// `extra` is appended to each command (`--bots ... --db ...`).
pub async fn print_waiting(rt: &Runtime, run: &str, extra: Option<&str>) -> anyhow::Result<()> {
    let extra = extra.map(|e| format!(" {e}")).unwrap_or_default();
    for request in rt.pending_approvals(run).await? {
        let deadline = request.due_at.map_or_else(
            || "no deadline".to_owned(),
            |d| format!("until {}", runner::time(d)),
        );
        let mut what = format!(
            "waiting for approval {} from {} ({deadline})",
            request.id,
            request.approvers.join(", ")
        );
        if request.require_n > 1 {
            what.push_str(&format!(", {} approvals needed", request.require_n));
        }
        if let Some(message) = &request.message {
            what.push_str(&format!(": {message}"));
        }
        errln!("{what}");
        for approver in &request.approvers {
            errln!("  botflow approve {} --as {approver}{extra}", request.id);
            errln!("  botflow deny {} --as {approver}{extra}", request.id);
        }
    }
    Ok(())
}
