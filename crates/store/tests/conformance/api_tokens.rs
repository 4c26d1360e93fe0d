//! Conformance tests for API tokens: stored by hash and found by it, listed
//! without secrets, revoked once, the first-start token created only into an
//! empty table (also when many callers race), and every refusal (duplicate id
//! or hash, a role the table's CHECK refuses, revoking an unknown or revoked
//! token) changing nothing.

use store::{ApiTokenRecord, ApiTokenRefused, Error, NewApiToken, Store};

use crate::harness::Harness;

fn new_token(id: &str, role: &str, at: i64) -> NewApiToken {
    NewApiToken {
        id: id.to_owned(),
        name: format!("{id}-holder"),
        role: role.to_owned(),
        token_hash: format!("hash-of-{id}"),
        created_at: at,
    }
}

fn record(id: &str, role: &str, at: i64, revoked_at: Option<i64>) -> ApiTokenRecord {
    ApiTokenRecord {
        id: id.to_owned(),
        name: format!("{id}-holder"),
        role: role.to_owned(),
        created_at: at,
        revoked_at,
    }
}

fn refusal(result: store::Result<impl std::fmt::Debug>) -> ApiTokenRefused {
    match result {
        Err(Error::ApiToken(refused)) => refused,
        other => panic!("expected an API token refusal, got {other:?}"),
    }
}

pub async fn api_tokens_are_stored_found_by_hash_and_listed(h: &Harness) {
    let store = &h.store;
    assert_eq!(store.api_tokens().await.expect("list"), vec![]);

    let created = store
        .create_api_token(new_token("t1", "operator", 100))
        .await
        .expect("create t1");
    assert_eq!(created, record("t1", "operator", 100, None));
    store
        .create_api_token(new_token("t2", "viewer", 200))
        .await
        .expect("create t2");

    assert_eq!(
        store.api_token_by_hash("hash-of-t2").await.expect("lookup"),
        Some(record("t2", "viewer", 200, None))
    );
    assert_eq!(
        store
            .api_token_by_hash("hash-of-nobody")
            .await
            .expect("lookup"),
        None
    );
    assert_eq!(
        store.api_token_by_hash("t1").await.expect("lookup"),
        None,
        "an id is not a hash"
    );
    assert_eq!(
        store.api_tokens().await.expect("list"),
        vec![
            record("t1", "operator", 100, None),
            record("t2", "viewer", 200, None)
        ],
        "oldest first"
    );
}

pub async fn a_revoked_token_is_not_found_and_is_revoked_once(h: &Harness) {
    let store = &h.store;
    for (id, at) in [("t1", 100), ("t2", 200)] {
        store
            .create_api_token(new_token(id, "approver", at))
            .await
            .expect("create");
    }

    let revoked = store.revoke_api_token("t1", 500).await.expect("revoke t1");
    assert_eq!(revoked, record("t1", "approver", 100, Some(500)));
    assert_eq!(
        store.api_token_by_hash("hash-of-t1").await.expect("lookup"),
        None,
        "a revoked token authenticates nothing"
    );
    assert!(
        store
            .api_token_by_hash("hash-of-t2")
            .await
            .expect("lookup")
            .is_some(),
        "the other token is untouched"
    );

    assert_eq!(
        refusal(store.revoke_api_token("t1", 900).await),
        ApiTokenRefused::AlreadyRevoked {
            id: "t1".to_owned(),
            revoked_at: 500
        }
    );
    assert_eq!(
        refusal(store.revoke_api_token("t9", 900).await),
        ApiTokenRefused::Unknown("t9".to_owned())
    );
    assert_eq!(
        store.api_tokens().await.expect("list"),
        vec![
            record("t1", "approver", 100, Some(500)),
            record("t2", "approver", 200, None)
        ],
        "the refused revocations changed nothing"
    );
}

pub async fn the_first_token_is_created_only_into_an_empty_table(h: &Harness) {
    let store = &h.store;
    let first = store
        .create_first_api_token(new_token("admin1", "admin", 100))
        .await
        .expect("first");
    assert_eq!(first, Some(record("admin1", "admin", 100, None)));
    assert_eq!(
        store
            .create_first_api_token(new_token("admin2", "admin", 200))
            .await
            .expect("second"),
        None
    );

    store.revoke_api_token("admin1", 300).await.expect("revoke");
    assert_eq!(
        store
            .create_first_api_token(new_token("admin3", "admin", 400))
            .await
            .expect("after revocation"),
        None,
        "a revoked token still counts: the table is not empty"
    );
    assert_eq!(
        store.api_tokens().await.expect("list"),
        vec![record("admin1", "admin", 100, Some(300))]
    );
    assert_eq!(
        store
            .api_token_by_hash("hash-of-admin2")
            .await
            .expect("lookup"),
        None
    );
}

/// Several rounds, each on an emptied table with eight callers released
/// together, so that a backend without the lock would be caught in the act.
pub async fn concurrent_first_tokens_create_exactly_one(h: &Harness) {
    for round in 0..5_i64 {
        h.exec("DELETE FROM api_tokens").await;
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let store = h.store.clone();
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    let id = format!("admin{round}-{i}");
                    store
                        .create_first_api_token(new_token(&id, "admin", 100 + i))
                        .await
                })
            })
            .collect();
        let mut created = Vec::new();
        for task in tasks {
            if let Some(token) = task.await.expect("task").expect("create_first") {
                created.push(token);
            }
        }
        assert_eq!(
            created.len(),
            1,
            "round {round}: exactly one caller creates: {created:?}"
        );
        assert_eq!(h.store.api_tokens().await.expect("list"), created);
    }
}

pub async fn refused_tokens_change_nothing(h: &Harness) {
    let store = &h.store;

    // On an empty table, a refused first token leaves it empty.
    assert_eq!(
        refusal(
            store
                .create_first_api_token(new_token("a0", "root", 50))
                .await
        ),
        ApiTokenRefused::InvalidRole("root".to_owned())
    );
    assert_eq!(store.api_tokens().await.expect("list"), vec![]);

    store
        .create_api_token(new_token("t1", "viewer", 100))
        .await
        .expect("create");

    let mut same_hash = new_token("t2", "admin", 200);
    same_hash.token_hash = "hash-of-t1".to_owned();
    assert_eq!(
        refusal(store.create_api_token(same_hash).await),
        ApiTokenRefused::Duplicate { what: "hash" }
    );
    let mut same_id = new_token("t1", "admin", 200);
    same_id.token_hash = "another-hash".to_owned();
    assert_eq!(
        refusal(store.create_api_token(same_id).await),
        ApiTokenRefused::Duplicate { what: "id" }
    );
    for role in ["root", "Admin", ""] {
        let refused = refusal(store.create_api_token(new_token("t3", role, 300)).await);
        assert_eq!(refused, ApiTokenRefused::InvalidRole(role.to_owned()));
        assert!(
            refused
                .to_string()
                .contains("admin, operator, approver, viewer"),
            "the message lists the roles: {refused}"
        );
    }

    assert_eq!(
        store.api_tokens().await.expect("list"),
        vec![record("t1", "viewer", 100, None)],
        "no refused insert left a row"
    );
    assert_eq!(
        store.api_token_by_hash("hash-of-t1").await.expect("lookup"),
        Some(record("t1", "viewer", 100, None)),
        "the existing token still authenticates as itself"
    );
    assert_eq!(
        store
            .api_token_by_hash("another-hash")
            .await
            .expect("lookup"),
        None
    );
}
