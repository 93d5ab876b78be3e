//! The seed's scenarios S1-S11, each asserting status, headers and the full body.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::{redact, OutsideCa, TestApp, API};
use certbroker::domain::certificate::{DETAILS_ISSUER, DETAILS_MANUAL};

fn pending_body(name: &str, issuer: Value, status: &str, details: &str, cancel: bool) -> Value {
    json!({
        "id": format!("https://vault/certificates/{name}/pending"),
        "issuer": issuer,
        "csr": "<csr>",
        "cancellation_requested": cancel,
        "status": status,
        "status_details": details,
        "request_id": "<request_id>",
    })
}

async fn body(app: &TestApp, r: reqwest::Response) -> Value {
    redact(r.json().await.unwrap(), &app.address)
}

#[tokio::test]
async fn s1_create_through_an_issuer_object_returns_202_in_progress_with_location() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.put_issuer("mydigicert", "local-ca-approval")
            .await
            .status(),
        200
    );
    let r = app
        .create("mycert1", json!({"policy": {"x509_props": {"subject": "CN=MyCertSubject1"}, "issuer": {"name": "mydigicert", "cty": "OV-SSL"}}}))
        .await;
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let raw: Value = r.json().await.unwrap();
    let rid = raw["request_id"].as_str().unwrap();
    assert_eq!(rid.len(), 32);
    assert_eq!(
        location,
        format!(
            "{}/certificates/mycert1/pending?api-version={API}&request_id={rid}",
            app.address
        )
    );
    assert_eq!(
        redact(raw.clone(), &app.address),
        pending_body(
            "mycert1",
            json!({"name": "mydigicert", "cty": "OV-SSL"}),
            "inProgress",
            &format!("{DETAILS_ISSUER} The request is waiting for an officer's approval."),
            false
        )
    );
    // The CSR is real: signed by the new key, with the policy's subject.
    let csr = STANDARD.decode(raw["csr"].as_str().unwrap()).unwrap();
    let info = certbroker::crypto::csr::csr_info(&csr).unwrap();
    assert_eq!(info.subject_cn.as_deref(), Some("MyCertSubject1"));
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn s2_get_pending_in_progress_with_or_without_a_matching_request_id() {
    let app = TestApp::spawn().await;
    app.put_issuer("ca", "local-ca").await;
    let created = app
        .create_with_issuer("c2", "ca", "CN=c2.example.com")
        .await;
    let rid = created["request_id"].as_str().unwrap();
    for filter in [None, Some(rid)] {
        let r = app.get_pending("c2", filter).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(
            body(&app, r).await,
            pending_body(
                "c2",
                json!({"name": "ca"}),
                "inProgress",
                DETAILS_ISSUER,
                false
            )
        );
    }
    let r = app
        .get_pending("c2", Some("0123456789abcdef0123456789abcdef"))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": {"code": "PendingCertificateNotFound", "message": "Pending certificate not found: c2"}})
    );
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn s3_get_pending_when_completed_shows_the_target() {
    let app = TestApp::spawn().await;
    app.put_issuer("ca", "local-ca").await;
    app.create_with_issuer("c3", "ca", "CN=c3.example.com")
        .await;
    assert_eq!(app.run_worker().await, 1);
    let r = app.get_pending("c3", None).await;
    assert_eq!(r.status(), 200);
    let mut expected = pending_body(
        "c3",
        json!({"name": "ca"}),
        "completed",
        "The certificate request is completed.",
        false,
    );
    expected["target"] = json!("https://vault/certificates/c3");
    assert_eq!(body(&app, r).await, expected);
    // The target is readable, and its chain is the built-in CA's.
    let cert: Value = app.get_certificate("c3").await.json().await.unwrap();
    assert!(cert["id"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/certificates/c3/", app.address)));
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn s4_failed_and_cancelled_requests_carry_their_error() {
    let app = TestApp::spawn().await;
    // Issuer-side failure: the CA refuses a subject outside its allowed domains.
    app.put_issuer("restricted", "local-ca-restricted").await;
    app.create_with_issuer("c4a", "restricted", "CN=www.not-allowed.org")
        .await;
    app.run_worker().await;
    let b = body(&app, app.get_pending("c4a", None).await).await;
    assert_eq!(b["status"], "failed");
    assert_eq!(b["error"]["code"], "CertificateIssuerError");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("www.not-allowed.org"));
    assert_eq!(b["status_details"], b["error"]["message"]);
    // User-side: an officer rejects.
    app.put_issuer("officer", "local-ca-approval").await;
    app.create_with_issuer("c4b", "officer", "CN=c4b.example.com")
        .await;
    let r = app
        .send(
            reqwest::Method::POST,
            "/certificates/c4b/pending/reject",
            Some(json!({"reason": "not approved by security"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let b = body(&app, app.get_pending("c4b", None).await).await;
    assert_eq!(b["status"], "failed");
    assert_eq!(
        b["error"],
        json!({"code": "RequestRejected", "message": "The request was rejected by static: not approved by security"})
    );
    // Cancelled: requested before issuance, honoured by the worker.
    app.put_issuer("ca", "local-ca").await;
    app.create_with_issuer("c4c", "ca", "CN=c4c.example.com")
        .await;
    assert_eq!(app.cancel("c4c", None).await.status(), 200);
    app.run_worker().await;
    let b = body(&app, app.get_pending("c4c", None).await).await;
    assert_eq!(b["status"], "cancelled");
    assert_eq!(b["cancellation_requested"], true);
    assert_eq!(b["error"]["code"], "RequestRejected");
    app.assert_no_version_yet("c4c").await;
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn s5_pending_is_gone_after_delete_or_overwrite() {
    let app = TestApp::spawn().await;
    let first = app.create_manual("c5").await;
    assert_eq!(app.delete_pending("c5", None).await.status(), 200);
    let r = app.get_pending("c5", None).await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "PendingCertificateNotFound"
    );
    // Overwrite: a failed request is replaced by a new create; the old request id is gone.
    app.put_issuer("restricted", "local-ca-restricted").await;
    let failed = app
        .create_with_issuer("c5", "restricted", "CN=elsewhere.org")
        .await;
    app.run_worker().await;
    let second = app.create_manual("c5").await;
    assert_ne!(failed["request_id"], second["request_id"]);
    for old in [&first, &failed] {
        let r = app.get_pending("c5", old["request_id"].as_str()).await;
        assert_eq!(r.status(), 404);
    }
    assert_eq!(
        app.get_pending("c5", second["request_id"].as_str())
            .await
            .status(),
        200
    );
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn s6_create_while_in_progress_is_409_and_writes_nothing() {
    let app = TestApp::spawn().await;
    app.create_manual("c6").await;
    let before = app.event_count().await;
    let r = app
        .create("c6", json!({"policy": {"x509_props": {"subject": "CN=x"}}}))
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": {"code": "Forbidden", "message": "A new key vault certificate can not be created or imported while a pending key vault certificate's status is inProgress."}})
    );
    assert_eq!(app.event_count().await, before);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn s7_merge_is_forbidden_while_an_issuer_request_is_in_progress_and_allowed_after_failure() {
    let app = TestApp::spawn().await;
    let ca = OutsideCa::new();
    app.put_issuer("mydigicert", "local-ca-approval").await;
    let op = app
        .create_with_issuer("c7", "mydigicert", "CN=c7.example.com")
        .await;
    let x5c = ca.sign(op["csr"].as_str().unwrap());
    let r = app.merge("c7", x5c.clone()).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": {"code": "Forbidden", "message": "Merge is forbidden on pending object created with issuer: mydigicert while it is in progress."}})
    );
    // After the issuer side fails, a certificate obtained out of band completes it.
    app.send(
        reqwest::Method::POST,
        "/certificates/c7/pending/reject",
        Some(json!({"reason": "use the other CA"})),
    )
    .await;
    let r = app.merge("c7", x5c).await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        body(&app, app.get_pending("c7", None).await).await["status"],
        "completed"
    );
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn s8_cancellation_request_is_recorded_and_refused_when_not_in_progress() {
    let app = TestApp::spawn().await;
    app.put_issuer("officer", "local-ca-approval").await;
    let op = app
        .create_with_issuer("c8", "officer", "CN=c8.example.com")
        .await;
    let r = app.cancel("c8", op["request_id"].as_str()).await;
    assert_eq!(r.status(), 200);
    let b = body(&app, r).await;
    assert_eq!(b["cancellation_requested"], true);
    assert_eq!(b["status"], "inProgress");
    // Idempotent, and without a request_id too.
    assert_eq!(app.cancel("c8", None).await.status(), 200);
    app.run_worker().await;
    let r = app.cancel("c8", None).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": {"code": "BadParameter", "message": "Cancellation can only be requested while the pending certificate's status is inProgress; its status is cancelled."}})
    );
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn s9_delete_pending_returns_it_as_it_was() {
    let app = TestApp::spawn().await;
    let op = app.create_manual("c9").await;
    let r = app.delete_pending("c9", op["request_id"].as_str()).await;
    assert_eq!(r.status(), 200);
    let raw: Value = r.json().await.unwrap();
    assert_eq!(raw, op);
    assert_eq!(app.get_pending("c9", None).await.status(), 404);
    assert_eq!(app.delete_pending("c9", None).await.status(), 404);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn s10_manual_create_with_unknown_or_no_issuer() {
    let app = TestApp::spawn().await;
    for (name, policy) in [
        (
            "c10a",
            json!({"x509_props": {"subject": "CN=MyCertSubject1"}, "issuer": {"name": "Unknown"}}),
        ),
        (
            "c10b",
            json!({"x509_props": {"subject": "CN=MyCertSubject1"}}),
        ),
    ] {
        let r = app.create(name, json!({"policy": policy})).await;
        assert_eq!(r.status(), 202);
        assert!(r.headers()["location"].to_str().unwrap().contains(&format!(
            "/certificates/{name}/pending?api-version={API}&request_id="
        )));
        assert_eq!(
            body(&app, r).await,
            pending_body(
                name,
                json!({"name": "Unknown"}),
                "inProgress",
                DETAILS_MANUAL,
                false
            )
        );
    }
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn s11_merge_after_manual_create_returns_201_with_the_bundle() {
    let app = TestApp::spawn().await;
    let ca = OutsideCa::new();
    let op = app.create_manual("mycert1").await;
    let x5c = ca.sign(op["csr"].as_str().unwrap());
    let r = app.merge("mycert1", x5c.clone()).await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("{}/certificates/mycert1?api-version={API}", app.address)
    );
    let raw: Value = r.json().await.unwrap();
    assert_eq!(raw["cer"], x5c[0]);
    let version = raw["id"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(version.len(), 32);
    assert_eq!(
        redact(raw, &app.address),
        json!({
            "id": "https://vault/certificates/mycert1/<hex32>",
            "kid": "https://vault/keys/mycert1/<hex32>",
            "sid": "https://vault/secrets/mycert1/<hex32>",
            "x5t": "<x5t>",
            "cer": "<cer>",
            "attributes": {"enabled": true, "nbf": "<time>", "exp": "<time>", "created": "<time>", "updated": "<time>", "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
            "tags": {},
            "contentType": "application/x-pkcs12",
            "pending": {"id": "https://vault/certificates/mycert1/pending"},
            "policy": {
                "id": "https://vault/certificates/mycert1/policy",
                "key_props": {"exportable": true, "kty": "EC", "key_size": 256, "crv": "P-256", "reuse_key": false},
                "secret_props": {"contentType": "application/x-pkcs12"},
                "x509_props": {"subject": "CN=mycert1.example.com", "ekus": ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], "key_usage": ["digitalSignature", "keyEncipherment"], "validity_months": 12},
                "lifetime_actions": [{"trigger": {"lifetime_percentage": 80}, "action": {"action_type": "EmailContacts"}}],
                "issuer": {"name": "Unknown"},
                "attributes": {"enabled": true, "created": "<time>", "updated": "<time>"}
            }
        })
    );
    // The merged certificate is now the current version, readable with or without the slash.
    for path in [
        "/certificates/mycert1",
        "/certificates/mycert1/",
        &format!("/certificates/mycert1/{version}"),
    ] {
        let r = app.send(reqwest::Method::GET, path, None).await;
        assert_eq!(r.status(), 200, "{path}");
    }
    let mut expected = pending_body(
        "mycert1",
        json!({"name": "Unknown"}),
        "completed",
        "The certificate request is completed.",
        false,
    );
    expected["target"] = json!("https://vault/certificates/mycert1");
    assert_eq!(
        body(&app, app.get_pending("mycert1", None).await).await,
        expected
    );
    app.assert_views_rebuild_identically().await;
}
