//! Behaviours real Key Vault clients rely on: a certificate readable while its first version
//! is pending, the merge forms Key Vault accepts, `preserveCertOrder`, Key Vault's issuer
//! providers, and recovering a certificate that has no version yet.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{OutsideCa, TestApp};
use crate::kv_certificates::get;

async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    crate::kv_certificates::send(app, method, path, body).await
}

#[tokio::test]
async fn a_certificate_whose_first_version_is_pending_reads_as_a_disabled_bundle() {
    let app = TestApp::spawn().await;
    app.create_manual("early").await;
    for path in ["/certificates/early/", "/certificates/early"] {
        let (status, b) = get(&app, path).await;
        assert_eq!(status, 200, "{path}: {b}");
        assert_eq!(b["id"], format!("{}/certificates/early", app.address));
        assert_eq!(b["attributes"]["enabled"], false);
        assert_eq!(
            b["pending"]["id"],
            format!("{}/certificates/early/pending", app.address)
        );
        assert_eq!(b["policy"]["x509_props"]["subject"], "CN=early.example.com");
        assert_eq!(b["policy"]["issuer"]["name"], "Unknown");
        for absent in ["cer", "x5t", "kid", "sid"] {
            assert!(b.get(absent).is_none(), "{path}: {absent} in {b}");
        }
    }
    // Listed with includePending as GET shows it; without, not at all.
    let (_, page) = get(&app, "/certificates?includePending=true").await;
    let item = &page["value"][0];
    assert_eq!(item["id"], format!("{}/certificates/early", app.address));
    assert_eq!(item["attributes"]["enabled"], false);
    assert!(item.get("x5t").is_none(), "{item}");
    let (_, page) = get(&app, "/certificates").await;
    assert_eq!(page["value"], json!([]));
    // No version of it exists yet.
    let (status, versions) = get(&app, "/certificates/early/versions").await;
    assert_eq!(status, 200);
    assert_eq!(versions["value"], json!([]));
    let (status, err) = get(&app, &format!("/certificates/early/{}", "0".repeat(32))).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "CertificateNotFound");
    // After the pending object is deleted: still there, without `pending`.
    let (status, _) = send(&app, Method::DELETE, "/certificates/early/pending", None).await;
    assert_eq!(status, 200);
    let (status, b) = get(&app, "/certificates/early/").await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["attributes"]["enabled"], false);
    assert!(b.get("pending").is_none(), "{b}");
    assert!(b.get("cer").is_none(), "{b}");
    // A name never used is still not found.
    let (status, err) = get(&app, "/certificates/never/").await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "CertificateNotFound");
    app.assert_views_rebuild_identically().await;
}

/// The PEM text of a base64 DER certificate, 64 characters a line.
fn pem_body(der_b64: &str) -> String {
    der_b64
        .as_bytes()
        .chunks(64)
        .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
        .collect()
}

/// How a test encodes one base64 DER certificate for `x5c`.
type Encode = fn(&str) -> String;

