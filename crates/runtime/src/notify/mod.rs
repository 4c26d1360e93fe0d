//! Approval notifications (LANGUAGE.md §4.3): who must decide is told
//! through the request's channel, with signed approve/deny links.
//!
//! # Channels (`VIA`)
//!
//! - `log` (the default): logs who must decide, the exact `botflow approve` /
//!   `botflow deny` commands and the links;
//! - `email`: one message per approver through SMTP (lettre), with the request
//!   text and that approver's links;
//! - `webhook`: one HTTP POST of the request as JSON, with every approver's
//!   links, signed: `X-Botflow-Timestamp` (epoch seconds) and
//!   `X-Botflow-Signature: sha256=<hex>`, the HMAC-SHA256 of
//!   `<timestamp>.<body>` under the deployment secret (the one that signs the
//!   links); a listener checks it with [`verify_webhook_signature`] and
//!   refuses old timestamps to stop replays (see `webhook.rs`).
//!
//! A request without `VIA` uses the workflow bot's `approval-via` from
//! `config.csv`, else `log`.
//!
//! # Settings (the workflow bot's `config.csv`)
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `approval-via` | channel of requests without `VIA` | `log` |
//! | `public-url` | base of the links: `{public-url}/approve/{token}` | `http://127.0.0.1:8080` |
//! | `approval-link-ttl` | link lifetime in seconds when the request has no timeout | 7 days |
//! | `approval-reminder` | seconds between reminders to undecided approvers | none |
//! | `smtp-host`, `smtp-port`, `smtp-user`, `smtp-password`, `smtp-from` | e-mail (plain SMTP; credentials only when `smtp-user` is set) | port 25 |
//! | `approval-webhook-url` | where `webhook` POSTs | required for `webhook` |
//!
//! # When and how failures are handled
//!
//! Notifications go out only after the durable point that created the
//! request (or decided that a reminder is due) committed, so nobody is ever
//! told about a request that does not exist. Each delivery is audited on the
//! request: `notified` (who, channel) or `notify_failed` (channel, error).
//! A failed delivery falls back to the log channel at once (audited as
//! `notified` through `log` with `fallback_from`), so the exact decide
//! command is always somewhere; the failed channel is retried at every
//! reminder (`approval-reminder`), which is the back-off. Delivery never
//! fails or delays the run beyond its own timeouts: the run keeps waiting.
//!
//! # At least once: the outbox
//!
//! The point that creates a request (or finds a reminder due) also records,
//! in its own transaction, that the notification is owed
//! (`store::ApprovalWrite::OweNotice`, the `approval_outbox` table), claimed
//! in the same transaction for the node that commits it (the claim lapses
//! after 15 s). After the commit, the same driver delivers, and marks it
//! done in the next group commit together with the delivery's audit: no
//! transaction of its own, so a request costs the single SQLite writer
//! nothing beyond the group commits. A process that dies between the commit
//! and the done mark leaves it owed:
//! the worker's sweep on any node ([`Runtime::deliver_owed_notifications`],
//! at most every 250 ms) delivers what is owed for longer than
//! [`Options::notify_grace_ms`](crate::Options::notify_grace_ms) and not
//! claimed, claimed the same way, so two nodes never both send it. A
//! notification is thus delivered at least once: twice only when a process
//! dies after delivering and before marking it done. A request that is no
//! longer pending when its notification is delivered is not announced (the
//! notification is just marked done).
//!
//! [`Runtime::deliver_owed_notifications`]: crate::Runtime::deliver_owed_notifications

mod email;
mod links;
mod log;
mod redeem;
mod webhook;

use std::time::Duration;

use serde_json::{Value, json};
use store::{ApprovalWrite, OwedNotice, Store, TokenRecord};

pub use links::SECRET_ENV;
pub use redeem::{ApproverLinks, LinkOutcome};
pub use webhook::{
    SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_webhook_signature, webhook_signature,
};

pub(crate) use links::token_id;

use crate::runtime::Inner;

/// The default of `public-url`.
pub const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";
/// The default link lifetime for requests without a timeout: 7 days.
pub const DEFAULT_LINK_TTL_MS: i64 = 7 * 24 * 3600 * 1000;
/// How long one delivery may take before it counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The notification settings of a workflow bot, read from its `config.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    /// `approval-via`.
    pub(crate) via: String,
    /// `public-url`.
    pub(crate) public_url: String,
    /// `approval-link-ttl` in ms.
    pub(crate) link_ttl_ms: i64,
    /// `approval-reminder` in ms.
    pub(crate) reminder_ms: Option<i64>,
    /// The raw `smtp-*` values (checked when an e-mail is sent).
    pub(crate) smtp: email::SmtpConfig,
    /// `approval-webhook-url`.
    pub(crate) webhook_url: Option<String>,
}

