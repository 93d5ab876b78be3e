//! The worker and the built-in CA: issuance, approval, refusal and cancellation, driven
//! step by step with `run_once`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;

#[tokio::test]
async fn local_ca_issues_a_chain_that_verifies_to_its_root() {
    let app = TestApp::spawn().await;
    app.put_issuer("ca", "local-ca").await;
    let op = app
        .create_with_issuer("web", "ca", "CN=web.example.com")
        .await;
    assert_eq!(
        app.get_pending("web", None)
            .await
            .json::<Value>()
            .await
            .unwrap()["status"],
        "inProgress"
    );
    assert_eq!(app.run_worker().await, 1);
    assert_eq!(app.run_worker().await, 0, "nothing left to do");
    let cert: Value = app.get_certificate("web").await.json().await.unwrap();
    let leaf = STANDARD.decode(cert["cer"].as_str().unwrap()).unwrap();
    let info = certbroker::crypto::x509::cert_info(&leaf).unwrap();
    let csr =
        certbroker::crypto::csr::csr_info(&STANDARD.decode(op["csr"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(
        info.public_key_der, csr.public_key_der,
        "issued for the pending key"
    );
    // The chain verifies with openssl against the CA the server publishes.
    let pem = app
        .send(Method::GET, "/ca/certificates", None)
        .await
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("leaf.pem"),
        certbroker::crypto::x509::cert_to_pem(&leaf).unwrap(),
    )
    .unwrap();
    let chain = certbroker::crypto::x509::certs_from_pem(pem.as_bytes()).unwrap();
    assert_eq!(chain.len(), 2, "intermediate and root");
    std::fs::write(
        dir.path().join("int.pem"),
        certbroker::crypto::x509::cert_to_pem(&chain[0]).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("root.pem"),
        certbroker::crypto::x509::cert_to_pem(&chain[1]).unwrap(),
    )
    .unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "verify",
            "-CAfile",
            "root.pem",
            "-untrusted",
            "int.pem",
            "leaf.pem",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn approval_provider_waits_for_an_officer() {
    let app = TestApp::spawn().await;
    app.put_issuer("officer", "local-ca-approval").await;
    app.create_with_issuer("svc", "officer", "CN=svc.example.com")
        .await;
    assert_eq!(app.run_worker().await, 0, "waits for approval");
    let r = app
        .send(Method::POST, "/certificates/svc/pending/approve", None)
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .send(Method::POST, "/certificates/svc/pending/approve", None)
        .await;
    assert_eq!(r.status(), 400, "approving twice is refused");
    assert_eq!(app.run_worker().await, 1);
    assert_eq!(
        app.get_pending("svc", None)
            .await
            .json::<Value>()
            .await
            .unwrap()["status"],
        "completed"
    );
    assert_eq!(app.get_certificate("svc").await.status(), 200);
    let actors: Vec<(String, String)> = sqlx::query_as("SELECT event_type, actor FROM events WHERE stream_id = 'certificate/default/svc' ORDER BY position")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(
        actors,
        vec![
            ("PendingCreated".into(), "static".into()),
            ("IssuanceApproved".into(), "static".into()),
            ("IssuanceCompleted".into(), "worker".into()),
        ]
    );
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn approve_and_reject_on_a_request_without_approval_are_400() {
    let app = TestApp::spawn().await;
    app.create_manual("m").await;
    let r = app
        .send(Method::POST, "/certificates/m/pending/approve", None)
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .send(
            Method::POST,
            "/certificates/m/pending/reject",
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .send(Method::POST, "/certificates/none/pending/approve", None)
        .await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_self_request_is_completed_by_the_next_read() {
    let app = TestApp::spawn().await;
    let r = app
        .create("selfie", json!({"policy": {"key_props": {"kty": "RSA", "key_size": 2048}, "x509_props": {"subject": "CN=selfie", "sans": {"dns_names": ["selfie.example.com"]}, "validity_months": 3}, "issuer": {"name": "Self"}}}))
        .await;
    assert_eq!(r.status(), 202);
    let op: Value = r.json().await.unwrap();
    assert_eq!(op["status"], "inProgress");
    assert!(op.get("target").is_none());
    let p: Value = app.get_pending("selfie", None).await.json().await.unwrap();
    assert_eq!(p["status"], "completed");
    let cert: Value = app.get_certificate("selfie").await.json().await.unwrap();
    let leaf = STANDARD.decode(cert["cer"].as_str().unwrap()).unwrap();
    let info = certbroker::crypto::x509::cert_info(&leaf).unwrap();
    assert_eq!(info.subject, info.issuer, "self-signed");
    assert_eq!(info.dns_names, vec!["selfie.example.com".to_string()]);
    let months = (info.not_after - info.not_before) / 86400;
    assert!((89..=92).contains(&months), "3 months: {months} days");
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn deleting_a_request_before_the_worker_runs_stops_it() {
    let app = TestApp::spawn().await;
    app.put_issuer("ca", "local-ca").await;
    app.create_with_issuer("gone", "ca", "CN=gone.example.com")
        .await;
    assert_eq!(app.delete_pending("gone", None).await.status(), 200);
    assert_eq!(app.run_worker().await, 0);
    app.assert_no_version_yet("gone").await;
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn private_keys_never_appear_in_events_or_views() {
    let app = TestApp::spawn().await;
    app.create_manual("k").await;
    let sealed: Vec<u8> = sqlx::query_scalar("SELECT sealed FROM keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(sealed.len() > 28);
    let payloads: Vec<String> = sqlx::query_scalar("SELECT payload FROM events")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    for p in payloads {
        assert!(!p.contains("PRIVATE KEY"));
        let v: Value = serde_json::from_str(&p).unwrap();
        assert!(v.get("key_id").is_some());
        assert!(v.get("private_key").is_none());
    }
}
