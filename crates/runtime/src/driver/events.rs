//! `WAIT FOR EVENT` and `ON EVENT` handlers (LANGUAGE.md §4.5) in the driver.
//!
//! Matching is the store's (`store::EventQuery`): name, key (the `FOR` key,
//! else empty or the run's id), addressed to nobody or to the run's bot,
//! published after the run started, not yet used by this run.
//!
//! - **A wait** that finds its event is answered with the event's value; the
//!   event id rides on the durable point that records the answer
//!   (`DurablePoint::consumed`), so a crash before that point leaves the event
//!   unconsumed and the replayed wait finds it again, and a crash after it
//!   never consumes it twice. A wait that finds nothing makes the run wait:
//!   the waiting point registers the wait (`DurablePoint::waits`), and
//!   whoever publishes a matching event makes the run due. Its deadline
//!   (`TIMEOUT s`) is kept in the run's stored state from the point that
//!   first sees the request, and is the run's `wake_at`.
//! - **On timeout** the run publishes `timeout_occurred` and applies
//!   `ON TIMEOUT:`: `CONTINUE` (the default) answers `NULL`, `FAIL` fails the
//!   wait with an error of kind `timeout` (which `ON ERROR` can catch), and
//!   `ESCALATE TO who` opens an approval request to `who` (the `HUMAN
//!   APPROVAL` machinery of `approvals.rs`, at the wait's step path): the
//!   wait's value is then that request's decision object.
//! - **Handlers**: before each `advance`, every matching event not yet
//!   delivered to the run starts its handlers (`engine::deliver_event`); the
//!   delivered ids ride on the point of that advance (`DurablePoint::delivered`),
//!   so each event runs a handler once. Delivery does not consume: a wait of
//!   the same run still finds the event.

use engine::{ErrorValue, OnTimeout, Request, RequestKind};
use serde_json::{Value, json};
use store::{DurablePoint, EventQuery, EventUse, Store, Wait};

use super::approvals::Next;
use super::{Driver, journal};
use crate::Result;

impl Driver {
    /// Looks for the event a `WAIT FOR EVENT` request waits for, and decides what this pass does.
    pub(super) async fn event_wait(
        &mut self,
        request: &Request,
        point: &mut DurablePoint,
        now: i64,
    ) -> Result<Next> {
        let RequestKind::WaitEvent {
            name,
            key,
            timeout,
            on_timeout,
        } = &request.kind
        else {
            return Ok(Next::Ready(Err(ErrorValue::new(
                "runtime",
                "not an event wait",
            ))));
        };
        let deadline = match timeout {
            Some(seconds) => {
                let millis = (seconds.max(0.0) * 1000.0).min(i64::MAX as f64) as i64;
                Some(
                    *self
                        .stored
                        .event_deadlines
                        .entry(request.id)
                        .or_insert(now.saturating_add(millis)),
                )
            }
            None => None,
        };
        let timed_out = deadline.is_some_and(|due| due <= now);
        if timed_out && let Some(OnTimeout::Escalate { to }) = on_timeout {
            return self.escalate_wait(request, name, to, point, now).await;
        }
        let found = self
            .inner
            .store
            .next_event(EventQuery {
                run_id: self.run.clone(),
                name: name.clone(),
                key: key.clone(),
                use_: EventUse::Consume,
                exclude: self.taken.iter().cloned().collect(),
            })
            .await?;
        if let Some(event) = found {
            self.taken.insert(event.id.clone());
            self.pending.consumed.push(event.id.clone());
            self.stored.event_deadlines.remove(&request.id);
            // With the consumption, in the point that records the answer.
            self.pending.journal.push(journal(
                "event_received",
                json!({"path": request.path, "event": event.id, "name": event.name}),
            ));
            return Ok(Next::Ready(Ok(store::event_value(&event))));
        }
        if !timed_out {
            self.waits.push(Wait::Event {
                name: name.clone(),
                key: key.clone(),
            });
            return Ok(Next::Waiting(deadline));
        }
        self.stored.event_deadlines.remove(&request.id);
        self.engine_event(
            point,
            "timeout_occurred",
            &format!("{}:timeout_occurred", request.path),
            json!({"step": request.path, "event": name, "timeout_seconds": timeout}),
        );
        point.journal.push(journal(
            "event_timed_out",
            json!({"path": request.path, "name": name}),
        ));
        Ok(Next::Ready(match on_timeout {
            Some(OnTimeout::Fail) => Err(ErrorValue::new(
                "timeout",
                format!(
                    "WAIT FOR EVENT \"{name}\" timed out after {} s",
                    timeout.unwrap_or_default()
                ),
            )),
            _ => Ok(Value::Null),
        }))
    }

    /// `ON TIMEOUT: ESCALATE TO who` of an event wait: an approval request to
    /// `who` at the wait's path; its decision answers the wait.
    async fn escalate_wait(
        &mut self,
        request: &Request,
        name: &str,
        to: &str,
        point: &mut DurablePoint,
        now: i64,
    ) -> Result<Next> {
        // Every pass until the decision comes publishes this again; the
        // stable id makes all but the first a no-op in the store.
        self.engine_event(
            point,
            "timeout_occurred",
            &format!("{}:timeout_occurred", request.path),
            json!({"step": request.path, "event": name, "escalated_to": to}),
        );
        let approval = Request {
            kind: RequestKind::Approval {
                from: vec![to.to_owned()],
                group: None,
                timeout: None,
                on_timeout: None,
                message: Some(format!(
                    "WAIT FOR EVENT \"{name}\" timed out: approve to continue the run, deny to stop it"
                )),
                require: None,
                via: None,
                on_deny_continue: false,
            },
            ..request.clone()
        };
        self.approval(&approval, point, now).await
    }

    /// Starts the handlers of every matching event not yet delivered to the
    /// run; the delivered ids go with the next point.
    pub(super) async fn deliver_events(&mut self) -> Result<()> {
        let names = self.stored.engine.handler_names();
        for name in names {
            loop {
                let found = self
                    .inner
                    .store
                    .next_event(EventQuery {
                        run_id: self.run.clone(),
                        name: name.clone(),
                        key: None,
                        use_: EventUse::Deliver,
                        exclude: self.delivered.iter().cloned().collect(),
                    })
                    .await?;
                let Some(event) = found else { break };
                self.delivered.insert(event.id.clone());
                self.pending.delivered.push(event.id.clone());
                engine::deliver_event(
                    &self.compiled,
                    &mut self.stored.engine,
                    store::event_value(&event),
                );
                self.pending.journal.push(journal(
                    "event_delivered",
                    json!({"event": event.id, "name": event.name}),
                ));
            }
        }
        Ok(())
    }

    /// The handler waits of a run that is about to wait.
    pub(super) fn handler_waits(&self) -> Vec<Wait> {
        self.stored
            .engine
            .handler_names()
            .into_iter()
            .map(|name| Wait::Handler { name })
            .collect()
    }
}
