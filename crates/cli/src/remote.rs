//! `--server URL --token T`: the commands that act on approvals and events
//! do it through a `botflow serve` API instead of the local database.
//!
//! The server decides who the caller is from the token (an approver decides
//! as its token's name, so `--as` does not apply), checks everything the
//! local commands check, and its worker drives the runs a decision or an
//! event makes due: a remote command returns once the server has recorded
//! what it asked, without driving the run itself.
//!
//! The token may come from `BOTFLOW_TOKEN` instead of `--token`, which keeps
//! it out of the process list.
//!
//! Exit codes follow the local commands: a refusal by the server (a `4xx`
//! problem: refused decision, unknown id, bad event) prints its `detail` and
//! exits 1 (2 for a bad event, as a local usage error); an unreachable server
//! or a `5xx` is an error (exit 1) too, with what the server said.

use std::process::ExitCode;
use std::time::Duration;

use serde_json::{Value, json};

use crate::UsageError;
use crate::runner;

/// How long one request may take; long enough for a loaded server.
const TIMEOUT: Duration = Duration::from_secs(60);

/// `--server` and `--token`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RemoteArgs {
    /// Act through the botflow server at URL (`botflow serve`) instead of
    /// the local database; needs --token.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The bearer token for --server (`botflow tokens create`).
    #[arg(long, value_name = "T", env = "BOTFLOW_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl RemoteArgs {
    /// The client for `--server`, or `None` without it.
    pub fn client(&self) -> Result<Option<Remote>, UsageError> {
        let Some(server) = self.server.as_deref() else {
            return Ok(None);
        };
        let base = server.trim().trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(UsageError(format!(
                "--server {server:?} is not an http:// or https:// URL"
            )));
        }
        let token = self
            .token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                UsageError(
                    "--server needs --token (or BOTFLOW_TOKEN); `botflow tokens create` makes one"
                        .to_owned(),
                )
            })?;
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| UsageError(format!("cannot make an HTTP client: {e}")))?;
        Ok(Some(Remote {
            base: base.to_owned(),
            token: token.to_owned(),
            http,
        }))
    }
}

/// A botflow server's API.
#[derive(Debug, Clone)]
pub struct Remote {
    base: String,
    token: String,
    http: reqwest::Client,
}

/// What the server answered.
#[derive(Debug)]
enum Answer {
    /// A 2xx with its JSON body.
    Ok(Value),
    /// A 4xx problem: the request was refused; `detail` says why.
    Refused {
        status: u16,
        kind: String,
        detail: String,
    },
}

