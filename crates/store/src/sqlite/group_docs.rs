//! The writes that ride on a SQLite group commit as documents: at most one
//! read and, with the group's points, no round trip of their own.
//!
//! `group::group_write!` and `decision.rs` apply the writes one by one: two
//! round trips a decision (its savepoint and read; its writes and release),
//! one an audit entry, one a done mark. In an approval workload every group
//! commit carries a few of each (the decisions of waiting runs, the
//! `notified` audit and done mark of each request sent), and each round trip
//! leaves the single writer idle while it waits for the next statement.
//!
//! Here the requests the decisions name are read at once ([`READ`], or
//! [`BEGIN_AND_READ`] as the query that begins the transaction), every
//! decision is judged in Rust in the order of the writes ([`judge`], with
//! `approval::vote_on`, against the request as the decisions before it in this
//! group left it), and what they and the other writes change goes as five
//! documents in [`WRITE`], which `sqlite.rs` appends to the group's single
//! pass before `COMMIT`. A refusal writes nothing, so no write needs a
//! savepoint of its own. Only decisions, audit entries and done marks go
//! this way ([`take`]); a group with any other write is applied one write at
//! a time, as on PostgreSQL.

use std::collections::HashMap;

use serde_json::Value;
use sqlx::SqliteConnection;

use crate::approval::{
    ApprovalDecision, ApprovalRecord, ApprovalStatus, DecisionRefused, OwedNotice,
};
use crate::approval_sql::ApprovalRow;
use crate::group::{GroupClaim, GroupWrite, GroupWritten};
use crate::{ApprovalWrite, Result};

/// A group write this path takes.
pub(super) enum Taken<'a> {
    Decide {
        id: &'a str,
        decision: &'a ApprovalDecision,
        claim: Option<&'a GroupClaim>,
    },
    Audit {
        /// The whole write, for `batch::check_approval`.
        write: &'a ApprovalWrite,
        id: &'a str,
        kind: &'a str,
        who: Option<&'a str>,
        channel: Option<&'a str>,
        detail: &'a Value,
        now: i64,
    },
    Done(&'a OwedNotice),
}

/// `writes` as this path takes them, or `None` when one is neither a
/// decision, nor an audit entry, nor a done mark.
pub(super) fn take(writes: &[GroupWrite]) -> Option<Vec<Taken<'_>>> {
    writes
        .iter()
        .map(|write| match write {
            GroupWrite::Decide {
                id,
                decision,
                claim,
            } => Some(Taken::Decide {
                id,
                decision,
                claim: claim.as_ref(),
            }),
            GroupWrite::NoticeDone(notice) => Some(Taken::Done(notice)),
            GroupWrite::Approval { write, now } => match &**write {
                ApprovalWrite::Audit {
                    id,
                    kind,
                    who,
                    channel,
                    detail,
                } => Some(Taken::Audit {
                    write,
                    id,
                    kind,
                    who: who.as_deref(),
                    channel: channel.as_deref(),
                    detail,
                    now: *now,
                }),
                _ => None,
            },
        })
        .collect()
}

/// The requests the decisions name, as they stand in the transaction.
macro_rules! read_sql {
    () => {
        "SELECT * FROM approvals WHERE id IN (SELECT value FROM json_each(?))"
    };
}
pub(super) const READ: &str = read_sql!();