impl Settings {
    /// The settings of `bot` in the deployment (defaults when it has no config).
    pub(crate) fn of(inner: &Inner, bot: &str) -> Settings {
        let config = inner.deployment.package(bot).map(|p| &p.config);
        let get = |key: &str| {
            config
                .and_then(|c| c.get_non_empty(key))
                .map(|v| v.trim().to_owned())
        };
        let seconds = |key: &str| {
            get(key)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(|s| (s * 1000.0).min(i64::MAX as f64) as i64)
        };
        Settings {
            via: get("approval-via").unwrap_or_else(|| "log".to_owned()),
            public_url: get("public-url").unwrap_or_else(|| DEFAULT_PUBLIC_URL.to_owned()),
            link_ttl_ms: seconds("approval-link-ttl").unwrap_or(DEFAULT_LINK_TTL_MS),
            reminder_ms: seconds("approval-reminder"),
            smtp: email::SmtpConfig {
                host: get("smtp-host"),
                port: get("smtp-port"),
                user: get("smtp-user"),
                password: get("smtp-password"),
                from: get("smtp-from"),
            },
            webhook_url: get("approval-webhook-url"),
        }
    }
}

/// What a notification is about (as owed in the store's outbox).
pub(crate) use store::NoticeReason as Reason;

/// One notification to send once its point has committed: the request is
/// read back then, so a request that is no longer pending (decided, or an
/// escalation that did not happen) is not announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    /// The request id.
    pub(crate) approval: String,
    /// Why.
    pub(crate) reason: Reason,
}

/// A notice with what it says, read from the store.
#[derive(Debug, Clone)]
pub(crate) struct Details {
    /// The request id.
    pub(crate) approval: String,
    /// The run.
    pub(crate) run: String,
    /// The step number, if any.
    pub(crate) step: Option<String>,
    /// Who is told (the undecided approvers).
    pub(crate) approvers: Vec<String>,
    /// The request text.
    pub(crate) message: Option<String>,
    /// The channel.
    pub(crate) via: String,
    /// The deadline, if any.
    pub(crate) due_at: Option<i64>,
    /// The request's tokens (unused ones are turned into links).
    pub(crate) tokens: Vec<TokenRecord>,
    /// Why.
    pub(crate) reason: Reason,
}

/// One approver's links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Links {
    /// The approver.
    pub(crate) approver: String,
    /// The approve link, if a token is left for it.
    pub(crate) approve: Option<String>,
    /// The deny link, if a token is left for it.
    pub(crate) deny: Option<String>,
}

/// A notice made ready to send: its links signed.
#[derive(Debug, Clone)]
pub(crate) struct Message {
    pub(crate) notice: Details,
    pub(crate) links: Vec<Links>,
}

impl Message {
    /// The decide commands of an approver.
    pub(crate) fn commands(&self, approver: &str) -> (String, String) {
        (
            decide_command(&self.notice.approval, approver, true),
            decide_command(&self.notice.approval, approver, false),
        )
    }

    /// The links of one approver.
    pub(crate) fn links_of(&self, approver: &str) -> Option<&Links> {
        self.links.iter().find(|l| l.approver == approver)
    }

    /// The request as JSON (the webhook body, the log's detail).
    pub(crate) fn to_json(&self) -> Value {
        let n = &self.notice;
        json!({
            "approval": n.approval,
            "run": n.run,
            "step": n.step,
            "message": n.message,
            "due_at": n.due_at,
            "reminder": n.reason == Reason::Reminder,
            "approvers": self.links.iter().map(|l| {
                let (approve_cmd, deny_cmd) = self.commands(&l.approver);
                json!({"who": l.approver, "approve": l.approve, "deny": l.deny,
                       "approve_command": approve_cmd, "deny_command": deny_cmd})
            }).collect::<Vec<_>>(),
        })
    }
}

/// The command that decides a request as `who`.
pub(crate) fn decide_command(id: &str, who: &str, approve: bool) -> String {
    let verb = if approve { "approve" } else { "deny" };
    format!("botflow {verb} {id} --as {who}")
}

