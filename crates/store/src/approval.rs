//! Human approval requests, their decisions and their audit trail.
//!
//! A request is created by the runtime inside a [`DurablePoint`](crate::DurablePoint)
//! (an [`ApprovalWrite`]); people decide it with
//! [`Store::decide_approval`](crate::Store::decide_approval), which checks and
//! records the decision in one transaction and makes the waiting run due.
//!
//! # Decision rules (enforced by the store, so every entry point agrees)
//!
//! - Only a `pending` request can be decided: deciding twice, or after a
//!   timeout or an escalation, is refused and changes nothing.
//! - Only an addressed approver may decide, or anyone flagged as an admin.
//! - The run's starter may never approve (they may deny).
//! - With `REQUIRE n`, each approver votes once; the request is approved when
//!   `n` approvals are in, and denied by the first denial (any deny denies).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;

/// Where an approval request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved by people (or `APPROVE` on timeout, recorded as `timed_out`).
    Approved,
    /// Denied by a person.
    Denied,
    /// The timeout fired and `ON TIMEOUT:` decided it.
    TimedOut,
    /// The timeout fired and a new request went to someone else.
    Escalated,
}

impl ApprovalStatus {
    /// Every status, in a stable order.
    pub const ALL: [ApprovalStatus; 5] = [
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Denied,
        ApprovalStatus::TimedOut,
        ApprovalStatus::Escalated,
    ];

    /// The name stored in the `status` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Denied => "denied",
            ApprovalStatus::TimedOut => "timed_out",
            ApprovalStatus::Escalated => "escalated",
        }
    }
}

impl fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApprovalStatus {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        ApprovalStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| Error::UnknownStatus(s.to_owned()))
    }
}

/// A request to create, part of an [`ApprovalWrite`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewApproval {
    /// Stable id, derived from `<run id>:<step path>` (plus the escalation count).
    pub id: String,
    /// The run that waits.
    pub run_id: String,
    /// The step path of the `HUMAN APPROVAL`.
    pub path: String,
    /// The `STEP` number, if any.
    pub step: Option<String>,
    /// Who may decide.
    pub approvers: Vec<String>,
    /// The `FROM GROUP` the approvers came from.
    pub group: Option<String>,
    /// How many approvals are needed (`REQUIRE n`, at least 1).
    pub require_n: i32,
    /// What the approvers see.
    pub message: Option<String>,
    /// The notification channel (`log`, `email`, `webhook`).
    pub via: String,
    /// The timeout, if any.
    pub timeout_ms: Option<i64>,
    /// `ON TIMEOUT:` as the runtime understands it (opaque to the store).
    pub on_timeout: Option<Value>,
    /// How many escalations came before this request.
    pub escalations: i32,
    /// Who started the run: never allowed to approve.
    pub started_by: Option<String>,
    /// When the timeout fires.
    pub due_at: Option<i64>,
}

/// A change to approval requests, applied in the same transaction as its
/// [`DurablePoint`](crate::DurablePoint).
#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalWrite {
    /// Creates the request (audit `created`); an existing id is left alone.
    Create(NewApproval),
    /// Records a decision the runtime made (a timeout's `REJECT`/`APPROVE`),
    /// only if the request is still pending (audit `kind`).
    Resolve {
        /// The request.
        id: String,
        /// `timed_out`, `approved` or `denied`.
        status: ApprovalStatus,
        /// The decision object the run receives.
        decision: Value,
        /// The audit entry's kind (`timed_out`, ...).
        kind: String,
        /// Who decided (`system:timeout`).
        who: String,
    },
    /// Marks a pending request `escalated` and creates the next one; when the
    /// request is no longer pending (decided meanwhile), nothing happens.
    Escalate {
        /// The request that timed out.
        id: String,
        /// The new request.
        to: NewApproval,
    },
    /// Makes the run due now if it commits `waiting` while the request,
    /// which its driver last saw pending, has been settled meanwhile: a
    /// decision that lands while the run is still being driven is not lost.
    WakeIfSettled {
        /// The run.
        run_id: String,
        /// The request.
        id: String,
    },
    /// Records the signed-link tokens of a request (one per approver and
    /// action); an existing token id is left alone.
    IssueTokens(Vec<NewToken>),
    /// Appends an audit entry (`notified`, `reminded`, ...).
    Audit {
        /// The request.
        id: String,
        /// What happened.
        kind: String,
        /// Who it concerns.
        who: Option<String>,
        /// Through which channel.
        channel: Option<String>,
        /// Details.
        detail: Value,
    },
    /// Records that a notification of the request is owed (the outbox, see
    /// [`OwedNotice`]), in the transaction of the point that makes it owed.
    OweNotice {
        /// The request.
        id: String,
        /// Why it is owed.
        reason: NoticeReason,
        /// Claimed at once for the node that commits the point and delivers
        /// right after, so delivering costs no claim transaction of its own;
        /// `None` keeps whatever claim the row has.
        claim: Option<NoticeClaim>,
    },
}

