//! `botflow tokens`: create prints the secret once (stdout) with a warning
//! (stderr); list never shows it; revoke marks the token revoked; a bad role
//! is a usage error naming the accepted roles; revoking an unknown token
//! fails clearly. Refusals write nothing.

mod common;

use std::path::Path;
use std::process::Output;

use common::{botflow, text};
use serde_json::Value;

fn tokens(db: &Path, args: &[&str]) -> Output {
    botflow()
        .arg("tokens")
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .expect("botflow runs")
}

fn list_json(db: &Path) -> Vec<Value> {
    let out = tokens(db, &["list", "--json"]);
    assert!(out.status.success(), "list: {}", text(&out.stderr));
    let listed: Value = serde_json::from_slice(&out.stdout).expect("list --json is JSON");
    listed.as_array().expect("an array").clone()
}

#[test]
fn create_list_revoke_never_shows_the_secret_again() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("botflow.db");

    let out = tokens(&db, &["create", "--role", "approver", "--name", "alice"]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let secret = stdout.trim();
    assert_eq!(
        stdout.lines().count(),
        1,
        "only the token on stdout: {stdout}"
    );
    assert!(
        secret.starts_with("bf_") && secret.len() == 67,
        "{secret:?}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("only this once"),
        "warns that it is shown once: {stderr}"
    );
    assert!(!stderr.contains(secret), "the warning does not repeat it");

    let listed = list_json(&db);
    assert_eq!(listed.len(), 1);
    let token = &listed[0];
    assert_eq!(token["name"], "alice");
    assert_eq!(token["role"], "approver");
    assert!(token["created_at"].is_i64());
    assert_eq!(token["revoked_at"], Value::Null);
    let id = token["id"].as_str().expect("an id").to_owned();

    let table = tokens(&db, &["list"]);
    assert!(table.status.success());
    let table_text = text(&table.stdout);
    assert!(
        table_text.contains(&id) && table_text.contains("alice"),
        "{table_text}"
    );
    let secret_part = &secret[3..];
    for shown in [
        table_text.as_str(),
        &text(&tokens(&db, &["list", "--json"]).stdout),
    ] {
        assert!(
            !shown.contains(secret_part),
            "list shows the secret: {shown}"
        );
    }

    let out = tokens(&db, &["revoke", &id]);
    assert!(out.status.success(), "revoke: {}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("revoked"),
        "{}",
        text(&out.stderr)
    );
    let listed = list_json(&db);
    assert!(listed[0]["revoked_at"].is_i64(), "{listed:?}");
    let table_text = text(&tokens(&db, &["list"]).stdout);
    assert!(
        !table_text
            .lines()
            .nth(1)
            .unwrap_or_default()
            .trim_end()
            .ends_with(" -"),
        "the table shows when it was revoked: {table_text}"
    );

    let again = tokens(&db, &["revoke", &id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("already revoked"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(list_json(&db), listed, "nothing changed");
}

#[test]
fn the_name_defaults_to_the_role() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("botflow.db");
    let out = tokens(&db, &["create", "--role", "viewer"]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let listed = list_json(&db);
    assert_eq!(
        (listed[0]["name"].as_str(), listed[0]["role"].as_str()),
        (Some("viewer"), Some("viewer"))
    );
}

#[test]
fn a_bad_role_or_name_is_a_usage_error_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("botflow.db");

    let out = tokens(&db, &["create", "--role", "root"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("admin, operator, approver, viewer"),
        "lists the accepted roles: {stderr}"
    );
    assert!(out.stdout.is_empty());

    let out = tokens(&db, &["create", "--role", "admin", "--name", ""]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("empty"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "no token printed");

    assert_eq!(list_json(&db), Vec::<Value>::new());
}

#[test]
fn revoking_an_unknown_token_fails_clearly() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = dir.path().join("botflow.db");
    let out = tokens(&db, &["revoke", "tok_nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no API token with id \"tok_nobody\""),
        "{}",
        text(&out.stderr)
    );
}
