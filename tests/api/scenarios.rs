//! The seed's scenarios S1-S11, each asserting status, headers and the full body.
//!
//! Each scenario is written once over [`Steps`], which says which server serves each step:
//! here one server serves them all; `replicas.rs` runs the same scenarios with each step
//! on the next of three replicas sharing one database.

use std::sync::atomic::{AtomicUsize, Ordering};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Value};

use crate::helpers::{redact, OutsideCa, TestApp, API};
use certbroker::domain::certificate::{DETAILS_ISSUER, DETAILS_MANUAL};

/// The servers a scenario runs on, taken in turn: every step asks for the next one.
pub struct Steps {
    apps: Vec<TestApp>,
    step: AtomicUsize,
}

impl Steps {
    /// Every step on `apps[0]`, `apps[1]`, ... in turn (all serving one database).
    pub fn over(apps: Vec<TestApp>) -> Self {
        assert!(!apps.is_empty());
        Steps {
            apps,
            step: AtomicUsize::new(0),
        }
    }

    /// Every step on one new server.
    async fn one() -> Self {
        Self::over(vec![TestApp::spawn().await])
    }

    /// The server for the next step.
    pub fn next(&self) -> &TestApp {
        let i = self.step.fetch_add(1, Ordering::Relaxed);
        &self.apps[i % self.apps.len()]
    }

    pub fn apps(&self) -> &[TestApp] {
        &self.apps
    }
}

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

/// The response's body, redacted against the address of the server that answered it.
async fn body(r: reqwest::Response) -> Value {
    let url = r.url();
    let origin = format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap(),
        url.port().unwrap()
    );
    redact(r.json().await.unwrap(), &origin)
}

/// One test per scenario, on one server: `name => scenario`.
macro_rules! on_one_server {
    ($($test:ident => $scenario:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $test() {
            $scenario(&Steps::one().await).await;
        }
    )*};
}

on_one_server! {
    s1_create_through_an_issuer_object_returns_202_in_progress_with_location => s1,
    s2_get_pending_in_progress_with_or_without_a_matching_request_id => s2,
    s3_get_pending_when_completed_shows_the_target => s3,
    s4_failed_and_cancelled_requests_carry_their_error => s4,
    s5_pending_is_gone_after_delete_or_overwrite => s5,
    s6_create_while_in_progress_is_409_and_writes_nothing => s6,
    s7_merge_is_forbidden_while_an_issuer_request_is_in_progress_and_allowed_after_failure => s7,
    s8_cancellation_request_is_recorded_and_refused_when_not_in_progress => s8,
    s9_delete_pending_returns_it_as_it_was => s9,
    s10_manual_create_with_unknown_or_no_issuer => s10,
    s11_merge_after_manual_create_returns_201_with_the_bundle => s11,
}

pub async fn s1(s: &Steps) {
    assert_eq!(
        s.next()
            .put_issuer("mydigicert", "local-ca-approval")
            .await
            .status(),
        200
    );
    let app = s.next();
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
    s.next().assert_views_rebuild_identically().await;
}

pub async fn s2(s: &Steps) {
    s.next().put_issuer("ca", "local-ca").await;
    let created = s
        .next()
        .create_with_issuer("c2", "ca", "CN=c2.example.com")
        .await;
    let rid = created["request_id"].as_str().unwrap();
    for filter in [None, Some(rid)] {
        let r = s.next().get_pending("c2", filter).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(
            body(r).await,
            pending_body(
                "c2",
                json!({"name": "ca"}),
                "inProgress",
                DETAILS_ISSUER,
                false
            )
        );
    }
    let r = s
        .next()
        .get_pending("c2", Some("0123456789abcdef0123456789abcdef"))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": {"code": "PendingCertificateNotFound", "message": "Pending certificate not found: c2"}})
    );
    s.next().assert_views_rebuild_identically().await;
}