/// Signs the links of a notice.
fn message(secret: &[u8], public_url: &str, notice: Details, now: i64) -> Message {
    let links = notice
        .approvers
        .iter()
        .map(|who| {
            let link = |action: &str| {
                notice
                    .tokens
                    .iter()
                    .find(|t| {
                        &t.approver == who
                            && t.action == action
                            && t.used_at.is_none()
                            && t.revoked_at.is_none()
                            && t.expires_at > now
                    })
                    .map(|t| links::url(public_url, &links::sign(secret, &links::Claims::of(t))))
            };
            Links {
                approver: who.clone(),
                approve: link("approve"),
                deny: link("deny"),
            }
        })
        .collect();
    Message { notice, links }
}

/// Sends the notices a point owed at `owed_at`, once it has committed, and
/// audits each delivery. Never fails: a failure is audited and falls back to
/// the log (see the module documentation); a notice another node has
/// claimed meanwhile is left to it.
pub(crate) async fn send(inner: &Inner, settings: &Settings, notices: Vec<Notice>, owed_at: i64) {
    for notice in notices {
        let owed = OwedNotice {
            approval_id: notice.approval.clone(),
            reason: notice.reason,
            owed_at,
        };
        if let Err(error) = deliver_owed(inner, Some(settings), &owed, Claim::Held).await {
            tracing::warn!(approval = %notice.approval, %error,
                "cannot send an approval notification; a sweep will try again");
        }
    }
}

/// How long a claim on an owed notification holds: past it, a deliverer
/// that died is presumed dead and another node delivers.
const CLAIM_MS: i64 = 60_000;
/// The most owed notifications one sweep delivers.
const SWEEP_LIMIT: u32 = 64;

/// Whether the deliverer already holds the claim on an owed notification.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// Claimed by the point that owed it (this node committed it just now).
    Held,
    /// Found by a sweep: to be claimed first.
    ToTake,
}

/// How long the claim a point records with the notifications it owes
/// holds: the delivery right after the commit (bounded by
/// [`DELIVERY_TIMEOUT`]) with a margin. Shorter than a sweep's claim, so a
/// notification owed by a process that died at once waits no longer than
/// this for a sweep.
const HELD_CLAIM_MS: i64 = 15_000;

/// The claim a point records with the notifications it owes, for the node
/// that commits it and delivers right after.
pub(crate) fn claim_for(inner: &Inner, now: i64) -> store::NoticeClaim {
    store::NoticeClaim {
        node: inner.node.clone(),
        until: now.saturating_add(HELD_CLAIM_MS),
    }
}

/// Delivers an owed notification (claiming it first unless `claim` says it
/// is held) and marks it done. `settings` are the workflow bot's when the
/// caller knows them (else read from the run). `Ok(false)` when another node
/// holds it or it was already done.
async fn deliver_owed(
    inner: &Inner,
    settings: Option<&Settings>,
    owed: &OwedNotice,
    claim: Claim,
) -> crate::Result<bool> {
    let store = &inner.store;
    let now = crate::time::now_ms();
    if claim == Claim::ToTake
        && !store
            .claim_notice(owed, &inner.node, now, now.saturating_add(CLAIM_MS))
            .await?
    {
        return Ok(false);
    }
    let notice = Notice {
        approval: owed.approval_id.clone(),
        reason: owed.reason,
    };
    let mut writes = send_one(inner, settings, &notice).await?;
    // Delivered (or audited as failed and logged): done, in the same group
    // commit as the audit. A process that dies before it commits delivers
    // again once its claim lapses: at least once.
    writes.push(store::GroupWrite::NoticeDone(owed.clone()));
    for written in inner.committer.write_all(writes).await? {
        written?;
    }
    Ok(true)
}

impl crate::Runtime {
    /// The outbox sweep: delivers every approval notification that is owed
    /// for longer than [`Options::notify_grace_ms`](crate::Options::notify_grace_ms)
    /// and not claimed, each claimed first by compare-and-set so two nodes
    /// never both send it. The worker runs it at most every 250 ms; returns how many
    /// this call delivered.
    pub async fn deliver_owed_notifications(&self) -> crate::Result<usize> {
        let inner = &self.inner;
        let now = crate::time::now_ms();
        let owed_before = now.saturating_sub(inner.options.notify_grace_ms.max(0));
        let owed = inner
            .store
            .owed_notices(owed_before, now, SWEEP_LIMIT)
            .await?;
        let mut delivered = 0;
        for notice in &owed {
            match deliver_owed(inner, None, notice, Claim::ToTake).await {
                Ok(true) => delivered += 1,
                Ok(false) => {}
                Err(error) => tracing::warn!(approval = %notice.approval_id, %error,
                    "cannot deliver an owed approval notification; the next sweep tries again"),
            }
        }
        Ok(delivered)
    }
}

