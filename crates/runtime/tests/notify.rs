//! Approval notifications and signed links end to end over SQLite: e-mail
//! to a local SMTP sink and webhooks to a local HTTP listener that the tests
//! start, link tokens (valid, reused, tampered, expired, revoked by an
//! escalation, deny), reminders, bad channel configuration, and a decision
//! whose process dies before the run resumes.

mod common;

use std::time::Duration;

use common::{Fixture, package};
use runtime::{Error, Runtime};
use serde_json::{Value, json};
use store::{ApprovalAudit, ApprovalStatus, DecisionRefused, RunStatus, Store};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// A local HTTP listener: answers every request 200 and hands over each JSON body.
async fn http_sink() -> (String, mpsc::UnboundedReceiver<Value>) {
    let (url, mut raw) = http_sink_raw().await;
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(post) = raw.recv().await {
            if let Ok(value) = serde_json::from_slice(&post.body) {
                let _ = tx.send(value);
            }
        }
    });
    (url, rx)
}

/// One POST as the listener saw it: its headers (names lower-cased) and body bytes.
struct Post {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Post {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A local HTTP listener: answers every request 200 and hands over each request.
async fn http_sink_raw() -> (String, mpsc::UnboundedReceiver<Post>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                let body = loop {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    data.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&data).to_string();
                    let Some(end) = text.find("\r\n\r\n") else {
                        continue;
                    };
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if data.len() >= end + 4 + length {
                        let headers = text[..end]
                            .lines()
                            .skip(1)
                            .filter_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                            })
                            .collect();
                        break Post {
                            headers,
                            body: data[end + 4..end + 4 + length].to_vec(),
                        };
                    }
                };
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
                let _ = tx.send(body);
            });
        }
    });
    (format!("http://127.0.0.1:{port}/hook"), rx)
}

/// A local SMTP sink (EHLO/MAIL/RCPT/DATA/QUIT) handing over each message's text.
async fn smtp_sink() -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                if write.write_all(b"220 sink ready\r\n").await.is_err() {
                    return;
                }
                let mut envelope = String::new();
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "MAIL" | "RCPT" => {
                            envelope.push_str(&line);
                            envelope.push('\n');
                            b"250 ok\r\n"
                        }
                        "DATA" => {
                            if write.write_all(b"354 go on\r\n").await.is_err() {
                                return;
                            }
                            let mut text = envelope.clone();
                            while let Ok(Some(line)) = lines.next_line().await {
                                if line == "." {
                                    break;
                                }
                                text.push_str(line.strip_prefix('.').unwrap_or(&line));
                                text.push('\n');
                            }
                            let _ = tx.send(text);
                            envelope.clear();
                            b"250 queued\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            return;
                        }
                        _ => b"250 ok\r\n",
                    };
                    if write.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

async fn next<T>(rx: &mut mpsc::UnboundedReceiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a notification arrives")
        .expect("the sink is running")
}

/// A runtime over one package `flow` whose workflow is `body`.
async fn flow(fixture: &Fixture, body: &str, config: &str) -> Runtime {
    let source = format!("ORCHESTRATE WORKFLOW \"w\"\n{body}END WORKFLOW\n");
    package(&fixture.bots(), "flow", &[("w.bas", &source)], config);
    fixture.runtime().await
}

/// Starts the workflow as `alice` and drives it until it waits.
async fn start(rt: &Runtime) -> String {
    let workflow = rt.workflow(Some("w")).expect("the workflow is found");
    let (run, _) = rt
        .start_by(&workflow, json!({}), None, Some("alice".to_owned()))
        .await
        .expect("the run starts");
    assert_eq!(
        rt.run_to_end(&run.id).await.expect("driven"),
        RunStatus::Waiting
    );
    run.id
}

fn ask(approvers: &str, via: &str, extra: &str) -> String {
    format!(
        "  STEP 1: HUMAN APPROVAL FROM {approvers}\n    MESSAGE \"refund 150?\"\n    VIA \"{via}\"\n{extra}  TALK \"approved: \" + approval.approved\n"
    )
}