pub async fn s3(s: &Steps) {
    s.next().put_issuer("ca", "local-ca").await;
    s.next()
        .create_with_issuer("c3", "ca", "CN=c3.example.com")
        .await;
    assert_eq!(s.next().run_worker().await, 1);
    let r = s.next().get_pending("c3", None).await;
    assert_eq!(r.status(), 200);
    let mut expected = pending_body(
        "c3",
        json!({"name": "ca"}),
        "completed",
        "The certificate request is completed.",
        false,
    );
    expected["target"] = json!("https://vault/certificates/c3");
    assert_eq!(body(r).await, expected);
    // The target is readable, and its chain is the built-in CA's.
    let app = s.next();
    let cert: Value = app.get_certificate("c3").await.json().await.unwrap();
    assert!(cert["id"]
        .as_str()
        .unwrap()
        .starts_with(&format!("{}/certificates/c3/", app.address)));
    s.next().assert_views_rebuild_identically().await;
}

pub async fn s4(s: &Steps) {
    // Issuer-side failure: the CA refuses a subject outside its allowed domains.
    s.next()
        .put_issuer("restricted", "local-ca-restricted")
        .await;
    s.next()
        .create_with_issuer("c4a", "restricted", "CN=www.not-allowed.org")
        .await;
    s.next().run_worker().await;
    let b = body(s.next().get_pending("c4a", None).await).await;
    assert_eq!(b["status"], "failed");
    assert_eq!(b["error"]["code"], "CertificateIssuerError");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("www.not-allowed.org"));
    assert_eq!(b["status_details"], b["error"]["message"]);
    // User-side: an officer rejects.
    s.next().put_issuer("officer", "local-ca-approval").await;
    s.next()
        .create_with_issuer("c4b", "officer", "CN=c4b.example.com")
        .await;
    let r = s
        .next()
        .send(
            reqwest::Method::POST,
            "/certificates/c4b/pending/reject",
            Some(json!({"reason": "not approved by security"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let b = body(s.next().get_pending("c4b", None).await).await;
    assert_eq!(b["status"], "failed");
    assert_eq!(
        b["error"],
        json!({"code": "RequestRejected", "message": "The request was rejected by static: not approved by security"})
    );
    // Cancelled: requested before issuance, honoured by the worker.
    s.next().put_issuer("ca", "local-ca").await;
    s.next()
        .create_with_issuer("c4c", "ca", "CN=c4c.example.com")
        .await;
    assert_eq!(s.next().cancel("c4c", None).await.status(), 200);
    s.next().run_worker().await;
    let b = body(s.next().get_pending("c4c", None).await).await;
    assert_eq!(b["status"], "cancelled");
    assert_eq!(b["cancellation_requested"], true);
    assert_eq!(b["error"]["code"], "RequestRejected");
    s.next().assert_no_version_yet("c4c").await;
    s.next().assert_views_rebuild_identically().await;
}

pub async fn s5(s: &Steps) {
    let first = s.next().create_manual("c5").await;
    assert_eq!(s.next().delete_pending("c5", None).await.status(), 200);
    let r = s.next().get_pending("c5", None).await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "PendingCertificateNotFound"
    );
    // Overwrite: a failed request is replaced by a new create; the old request id is gone.
    s.next()
        .put_issuer("restricted", "local-ca-restricted")
        .await;
    let failed = s
        .next()
        .create_with_issuer("c5", "restricted", "CN=elsewhere.org")
        .await;
    s.next().run_worker().await;
    let second = s.next().create_manual("c5").await;
    assert_ne!(failed["request_id"], second["request_id"]);
    for old in [&first, &failed] {
        let r = s.next().get_pending("c5", old["request_id"].as_str()).await;
        assert_eq!(r.status(), 404);
    }
    assert_eq!(
        s.next()
            .get_pending("c5", second["request_id"].as_str())
            .await
            .status(),
        200
    );
    s.next().assert_views_rebuild_identically().await;
}

pub async fn s6(s: &Steps) {
    s.next().create_manual("c6").await;
    let before = s.next().event_count().await;
    let r = s
        .next()
        .create("c6", json!({"policy": {"x509_props": {"subject": "CN=x"}}}))
        .await;
    assert_eq!(r.status(), 409);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": {"code": "Forbidden", "message": "A new key vault certificate can not be created or imported while a pending key vault certificate's status is inProgress."}})
    );
    assert_eq!(s.next().event_count().await, before);
    s.next().assert_views_rebuild_identically().await;
}

pub async fn s7(s: &Steps) {
    let ca = OutsideCa::new();
    s.next().put_issuer("mydigicert", "local-ca-approval").await;
    let op = s
        .next()
        .create_with_issuer("c7", "mydigicert", "CN=c7.example.com")
        .await;
    let x5c = ca.sign(op["csr"].as_str().unwrap());
    let r = s.next().merge("c7", x5c.clone()).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": {"code": "Forbidden", "message": "Merge is forbidden on pending object created with issuer: mydigicert while it is in progress."}})
    );
    // After the issuer side fails, a certificate obtained out of band completes it.
    s.next()
        .send(
            reqwest::Method::POST,
            "/certificates/c7/pending/reject",
            Some(json!({"reason": "use the other CA"})),
        )
        .await;
    let r = s.next().merge("c7", x5c).await;
    assert_eq!(r.status(), 201);
    assert_eq!(
        body(s.next().get_pending("c7", None).await).await["status"],
        "completed"
    );
    s.next().assert_views_rebuild_identically().await;
}