/// Who holds an owed notification, and until when (epoch ms): past it,
/// the holder is presumed dead and a sweep delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeClaim {
    /// The node that delivers.
    pub node: String,
    /// When the claim lapses.
    pub until: i64,
}

/// Why an approval notification is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeReason {
    /// A new (or escalated) request.
    Requested,
    /// A reminder of a still-undecided request.
    Reminder,
}

impl NoticeReason {
    /// The stored name: `requested` or `reminder`.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeReason::Requested => "requested",
            NoticeReason::Reminder => "reminder",
        }
    }

    /// The reason a stored name stands for.
    pub fn parse(name: &str) -> Option<NoticeReason> {
        match name {
            "requested" => Some(NoticeReason::Requested),
            "reminder" => Some(NoticeReason::Reminder),
            _ => None,
        }
    }
}

/// An approval notification that is owed and not yet delivered: the
/// outbox row `approval_outbox` (schema version 8).
///
/// A point that creates a request or finds a reminder due owes its
/// notification in its own transaction ([`ApprovalWrite::OweNotice`]),
/// claimed for the committing node. Another deliverer (the sweep) claims it
/// once that claim lapsed ([`Store::claim_notice`](crate::Store::claim_notice),
/// a compare-and-set), delivers, then marks it done
/// ([`Store::notice_done`](crate::Store::notice_done), or
/// [`GroupWrite::NoticeDone`](crate::GroupWrite::NoticeDone) on a group
/// commit), so every owed notification is delivered at least once, and by
/// one node at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwedNotice {
    /// The request.
    pub approval_id: String,
    /// Why.
    pub reason: NoticeReason,
    /// When it was (last) owed, epoch ms: claims and the done mark name
    /// this version, so owing it again meanwhile is not lost.
    pub owed_at: i64,
}

/// A stored approval request.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    /// Stable id.
    pub id: String,
    /// The run that waits.
    pub run_id: String,
    /// The step path.
    pub path: String,
    /// The `STEP` number.
    pub step: Option<String>,
    /// Who may decide.
    pub approvers: Vec<String>,
    /// The group the approvers came from.
    pub group: Option<String>,
    /// Approvals needed.
    pub require_n: i32,
    /// What the approvers see.
    pub message: Option<String>,
    /// The notification channel.
    pub via: String,
    /// The timeout.
    pub timeout_ms: Option<i64>,
    /// `ON TIMEOUT:` (opaque).
    pub on_timeout: Option<Value>,
    /// Escalations before this request.
    pub escalations: i32,
    /// The run's starter.
    pub started_by: Option<String>,
    /// Where it stands.
    pub status: ApprovalStatus,
    /// The votes cast so far: `{"who","approved","comment","at","channel"}`.
    pub votes: Vec<Value>,
    /// The decision object, once decided.
    pub decision: Option<Value>,
    /// Creation time.
    pub created_at: i64,
    /// When the timeout fires.
    pub due_at: Option<i64>,
    /// When it was decided, timed out or escalated.
    pub decided_at: Option<i64>,
}

/// One entry of a request's audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalAudit {
    /// The request.
    pub approval_id: String,
    /// Position in the trail, from 1.
    pub seq: i64,
    /// When.
    pub at: i64,
    /// What happened: `created`, `notified`, `vote`, `approved`, `denied`,
    /// `escalated`, `timed_out`, `refused`.
    pub kind: String,
    /// Who.
    pub who: Option<String>,
    /// Through which channel.
    pub channel: Option<String>,
    /// Details.
    pub detail: Value,
}

