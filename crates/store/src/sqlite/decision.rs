//! A decision riding on a SQLite group commit in two round trips to the
//! writer's thread instead of seven, when the group holds writes that
//! `group_docs.rs` does not take (it applies the others, decisions included,
//! as documents) and so goes one write at a time.
//!
//! `group::group_write!` applies a decision statement by statement under a
//! savepoint: begin it, read the request, update it, audit the vote, wake
//! the run, claim it, release. On the single writer every one of those is a
//! hand-off to the connection's thread and back, and in an approval
//! workload decisions ride on nearly every group commit. Here the savepoint
//! and the read go in one query and, once the vote is judged (the same
//! `approval::vote_on`), every write and the release in another: the same
//! statements (`approval_sql`, `group::claim_run_sql!`) and the same rules,
//! a refusal or a failed write undoing this decision alone.

use sqlx::SqliteConnection;

use crate::Result;
use crate::approval::{ApprovalDecision, ApprovalRecord, DecisionRefused, vote_on};
use crate::approval_sql as q;
use crate::group::{GroupClaim, GroupWritten};

/// Reads the request under a fresh savepoint.
const READ: &str = "SAVEPOINT decision; SELECT * FROM approvals WHERE id = ?";

/// Undoes what the decision wrote (nothing, when it was refused before).
const UNDO: &str = "ROLLBACK TO decision; RELEASE decision";

/// Records a decision inside the caller's transaction; the outer `Err`
/// fails the transaction, the inner one refuses this decision alone.
pub(super) async fn decide(
    conn: &mut SqliteConnection,
    id: &str,
    decision: &ApprovalDecision,
    claim: Option<&GroupClaim>,
) -> Result<Result<GroupWritten>> {
    let row: Option<q::ApprovalRow> = sqlx::query_as(READ)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let applied = match row {
        None => Err(DecisionRefused::Unknown(id.to_owned()).into()),
        Some(row) => apply(conn, row, decision, claim).await,
    };
    if applied.is_err() {
        sqlx::query(UNDO).execute(&mut *conn).await?;
    }
    Ok(applied)
}

/// Judges the vote on the request `row` and writes it, releasing the
/// savepoint: everything after the read in one query.
async fn apply(
    conn: &mut SqliteConnection,
    row: q::ApprovalRow,
    decision: &ApprovalDecision,
    claim: Option<&GroupClaim>,
) -> Result<GroupWritten> {
    let mut record = ApprovalRecord::try_from(row)?;
    let (kind, vote) = vote_on(&mut record, decision)?;
    let votes = serde_json::Value::from(record.votes.clone()).to_string();
    let settled = record.decision.is_some();
    let claim = claim.filter(|_| settled);
    let id = Bind::Text(&record.id);
    let now = Bind::Int(decision.now);
    let object_text = record.decision.as_ref().map(ToString::to_string);
    let detail = vote.to_string();
    // Each statement's `$n`, in the order its text holds them.
    let mut values = vec![
        // DECIDE
        vec![
            id,
            Bind::Text(record.status.as_str()),
            Bind::Text(&votes),
            Bind::OptText(object_text.as_deref()),
            Bind::OptInt(record.decided_at),
        ],
        // AUDIT
        vec![
            id,
            now,
            Bind::Text(kind),
            Bind::Text(&decision.who),
            Bind::Text(&decision.channel),
            Bind::Text(&detail),
        ],
    ];
    if settled {
        // WAKE_RUN
        values.push(vec![Bind::Text(&record.run_id), now]);
    }
    if let Some(claim) = claim {
        values.push(vec![
            Bind::Text(&record.run_id),
            Bind::Text(&claim.owner),
            now,
            Bind::Int(claim.ttl_ms),
        ]);
    }
    let (sql, order) = &WRITES[values.len() - 2];
    let mut query = sqlx::query_as::<_, crate::rows::RunRow>(sqlx::AssertSqlSafe(sql.as_str()));
    for (statement, number) in order {
        query = match values[*statement][*number - 1] {
            Bind::Text(text) => query.bind(text),
            Bind::OptText(text) => query.bind(text),
            Bind::Int(n) => query.bind(n),
            Bind::OptInt(n) => query.bind(n),
        };
    }
    // `fetch_all` runs every statement, the release included.
    let claimed = query.fetch_all(&mut *conn).await?.into_iter().next();
    Ok(GroupWritten::Decided {
        approval: Box::new(record),
        claimed: claimed
            .map(crate::RunRecord::try_from)
            .transpose()?
            .map(Box::new),
    })
}

/// One of [`WRITES`]: its SQL and, per `?`, the statement and `$n` it binds.
type Writes = (String, Vec<(usize, usize)>);

/// A value bound to one of [`WRITES`]' statements.
#[derive(Clone, Copy)]
enum Bind<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
}

/// The writes of a vote (`[0]`), of a decision that settles the request
/// (`[1]`: the run is made due too), and of one that also claims the run
/// (`[2]`), each ending with the savepoint's release, with anonymous
/// parameters: sqlx reads a `$n` as the query's `n`-th argument whichever
/// statement holds it, and these statements each number their own from 1.
/// Each comes with, per `?` in order, its statement and the `$n` it was.
static WRITES: std::sync::LazyLock<[Writes; 3]> = std::sync::LazyLock::new(|| {
    let statements = [
        q::DECIDE,
        q::AUDIT,
        q::WAKE_RUN,
        crate::group::claim_run_sql!(),
    ];
    [2, 3, 4].map(|count| {
        let mut sql = String::new();
        let mut order = Vec::new();
        for (at, statement) in statements[..count].iter().enumerate() {
            let (text, numbers) = anonymous(statement);
            sql.push_str(&text);
            sql.push_str(";\n");
            order.extend(numbers.into_iter().map(|n| (at, n)));
        }
        sql.push_str("RELEASE decision");
        (sql, order)
    })
});

/// `sql` with every `$n` made `?`, and the `n`s in order.
fn anonymous(sql: &str) -> (String, Vec<usize>) {
    super::anonymize(sql, '$', |rest| {
        let digits = rest[1..]
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len() - 1);
        let n = rest[1..1 + digits].parse().ok()?;
        Some((n, 1 + digits))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_anonymous_in_order() {
        assert_eq!(
            anonymous("SELECT $1, $12, $1 WHERE a = $2 AND b = '$'"),
            (
                "SELECT ?, ?, ? WHERE a = ? AND b = '$'".to_owned(),
                vec![1, 12, 1, 2]
            )
        );
        for (sql, order) in WRITES.iter() {
            assert_eq!(sql.matches('?').count(), order.len(), "{sql}");
            assert!(!sql.contains('$'), "{sql}");
            assert!(sql.ends_with("RELEASE decision"), "{sql}");
        }
    }
}