/// Every write of the group, one statement per kind, each over its document
/// (`[]` writes nothing) and bound in this order: the requests' new state,
/// the audit entries (numbered on from each request's last, in the order of
/// the writes), the runs made due, the runs claimed (returned, as
/// `group::claim_run_sql!` returns them), the done marks.
pub(super) const WRITE: &str = concat!(
    "UPDATE approvals SET status = j.value ->> 1, votes = j.value ->> 2, \
     decision = j.value ->> 3, decided_at = j.value ->> 4 \
     FROM jsonb_each(?) AS j WHERE approvals.id = j.value ->> 0;\n",
    // SQLite computes the whole SELECT before inserting, since it reads the
    // table it inserts into: every row of a request sees the same last
    // number, and its place among this group's entries (`->> 1`) orders them.
    "INSERT INTO approval_audit (approval_id, seq, at, kind, who, channel, detail) \
     SELECT j.value ->> 0, \
     coalesce((SELECT max(a.seq) FROM approval_audit AS a WHERE a.approval_id = j.value ->> 0), 0) \
     + 1 + (j.value ->> 1), j.value ->> 2, j.value ->> 3, j.value ->> 4, j.value ->> 5, \
     j.value ->> 6 FROM jsonb_each(?) AS j;\n",
    // The unary `+` keeps SQLite from driving these two by the status index
    // (`runs_status_wake`), which would visit every waiting run.
    "UPDATE runs SET wake_at = j.value ->> 1 FROM jsonb_each(?) AS j \
     WHERE runs.id = j.value ->> 0 AND +runs.status = 'waiting';\n",
    "UPDATE runs SET lease_owner = j.value ->> 1, lease_until = (j.value ->> 2) + (j.value ->> 3), \
     lease_epoch = lease_epoch + 1 FROM jsonb_each(?) AS j \
     WHERE runs.id = j.value ->> 0 AND +runs.status IN ('running', 'waiting') \
     AND (runs.lease_until IS NULL OR runs.lease_until < j.value ->> 2) \
     RETURNING ",
    crate::rows::run_columns!(),
    ";\n",
    "DELETE FROM approval_outbox WHERE rowid IN (SELECT o.rowid FROM jsonb_each(?) AS j \
     JOIN approval_outbox AS o ON o.approval_id = j.value ->> 0 AND o.reason = j.value ->> 1 \
     AND o.owed_at = j.value ->> 2)"
);

/// [`READ`] as the first query of a group commit: it begins the transaction.
pub(super) const BEGIN_AND_READ: &str = concat!("BEGIN IMMEDIATE; ", read_sql!());

/// A request's new state: id, status, votes, decision, decided_at.
type DecidedRow<'a> = (&'a str, &'static str, String, Option<String>, Option<i64>);
/// An audit entry: approval_id, place, at, kind, who, channel, detail.
type AuditRow<'a> = (
    &'a str,
    i64,
    i64,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    String,
);

/// The rows of [`WRITE`]'s documents, each a JSON array in field order.
#[derive(Default)]
struct Docs<'a> {
    /// One row per request decided, as the last decision left it.
    decided: Vec<DecidedRow<'a>>,
    audits: Vec<AuditRow<'a>>,
    /// run_id, now.
    wakes: Vec<(String, i64)>,
    /// run_id, owner, now, ttl_ms.
    claims: Vec<(String, &'a str, i64, i64)>,
    /// approval_id, reason, owed_at.
    done: Vec<(&'a str, &'static str, i64)>,
}

/// The writes judged: each one's answer, and what [`WRITE`] must write.
pub(super) struct Judged<'a> {
    answers: Vec<Result<GroupWritten>>,
    docs: Docs<'a>,
    /// Per run claimed: the answer whose claim it is.
    claimed_by: HashMap<String, usize>,
}