/// Sends one notification; returns the audit writes that record it (for
/// the caller's group commit).
async fn send_one(
    inner: &Inner,
    settings: Option<&Settings>,
    notice: &Notice,
) -> crate::Result<Vec<store::GroupWrite>> {
    let store = &inner.store;
    let Some(record) = store.approval(&notice.approval).await? else {
        return Ok(Vec::new());
    };
    if record.status != store::ApprovalStatus::Pending {
        return Ok(Vec::new());
    }
    let read;
    let settings = match settings {
        Some(settings) => settings,
        None => {
            let bot = match store.run(&record.run_id).await? {
                Some(run) => run.bot,
                None => return Ok(Vec::new()),
            };
            read = Settings::of(inner, &bot);
            &read
        }
    };
    // Only the approvers who have not voted yet are told.
    let approvers: Vec<String> = record
        .approvers
        .iter()
        .filter(|who| {
            !record
                .votes
                .iter()
                .any(|v| v.get("who").and_then(Value::as_str) == Some(who.as_str()))
        })
        .cloned()
        .collect();
    let tokens = store.approval_tokens(&record.id).await?;
    let details = Details {
        approval: record.id.clone(),
        run: record.run_id.clone(),
        step: record.step.clone(),
        approvers,
        message: record.message.clone(),
        via: record.via.clone(),
        due_at: record.due_at,
        tokens,
        reason: notice.reason,
    };
    let secret = links::secret(inner).await?;
    let message = message(
        &secret,
        &settings.public_url,
        details,
        crate::time::now_ms(),
    );
    // The audit rides on the next group commit: no transaction of its own.
    let now = crate::time::now_ms();
    Ok(deliver(settings, &secret, &message)
        .await
        .into_iter()
        .map(|write| store::GroupWrite::Approval {
            write: Box::new(write),
            now,
        })
        .collect())
}

/// Delivers one message through its channel, falling back to the log;
/// returns the audit entries to record.
async fn deliver(settings: &Settings, secret: &[u8], message: &Message) -> Vec<ApprovalWrite> {
    let id = message.notice.approval.clone();
    let audit =
        |kind: &str, who: Option<String>, channel: &str, detail: Value| ApprovalWrite::Audit {
            id: id.clone(),
            kind: kind.to_owned(),
            who,
            channel: Some(channel.to_owned()),
            detail,
        };
    let via = message.notice.via.as_str();
    let reminder = message.notice.reason == Reason::Reminder;
    let attempt = match via {
        "log" => Ok(log::send(message)),
        "email" => timed(email::send(&settings.smtp, message)).await,
        "webhook" => {
            timed(webhook::send(
                settings.webhook_url.as_deref(),
                secret,
                message,
            ))
            .await
        }
        other => Err(format!(
            "unknown approval channel {other:?} (VIA accepts \"log\", \"email\", \"webhook\")"
        )),
    };
    match attempt {
        Ok(sent) => sent
            .into_iter()
            .map(|who| audit("notified", Some(who), via, json!({"reminder": reminder})))
            .collect(),
        Err(error) => {
            tracing::warn!(approval = %id, channel = via, %error,
                "approval notification failed; falling back to the log");
            let mut writes = vec![audit(
                "notify_failed",
                Some(message.notice.approvers.join(", ")),
                via,
                json!({"error": error, "reminder": reminder}),
            )];
            for who in log::send(message) {
                writes.push(audit(
                    "notified",
                    Some(who),
                    "log",
                    json!({"reminder": reminder, "fallback_from": via}),
                ));
            }
            writes
        }
    }
}

/// Bounds one delivery.
async fn timed(
    delivery: impl Future<Output = std::result::Result<Vec<String>, String>>,
) -> std::result::Result<Vec<String>, String> {
    match tokio::time::timeout(DELIVERY_TIMEOUT, delivery).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no answer within {} seconds",
            DELIVERY_TIMEOUT.as_secs()
        )),
    }
}

impl crate::Runtime {
    /// The deployment secret that signs approval links and webhook POSTs
    /// (`BOTFLOW_SECRET`, else the store's `link_secret`, created on first
    /// use): what a webhook listener of this deployment verifies with.
    pub async fn deployment_secret(&self) -> crate::Result<Vec<u8>> {
        links::secret(&self.inner).await
    }
}