/// Which requests [`Store::approvals`](crate::Store::approvals) returns, oldest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalFilter {
    /// Only requests with this status.
    pub status: Option<ApprovalStatus>,
    /// Only requests of this run.
    pub run_id: Option<String>,
    /// Only requests of this step path.
    pub path: Option<String>,
    /// Only requests addressed to this approver: the name is among the
    /// request's `approvers` (a `FROM GROUP` request lists its group's
    /// members there), the same test that lets them decide it.
    pub approver: Option<String>,
    /// Only requests listed after this one (requests are listed oldest
    /// first, by `created_at` then `id`): where the previous page ended.
    pub after: Option<crate::ListKey>,
    /// At most this many.
    pub limit: u32,
}

impl Default for ApprovalFilter {
    fn default() -> Self {
        ApprovalFilter {
            status: None,
            run_id: None,
            path: None,
            approver: None,
            after: None,
            limit: 100,
        }
    }
}

/// A person's decision, for [`Store::decide_approval`](crate::Store::decide_approval).
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalDecision {
    /// Approve (true) or deny (false).
    pub approve: bool,
    /// Who decides.
    pub who: String,
    /// An optional comment.
    pub comment: Option<String>,
    /// Through which channel (`cli`, `api`, `link`).
    pub channel: String,
    /// An admin may decide requests not addressed to them.
    pub admin: bool,
    /// The time of the decision.
    pub now: i64,
}

/// Why a decision was refused; nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionRefused {
    /// No request has this id.
    #[error("no approval request {0}")]
    Unknown(String),
    /// The request was already decided, timed out or escalated.
    #[error("approval request {id} is already {status}; nothing was changed")]
    NotPending {
        /// The request.
        id: String,
        /// Where it stands.
        status: ApprovalStatus,
    },
    /// The person is not among the addressed approvers.
    #[error("{who} may not decide approval request {id}: it is addressed to {approvers}")]
    NotAnApprover {
        /// The request.
        id: String,
        /// Who tried.
        who: String,
        /// The addressed approvers, comma-separated.
        approvers: String,
    },
    /// The run's starter tried to approve their own run.
    #[error("{who} started the run and may not approve its own request {id}")]
    SelfApproval {
        /// The request.
        id: String,
        /// Who tried.
        who: String,
    },
    /// The person already voted on this request (`REQUIRE n`).
    #[error("{who} has already voted on approval request {id}")]
    AlreadyVoted {
        /// The request.
        id: String,
        /// Who tried.
        who: String,
    },
    /// No token has this id, or the token's fields do not match the link.
    #[error("this approval link is not valid (unknown token {0}); nothing was changed")]
    UnknownToken(String),
    /// The link was already used once.
    #[error("this approval link was already used; nothing was changed")]
    TokenUsed,
    /// The link expired.
    #[error("this approval link expired; nothing was changed")]
    TokenExpired,
    /// The request escalated to someone else: this approver's links stopped working.
    #[error(
        "this approval link was revoked: request {0} was escalated to another approver; nothing was changed"
    )]
    TokenRevoked(String),
}

/// The two things a signed link can do.
pub const TOKEN_ACTIONS: [&str; 2] = ["approve", "deny"];

/// A signed-link token to record, part of [`ApprovalWrite::IssueTokens`].
/// The link itself (the fields signed with the deployment secret) is never
/// stored: the row only says the token exists and whether it is spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// Random id, part of the signed link.
    pub id: String,
    /// The request it decides.
    pub approval_id: String,
    /// The approver it speaks for.
    pub approver: String,
    /// `approve` or `deny` (see [`TOKEN_ACTIONS`]).
    pub action: String,
    /// When it stops working.
    pub expires_at: i64,
}

/// A stored token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Random id.
    pub id: String,
    /// The request it decides.
    pub approval_id: String,
    /// The approver it speaks for.
    pub approver: String,
    /// `approve` or `deny`.
    pub action: String,
    /// When it was issued.
    pub issued_at: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// When it was used, if it was.
    pub used_at: Option<i64>,
    /// When an escalation revoked it, if one did.
    pub revoked_at: Option<i64>,
}

/// A link's decision, for [`Store::redeem_token`](crate::Store::redeem_token):
/// the fields the link carries (already verified against its signature by
/// the caller) and the decision's details.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRedemption {
    /// The token id.
    pub token_id: String,
    /// The request the link names.
    pub approval_id: String,
    /// The approver the link names.
    pub approver: String,
    /// The action the link names.
    pub action: String,
    /// An optional comment.
    pub comment: Option<String>,
    /// The time of the decision.
    pub now: i64,
}