/// The token of a link.
fn token(link: &Value) -> String {
    let link = link.as_str().expect("a link");
    link.rsplit('/').next().expect("a token").to_owned()
}

/// The links of `who` in a webhook body.
fn links(body: &Value, who: &str) -> (String, String) {
    let entry = body["approvers"]
        .as_array()
        .expect("approvers")
        .iter()
        .find(|a| a["who"] == who)
        .expect("the approver is in the body");
    (token(&entry["approve"]), token(&entry["deny"]))
}

fn refused(result: runtime::Result<runtime::LinkOutcome>) -> DecisionRefused {
    match result {
        Err(Error::Store(store::Error::Refused(why))) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn bad_link(result: runtime::Result<runtime::LinkOutcome>) -> String {
    match result {
        Err(Error::BadLink(why)) => why,
        other => panic!("expected a bad link error, got {other:?}"),
    }
}

async fn trail(rt: &Runtime, id: &str) -> Vec<ApprovalAudit> {
    rt.store()
        .approval_audit(id)
        .await
        .expect("the audit reads")
}

fn kinds(trail: &[ApprovalAudit], kind: &str) -> usize {
    trail.iter().filter(|a| a.kind == kind).count()
}

async fn status(rt: &Runtime, approval: &str) -> ApprovalStatus {
    rt.store()
        .approval(approval)
        .await
        .expect("read")
        .expect("the request")
        .status
}

/// Sleeps until the run's `wake_at` has passed (no timing is asserted).
async fn until_due(rt: &Runtime, run: &str) {
    let record = rt.store().run(run).await.expect("read").expect("the run");
    let due = record.wake_at.expect("the waiting run has a wake-up time");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(due - now + 20).unwrap_or(0),
    ))
    .await;
}

#[tokio::test]
async fn a_webhook_carries_the_request_and_its_approve_link_works_once() {
    let fixture = Fixture::new();
    let (url, mut hooks) = http_sink().await;
    let config = format!("approval-webhook-url,{url}\npublic-url,https://flows.example/\n");
    let rt = flow(
        &fixture,
        &ask("\"m@x.com\"", "webhook", "    TIMEOUT 600\n"),
        &config,
    )
    .await;
    let run = start(&rt).await;
    let body = next(&mut hooks).await;
    let approval = body["approval"]
        .as_str()
        .expect("the request id")
        .to_owned();
    assert_eq!(body["run"], run.as_str());
    assert_eq!(body["message"], "refund 150?");
    assert_eq!(body["reminder"], false);
    let entry = &body["approvers"][0];
    assert_eq!(entry["who"], "m@x.com");
    assert_eq!(
        entry["approve_command"],
        format!("botflow approve {approval} --as m@x.com")
    );
    for key in ["approve", "deny"] {
        let link = entry[key].as_str().expect("a link");
        assert!(
            link.starts_with("https://flows.example/approve/v1."),
            "{link}"
        );
    }
    let (approve, deny) = links(&body, "m@x.com");

    // A preview changes nothing.
    let preview = rt
        .redeem_link(&approve, false, None)
        .await
        .expect("previewed");
    assert!(!preview.decided && preview.approve);
    assert_eq!(status(&rt, &approval).await, ApprovalStatus::Pending);

    let used = rt
        .redeem_link(&approve, true, Some("ok".into()))
        .await
        .expect("the link decides");
    assert!(used.decided);
    assert_eq!(used.approval.status, ApprovalStatus::Approved);
    assert_eq!(used.approval.votes[0]["channel"], "link");
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );

    // Reused, or the other link of a decided request: refused, nothing changes.
    assert_eq!(
        refused(rt.redeem_link(&approve, true, None).await),
        DecisionRefused::TokenUsed
    );
    assert!(matches!(
        refused(rt.redeem_link(&deny, true, None).await),
        DecisionRefused::NotPending { .. }
    ));
    assert_eq!(status(&rt, &approval).await, ApprovalStatus::Approved);
    let audit = trail(&rt, &approval).await;
    assert_eq!(kinds(&audit, "approved"), 1);
    let notified: Vec<_> = audit.iter().filter(|a| a.kind == "notified").collect();
    assert_eq!(notified.len(), 1);
    assert_eq!(notified[0].channel.as_deref(), Some("webhook"));
}

