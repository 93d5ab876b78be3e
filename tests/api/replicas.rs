//! Several replicas on one PostgreSQL database (run when the suite runs on PostgreSQL):
//! three servers, each with its own data directory, sharing the database and the master
//! key. Appends from all of them form one gap-free chain; a token revoked through one is
//! refused by the others at once.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use certbroker::config::Secret;
use reqwest::Method;
use serde_json::json;

use crate::audit_chain::certbroker;
use crate::helpers::{on_postgres, TestApp};

async fn replicas(n: usize) -> Vec<TestApp> {
    let key = STANDARD.encode([7u8; 32]);
    let first = {
        let key = key.clone();
        TestApp::spawn_with(move |s| s.seal.master_key = Secret::new(key)).await
    };
    let url = first.storage_url.clone();
    let mut all = vec![first];
    for _ in 1..n {
        let (key, url) = (key.clone(), url.clone());
        all.push(
            TestApp::spawn_with(move |s| {
                s.seal.master_key = Secret::new(key);
                s.storage.url = Secret::new(url);
            })
            .await,
        );
    }
    all
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> u16 {
    app.client
        .request(Method::GET, app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn creates_spread_over_three_replicas_make_one_request_and_one_unbroken_chain() {
    if !on_postgres() {
        return; // replicas share a PostgreSQL database; SQLite is one process's file
    }
    let apps = replicas(3).await;
    let body = json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=shared.example.com"}, "issuer": {"name": "Unknown"}}});
    let creates = (0..64).map(|i| apps[i % 3].create("shared", body.clone()));
    let statuses: Vec<u16> = futures_util::future::join_all(creates)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 409),
        "{statuses:?}"
    );
    // Each replica appends a few more, interleaved.
    for i in 0..9 {
        apps[i % 3].create_manual(&format!("r{i}")).await;
    }
    for app in &apps {
        assert_eq!(app.get_pending("shared", None).await.status(), 200);
    }
    let (count, max): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COALESCE(MAX(position), 0) FROM events")
            .fetch_one(&apps[0].pool)
            .await
            .unwrap();
    assert_eq!(count, max, "positions are gap-free");
    let (code, out) = certbroker(&apps[1], &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("verified {count} events")), "{out}");
    apps[2].assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn a_token_revoked_through_one_replica_is_refused_by_the_others_at_once() {
    if !on_postgres() {
        return;
    }
    let apps = replicas(3).await;
    let (code, token) = certbroker(
        &apps[0],
        &["token", "create", "--name", "ops", "--role", "reader"],
    );
    assert_eq!(code, 0, "{token}");
    let token = token.trim().to_owned();
    for app in &apps {
        assert_eq!(get_as(app, &token, "/certificates").await, 200);
    }
    let (code, out) = certbroker(&apps[0], &["token", "revoke", "--name", "ops"]);
    assert_eq!(code, 0, "{out}");
    for app in &apps {
        assert_eq!(get_as(app, &token, "/certificates").await, 401);
    }
}