/// Checks that a stored token may carry out `redemption`: it exists with the
/// same fields, is unused, not revoked and not expired. The store applies it
/// inside [`Store::redeem_token`](crate::Store::redeem_token)'s transaction;
/// callers may use it to preview a link without spending it.
pub fn check_token(
    token: Option<TokenRecord>,
    redemption: &TokenRedemption,
) -> Result<TokenRecord, DecisionRefused> {
    let token = token
        .filter(|t| {
            t.approval_id == redemption.approval_id
                && t.approver == redemption.approver
                && t.action == redemption.action
        })
        .ok_or_else(|| DecisionRefused::UnknownToken(redemption.token_id.clone()))?;
    if token.used_at.is_some() {
        return Err(DecisionRefused::TokenUsed);
    }
    if token.revoked_at.is_some() {
        return Err(DecisionRefused::TokenRevoked(token.approval_id));
    }
    if token.expires_at <= redemption.now {
        return Err(DecisionRefused::TokenExpired);
    }
    Ok(token)
}

/// Checks a decision against a pending request and computes its effect:
/// the new status (still pending while a quorum is incomplete), the vote, and
/// the decision object when the request is settled.
pub(crate) fn judge(
    record: &ApprovalRecord,
    decision: &ApprovalDecision,
) -> Result<(ApprovalStatus, Value, Option<Value>), DecisionRefused> {
    let id = record.id.clone();
    if record.status != ApprovalStatus::Pending {
        return Err(DecisionRefused::NotPending {
            id,
            status: record.status,
        });
    }
    let addressed = record.approvers.iter().any(|a| a == &decision.who);
    if !addressed && !decision.admin {
        return Err(DecisionRefused::NotAnApprover {
            id,
            who: decision.who.clone(),
            approvers: record.approvers.join(", "),
        });
    }
    if decision.approve && record.started_by.as_deref() == Some(decision.who.as_str()) {
        return Err(DecisionRefused::SelfApproval {
            id,
            who: decision.who.clone(),
        });
    }
    if record
        .votes
        .iter()
        .any(|v| v.get("who").and_then(Value::as_str) == Some(decision.who.as_str()))
    {
        return Err(DecisionRefused::AlreadyVoted {
            id,
            who: decision.who.clone(),
        });
    }
    let vote = serde_json::json!({
        "who": decision.who,
        "approved": decision.approve,
        "comment": decision.comment,
        "at": decision.now,
        "channel": decision.channel,
    });
    let approvals: Vec<&str> = record
        .votes
        .iter()
        .filter(|v| v.get("approved").and_then(Value::as_bool) == Some(true))
        .filter_map(|v| v.get("who").and_then(Value::as_str))
        .chain(decision.approve.then_some(decision.who.as_str()))
        .collect();
    let settled = !decision.approve
        || approvals.len() >= usize::try_from(record.require_n.max(1)).unwrap_or(1);
    if !settled {
        return Ok((ApprovalStatus::Pending, vote, None));
    }
    let mut object = serde_json::json!({
        "approved": decision.approve,
        "by": decision.who,
        "comment": decision.comment,
        "at": decision.now,
    });
    if decision.approve && record.require_n > 1 {
        object["approvers"] = serde_json::json!(approvals);
    }
    let status = if decision.approve {
        ApprovalStatus::Approved
    } else {
        ApprovalStatus::Denied
    };
    Ok((status, vote, Some(object)))
}

/// Judges `decision` on `record` ([`judge`]) and, when it is accepted,
/// records it on `record` as the decision's writes leave the row: the vote
/// added; the status, decision object and decision time set. Returns the
/// kind of the audit entry the vote makes (`vote`, `approved`, `denied`)
/// and the vote, its detail.
pub(crate) fn vote_on(
    record: &mut ApprovalRecord,
    decision: &ApprovalDecision,
) -> Result<(&'static str, Value), DecisionRefused> {
    let (status, vote, object) = judge(record, decision)?;
    record.votes.push(vote.clone());
    record.status = status;
    record.decided_at = object.as_ref().map(|_| decision.now);
    record.decision = object;
    let kind = match status {
        ApprovalStatus::Pending => "vote",
        ApprovalStatus::Approved => "approved",
        _ => "denied",
    };
    Ok((kind, vote))
}