#[tokio::test]
async fn a_webhook_post_is_signed_and_a_tampered_body_fails_verification() {
    let fixture = Fixture::new();
    let (url, mut posts) = http_sink_raw().await;
    let rt = flow(
        &fixture,
        &ask("\"m@x.com\"", "webhook", "    TIMEOUT 600\n"),
        &format!("approval-webhook-url,{url}\n"),
    )
    .await;
    start(&rt).await;
    let post = next(&mut posts).await;
    let timestamp = post
        .header(runtime::TIMESTAMP_HEADER)
        .expect("the POST carries its timestamp")
        .to_owned();
    let signature = post
        .header(runtime::SIGNATURE_HEADER)
        .expect("the POST carries its signature")
        .to_owned();
    assert!(signature.starts_with("sha256="), "{signature}");
    assert!(
        timestamp.parse::<i64>().is_ok(),
        "epoch seconds: {timestamp}"
    );
    let secret = rt.deployment_secret().await.expect("the secret");

    // The listener, knowing the deployment secret, verifies the POST as sent.
    assert!(runtime::verify_webhook_signature(
        &secret, &timestamp, &post.body, &signature
    ));
    assert_eq!(
        runtime::webhook_signature(&secret, &timestamp, &post.body),
        signature
    );

    // A changed body, a replayed signature under another timestamp, or
    // another secret: refused.
    let mut tampered = post.body.clone();
    let at = tampered
        .iter()
        .position(|b| *b == b'?')
        .expect("the message is in the body");
    tampered[at] = b'!';
    assert!(!runtime::verify_webhook_signature(
        &secret, &timestamp, &tampered, &signature
    ));
    let later = (timestamp.parse::<i64>().unwrap_or(0) + 600).to_string();
    assert!(!runtime::verify_webhook_signature(
        &secret, &later, &post.body, &signature
    ));
    assert!(!runtime::verify_webhook_signature(
        b"another deployment",
        &timestamp,
        &post.body,
        &signature
    ));
    assert!(!runtime::verify_webhook_signature(
        &secret,
        &timestamp,
        &post.body,
        "sha256=00"
    ));
}

/// A runtime over the fixture's deployment and database with `options`.
async fn runtime_with(fixture: &Fixture, options: runtime::Options) -> Runtime {
    let deployment = bots::load_deployment(&fixture.bots()).expect("the deployment loads");
    let store = store::AnyStore::open(&fixture.db().display().to_string())
        .await
        .expect("the database opens");
    Runtime::new(store, deployment, options)
}

/// Whether the sink received anything more (it is given a moment to).
async fn nothing_more<T: std::fmt::Debug>(rx: &mut mpsc::UnboundedReceiver<T>) -> bool {
    match tokio::time::timeout(Duration::from_millis(300), rx.recv()).await {
        Err(_) => true,
        Ok(got) => {
            println!("unexpected: {got:?}");
            false
        }
    }
}

#[tokio::test]
async fn a_notification_owed_by_a_process_that_died_is_delivered_once_by_a_sweep() {
    let fixture = Fixture::new();
    let (url, mut hooks) = http_sink().await;
    let source = format!(
        "ORCHESTRATE WORKFLOW \"w\"\n{}END WORKFLOW\n",
        ask("\"m@x.com\"", "webhook", "    TIMEOUT 600\n")
    );
    package(
        &fixture.bots(),
        "flow",
        &[("w.bas", &source)],
        &format!("approval-webhook-url,{url}\n"),
    );
    // This process commits the request and "dies" before delivering.
    let run = {
        let rt = runtime_with(
            &fixture,
            runtime::Options {
                notify_after_commit: false,
                ..runtime::Options::default()
            },
        )
        .await;
        start(&rt).await
    };
    assert!(nothing_more(&mut hooks).await, "nothing was delivered");

    // Another node's sweep (and a second one racing it) delivers it once.
    let options = runtime::Options {
        notify_grace_ms: 0,
        ..runtime::Options::default()
    };
    let rt = runtime_with(&fixture, options.clone()).await;
    let other = runtime_with(&fixture, options).await;
    let (a, b) = tokio::join!(
        rt.deliver_owed_notifications(),
        other.deliver_owed_notifications()
    );
    assert_eq!(a.expect("sweeps") + b.expect("sweeps"), 1, "delivered once");
    let body = next(&mut hooks).await;
    assert_eq!(body["run"], run.as_str());
    assert_eq!(body["reminder"], false);
    let approval = body["approval"].as_str().expect("the request").to_owned();
    // Done: later sweeps owe nothing.
    assert_eq!(rt.deliver_owed_notifications().await.expect("sweeps"), 0);
    assert!(nothing_more(&mut hooks).await, "no second delivery");
    let audit = trail(&rt, &approval).await;
    assert_eq!(kinds(&audit, "notified"), 1);
}

