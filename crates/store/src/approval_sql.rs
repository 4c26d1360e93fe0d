//! The approval statements, written once in SQL both databases accept
//! (`$n` placeholders work in SQLite too) and instantiated per backend by
//! [`approval_queries!`], since sqlx executors are typed by database.

use serde_json::Value;

use crate::approval::{ApprovalAudit, ApprovalRecord, NewApproval};
use crate::batch::to_json;
use crate::{Error, Result};

pub(crate) const INSERT: &str = "\
INSERT INTO approvals (id, run_id, path, step, approvers, group_name, require_n, message, via,
                       timeout_ms, on_timeout, escalations, started_by, status, votes, decision,
                       created_at, due_at, decided_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'pending', '[]', NULL,
        $14, $15, NULL)
ON CONFLICT (id) DO NOTHING";

pub(crate) const AUDIT: &str = "\
INSERT INTO approval_audit (approval_id, seq, at, kind, who, channel, detail)
SELECT $1, coalesce((SELECT max(seq) FROM approval_audit WHERE approval_id = $1), 0) + 1,
       $2, $3, $4, $5, $6";

pub(crate) const RESOLVE: &str = "\
UPDATE approvals SET status = $2, decision = $3, decided_at = $4
WHERE id = $1 AND status = 'pending'";

pub(crate) const ESCALATE: &str = "\
UPDATE approvals SET status = 'escalated', decided_at = $2
WHERE id = $1 AND status = 'pending'";

pub(crate) const DECIDE: &str = "\
UPDATE approvals SET status = $2, votes = $3, decision = $4, decided_at = $5 WHERE id = $1";

/// A decision makes the waiting run due now, so a driver picks it up.
pub(crate) const WAKE_RUN: &str = "\
UPDATE runs SET wake_at = $2 WHERE id = $1 AND status = 'waiting'";

pub(crate) const WAKE_IF_SETTLED: &str = "\
UPDATE runs SET wake_at = $2 WHERE id = $1 AND status = 'waiting'
AND EXISTS (SELECT 1 FROM approvals WHERE id = $3 AND status <> 'pending')";

/// The earliest moment a waiting run whose `wake_at` is at or before `$1`
/// can be claimed, of those no pending approval request holds: a timer of
/// the run's own (a `DELAY`, a `RETRY` back-off, a `WAIT FOR` timeout), not
/// a deadline people may still beat. A run still leased (a driver claimed
/// it and has not let go) can be claimed when the lease lapses, not before:
/// so the later of the two (a `CASE`, since SQLite's `max(a, b)` is
/// PostgreSQL's `greatest`). Read along the `(status, wake_at)` index.
pub(crate) const NEXT_TIMER: &str = "\
SELECT min(CASE WHEN r.lease_until > r.wake_at THEN r.lease_until ELSE r.wake_at END)
FROM runs AS r
WHERE r.status = 'waiting' AND r.wake_at <= $1
AND NOT EXISTS (SELECT 1 FROM approvals AS a WHERE a.run_id = r.id AND a.status = 'pending')";

/// The detail of a new request's `created` audit entry.
pub(crate) fn created_detail(new: &NewApproval) -> Value {
    serde_json::json!({
        "approvers": new.approvers, "require": new.require_n,
        "due_at": new.due_at, "escalations": new.escalations,
    })
}

/// The values of a [`NewApproval`] as bound to [`INSERT`].
pub(crate) struct InsertValues {
    pub(crate) approvers: String,
    pub(crate) on_timeout: Option<String>,
}

