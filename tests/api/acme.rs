//! The ACME provider against real Pebble: issuance end to end, real HTTP-01 validation,
//! badNonce retries, refusals, cancellation mid-order, and kill -9 mid-order.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use certbroker::config::{ProviderSettings, Settings};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::pebble::{ChallTestSrv, Pebble, PebbleOptions, PebblePorts};

/// An ACME provider named `pebble` pointing at `ports`, trusting `tls_ca_file`.
pub fn acme_provider(directory_url: &str, tls_ca_file: &Path) -> ProviderSettings {
    serde_json::from_value(json!({
        "kind": "acme",
        "directory_url": directory_url,
        "contact_email": "pki@example.com",
        "ca_file": tls_ca_file,
    }))
    .unwrap()
}

pub fn use_pebble(settings: &mut Settings, pebble: &Pebble) {
    settings.providers.insert(
        "pebble".into(),
        acme_provider(&pebble.ports.directory_url(), &pebble.tls_ca_file),
    );
    settings.acme.retry_base_ms = 20;
}

pub async fn status(app: &TestApp, name: &str) -> Value {
    app.get_pending(name, None).await.json().await.unwrap()
}

/// Runs worker rounds until the request leaves `inProgress` (bounded).
pub async fn drive_until_settled(app: &TestApp, name: &str) -> Value {
    for _ in 0..30 {
        app.run_worker().await;
        let b = status(app, name).await;
        if b["status"] != "inProgress" {
            return b;
        }
    }
    panic!("{name} is still in progress: {}", status(app, name).await);
}

pub async fn event_types(app: &TestApp, name: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT event_type FROM events WHERE stream_id LIKE '%/' || ?1 ORDER BY position",
    )
    .bind(name)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// The current version's leaf and chain, as PEM.
pub async fn current_chain_pem(app: &TestApp, name: &str) -> (String, String) {
    let (cer, chain): (String, String) = sqlx::query_as(
        r#"SELECT v.cer, v.chain FROM certificate_versions v JOIN certificates c
             ON c.vault = v.vault AND c.name_key = v.name_key AND c.current_version = v.version
           WHERE c.name_key = ?1"#,
    )
    .bind(name)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let pem =
        |b64: &str| certbroker::crypto::x509::cert_to_pem(&STANDARD.decode(b64).unwrap()).unwrap();
    let chain: Vec<String> = serde_json::from_str(&chain).unwrap();
    (pem(&cer), chain.iter().map(|c| pem(c)).collect())
}

/// `openssl verify -CAfile root -untrusted chain leaf` succeeds.
pub fn openssl_verifies(root_pem: &str, chain_pem: &str, leaf_pem: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let (root, chain, leaf) = (
        dir.path().join("root.pem"),
        dir.path().join("chain.pem"),
        dir.path().join("leaf.pem"),
    );
    std::fs::write(&root, root_pem).unwrap();
    std::fs::write(&chain, chain_pem).unwrap();
    std::fs::write(&leaf, leaf_pem).unwrap();
    let out = std::process::Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&root)
        .arg("-untrusted")
        .arg(&chain)
        .arg(&leaf)
        .output()
        .unwrap();
    out.status.success()
}