#[tokio::test]
async fn a_notification_delivered_after_its_commit_is_not_owed_any_more() {
    let fixture = Fixture::new();
    let (url, mut hooks) = http_sink().await;
    let rt = flow(
        &fixture,
        &ask("\"m@x.com\"", "webhook", "    TIMEOUT 600\n"),
        &format!("approval-webhook-url,{url}\n"),
    )
    .await;
    start(&rt).await;
    next(&mut hooks).await;
    let sweeper = runtime_with(
        &fixture,
        runtime::Options {
            notify_grace_ms: 0,
            ..runtime::Options::default()
        },
    )
    .await;
    assert_eq!(
        sweeper.deliver_owed_notifications().await.expect("sweeps"),
        0
    );
    assert!(nothing_more(&mut hooks).await);
}

#[tokio::test]
async fn tampered_and_forged_links_are_refused_and_the_deny_link_rejects() {
    let fixture = Fixture::new();
    let (url, mut hooks) = http_sink().await;
    let rt = flow(
        &fixture,
        &ask("\"m@x.com\"", "webhook", "    TIMEOUT 600\n"),
        &format!("approval-webhook-url,{url}\n"),
    )
    .await;
    let run = start(&rt).await;
    let body = next(&mut hooks).await;
    let approval = body["approval"].as_str().expect("id").to_owned();
    let (approve, deny) = links(&body, "m@x.com");
    // Turn the approve link into a deny link by editing its payload: the mac breaks.
    let parts: Vec<&str> = approve.split('.').collect();
    let payload = String::from_utf8(
        (0..parts[1].len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&parts[1][i..i + 2], 16).expect("hex"))
            .collect(),
    )
    .expect("utf-8");
    let edited: String = payload
        .replace("\"approve\"", "\"deny\"")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    let tampered = format!("v1.{edited}.{}", parts[2]);
    let forged = format!("v1.{}.{}", parts[1], "00".repeat(32));
    for bad in [
        tampered.as_str(),
        forged.as_str(),
        "v1.zz.00",
        "",
        "not a token",
    ] {
        let why = bad_link(rt.redeem_link(bad, true, None).await);
        assert!(why.contains("nothing was changed"), "{why}");
    }
    assert_eq!(status(&rt, &approval).await, ApprovalStatus::Pending);
    let denied = rt
        .redeem_link(&deny, true, None)
        .await
        .expect("the deny link decides");
    assert_eq!(denied.approval.status, ApprovalStatus::Denied);
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Rejected
    );
}

