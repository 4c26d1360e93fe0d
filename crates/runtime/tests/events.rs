//! Events, `ON EVENT`, `TRIGGER ON EVENT` and `HEAR`, data-driven: every
//! `tests/events/*.case` file holds scripts (`=== <bot>/<file>.bas` sections)
//! and a `=== steps` section, one action a line:
//!
//! - `start ID WORKFLOW [INPUT-JSON]`: creates run `ID` (not driven);
//! - `drive ID`: drives it once (until it ends or waits);
//! - `publish NAME [key=K] [to=BOT] [JSON-DATA]`: publishes from outside;
//! - `send ID TEXT`: a message for the run's `HEAR`;
//! - `due`: the waiting runs that are due now (a publish made them due);
//! - `trigger`: one `start_triggered` pass, how many runs it started;
//! - `drive-due`: claims and drives every due run;
//! - `approve REQUEST WHO`: approves an approval request;
//! - `sleep MS`.
//!
//! The snapshot holds each action's outcome, then every run's status, result,
//! error and transcript, so a change in matching, consumption, wake-ups or
//! triggers shows up as a diff.

mod common;

use std::path::Path;

use common::runtime_at;
use runtime::{Driven, Runtime};
use serde_json::{Value, json};
use store::{RunFilter, RunStatus, Store};

fn driven(outcome: &Driven) -> String {
    match outcome {
        Driven::Finished(status) => status.to_string(),
        Driven::Waiting { wake_at: Some(_) } => "waiting (until a deadline)".to_owned(),
        Driven::Waiting { wake_at: None } => "waiting".to_owned(),
        Driven::Fenced => "fenced".to_owned(),
    }
}

async fn due(rt: &Runtime) -> Vec<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let waiting = rt
        .store()
        .list_runs(RunFilter {
            status: Some(RunStatus::Waiting),
            ..RunFilter::default()
        })
        .await
        .expect("lists runs");
    let mut ids: Vec<String> = waiting
        .into_iter()
        .filter(|r| r.wake_at.is_some_and(|at| at <= now))
        .map(|r| r.id)
        .collect();
    ids.sort();
    ids
}

async fn act(rt: &Runtime, line: &str) -> Value {
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    match verb {
        "start" => {
            let mut parts = rest.splitn(3, ' ');
            let id = parts.next().expect("start ID WORKFLOW");
            let name = parts.next().expect("start ID WORKFLOW");
            let input: Value = parts
                .next()
                .map_or(json!({}), |j| serde_json::from_str(j).expect("input JSON"));
            let workflow = rt.workflow(Some(name)).expect("the workflow exists");
            let (run, created) = rt
                .start(&workflow, input, Some(id.to_owned()))
                .await
                .expect("starts");
            json!(format!("started {} (new: {created})", run.id))
        }
        "drive" => match rt.drive(rest).await {
            Ok(outcome) => json!(driven(&outcome)),
            Err(error) => json!(format!("error: {error}")),
        },
        "publish" => {
            let mut name = None;
            let (mut key, mut to, mut data) = (None, None, None);
            let mut words = rest;
            while !words.is_empty() {
                if words.starts_with('{') || words.starts_with('[') {
                    data = Some(serde_json::from_str(words).expect("data JSON"));
                    break;
                }
                let (word, tail) = words.split_once(' ').unwrap_or((words, ""));
                if let Some(k) = word.strip_prefix("key=") {
                    key = Some(k.to_owned());
                } else if let Some(t) = word.strip_prefix("to=") {
                    to = Some(t.to_owned());
                } else {
                    name = Some(word.to_owned());
                }
                words = tail.trim();
            }
            let name = name.expect("publish NAME");
            match rt.publish_event(&name, data, key, to).await {
                Ok(event) => json!(format!("published {}", event.name)),
                Err(error) => json!(format!("error: {error}")),
            }
        }
        "send" => {
            let (id, text) = rest.split_once(' ').expect("send ID TEXT");
            match rt.send_message(id, text).await {
                Ok(message) => json!(format!("sent {}", message.id)),
                Err(error) => json!(format!("error: {error}")),
            }
        }
        "due" => json!(due(rt).await),
        "approve" => {
            let (id, who) = rest.split_once(' ').expect("approve REQUEST WHO");
            match rt.decide(id, true, who, None, "test").await {
                Ok(request) => json!(format!("{} {}", request.id, request.status.as_str())),
                Err(error) => json!(format!("error: {error}")),
            }
        }
        "trigger" => json!(rt.start_triggered().await.expect("a trigger pass")),
        "drive-due" => {
            let mut outcomes = Vec::new();
            for record in rt.claim_due().await.expect("claims") {
                let id = record.id.clone();
                let outcome = rt.drive_claimed(record).await.expect("drives");
                outcomes.push(format!("{id}: {}", driven(&outcome)));
            }
            outcomes.sort();
            json!(outcomes)
        }
        "sleep" => {
            let ms: u64 = rest.parse().expect("sleep MS");
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            json!("slept")
        }
        other => panic!("unknown action {other:?}"),
    }
}