async fn create_acme(app: &TestApp, name: &str, dns: &str) -> Value {
    let r = app
        .create(
            name,
            json!({"policy": {"key_props": {"kty": "EC", "crv": "P-256"},
                   "x509_props": {"subject": format!("CN={dns}"), "sans": {"dns_names": [dns]}},
                   "issuer": {"name": "acme-issuer"}}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    r.json().await.unwrap()
}

#[tokio::test]
async fn acme_issuer_completes_a_request_against_pebble_and_the_chain_verifies_to_its_root() {
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;
    let app = TestApp::spawn_with(|s| use_pebble(s, &pebble)).await;
    assert_eq!(app.put_issuer("acme-issuer", "pebble").await.status(), 200);
    let created = create_acme(&app, "acme1", "acme1.example.com").await;
    assert_eq!(created["status"], "inProgress");

    let done = drive_until_settled(&app, "acme1").await;
    assert_eq!(done["status"], "completed", "{done}");
    let types = event_types(&app, "acme1").await;
    assert_eq!(
        types,
        [
            "PendingCreated",
            "AcmeAccountRegistered",
            "AcmeOrderPlaced",
            "AcmeAuthorizationValid",
            "AcmeOrderFinalized",
            "AcmeCertificateDownloaded",
            "IssuanceCompleted"
        ]
    );
    assert_eq!(pebble.orders_added(), 1);

    // The version is the CA's certificate for the request's own key, with the chain.
    let cert: Value = app.get_certificate("acme1").await.json().await.unwrap();
    let (leaf, chain) = current_chain_pem(&app, "acme1").await;
    assert!(!chain.is_empty());
    assert_eq!(
        STANDARD.encode(
            certbroker::crypto::X509::from_pem(leaf.as_bytes())
                .unwrap()
                .to_der()
                .unwrap()
        ),
        cert["cer"].as_str().unwrap()
    );
    let root = pebble.root_pem().await;
    assert!(openssl_verifies(&root, &chain, &leaf));
    // ... and not to some other root.
    let other = certbroker::crypto::x509::create_ca("Other", 0, 3650, None)
        .unwrap()
        .1
        .to_pem()
        .unwrap();
    assert!(!openssl_verifies(
        &String::from_utf8(other).unwrap(),
        &chain,
        &leaf
    ));
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn real_http01_validation_reaches_certbrokers_challenge_listener() {
    let dns = ChallTestSrv::start().await;
    let ports = PebblePorts::pick();
    let directory_url = ports.directory_url();
    // certbroker first: Pebble must know the port its VA connects to for HTTP-01.
    let tls_dir = tempfile::tempdir().unwrap();
    let ca_file = tls_dir.path().join("placeholder");
    let app = TestApp::spawn_with(|s| {
        s.acme.http01_listen = "127.0.0.1:0".into();
        s.acme.retry_base_ms = 20;
        s.providers
            .insert("pebble".into(), acme_provider(&directory_url, &ca_file));
    })
    .await;
    let pebble = Pebble::start(
        ports,
        PebbleOptions {
            always_valid: false,
            http_port: app.http01_port.unwrap(),
            dns_server: Some(dns.dns_addr.clone()),
            ..PebbleOptions::default()
        },
    )
    .await;
    std::fs::copy(&pebble.tls_ca_file, &ca_file).unwrap();
    app.put_issuer("acme-issuer", "pebble").await;
    create_acme(&app, "http01", "http01.example.com").await;
    let done = drive_until_settled(&app, "http01").await;
    assert_eq!(done["status"], "completed", "{done}\n{}", pebble.log());
    let (leaf, chain) = current_chain_pem(&app, "http01").await;
    assert!(openssl_verifies(&pebble.root_pem().await, &chain, &leaf));
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn without_a_challenge_listener_real_validation_fails_with_the_cas_detail() {
    let dns = ChallTestSrv::start().await;
    let ports = PebblePorts::pick();
    let pebble = Pebble::start(
        ports,
        PebbleOptions {
            always_valid: false,
            // Nothing listens here: the VA's HTTP-01 request is refused.
            http_port: crate::pebble::free_port(),
            dns_server: Some(dns.dns_addr.clone()),
            ..PebbleOptions::default()
        },
    )
    .await;
    let app = TestApp::spawn_with(|s| use_pebble(s, &pebble)).await;
    app.put_issuer("acme-issuer", "pebble").await;
    create_acme(&app, "nolistener", "nolistener.example.com").await;
    let done = drive_until_settled(&app, "nolistener").await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "CertificateIssuerError");
    let message = done["error"]["message"].as_str().unwrap();
    assert!(message.contains("nolistener.example.com"), "{message}");
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn bad_nonces_are_retried_until_the_orders_complete() {
    let pebble = Pebble::start(
        PebblePorts::pick(),
        PebbleOptions {
            nonce_reject: 70,
            ..PebbleOptions::default()
        },
    )
    .await;
    let app = TestApp::spawn_with(|s| {
        use_pebble(s, &pebble);
        s.acme.retry_attempts = 12;
        s.acme.retry_base_ms = 5;
    })
    .await;
    app.put_issuer("acme-issuer", "pebble").await;
    for name in ["nonce1", "nonce2"] {
        create_acme(&app, name, &format!("{name}.example.com")).await;
        let done = drive_until_settled(&app, name).await;
        assert_eq!(done["status"], "completed", "{done}");
    }
    // With most nonces refused, instant-acme's own three tries are not enough: ours ran.
    assert!(app.worker.acme().unwrap().retries() > 0);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn an_identifier_the_ca_refuses_fails_the_request_with_certificate_issuer_error() {
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;
    let app = TestApp::spawn_with(|s| use_pebble(s, &pebble)).await;
    app.put_issuer("acme-issuer", "pebble").await;
    create_acme(&app, "refused", "*.*.example.com").await;
    let done = drive_until_settled(&app, "refused").await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "CertificateIssuerError");
    let message = done["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("rejectedIdentifier") || message.contains("malformed"),
        "{message}"
    );
    assert!(message.contains("wildcard"), "{message}");
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn an_unreachable_acme_ca_fails_the_request_and_the_server_keeps_serving() {
    let ports = PebblePorts::pick();
    let app = TestApp::spawn_with(|s| {
        s.providers.insert(
            "pebble".into(),
            acme_provider(&ports.directory_url(), Path::new("")),
        );
        s.acme.retry_attempts = 2;
        s.acme.retry_base_ms = 5;
    })
    .await;
    app.put_issuer("acme-issuer", "pebble").await;
    create_acme(&app, "unreachable", "unreachable.example.com").await;
    let done = drive_until_settled(&app, "unreachable").await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"]["code"], "CertificateIssuerError");
    let message = done["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&ports.directory_url()) && message.contains("2 attempts"),
        "{message}"
    );
    assert_eq!(app.get_pending("unreachable", None).await.status(), 200);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn cancellation_mid_order_deactivates_and_ends_cancelled() {
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;
    let app = TestApp::spawn_with(|s| use_pebble(s, &pebble)).await;
    app.put_issuer("acme-issuer", "pebble").await;
    create_acme(&app, "cancelme", "cancelme.example.com").await;
    // One round registers the account and places the order, then returns.
    assert_eq!(app.run_worker().await, 1);
    assert_eq!(
        event_types(&app, "cancelme").await.last().unwrap(),
        "AcmeOrderPlaced"
    );
    assert_eq!(app.cancel("cancelme", None).await.status(), 200);
    let done = drive_until_settled(&app, "cancelme").await;
    assert_eq!(done["status"], "cancelled");
    let types = event_types(&app, "cancelme").await;
    assert!(
        !types.iter().any(|t| t == "AcmeOrderFinalized"),
        "{types:?}"
    );
    assert_eq!(app.get_certificate("cancelme").await.status(), 404);
    app.assert_views_rebuild_identically().await;
}