impl InsertValues {
    pub(crate) fn of(new: &NewApproval) -> Result<InsertValues> {
        Ok(InsertValues {
            approvers: to_json(&Value::from(new.approvers.clone()), || {
                format!("approval {} approvers", new.id)
            })?,
            on_timeout: new
                .on_timeout
                .as_ref()
                .map(|v| to_json(v, || format!("approval {} on_timeout", new.id)))
                .transpose()?,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApprovalRow {
    id: String,
    run_id: String,
    path: String,
    step: Option<String>,
    approvers: String,
    group_name: Option<String>,
    require_n: i32,
    message: Option<String>,
    via: String,
    timeout_ms: Option<i64>,
    on_timeout: Option<String>,
    escalations: i32,
    started_by: Option<String>,
    status: String,
    votes: String,
    decision: Option<String>,
    created_at: i64,
    due_at: Option<i64>,
    decided_at: Option<i64>,
}

fn json(column: &'static str, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|source| Error::BadJson { column, source })
}

impl TryFrom<ApprovalRow> for ApprovalRecord {
    type Error = Error;

    fn try_from(row: ApprovalRow) -> Result<Self> {
        let approvers = match json("approvals.approvers", &row.approvers)? {
            Value::Array(list) => list
                .into_iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string())
                })
                .collect(),
            _ => Vec::new(),
        };
        let votes = match json("approvals.votes", &row.votes)? {
            Value::Array(list) => list,
            _ => Vec::new(),
        };
        Ok(ApprovalRecord {
            approvers,
            votes,
            status: row.status.parse()?,
            on_timeout: row
                .on_timeout
                .as_deref()
                .map(|t| json("approvals.on_timeout", t))
                .transpose()?,
            decision: row
                .decision
                .as_deref()
                .map(|t| json("approvals.decision", t))
                .transpose()?,
            id: row.id,
            run_id: row.run_id,
            path: row.path,
            step: row.step,
            group: row.group_name,
            require_n: row.require_n,
            message: row.message,
            via: row.via,
            timeout_ms: row.timeout_ms,
            escalations: row.escalations,
            started_by: row.started_by,
            created_at: row.created_at,
            due_at: row.due_at,
            decided_at: row.decided_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    approval_id: String,
    seq: i64,
    at: i64,
    kind: String,
    who: Option<String>,
    channel: Option<String>,
    detail: String,
}

impl TryFrom<AuditRow> for ApprovalAudit {
    type Error = Error;

    fn try_from(row: AuditRow) -> Result<Self> {
        Ok(ApprovalAudit {
            detail: json("approval_audit.detail", &row.detail)?,
            approval_id: row.approval_id,
            seq: row.seq,
            at: row.at,
            kind: row.kind,
            who: row.who,
            channel: row.channel,
        })
    }
}

/// Generates the approval operations for one backend's connection type.
/// `$lock` is appended to the `SELECT` that reads a request before deciding
/// it (`FOR UPDATE` on PostgreSQL; SQLite's writer already holds the lock);
/// `$locks_rows` says whether the backend has row locks to take at all.
/// `$approvers` turns the JSON text of a row's `approvers` into rows with a
/// `value` column (`json_each` in SQLite, `json_array_elements_text` in
/// PostgreSQL), for the listing's approver filter.
macro_rules! approval_queries {
    ($conn:ty, $lock:literal, $locks_rows:literal, $approvers:literal) => {
        use $crate::approval::{
            ApprovalAudit, ApprovalDecision, ApprovalFilter, ApprovalRecord, ApprovalStatus,
            ApprovalWrite, NewApproval, vote_on,
        };
        use $crate::approval_sql as q;

        async fn audit(
            conn: &mut $conn,
            id: &str,
            now: i64,
            kind: &str,
            who: Option<&str>,
            channel: Option<&str>,
            detail: &serde_json::Value,
        ) -> $crate::Result<()> {
            sqlx::query(q::AUDIT)
                .bind(id)
                .bind(now)
                .bind(kind)
                .bind(who)
                .bind(channel)
                .bind(detail.to_string())
                .execute(&mut *conn)
                .await?;
            Ok(())
        }

        async fn create(conn: &mut $conn, new: &NewApproval, now: i64) -> $crate::Result<()> {
            let values = q::InsertValues::of(new)?;
            let done = sqlx::query(q::INSERT)
                .bind(&new.id)
                .bind(&new.run_id)
                .bind(&new.path)
                .bind(&new.step)
                .bind(&values.approvers)
                .bind(&new.group)
                .bind(new.require_n)
                .bind(&new.message)
                .bind(&new.via)
                .bind(new.timeout_ms)
                .bind(&values.on_timeout)
                .bind(new.escalations)
                .bind(&new.started_by)
                .bind(now)
                .bind(new.due_at)
                .execute(&mut *conn)
                .await?;
            if done.rows_affected() == 1 {
                let detail = q::created_detail(new);
                audit(conn, &new.id, now, "created", None, Some(&new.via), &detail).await?;
            }
            Ok(())
        }

        /// Applies one write of a durable point, inside its transaction.
        pub(crate) async fn apply_write(
            conn: &mut $conn,
            write: &ApprovalWrite,
            now: i64,
        ) -> $crate::Result<()> {
            match write {
                ApprovalWrite::Create(new) => create(conn, new, now).await,
                ApprovalWrite::Resolve {
                    id,
                    status,
                    decision,
                    kind,
                    who,
                } => {
                    let text = $crate::batch::to_json(decision, || format!("approval {id} decision"))?;
                    let done = sqlx::query(q::RESOLVE)
                        .bind(id)
                        .bind(status.as_str())
                        .bind(&text)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                    if done.rows_affected() == 1 {
                        audit(conn, id, now, kind, Some(who), Some("system"), decision).await?;
                    }
                    Ok(())
                }
                ApprovalWrite::Escalate { id, to } => {
                    let done = sqlx::query(q::ESCALATE)
                        .bind(id)
                        .bind(now)
                        .execute(&mut *conn)
                        .await?;
                    if done.rows_affected() == 1 {
                        let detail = serde_json::json!({"to": to.approvers, "next": to.id});
                        audit(conn, id, now, "escalated", Some("system:timeout"), Some("system"), &detail)
                            .await?;
                        revoke_tokens(conn, id, now).await?;
                        create(conn, to, now).await?;
                    }
                    Ok(())
                }
                ApprovalWrite::WakeIfSettled { run_id, id } => {
                    sqlx::query(q::WAKE_IF_SETTLED)
                        .bind(run_id)
                        .bind(now)
                        .bind(id)
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                }
                ApprovalWrite::IssueTokens(tokens) => issue_tokens(conn, tokens, now).await,
                ApprovalWrite::Audit {
                    id,
                    kind,
                    who,
                    channel,
                    detail,
                } => audit(conn, id, now, kind, who.as_deref(), channel.as_deref(), detail).await,
                ApprovalWrite::OweNotice { id, reason, claim } => {
                    sqlx::query($crate::notice_sql::OWE)
                        .bind(id)
                        .bind(reason.as_str())
                        .bind(now)
                        .bind(claim.as_ref().map(|c| c.node.as_str()))
                        .bind(claim.as_ref().map(|c| c.until))
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                }
            }
        }

        async fn fetch_approval(
            conn: &mut $conn,
            id: &str,
            lock: bool,
        ) -> $crate::Result<Option<ApprovalRecord>> {
            let sql = if lock {
                concat!("SELECT ", "*", " FROM approvals WHERE id = $1 ", $lock)
            } else {
                "SELECT * FROM approvals WHERE id = $1"
            };
            let row: Option<q::ApprovalRow> = sqlx::query_as(sql)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            row.map(ApprovalRecord::try_from).transpose()
        }

        /// Checks and records a decision in the caller's transaction; the
        /// caller commits only on `Ok`.
        pub(crate) async fn decide(
            conn: &mut $conn,
            id: &str,
            decision: &ApprovalDecision,
        ) -> $crate::Result<ApprovalRecord> {
            // Lock the run's row before the request's, in the order a commit
            // takes them (fence, then approval writes), so the two never
            // deadlock and a commit that makes the run wait is ordered with
            // the decision's wake-up. (A backend without row locks, whose
            // single writer serialises every commit, has nothing to take.)
            if $locks_rows {
                let lock_run = concat!(
                    "SELECT id FROM runs WHERE id = (SELECT run_id FROM approvals WHERE id = $1) ",
                    $lock
                );
                sqlx::query(lock_run).bind(id).execute(&mut *conn).await?;
            }
            let mut record = fetch_approval(conn, id, true)
                .await?
                .ok_or_else(|| $crate::approval::DecisionRefused::Unknown(id.to_owned()))?;
            let (kind, vote) = vote_on(&mut record, decision)?;
            sqlx::query(q::DECIDE)
                .bind(id)
                .bind(record.status.as_str())
                .bind(serde_json::Value::from(record.votes.clone()).to_string())
                .bind(record.decision.as_ref().map(|o| o.to_string()))
                .bind(record.decided_at)
                .execute(&mut *conn)
                .await?;
            audit(
                conn,
                id,
                decision.now,
                kind,
                Some(&decision.who),
                Some(&decision.channel),
                &vote,
            )
            .await?;
            if record.decision.is_some() {
                sqlx::query(q::WAKE_RUN)
                    .bind(&record.run_id)
                    .bind(decision.now)
                    .execute(&mut *conn)
                    .await?;
            }
            // The row as [`q::DECIDE`] left it, without reading it back.
            Ok(record)
        }

        pub(crate) async fn list(
            conn: &mut $conn,
            filter: &ApprovalFilter,
        ) -> $crate::Result<Vec<ApprovalRecord>> {
            // "Addressed to" is membership in `approvers`, as in `judge`.
            let sql = concat!(
                "SELECT * FROM approvals WHERE ($1 IS NULL OR status = $1) ",
                "AND ($2 IS NULL OR run_id = $2) AND ($3 IS NULL OR path = $3) ",
                "AND ($4 IS NULL OR EXISTS (SELECT 1 FROM ",
                $approvers,
                " WHERE value = $4)) ",
                "AND ($6 IS NULL OR created_at > $6 OR (created_at = $6 AND id > $7)) ",
                "ORDER BY created_at, id LIMIT $5"
            );
            let rows: Vec<q::ApprovalRow> = sqlx::query_as(sql)
                .bind(filter.status.map(ApprovalStatus::as_str))
                .bind(&filter.run_id)
                .bind(&filter.path)
                .bind(&filter.approver)
                .bind(i64::from(filter.limit))
                .bind(filter.after.as_ref().map(|key| key.created_at))
                .bind(filter.after.as_ref().map(|key| key.id.as_str()))
                .fetch_all(&mut *conn)
                .await?;
            $crate::rows::convert(rows)
        }

        pub(crate) async fn get(
            conn: &mut $conn,
            id: &str,
        ) -> $crate::Result<Option<ApprovalRecord>> {
            fetch_approval(conn, id, false).await
        }

        pub(crate) async fn trail(
            conn: &mut $conn,
            id: &str,
        ) -> $crate::Result<Vec<ApprovalAudit>> {
            let rows: Vec<q::AuditRow> = sqlx::query_as(
                "SELECT approval_id, seq, at, kind, who, channel, detail FROM approval_audit \
                 WHERE approval_id = $1 ORDER BY seq",
            )
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            $crate::rows::convert(rows)
        }
    };
}
pub(crate) use approval_queries;