/// The ids of the requests the decisions among `writes` name; when there is
/// none, nothing needs reading.
pub(super) fn decided_ids<'a>(writes: &[Taken<'a>]) -> Vec<&'a str> {
    writes
        .iter()
        .filter_map(|w| match w {
            Taken::Decide { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

/// Applies the writes [`take`] took inside the caller's transaction, in two
/// queries ([`READ`], when there are decisions, and [`WRITE`]); the outer
/// `Err` fails the transaction, an inner one refuses that write alone (it
/// wrote nothing).
pub(super) async fn apply(
    conn: &mut SqliteConnection,
    writes: &[Taken<'_>],
) -> Result<Vec<Result<GroupWritten>>> {
    let ids = decided_ids(writes);
    let requests = if ids.is_empty() {
        Vec::new()
    } else {
        sqlx::query_as(READ)
            .bind(crate::batch::to_doc(&ids)?)
            .fetch_all(&mut *conn)
            .await?
    };
    let judged = judge(writes, requests)?;
    let [decided, audits, wakes, claims, done] = judged.docs()?;
    let claimed = sqlx::query_as(WRITE)
        .bind(decided)
        .bind(audits)
        .bind(wakes)
        .bind(claims)
        .bind(done)
        .fetch_all(&mut *conn)
        .await?;
    Ok(judged.settle(claimed))
}

/// Judges `writes` in order against `requests` (as [`READ`] returned the
/// ones the decisions name): no I/O, nothing written yet.
pub(super) fn judge<'a>(writes: &[Taken<'a>], requests: Vec<ApprovalRow>) -> Result<Judged<'a>> {
    let mut requests: HashMap<String, ApprovalRecord> = requests
        .into_iter()
        .map(|row| ApprovalRecord::try_from(row).map(|r| (r.id.clone(), r)))
        .collect::<Result<_>>()?;
    let mut docs = Docs::default();
    let mut answers = Vec::with_capacity(writes.len());
    // Per request: its entries so far in this group, and its row in `decided`.
    let mut places: HashMap<&str, i64> = HashMap::new();
    let mut decided_rows: HashMap<&str, usize> = HashMap::new();
    // Per run: the answer whose claim it is (one claim a run, as one write at
    // a time would leave it: the first takes the lease, the rest find it held).
    let mut claimed_by: HashMap<String, usize> = HashMap::new();
    for write in writes {
        let answer = match *write {
            Taken::Done(notice) => {
                docs.done
                    .push((&notice.approval_id, notice.reason.as_str(), notice.owed_at));
                Ok(GroupWritten::NoticeDone)
            }
            Taken::Audit {
                write,
                id,
                kind,
                who,
                channel,
                detail,
                now,
            } => crate::batch::check_approval(write).map(|()| {
                let place = next_place(&mut places, id);
                docs.audits
                    .push((id, place, now, kind, who, channel, detail.to_string()));
                GroupWritten::Approval
            }),
            Taken::Decide {
                id,
                decision,
                claim,
            } => match requests.get_mut(id) {
                None => Err(DecisionRefused::Unknown(id.to_owned()).into()),
                Some(record) => match crate::approval::vote_on(record, decision) {
                    Err(refused) => Err(refused.into()),
                    Ok((kind, vote)) => {
                        let row = (
                            id,
                            record.status.as_str(),
                            Value::from(record.votes.clone()).to_string(),
                            record.decision.as_ref().map(ToString::to_string),
                            record.decided_at,
                        );
                        match decided_rows.get(id) {
                            Some(&at) => docs.decided[at] = row,
                            None => {
                                decided_rows.insert(id, docs.decided.len());
                                docs.decided.push(row);
                            }
                        }
                        let place = next_place(&mut places, id);
                        docs.audits.push((
                            id,
                            place,
                            decision.now,
                            kind,
                            Some(&decision.who),
                            Some(&decision.channel),
                            vote.to_string(),
                        ));
                        if record.status != ApprovalStatus::Pending {
                            let run = &record.run_id;
                            // One row a run: `UPDATE ... FROM` would pick
                            // any of several; one at a time, the last wins.
                            match docs.wakes.iter_mut().find(|(r, _)| r == run) {
                                Some(wake) => wake.1 = decision.now,
                                None => docs.wakes.push((run.clone(), decision.now)),
                            }
                            if let Some(claim) = claim
                                && !claimed_by.contains_key(run)
                            {
                                claimed_by.insert(run.clone(), answers.len());
                                docs.claims.push((
                                    run.clone(),
                                    &claim.owner,
                                    decision.now,
                                    claim.ttl_ms,
                                ));
                            }
                        }
                        Ok(GroupWritten::Decided {
                            approval: Box::new(record.clone()),
                            claimed: None,
                        })
                    }
                },
            },
        };
        answers.push(answer);
    }
    Ok(Judged {
        answers,
        docs,
        claimed_by,
    })
}

impl Judged<'_> {
    /// [`WRITE`]'s five documents, in the order it binds them.
    pub(super) fn docs(&self) -> Result<[String; 5]> {
        use crate::batch::to_doc;
        let d = &self.docs;
        Ok([
            to_doc(&d.decided)?,
            to_doc(&d.audits)?,
            to_doc(&d.wakes)?,
            to_doc(&d.claims)?,
            to_doc(&d.done)?,
        ])
    }

    /// The answers, once [`WRITE`] ran and returned the runs it `claimed`.
    pub(super) fn settle(mut self, claimed: Vec<crate::rows::RunRow>) -> Vec<Result<GroupWritten>> {
        // The group has committed: a claimed run that cannot be read is
        // its decision's error alone (the decision stands; the lease lapses
        // and a worker drives the run), not the group's.
        for row in claimed {
            let Some(&at) = self.claimed_by.get(row.id()) else {
                continue;
            };
            let run = crate::RunRecord::try_from(row);
            if let Ok(GroupWritten::Decided { claimed, .. }) = &mut self.answers[at] {
                match run {
                    Ok(run) => *claimed = Some(Box::new(run)),
                    Err(error) => self.answers[at] = Err(error),
                }
            }
        }
        self.answers
    }
}

/// The next place of an audit entry of request `id` in this group.
fn next_place<'a>(places: &mut HashMap<&'a str, i64>, id: &'a str) -> i64 {
    let next = places.entry(id).or_insert(0);
    *next += 1;
    *next - 1
}