#[tokio::test]
async fn expired_and_escalated_links_are_refused() {
    let fixture = Fixture::new();
    let (url, mut hooks) = http_sink().await;
    let rt = flow(
        &fixture,
        &ask(
            "\"m@x.com\"",
            "webhook",
            "    TIMEOUT 1\n    ON TIMEOUT: ESCALATE TO \"d@x.com\"\n",
        ),
        &format!("approval-webhook-url,{url}\n"),
    )
    .await;
    let run = start(&rt).await;
    let first = next(&mut hooks).await;
    let first_id = first["approval"].as_str().expect("id").to_owned();
    let (approve, _) = links(&first, "m@x.com");
    until_due(&rt, &run).await;
    // Past the deadline, before the run escalates: the link expired.
    assert_eq!(
        refused(rt.redeem_link(&approve, true, None).await),
        DecisionRefused::TokenExpired
    );
    assert_eq!(status(&rt, &first_id).await, ApprovalStatus::Pending);
    // The run escalates: the first approver's links are revoked.
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Waiting
    );
    assert_eq!(status(&rt, &first_id).await, ApprovalStatus::Escalated);
    let tokens = rt.store().approval_tokens(&first_id).await.expect("tokens");
    assert!(tokens.iter().all(|t| t.revoked_at.is_some()));
    assert!(matches!(
        refused(rt.redeem_link(&approve, true, None).await),
        DecisionRefused::TokenRevoked(_)
    ));
    let second = next(&mut hooks).await;
    assert_ne!(second["approval"], first["approval"]);
    let (approve2, _) = links(&second, "d@x.com");
    rt.redeem_link(&approve2, true, None)
        .await
        .expect("the new approver decides");
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
}

#[tokio::test]
async fn reminders_go_out_at_the_interval_until_the_request_is_decided() {
    let fixture = Fixture::new();
    let (url, mut hooks) = http_sink().await;
    let rt = flow(
        &fixture,
        &ask("\"m@x.com\"", "webhook", "    TIMEOUT 600\n"),
        &format!("approval-webhook-url,{url}\napproval-reminder,0.2\n"),
    )
    .await;
    let run = start(&rt).await;
    let first = next(&mut hooks).await;
    let approval = first["approval"].as_str().expect("id").to_owned();
    assert_eq!(first["reminder"], false);
    for n in 1..=3 {
        let record = rt.store().run(&run).await.expect("read").expect("run");
        let approval_row = rt
            .store()
            .approval(&approval)
            .await
            .expect("read")
            .expect("row");
        // The wake-up is the next reminder, well before the deadline.
        assert!(record.wake_at < approval_row.due_at, "reminder {n}");
        until_due(&rt, &run).await;
        assert_eq!(
            rt.run_to_end(&run).await.expect("driven"),
            RunStatus::Waiting
        );
        let body = next(&mut hooks).await;
        assert_eq!(body["reminder"], true, "reminder {n}");
        assert_eq!(kinds(&trail(&rt, &approval).await, "reminded"), n);
    }
    let (approve, _) = links(&first, "m@x.com");
    rt.redeem_link(&approve, true, None).await.expect("decided");
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
    let audit = trail(&rt, &approval).await;
    assert_eq!(kinds(&audit, "reminded"), 3);
    assert_eq!(kinds(&audit, "notified"), 4);
}

