//! Lifetime actions with a clock the test moves: AutoRenew makes a new version through the
//! same issuer (built-in CA with the key reused; ACME against Pebble), EmailContacts
//! records a notification and posts it to the webhook. Also: the built-in CA's chain
//! verifies with `openssl verify`, and provider policies refuse at create.

use chrono::Utc;
use serde_json::{json, Value};

use crate::acme::{
    current_chain_pem, drive_until_settled, event_types, openssl_verifies, use_pebble,
};
use crate::helpers::{TestApp, TestClock};
use crate::pebble::{Pebble, PebbleOptions, PebblePorts};

async fn versions(app: &TestApp, name: &str) -> Vec<(String, String, i64, i64)> {
    sqlx::query_as("SELECT version, key_id, exp, nbf FROM certificate_versions WHERE name_key = $1 ORDER BY seq")
        .bind(name)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

fn policy(issuer: &str, subject: &str, action: &str, reuse_key: bool) -> Value {
    policy_with(
        issuer,
        subject,
        action,
        reuse_key,
        json!({"days_before_expiry": 30}),
    )
}

fn policy_with(
    issuer: &str,
    subject: &str,
    action: &str,
    reuse_key: bool,
    trigger: Value,
) -> Value {
    json!({"policy": {
        "key_props": {"kty": "EC", "crv": "P-256", "reuse_key": reuse_key},
        "x509_props": {"subject": subject, "validity_months": 12},
        "lifetime_actions": [{"trigger": trigger, "action": {"action_type": action}}],
        "issuer": {"name": issuer}}})
}

#[tokio::test]
async fn auto_renew_on_the_built_in_ca_makes_a_new_version_with_the_same_key() {
    let clock = TestClock::new();
    let app = TestApp::spawn_with_clock(|_| {}, clock.clone()).await;
    app.put_issuer("internal", "local-ca").await;
    assert_eq!(
        app.create(
            "renewme",
            policy("internal", "CN=renew.example.com", "AutoRenew", true)
        )
        .await
        .status(),
        202
    );
    assert_eq!(
        drive_until_settled(&app, "renewme").await["status"],
        "completed"
    );
    let first = versions(&app, "renewme").await;
    assert_eq!(first.len(), 1);
    // Not yet due: nothing happens.
    clock.set(first[0].2 - 31 * 86_400);
    app.run_worker().await;
    assert_eq!(versions(&app, "renewme").await.len(), 1);
    // Due (29 days before expiry): a new version, same key.
    clock.set(first[0].2 - 29 * 86_400);
    app.run_worker().await;
    let b = drive_until_settled(&app, "renewme").await;
    assert_eq!(b["status"], "completed");
    let after = versions(&app, "renewme").await;
    assert_eq!(after.len(), 2, "{after:?}");
    assert_ne!(after[0].0, after[1].0);
    assert_eq!(after[0].1, after[1].1, "reuse_key keeps the key");
    assert!(after[1].2 > after[0].2);
    // It fires once per version.
    app.run_worker().await;
    assert_eq!(versions(&app, "renewme").await.len(), 2);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn built_in_ca_issues_root_intermediate_leaf_and_the_chain_verifies_with_openssl() {
    let app = TestApp::spawn().await;
    app.put_issuer("internal", "local-ca").await;
    app.create_with_issuer("chained", "internal", "CN=chained.example.com")
        .await;
    assert_eq!(
        drive_until_settled(&app, "chained").await["status"],
        "completed"
    );
    // The CA certificates are downloadable: intermediate first, then the root.
    let r = app
        .send(reqwest::Method::GET, "/ca/certificates", None)
        .await;
    assert_eq!(r.status(), 200);
    let ca: String = r.text().await.unwrap();
    let certs = certbroker::crypto::x509::certs_from_pem(ca.as_bytes()).unwrap();
    assert_eq!(certs.len(), 2, "intermediate and root");
    let root = certbroker::crypto::x509::cert_to_pem(&certs[1]).unwrap();
    let (leaf, chain) = current_chain_pem(&app, "chained").await;
    assert_eq!(chain, ca, "x5c carries the intermediate and the root");
    assert!(openssl_verifies(&root, &chain, &leaf));
    // The leaf alone, without the intermediate, does not verify: the intermediate signs.
    assert!(!openssl_verifies(&root, &root, &leaf));
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn auto_renew_through_acme_makes_a_new_version_from_pebble() {
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;
    let clock = TestClock::new();
    let app = TestApp::spawn_with_clock(|s| use_pebble(s, &pebble), clock.clone()).await;
    app.put_issuer("acme-issuer", "pebble").await;
    // The CA picks the validity, so the trigger is a share of whatever lifetime it gave.
    let p = policy_with(
        "acme-issuer",
        "CN=acmerenew.example.com",
        "AutoRenew",
        false,
        json!({"lifetime_percentage": 80}),
    );
    assert_eq!(app.create("acmerenew", p).await.status(), 202);
    assert_eq!(
        drive_until_settled(&app, "acmerenew").await["status"],
        "completed"
    );
    let first = versions(&app, "acmerenew").await;
    assert_eq!(app.run_worker().await, 0, "not due yet");
    let (exp, nbf) = (first[0].2, first[0].3);
    clock.set(nbf + (exp - nbf) * 81 / 100);
    app.run_worker().await;
    assert_eq!(
        event_types(&app, "acmerenew").await.last().unwrap(),
        "LifetimeActionTriggered"
    );
    // Pebble dates the new certificate by the real clock; with ours still moved ahead it
    // would look due at once. Back to real time while the renewal order runs.
    clock.set(Utc::now().timestamp());
    let b = drive_until_settled(&app, "acmerenew").await;
    assert_eq!(
        b["status"],
        "completed",
        "{:?}",
        event_types(&app, "acmerenew").await
    );
    let after = versions(&app, "acmerenew").await;
    assert_eq!(after.len(), 2);
    assert_ne!(after[0].1, after[1].1, "a new key without reuse_key");
    assert_eq!(pebble.orders_added(), 2);
    let (leaf, chain) = current_chain_pem(&app, "acmerenew").await;
    assert!(openssl_verifies(&pebble.root_pem().await, &chain, &leaf));
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn email_contacts_records_a_notification_and_posts_it_to_the_webhook() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = sock.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    sock.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                        .await
                        .unwrap();
                    return serde_json::from_str::<Value>(body).unwrap();
                }
            }
        }
    });
    let clock = TestClock::new();
    let app = TestApp::spawn_with_clock(
        |s| s.notifications.webhook_url = hook.clone(),
        clock.clone(),
    )
    .await;
    app.put_issuer("internal", "local-ca").await;
    let r = app
        .send(
            reqwest::Method::PUT,
            "/certificates/contacts",
            Some(json!({"contacts": [{"email": "ops@example.com", "name": "Ops"}, {"email": "sec@example.com"}]})),
        )
        .await;
    assert_eq!(r.status(), 200);
    app.create(
        "notifyme",
        policy("internal", "CN=notify.example.com", "EmailContacts", false),
    )
    .await;
    drive_until_settled(&app, "notifyme").await;
    let v = versions(&app, "notifyme").await;
    clock.set(v[0].2 - 29 * 86_400);
    assert_eq!(app.run_worker().await, 1);
    let body = tokio::time::timeout(std::time::Duration::from_secs(10), received)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body["certificate"], "notifyme");
    assert_eq!(body["version"], v[0].0.as_str());
    assert_eq!(body["expires"], v[0].2);
    assert_eq!(
        body["contacts"],
        json!(["ops@example.com", "sec@example.com"])
    );
    assert_eq!(
        event_types(&app, "notifyme").await.last().unwrap(),
        "LifetimeActionTriggered"
    );
    // Once per version; no new version is made.
    assert_eq!(app.run_worker().await, 0);
    assert_eq!(versions(&app, "notifyme").await.len(), 1);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn provider_policies_the_ca_cannot_honour_are_refused_at_create_and_write_nothing() {
    let app = TestApp::spawn_with(|s| {
        s.providers
            .get_mut("local-ca-restricted")
            .unwrap()
            .allowed_key_types = vec!["EC".into()];
        s.providers.insert(
            "pebble".into(),
            crate::acme::acme_provider("https://127.0.0.1:1/dir", std::path::Path::new("")),
        );
    })
    .await;
    app.put_issuer("restricted", "local-ca-restricted").await;
    app.put_issuer("acme-issuer", "pebble").await;
    let before = app.event_count().await;
    let cases = [
        (
            json!({"key_props": {"kty": "RSA", "key_size": 2048}, "x509_props": {"subject": "CN=a.example.com"}, "issuer": {"name": "restricted"}}),
            "RSA",
        ),
        (
            json!({"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=a.example.com", "validity_months": 24}, "issuer": {"name": "restricted"}}),
            "at most 12 months",
        ),
        (
            json!({"key_props": {"kty": "EC"}, "x509_props": {"subject": "O=No Names", "sans": {"emails": ["a@example.com"]}}, "issuer": {"name": "acme-issuer"}}),
            "DNS names only",
        ),
        (
            json!({"key_props": {"kty": "EC"}, "x509_props": {"subject": "O=No Names"}, "issuer": {"name": "acme-issuer"}}),
            "at least one DNS name",
        ),
    ];
    for (policy, expected) in cases {
        let r = app
            .create("refusedatcreate", json!({"policy": policy}))
            .await;
        assert_eq!(r.status(), 400);
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["error"]["code"], "BadParameter");
        assert!(
            b["error"]["message"].as_str().unwrap().contains(expected),
            "{b}"
        );
    }
    assert_eq!(app.event_count().await, before);
    app.assert_views_rebuild_identically().await;
}
