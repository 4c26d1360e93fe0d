//! The `webhook` channel: one HTTP POST of the request as JSON (see
//! [`Message::to_json`]) to `approval-webhook-url`, signed so the listener
//! can tell it comes from this deployment.
//!
//! # Signature
//!
//! Each POST carries two headers:
//!
//! - `X-Botflow-Timestamp`: the sending time in epoch seconds;
//! - `X-Botflow-Signature`: `sha256=<hex>`, the HMAC-SHA256 under the
//!   deployment secret (see `links.rs`: `BOTFLOW_SECRET`, else the store's
//!   `link_secret`) of the bytes `<timestamp>.<body>`.
//!
//! The timestamp is inside the MAC, so a listener that refuses timestamps
//! older than a few minutes also refuses a replayed POST; the body is MACed
//! as sent, byte for byte ([`verify_webhook_signature`] checks both).

use hmac::{Hmac, Mac};

use super::Message;

type HmacSha256 = Hmac<sha2::Sha256>;

/// The header carrying `sha256=<hex mac>`.
pub const SIGNATURE_HEADER: &str = "X-Botflow-Signature";
/// The header carrying the sending time (epoch seconds), included in the MAC.
pub const TIMESTAMP_HEADER: &str = "X-Botflow-Timestamp";

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac = match <HmacSha256 as Mac>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC hashes or pads a key of any length: new_from_slice never fails for it.
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `X-Botflow-Signature` value of a body sent at `timestamp`:
/// `sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
pub fn webhook_signature(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("sha256={}", super::links::hex(&tag))
}

/// Whether `signature` (an `X-Botflow-Signature` value) signs `body` sent at
/// `timestamp` (the `X-Botflow-Timestamp` value) under `secret`, compared in
/// constant time. Checking the timestamp's age is the listener's part.
pub fn verify_webhook_signature(
    secret: &[u8],
    timestamp: &str,
    body: &[u8],
    signature: &str,
) -> bool {
    let Some(tag) = signature
        .trim()
        .strip_prefix("sha256=")
        .and_then(super::links::unhex)
    else {
        return false;
    };
    mac(secret, timestamp, body).verify_slice(&tag).is_ok()
}

/// POSTs the request, signed; a non-2xx answer is a failure. Returns who was told.
pub(super) async fn send(
    url: Option<&str>,
    secret: &[u8],
    message: &Message,
) -> Result<Vec<String>, String> {
    let url = url.ok_or_else(|| {
        "VIA \"webhook\" needs approval-webhook-url in the workflow bot's config.csv".to_owned()
    })?;
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    // A `Value` always serialises.
    let body = serde_json::to_vec(&message.to_json()).unwrap_or_default();
    let timestamp = (crate::time::now_ms() / 1000).to_string();
    let signature = webhook_signature(secret, &timestamp, &body);
    let response = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(TIMESTAMP_HEADER, &timestamp)
        .header(SIGNATURE_HEADER, signature)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("POST {url}: the server answered {status}"));
    }
    Ok(vec![message.notice.approvers.join(", ")])
}