#[tokio::test]
async fn merge_accepts_base64_of_the_certificates_base64_text_with_or_without_armor() {
    let app = TestApp::spawn().await;
    let ca = OutsideCa::new();
    let forms: [(&str, Encode); 3] = [
        // The PEM body without its armor lines, base64-encoded once more (Microsoft's
        // Python live test and the JS SDK's sample).
        ("bare", |b| STANDARD.encode(pem_body(b))),
        // The same on one line.
        ("oneline", |b| STANDARD.encode(b)),
        // The whole PEM text, base64-encoded.
        ("armored", |b| {
            STANDARD.encode(format!(
                "-----BEGIN CERTIFICATE-----\n{}-----END CERTIFICATE-----\n",
                pem_body(b)
            ))
        }),
    ];
    for (name, form) in forms {
        let op = app.create_manual(name).await;
        let chain = ca.sign(op["csr"].as_str().unwrap());
        let x5c: Vec<String> = chain.iter().map(|c| form(c)).collect();
        let r = app.merge(name, x5c).await;
        assert_eq!(r.status(), 201, "{name}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["attributes"]["enabled"], true, "{name}");
        assert_eq!(b["cer"], chain[0], "{name}");
    }
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn merge_still_refuses_base64_text_that_is_not_a_certificate() {
    let app = TestApp::spawn().await;
    let op = app.create_manual("m1").await;
    let before = app.event_count().await;
    let key_text = STANDARD.encode(b"0\x82\x01\x02 not a key");
    for entry in [
        STANDARD.encode(STANDARD.encode(b"hello, not a certificate")),
        STANDARD.encode(pem_body(&key_text)),
    ] {
        let (status, err) = send(
            &app,
            Method::POST,
            "/certificates/m1/pending/merge",
            Some(json!({ "x5c": [entry] })),
        )
        .await;
        assert_eq!(status, 400, "{err}");
        assert_eq!(err["error"]["code"], "BadParameter");
        let message = err["error"]["message"].as_str().unwrap();
        assert!(message.contains("x5c[0] is not a certificate"), "{message}");
    }
    assert_eq!(app.event_count().await, before);
    let r = app.get_pending("m1", None).await;
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["status"], "inProgress");
    assert_eq!(b["request_id"], op["request_id"]);
}

#[tokio::test]
async fn preserve_cert_order_sent_on_create_is_kept_on_the_bundle() {
    let app = TestApp::spawn().await;
    let policy = json!({"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=order.example.com"}, "issuer": {"name": "Self"}});
    let r = app
        .create(
            "order",
            json!({"policy": policy, "preserveCertOrder": true}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let (status, b) = get(&app, "/certificates/order/").await;
    assert_eq!(status, 200);
    assert_eq!(b["preserveCertOrder"], true, "{b}");
    let version = b["id"].as_str().unwrap().rsplit('/').next().unwrap();
    let (_, b) = get(&app, &format!("/certificates/order/{version}")).await;
    assert_eq!(b["preserveCertOrder"], true, "{b}");
    // Kept by a later create that does not send it; replaced by one that does.
    assert_eq!(app.create("order", json!({})).await.status(), 202);
    let (_, b) = get(&app, "/certificates/order").await;
    assert_eq!(b["preserveCertOrder"], true, "{b}");
    let r = app
        .create("order", json!({"preserveCertOrder": false}))
        .await;
    assert_eq!(r.status(), 202);
    let (_, b) = get(&app, "/certificates/order").await;
    assert_eq!(b["preserveCertOrder"], false, "{b}");
    // A create without it shows none.
    let r = app.create("plain", json!({"policy": policy})).await;
    assert_eq!(r.status(), 202);
    let (_, b) = get(&app, "/certificates/plain").await;
    assert!(b.get("preserveCertOrder").is_none(), "{b}");
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn issuers_take_key_vaults_provider_names_and_round_trip_every_field() {
    let app = TestApp::spawn().await;
    let org = json!({"id": "org-1", "admin_details": [{"first_name": "John", "last_name": "Doe", "email": "admin@example.com", "phone": "4255555555"}]});
    for provider in [
        "DigiCert",
        "GlobalSign",
        "Test",
        "OneCertV2-PublicCA",
        "OneCertV2-PrivateCA",
        "digicert",
    ] {
        let name = format!("kv-{}", provider.to_ascii_lowercase());
        let body = json!({
            "provider": provider,
            "credentials": {"account_id": "keyvaultuser", "pwd": "s3cret-pwd"},
            "org_details": org,
            "attributes": {"enabled": true}
        });
        let (status, b) = send(
            &app,
            Method::PUT,
            &format!("/certificates/issuers/{name}"),
            Some(body),
        )
        .await;
        assert_eq!(status, 200, "{provider}: {b}");
        let (status, got) = get(&app, &format!("/certificates/issuers/{name}")).await;
        assert_eq!(status, 200);
        assert_eq!(got, b, "GET answers what PUT answered");
        assert_eq!(b["provider"], provider);
        assert_eq!(b["credentials"], json!({"account_id": "keyvaultuser"}));
        assert_eq!(b["org_details"], org);
        assert_eq!(b["attributes"]["enabled"], true);
        assert!(!b.to_string().contains("s3cret-pwd"), "{b}");
    }
    let secrets: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE payload LIKE '%s3cret-pwd%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(secrets, 0, "the password is never recorded");
    // By default the built-in CA issues for them.
    app.create_with_issuer("through-digicert", "kv-digicert", "CN=dc.example.com")
        .await;
    app.run_worker().await;
    let b: Value = app
        .get_pending("through-digicert", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["status"], "completed", "{b}");
    let (status, cert) = get(&app, "/certificates/through-digicert").await;
    assert_eq!(status, 200);
    assert!(cert["cer"].is_string());
    // A name neither Key Vault nor the configuration knows stays a 400, changing nothing.
    let before = app.event_count().await;
    let (status, err) = send(
        &app,
        Method::PUT,
        "/certificates/issuers/odd",
        Some(json!({"provider": "NoSuchCA"})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], "BadParameter");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("NoSuchCA"),
        "{err}"
    );
    assert_eq!(app.event_count().await, before);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn a_provider_alias_decides_what_issues_for_a_key_vault_provider_name() {
    let app = TestApp::spawn_with(|s| {
        s.provider_aliases
            .insert("DigiCert".into(), "local-ca-approval".into());
    })
    .await;
    assert_eq!(app.put_issuer("dc", "digicert").await.status(), 200);
    assert_eq!(app.put_issuer("gs", "GlobalSign").await.status(), 200);
    app.create_with_issuer("waits", "dc", "CN=waits.example.com")
        .await;
    app.create_with_issuer("goes", "gs", "CN=goes.example.com")
        .await;
    app.run_worker().await;
    let b: Value = app.get_pending("waits", None).await.json().await.unwrap();
    assert_eq!(b["status"], "inProgress");
    assert!(
        b["status_details"].as_str().unwrap().contains("approval"),
        "{b}"
    );
    let b: Value = app.get_pending("goes", None).await.json().await.unwrap();
    assert_eq!(b["status"], "completed", "{b}");
}

#[tokio::test]
async fn recovering_a_certificate_without_a_version_answers_its_bundle() {
    let app = TestApp::spawn().await;
    app.create_manual("novers").await;
    let (status, deleted) = send(&app, Method::DELETE, "/certificates/novers", None).await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(
        deleted["recoveryId"],
        format!("{}/deletedcertificates/novers", app.address)
    );
    let (status, _) = get(&app, "/deletedcertificates/novers").await;
    assert_eq!(status, 200);
    let (status, _) = get(&app, "/certificates/novers").await;
    assert_eq!(status, 404);
    let before = app.event_count().await;
    let (status, b) = send(
        &app,
        Method::POST,
        "/deletedcertificates/novers/recover",
        None,
    )
    .await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(b["id"], format!("{}/certificates/novers", app.address));
    assert_eq!(b["attributes"]["enabled"], false);
    assert_eq!(
        b["policy"]["x509_props"]["subject"],
        "CN=novers.example.com"
    );
    assert!(b.get("cer").is_none(), "{b}");
    assert_eq!(app.event_count().await, before + 1);
    let (status, got) = get(&app, "/certificates/novers/").await;
    assert_eq!(status, 200);
    assert_eq!(got["id"], b["id"]);
    let (status, _) = get(&app, "/deletedcertificates/novers").await;
    assert_eq!(status, 404);
    // A second recover finds nothing to recover, and commits nothing.
    let (status, err) = send(
        &app,
        Method::POST,
        "/deletedcertificates/novers/recover",
        None,
    )
    .await;
    assert_eq!(status, 404, "{err}");
    assert_eq!(app.event_count().await, before + 1);
    app.assert_views_rebuild_identically().await;
}