pub async fn s8(s: &Steps) {
    s.next().put_issuer("officer", "local-ca-approval").await;
    let op = s
        .next()
        .create_with_issuer("c8", "officer", "CN=c8.example.com")
        .await;
    let r = s.next().cancel("c8", op["request_id"].as_str()).await;
    assert_eq!(r.status(), 200);
    let b = body(r).await;
    assert_eq!(b["cancellation_requested"], true);
    assert_eq!(b["status"], "inProgress");
    // Idempotent, and without a request_id too.
    assert_eq!(s.next().cancel("c8", None).await.status(), 200);
    s.next().run_worker().await;
    let r = s.next().cancel("c8", None).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": {"code": "BadParameter", "message": "Cancellation can only be requested while the pending certificate's status is inProgress; its status is cancelled."}})
    );
    s.next().assert_views_rebuild_identically().await;
}

pub async fn s9(s: &Steps) {
    let (created, deleting) = (s.next(), s.next());
    let op = created.create_manual("c9").await;
    let r = deleting
        .delete_pending("c9", op["request_id"].as_str())
        .await;
    assert_eq!(r.status(), 200);
    let raw: Value = r.json().await.unwrap();
    // The same object, byte for byte but for the address of the server that answered.
    let as_vault = |v: &Value, app: &TestApp| v.to_string().replace(&app.address, "https://vault");
    assert_eq!(as_vault(&raw, deleting), as_vault(&op, created));
    assert_eq!(s.next().get_pending("c9", None).await.status(), 404);
    assert_eq!(s.next().delete_pending("c9", None).await.status(), 404);
    s.next().assert_views_rebuild_identically().await;
}

pub async fn s10(s: &Steps) {
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
        let r = s.next().create(name, json!({"policy": policy})).await;
        assert_eq!(r.status(), 202);
        assert!(r.headers()["location"].to_str().unwrap().contains(&format!(
            "/certificates/{name}/pending?api-version={API}&request_id="
        )));
        assert_eq!(
            body(r).await,
            pending_body(
                name,
                json!({"name": "Unknown"}),
                "inProgress",
                DETAILS_MANUAL,
                false
            )
        );
    }
    s.next().assert_views_rebuild_identically().await;
}

pub async fn s11(s: &Steps) {
    let ca = OutsideCa::new();
    let op = s.next().create_manual("mycert1").await;
    let x5c = ca.sign(op["csr"].as_str().unwrap());
    let app = s.next();
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
        let r = s.next().send(reqwest::Method::GET, path, None).await;
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
        body(s.next().get_pending("mycert1", None).await).await,
        expected
    );
    s.next().assert_views_rebuild_identically().await;
}
