//! The `log` channel: who must decide, the exact commands and the links.

use super::Message;

/// Logs the request for each approver; returns who was told.
pub(super) fn send(message: &Message) -> Vec<String> {
    let n = &message.notice;
    let what = match n.reason {
        super::Reason::Requested => "approval requested",
        super::Reason::Reminder => "approval reminder",
    };
    for who in &n.approvers {
        let (approve, deny) = message.commands(who);
        let links = message.links_of(who);
        tracing::info!(
            run = %n.run,
            approval = %n.approval,
            approver = %who,
            due_at = ?n.due_at,
            message = n.message.as_deref().unwrap_or(""),
            approve_link = links.and_then(|l| l.approve.as_deref()).unwrap_or("-"),
            deny_link = links.and_then(|l| l.deny.as_deref()).unwrap_or("-"),
            "{what}; decide with: {approve} | {deny}"
        );
    }
    n.approvers.clone()
}