/// Replaces what differs from one run of a case to the next: publication
/// times (`at`) and the random ids of events published from outside.
fn scrub(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| match k.as_str() {
                    "at" => (k, json!("<time>")),
                    _ => (k, scrub(v)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(scrub).collect()),
        Value::String(s) if s.starts_with("ev:") => json!("ev:<uuid>"),
        other => other,
    }
}

/// Splits a case file into its scripts and its steps.
fn parse_case(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut scripts = Vec::new();
    let mut steps = Vec::new();
    let mut current: Option<(String, String)> = None;
    let mut in_steps = false;
    for line in text.lines() {
        if let Some(header) = line.strip_prefix("=== ") {
            if let Some(done) = current.take() {
                scripts.push(done);
            }
            in_steps = header.trim() == "steps";
            if !in_steps {
                current = Some((header.trim().to_owned(), String::new()));
            }
        } else if in_steps {
            let line = line.trim();
            if !line.is_empty() && !line.starts_with('#') {
                steps.push(line.to_owned());
            }
        } else if let Some((_, source)) = &mut current {
            source.push_str(line);
            source.push('\n');
        }
    }
    if let Some(done) = current.take() {
        scripts.push(done);
    }
    (scripts, steps)
}

fn outcome(case: &Path) -> Value {
    let text = std::fs::read_to_string(case).expect("the case file");
    let (scripts, steps) = parse_case(&text);
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    tokio.block_on(async {
        let dir = tempfile::tempdir().expect("a temp dir");
        let bots = dir.path().join("bots");
        for (file, source) in &scripts {
            let (bot, name) = file.split_once('/').expect("=== bot/file.bas");
            let dialog = bots
                .join(format!("{bot}.gbai"))
                .join(format!("{bot}.gbdialog"));
            std::fs::create_dir_all(&dialog).expect("the dialog folder");
            std::fs::write(dialog.join(name), source).expect("the script");
        }
        let rt = runtime_at(&bots, &dir.path().join("runs.db")).await;
        let mut log = Vec::new();
        for step in &steps {
            log.push(json!({"do": step, "got": act(&rt, step).await}));
        }
        let mut runs = rt
            .store()
            .list_runs(RunFilter::default())
            .await
            .expect("lists runs");
        runs.sort_by(|a, b| a.id.cmp(&b.id));
        let mut views = Vec::new();
        for run in runs {
            let view = rt.view(&run.id).await.expect("reads the run back");
            views.push(json!({
                "id": view.id,
                "status": view.status.as_str(),
                "result": view.result.map(scrub),
                "error": view.error.as_ref().and_then(|e| e.get("message")),
                "transcript": view.transcript.iter().map(|t| &t.text).collect::<Vec<_>>(),
            }));
        }
        json!({"steps": log, "runs": views})
    })
}

#[test]
fn event_cases() {
    insta::glob!("events/*.case", |case| {
        insta::assert_yaml_snapshot!(outcome(case));
    });
}
