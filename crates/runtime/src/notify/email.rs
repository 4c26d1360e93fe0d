//! The `email` channel: one plain-text message per approver through SMTP
//! (lettre on tokio, no TLS: meant for a local relay or sink; a relay that
//! needs TLS sits behind one that does not). Credentials are sent only when
//! `smtp-user` is set.

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::Message;

/// The raw `smtp-*` values of `config.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SmtpConfig {
    pub(crate) host: Option<String>,
    pub(crate) port: Option<String>,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) from: Option<String>,
}

/// Sends one message per approver; returns who was told. The first failure
/// stops the delivery (those told before it are told again by a reminder).
pub(super) async fn send(config: &SmtpConfig, message: &Message) -> Result<Vec<String>, String> {
    let host = config
        .host
        .as_deref()
        .ok_or("VIA \"email\" needs smtp-host in the workflow bot's config.csv")?;
    let port = match config.port.as_deref() {
        None => 25,
        Some(text) => text.parse::<u16>().map_err(|_| {
            format!("smtp-port {text:?} in config.csv is not a port number (1-65535)")
        })?,
    };
    let from: Mailbox = config
        .from
        .as_deref()
        .ok_or("VIA \"email\" needs smtp-from in the workflow bot's config.csv")?
        .parse()
        .map_err(|e| format!("smtp-from is not an e-mail address: {e}"))?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(port);
    if let Some(user) = &config.user {
        builder = builder.credentials(Credentials::new(
            user.clone(),
            config.password.clone().unwrap_or_default(),
        ));
    }
    let transport = builder.build();
    let mut told = Vec::new();
    for who in &message.notice.approvers {
        let to: Mailbox = who
            .parse()
            .map_err(|e| format!("approver {who:?} is not an e-mail address: {e}"))?;
        let email = lettre::Message::builder()
            .from(from.clone())
            .to(to)
            .subject(subject(message))
            .header(ContentType::TEXT_PLAIN)
            .body(encode(body(message, who)))
            .map_err(|e| format!("cannot build the e-mail to {who}: {e}"))?;
        transport
            .send(email)
            .await
            .map_err(|e| format!("SMTP {host}:{port}: {e}"))?;
        told.push(who.clone());
    }
    Ok(told)
}

/// The body as is, so links stay whole and copyable: SMTP allows lines up
/// to 998 bytes with 8-bit content, while lettre's automatic choice would
/// quoted-printable-wrap every link at 76 columns. A body that does not fit
/// those rules gets lettre's own encoding.
fn encode(text: String) -> Body {
    let fits = !text.contains('\0') && text.lines().all(|line| line.len() < 990);
    if fits {
        let crlf = text.replace("\r\n", "\n").replace('\n', "\r\n");
        Body::dangerous_pre_encoded(crlf.into_bytes(), ContentTransferEncoding::EightBit)
    } else {
        Body::new(text)
    }
}

fn subject(message: &Message) -> String {
    let prefix = match message.notice.reason {
        super::Reason::Requested => "Approval requested",
        super::Reason::Reminder => "Reminder: approval requested",
    };
    format!("{prefix}: {}", message.notice.approval)
}

fn body(message: &Message, who: &str) -> String {
    let n = &message.notice;
    let mut text = format!("Hello {who},\n\nYour approval is requested");
    if let Some(step) = &n.step {
        text.push_str(&format!(" for step {step}"));
    }
    text.push_str(&format!(" of run {}.\n\n", n.run));
    if let Some(body) = &n.message {
        text.push_str(body);
        text.push_str("\n\n");
    }
    if let Some(links) = message.links_of(who) {
        if let Some(approve) = &links.approve {
            text.push_str(&format!("Approve: {approve}\n"));
        }
        if let Some(deny) = &links.deny {
            text.push_str(&format!("Deny:    {deny}\n"));
        }
        text.push_str("Each link works once.\n\n");
    }
    let (approve, deny) = message.commands(who);
    text.push_str(&format!("Or from a shell:\n  {approve}\n  {deny}\n"));
    if let Some(due) = n.due_at {
        text.push_str(&format!("\nThe request times out at {due} (epoch ms).\n"));
    }
    text
}
