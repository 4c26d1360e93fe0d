//! Writes that ride on a group commit beside the durable points: a person's
//! decision on an approval request (with the claim of the run it makes due),
//! an approval's audit entry, and an owed notification's done mark.
//!
//! Each used to be a transaction of its own, so an approval cost the run two
//! or three more fsyncs on the single writer, outside the group commit. Here
//! each is applied inside the group's transaction under a savepoint: a refused
//! decision rolls back only itself and is answered as refused, while the
//! points and the other writes of the group commit.

use crate::Result;
use crate::approval::{ApprovalDecision, ApprovalRecord, ApprovalWrite, OwedNotice};
use crate::model::{PointOutcome, RunRecord};

/// One write applied inside a group commit (see [`Store::commit_group`](crate::Store::commit_group)).
#[derive(Debug, Clone)]
pub enum GroupWrite {
    /// A decision on an approval request, checked and recorded as by
    /// [`Store::decide_approval`](crate::Store::decide_approval).
    Decide {
        /// The approval request.
        id: String,
        /// The decision.
        decision: ApprovalDecision,
        /// When set and the decision settles the request, the run it makes
        /// due is also claimed for this lease holder in the same transaction,
        /// so resuming it costs no transaction of its own.
        claim: Option<GroupClaim>,
    },
    /// One approval write outside any durable point, as by
    /// [`Store::record_approval`](crate::Store::record_approval).
    Approval {
        /// The write (boxed: it is the largest variant by far).
        write: Box<ApprovalWrite>,
        /// Its time.
        now: i64,
    },
    /// An owed notification was delivered, as by
    /// [`Store::notice_done`](crate::Store::notice_done).
    NoticeDone(OwedNotice),
}

/// Who claims a run made due by a decision, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupClaim {
    /// The lease holder (a node id).
    pub owner: String,
    /// The lease's length in milliseconds, from the decision's time.
    pub ttl_ms: i64,
}

/// What a [`GroupWrite`] did.
#[derive(Debug, Clone)]
pub enum GroupWritten {
    /// The decision was recorded: the request as it now stands, and the run
    /// claimed for the decider (when asked for, the request settled and the
    /// run was not leased by anybody).
    Decided {
        /// The request after the decision.
        approval: Box<ApprovalRecord>,
        /// The run, claimed at a new epoch.
        claimed: Option<Box<RunRecord>>,
    },
    /// The approval write was applied.
    Approval,
    /// The notification is no longer owed (or was owed again meanwhile).
    NoticeDone,
}

/// What [`Store::commit_group`](crate::Store::commit_group) did.
#[derive(Debug)]
pub struct GroupCommitted {
    /// Each point's outcome, in order.
    pub outcomes: Vec<PointOutcome>,
    /// Each write's result, in order: a refused write changed nothing.
    pub written: Vec<Result<GroupWritten>>,
    /// Whether the points' events made a waiting run due (one waiting for
    /// such an event, `WAIT FOR EVENT` or `ON EVENT`): then a worker has a
    /// run to claim.
    pub woke_waiters: bool,
}

/// Claims a waiting or running run whose lease is free (`$1` id, `$2` owner,
/// `$3` now, `$4` ttl), as `Store::claim_run` does; `$n` works on both backends.
macro_rules! claim_run_sql {
    () => {
        concat!(
            "UPDATE runs SET lease_owner = $2, lease_until = $3 + $4, \
             lease_epoch = lease_epoch + 1 \
             WHERE id = $1 AND status IN ('running', 'waiting') \
             AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING ",
            crate::rows::run_columns!()
        )
    };
}
pub(crate) use claim_run_sql;

/// Applies one group write on `$conn` inside the caller's transaction, under
/// a savepoint unless it cannot be refused (an audit entry, a done mark). The outer `Err` is a failure of the whole transaction; the
/// inner one is this write's refusal (rolled back alone).
macro_rules! group_write {
    ($conn:expr, $write:expr, $decide:path, $apply:path, $done:path, $transient:expr) => {{
        let write: &$crate::group::GroupWrite = $write;
        // An audit entry (checked up front) and a done mark cannot be
        // refused by the database: no savepoint (two more statements on the
        // single writer). A decision may be refused alone: it gets one.
        match write {
            $crate::group::GroupWrite::NoticeDone(notice) => {
                $done($conn, notice).await?;
                return Ok(Ok($crate::group::GroupWritten::NoticeDone));
            }
            $crate::group::GroupWrite::Approval { write, now }
                if matches!(**write, $crate::ApprovalWrite::Audit { .. }) =>
            {
                if let Err(refused) = $crate::batch::check_approval(write) {
                    return Ok(Err(refused));
                }
                $apply($conn, write, *now).await?;
                return Ok(Ok($crate::group::GroupWritten::Approval));
            }
            _ => {}
        }
        let mut sp = sqlx::Connection::begin($conn).await?;
        let applied: $crate::Result<$crate::group::GroupWritten> = async {
            match write {
                $crate::group::GroupWrite::Decide {
                    id,
                    decision,
                    claim,
                } => {
                    let approval = $decide(&mut sp, id, decision).await?;
                    let claimed = match claim {
                        Some(claim) if approval.status != $crate::ApprovalStatus::Pending => {
                            let row: Option<$crate::rows::RunRow> =
                                sqlx::query_as($crate::group::claim_run_sql!())
                                    .bind(&approval.run_id)
                                    .bind(&claim.owner)
                                    .bind(decision.now)
                                    .bind(claim.ttl_ms)
                                    .fetch_optional(&mut *sp)
                                    .await?;
                            row.map($crate::RunRecord::try_from)
                                .transpose()?
                                .map(Box::new)
                        }
                        _ => None,
                    };
                    Ok($crate::group::GroupWritten::Decided {
                        approval: Box::new(approval),
                        claimed,
                    })
                }
                $crate::group::GroupWrite::Approval { write, now } => {
                    $apply(&mut sp, write, *now).await?;
                    Ok($crate::group::GroupWritten::Approval)
                }
                $crate::group::GroupWrite::NoticeDone(notice) => {
                    $done(&mut sp, notice).await?;
                    Ok($crate::group::GroupWritten::NoticeDone)
                }
            }
        }
        .await;
        match applied {
            Ok(written) => {
                sp.commit().await?;
                Ok(Ok(written))
            }
            // A transient failure (a deadlock) is the whole batch's: it is
            // applied again from the start.
            Err(error) if ($transient)(&error) => Err(error),
            Err(error) => {
                sp.rollback().await?;
                Ok(Err(error))
            }
        }
    }};
}
pub(crate) use group_write;