#[tokio::test]
async fn an_email_with_links_reaches_each_approver_through_smtp() {
    let fixture = Fixture::new();
    let (port, mut mails) = smtp_sink().await;
    let config = format!("smtp-host,127.0.0.1\nsmtp-port,{port}\nsmtp-from,botflow@example.com\n");
    let rt = flow(
        &fixture,
        &ask("\"m@x.com\", \"n@x.com\"", "email", "    TIMEOUT 600\n"),
        &config,
    )
    .await;
    let run = start(&rt).await;
    let mut texts = [next(&mut mails).await, next(&mut mails).await];
    texts.sort();
    let mut tokens = Vec::new();
    for (text, who) in texts.iter().zip(["m@x.com", "n@x.com"]) {
        assert!(text.contains(&format!("RCPT TO:<{who}>")), "{text}");
        assert!(text.contains(&format!("To: {who}")), "{text}");
        assert!(text.contains("refund 150?"), "{text}");
        assert!(text.contains(&format!("--as {who}")), "{text}");
        let approve = text
            .lines()
            .find_map(|l| l.strip_prefix("Approve: "))
            .expect("an approve link");
        assert!(
            approve.starts_with("http://127.0.0.1:8080/approve/v1."),
            "{approve}"
        );
        tokens.push(approve.rsplit('/').next().expect("token").to_owned());
    }
    let outcome = rt
        .redeem_link(&tokens[1], true, None)
        .await
        .expect("decided");
    assert_eq!(outcome.approver, "n@x.com");
    assert_eq!(outcome.approval.status, ApprovalStatus::Approved);
    let audit = trail(&rt, &outcome.approval.id).await;
    let channels: Vec<_> = audit
        .iter()
        .filter(|a| a.kind == "notified")
        .map(|a| {
            (
                a.who.clone().unwrap_or_default(),
                a.channel.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        channels,
        [
            ("m@x.com".to_owned(), "email".to_owned()),
            ("n@x.com".to_owned(), "email".to_owned())
        ]
    );
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
}

#[tokio::test]
async fn bad_channel_config_is_audited_falls_back_to_the_log_and_the_run_keeps_waiting() {
    // A port nothing listens on: bind one, then free it.
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let closed_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let cases = [
        (
            "email",
            "smtp-host,127.0.0.1\nsmtp-port,abc\nsmtp-from,b@x.com\n".to_owned(),
            "smtp-port \"abc\"",
        ),
        (
            "email",
            format!("smtp-host,127.0.0.1\nsmtp-port,{closed_port}\nsmtp-from,b@x.com\n"),
            "SMTP 127.0.0.1",
        ),
        ("email", "smtp-port,25\n".to_owned(), "needs smtp-host"),
        ("webhook", String::new(), "needs approval-webhook-url"),
        ("pigeon", String::new(), "unknown approval channel"),
    ];
    for (via, config, expected) in cases {
        let fixture = Fixture::new();
        let rt = flow(
            &fixture,
            &ask("\"m@x.com\"", via, "    TIMEOUT 600\n"),
            &config,
        )
        .await;
        let run = start(&rt).await;
        let requests = rt.pending_approvals(&run).await.expect("pending");
        assert_eq!(requests.len(), 1, "{via} {config}");
        let audit = trail(&rt, &requests[0].id).await;
        let failed = audit
            .iter()
            .find(|a| a.kind == "notify_failed")
            .unwrap_or_else(|| panic!("{via} {config}: no notify_failed in {audit:?}"));
        assert_eq!(failed.channel.as_deref(), Some(via));
        let error = failed.detail["error"].as_str().unwrap_or("");
        assert!(error.contains(expected), "{via}: {error}");
        let fallback = audit
            .iter()
            .find(|a| a.kind == "notified")
            .expect("the log fallback is audited");
        assert_eq!(fallback.channel.as_deref(), Some("log"));
        assert_eq!(fallback.detail["fallback_from"], via);
        assert_eq!(requests[0].status, ApprovalStatus::Pending);
        let record = rt.store().run(&run).await.expect("read").expect("run");
        assert_eq!(record.status, RunStatus::Waiting);
    }
}

#[tokio::test]
async fn a_link_decision_whose_process_dies_before_the_resume_is_kept_once() {
    let fixture = Fixture::new();
    let (url, mut hooks) = http_sink().await;
    let config = format!("approval-webhook-url,{url}\n");
    let run;
    let approve;
    {
        let rt = flow(
            &fixture,
            &ask("\"m@x.com\"", "webhook", "    TIMEOUT 600\n"),
            &config,
        )
        .await;
        run = start(&rt).await;
        approve = links(&next(&mut hooks).await, "m@x.com").0;
        rt.redeem_link(&approve, true, None).await.expect("decided");
        // The process stops here: the decision committed, the run never driven.
        rt.store().close().await;
    }
    let rt = fixture.runtime().await;
    assert_eq!(
        refused(rt.redeem_link(&approve, true, None).await),
        DecisionRefused::TokenUsed
    );
    assert!(matches!(
        rt.decide(&run, true, "m@x.com", None, "cli").await,
        Err(Error::Approval(_)) | Err(Error::Store(store::Error::Refused(_)))
    ));
    assert_eq!(
        rt.run_to_end(&run).await.expect("driven"),
        RunStatus::Completed
    );
    let approval = format!("{run}:1");
    assert_eq!(kinds(&trail(&rt, &approval).await, "approved"), 1);
}