impl Remote {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> anyhow::Result<Answer> {
        let url = format!("{}{path}", self.base);
        let mut request = self
            .http
            .request(method, &url)
            .bearer_auth(&self.token)
            .query(query);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach the server at {}: {e}", self.base))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_success() {
            return Ok(Answer::Ok(body));
        }
        let detail = body["detail"]
            .as_str()
            .map_or_else(|| body.to_string(), str::to_owned);
        if status.is_client_error() {
            let kind = body["type"]
                .as_str()
                .and_then(|t| t.rsplit('/').next())
                .unwrap_or("")
                .to_owned();
            return Ok(Answer::Refused {
                status: status.as_u16(),
                kind,
                detail,
            });
        }
        anyhow::bail!("the server failed ({status}) on {url}: {detail}")
    }

    /// `botflow approve|deny ID --server`: decides a request (or the one
    /// pending request of a run) as the token's holder.
    pub async fn decide(
        &self,
        id: &str,
        approve: bool,
        comment: Option<String>,
    ) -> anyhow::Result<ExitCode> {
        let request = match self.request_of(id).await? {
            Ok(request) => request,
            Err(why) => {
                errln!("botflow: {why}");
                return Ok(ExitCode::FAILURE);
            }
        };
        let decision = json!({
            "decision": if approve { "approve" } else { "deny" },
            "comment": comment,
        });
        let path = format!("/v1/approvals/{}/decision", segment(&request));
        let record = match self
            .send(reqwest::Method::POST, &path, &[], Some(decision))
            .await?
        {
            Answer::Ok(record) => record,
            Answer::Refused { detail, .. } => {
                errln!("botflow: {detail}");
                return Ok(ExitCode::FAILURE);
            }
        };
        let verb = if approve { "approved" } else { "denied" };
        let run = record["run_id"].as_str().unwrap_or("?");
        if record["status"] == "pending" {
            let yes = record["votes"].as_array().map_or(0, |votes| {
                votes.iter().filter(|v| v["approved"] == true).count()
            });
            errln!(
                "{verb} {request}: {yes} of {} approvals needed so far; the run keeps waiting",
                record["require_n"]
            );
            return Ok(ExitCode::from(3));
        }
        errln!("{verb} {request}; the server continues run {run}");
        Ok(ExitCode::SUCCESS)
    }

    /// The request `id` names: itself, or the only pending request of the
    /// run `id`; `Err` says why neither.
    async fn request_of(&self, id: &str) -> anyhow::Result<Result<String, String>> {
        let path = format!("/v1/approvals/{}", segment(id));
        match self.send(reqwest::Method::GET, &path, &[], None).await? {
            Answer::Ok(_) => return Ok(Ok(id.to_owned())),
            Answer::Refused { status: 404, .. } => {}
            Answer::Refused { detail, .. } => return Ok(Err(detail)),
        }
        let query = [("run", id.to_owned()), ("status", "pending".to_owned())];
        let pending = match self
            .send(reqwest::Method::GET, "/v1/approvals", &query, None)
            .await?
        {
            Answer::Ok(list) => list,
            Answer::Refused { detail, .. } => return Ok(Err(detail)),
        };
        let ids: Vec<&str> = pending
            .as_array()
            .map(|list| list.iter().filter_map(|a| a["id"].as_str()).collect())
            .unwrap_or_default();
        Ok(match ids.as_slice() {
            [one] => Ok((*one).to_owned()),
            [] => Err(format!(
                "there is no approval request or waiting run with id {id:?} that this token \
                 may see; nothing was changed"
            )),
            many => Err(format!(
                "run {id} waits for {} approvals ({}): name one; nothing was changed",
                many.len(),
                many.join(", ")
            )),
        })
    }

    /// `botflow approvals list --server`.
    pub async fn list_approvals(
        &self,
        status: Option<String>,
        limit: u32,
        json_out: bool,
    ) -> anyhow::Result<ExitCode> {
        let mut query = vec![("limit", limit.to_string())];
        if let Some(status) = status {
            query.push(("status", status));
        }
        let list = match self
            .send(reqwest::Method::GET, "/v1/approvals", &query, None)
            .await?
        {
            Answer::Ok(list) => list,
            Answer::Refused { detail, .. } => {
                errln!("botflow: {detail}");
                return Ok(ExitCode::FAILURE);
            }
        };
        let requests = list.as_array().cloned().unwrap_or_default();
        if json_out {
            outln!("{}", serde_json::to_string_pretty(&requests)?)?;
        } else if requests.is_empty() {
            errln!("no approval requests");
        } else {
            outln!("{:<48} {:<10} {:<32} DEADLINE", "ID", "STATUS", "APPROVERS")?;
            for r in &requests {
                let approvers: Vec<&str> = r["approvers"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                outln!(
                    "{:<48} {:<10} {:<32} {}",
                    r["id"].as_str().unwrap_or("?"),
                    r["status"].as_str().unwrap_or("?"),
                    approvers.join(", "),
                    r["due_at"]
                        .as_i64()
                        .map_or_else(|| "none".to_owned(), runner::time)
                )?;
            }
        }
        Ok(ExitCode::SUCCESS)
    }

    /// `botflow events publish --server`: the server stores the event, wakes
    /// the runs waiting for it and starts its triggered runs.
    pub async fn publish(
        &self,
        name: &str,
        data: Option<Value>,
        key: Option<String>,
        to: Option<String>,
    ) -> anyhow::Result<ExitCode> {
        let body = json!({"name": name, "data": data, "key": key, "to": to});
        match self
            .send(reqwest::Method::POST, "/v1/events", &[], Some(body))
            .await?
        {
            Answer::Ok(event) => {
                let id = event["id"].as_str().unwrap_or("?");
                outln!("{id}")?;
                errln!("published event {name} ({id}) on {}", self.base);
                Ok(ExitCode::SUCCESS)
            }
            // A bad name or payload is the caller's mistake, as locally.
            Answer::Refused {
                status: 422 | 413 | 400,
                kind,
                detail,
            } if kind != "unauthorized" && kind != "forbidden" => {
                Err(UsageError(format!("{detail}; nothing was published")).into())
            }
            Answer::Refused { detail, .. } => {
                errln!("botflow: {detail}");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

/// An id as one path segment: characters that would change the path are
/// percent-encoded.
fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~' | b':' | b'@') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
