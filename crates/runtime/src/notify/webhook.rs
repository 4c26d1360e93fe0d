//! The `webhook` channel: one HTTP POST of the request as JSON (see
//! [`Message::to_json`]) to `approval-webhook-url`.

use super::Message;

/// POSTs the request; a non-2xx answer is a failure. Returns who was told.
pub(super) async fn send(url: Option<&str>, message: &Message) -> Result<Vec<String>, String> {
    let url = url.ok_or_else(|| {
        "VIA \"webhook\" needs approval-webhook-url in the workflow bot's config.csv".to_owned()
    })?;
    let client = reqwest::Client::builder()
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let response = client
        .post(url)
        .json(&message.to_json())
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("POST {url}: the server answered {status}"));
    }
    Ok(vec![message.notice.approvers.join(", ")])
}
