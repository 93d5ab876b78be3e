//! Soft delete: delete, deleted list/get, recover, purge, and the worker's scheduled purge.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{redact, TestApp, TestClock};
use crate::kv_certificates::{create_self, get, last_segment, send};

#[tokio::test]
async fn delete_returns_the_deleted_bundle_and_hides_the_certificate() {
    let app = TestApp::spawn().await;
    let version = create_self(&app, "gone").await;
    let (status, body) = send(&app, Method::DELETE, "/certificates/gone", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["recoveryId"],
        format!("{}/deletedcertificates/gone", app.address)
    );
    assert_eq!(
        body["id"],
        format!("{}/certificates/gone/{version}", app.address)
    );
    let deleted = body["deletedDate"].as_i64().unwrap();
    assert_eq!(
        body["scheduledPurgeDate"].as_i64().unwrap(),
        deleted + 90 * 86_400
    );
    assert_eq!(body["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    assert_eq!(body["attributes"]["recoverableDays"], 90);
    assert!(body["cer"].is_string());
    assert!(body["policy"].is_object());

    let (status, err) = get(&app, "/certificates/gone/").await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "CertificateNotFound");
    let (status, _) = get(&app, &format!("/certificates/gone/{version}")).await;
    assert_eq!(status, 404);
    let (_, live) = get(&app, "/certificates").await;
    assert_eq!(live["value"], json!([]));

    let (status, got) = get(&app, "/deletedcertificates/gone").await;
    assert_eq!(status, 200);
    assert_eq!(got["recoveryId"], body["recoveryId"]);
    assert_eq!(got["deletedDate"], body["deletedDate"]);
    let (status, list) = get(&app, "/deletedcertificates").await;
    assert_eq!(status, 200);
    assert_eq!(
        redact(list, &app.address),
        json!({"value": [{
            "id": "https://vault/certificates/gone",
            "x5t": "<x5t>",
            "attributes": {"enabled": true, "nbf": "<time>", "exp": "<time>", "created": "<time>", "updated": "<time>", "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
            "tags": {"team": "a"},
            "recoveryId": "https://vault/deletedcertificates/gone",
            "deletedDate": deleted,
            "scheduledPurgeDate": deleted + 90 * 86_400,
        }], "nextLink": null})
    );
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn a_deleted_name_cannot_be_reused_until_recovered_or_purged() {
    let app = TestApp::spawn().await;
    create_self(&app, "busy").await;
    send(&app, Method::DELETE, "/certificates/busy", None).await;
    let before = app.event_count().await;
    let r = app
        .create(
            "busy",
            json!({"policy": {"x509_props": {"subject": "CN=x"}, "issuer": {"name": "Self"}}}),
        )
        .await;
    assert_eq!(r.status(), 409);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "Conflict");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("deleted but recoverable state"));
    assert_eq!(app.event_count().await, before);

    // Recover: the certificate is back with its versions.
    let (status, body) = send(
        &app,
        Method::POST,
        "/deletedcertificates/busy/recover",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["tags"], json!({"team": "a"}));
    let (status, _) = get(&app, "/certificates/busy/").await;
    assert_eq!(status, 200);
    let (status, _) = get(&app, "/deletedcertificates/busy").await;
    assert_eq!(status, 404);

    // Delete and purge: the name is free again, with no trace of the old versions.
    send(&app, Method::DELETE, "/certificates/busy", None).await;
    let r = app
        .send(Method::DELETE, "/deletedcertificates/busy", None)
        .await;
    assert_eq!(r.status(), 204);
    let (status, err) = get(&app, "/deletedcertificates/busy").await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "CertificateNotFound");
    create_self(&app, "busy").await;
    let (_, versions) = get(&app, "/certificates/busy/versions").await;
    assert_eq!(versions["value"].as_array().unwrap().len(), 1);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn recover_purge_and_delete_in_the_wrong_state_are_404_and_write_nothing() {
    let app = TestApp::spawn().await;
    create_self(&app, "alive").await;
    let before = app.event_count().await;
    for (method, path) in [
        (Method::POST, "/deletedcertificates/alive/recover"),
        (Method::DELETE, "/deletedcertificates/alive"),
        (Method::GET, "/deletedcertificates/alive"),
        (Method::POST, "/deletedcertificates/never/recover"),
        (Method::DELETE, "/deletedcertificates/never"),
        (Method::DELETE, "/certificates/never"),
    ] {
        let (status, body) = send(&app, method.clone(), path, None).await;
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(body["error"]["code"], "CertificateNotFound", "{path}");
    }
    let (status, _) = send(&app, Method::DELETE, "/deletedcertificates/bad_name", None).await;
    assert_eq!(status, 400);
    assert_eq!(app.event_count().await, before);
    // Deleting twice: the second is a 404 too.
    send(&app, Method::DELETE, "/certificates/alive", None).await;
    let (status, _) = send(&app, Method::DELETE, "/certificates/alive", None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_worker_purges_deleted_certificates_after_the_retention_configured() {
    let clock = TestClock::new();
    let app = TestApp::spawn_with_clock(|s| s.soft_delete.retention_days = 7, clock.clone()).await;
    // A request that never completed also leaves a key behind, until the purge.
    app.create_manual("short").await;
    let r = app.delete_pending("short", None).await;
    assert_eq!(r.status(), 200);
    create_self(&app, "short").await;
    let (_, body) = send(&app, Method::DELETE, "/certificates/short", None).await;
    assert_eq!(body["attributes"]["recoverableDays"], 7);
    assert_eq!(
        body["attributes"]["recoveryLevel"],
        "CustomizedRecoverable+Purgeable"
    );
    assert_eq!(
        body["scheduledPurgeDate"].as_i64().unwrap() - body["deletedDate"].as_i64().unwrap(),
        7 * 86_400
    );
    clock.advance(chrono::Duration::days(6));
    assert_eq!(app.run_worker().await, 0);
    let (status, _) = get(&app, "/deletedcertificates/short").await;
    assert_eq!(status, 200);
    clock.advance(chrono::Duration::days(1));
    assert_eq!(app.run_worker().await, 1);
    let (status, _) = get(&app, "/deletedcertificates/short").await;
    assert_eq!(status, 404);
    let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(keys, 0, "a purged certificate's keys are erased");
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn a_deleted_certificate_shows_its_secret_and_key_as_deleted_too() {
    let app = TestApp::spawn().await;
    let version = create_self(&app, "both").await;
    send(&app, Method::DELETE, "/certificates/both", None).await;
    let (status, secret) = get(&app, "/deletedsecrets/both").await;
    assert_eq!(status, 200);
    assert_eq!(
        secret["id"],
        format!("{}/secrets/both/{version}", app.address)
    );
    assert_eq!(
        secret["recoveryId"],
        format!("{}/deletedsecrets/both", app.address)
    );
    assert!(secret.get("value").is_none());
    assert!(secret["deletedDate"].is_i64());
    let (status, key) = get(&app, "/deletedkeys/both").await;
    assert_eq!(status, 200);
    assert_eq!(
        key["key"]["kid"],
        format!("{}/keys/both/{version}", app.address)
    );
    assert_eq!(key["key"]["kty"], "EC");
    assert_eq!(
        key["recoveryId"],
        format!("{}/deletedkeys/both", app.address)
    );
    let (_, secrets) = get(&app, "/deletedsecrets").await;
    assert_eq!(secrets["value"].as_array().unwrap().len(), 1);
    let (_, keys) = get(&app, "/deletedkeys").await;
    assert_eq!(keys["value"].as_array().unwrap().len(), 1);
    // Live ones are not deleted ones.
    create_self(&app, "live").await;
    for (path, code) in [
        ("/deletedsecrets/live", "SecretNotFound"),
        ("/deletedkeys/live", "KeyNotFound"),
        ("/secrets/both", "SecretNotFound"),
        ("/keys/both", "KeyNotFound"),
    ] {
        let (status, err) = get(&app, path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(err["error"]["code"], code, "{path}");
    }
}

#[tokio::test]
async fn deleted_list_shows_certificates_deleted_before_any_version_only_with_include_pending() {
    let app = TestApp::spawn().await;
    create_self(&app, "done").await;
    app.create_manual("waiting").await;
    for name in ["done", "waiting"] {
        let (status, _) = send(&app, Method::DELETE, &format!("/certificates/{name}"), None).await;
        assert_eq!(status, 200, "{name}");
    }
    let names = |page: &Value| -> Vec<String> {
        page["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| last_segment(&i["recoveryId"]))
            .collect()
    };
    let (_, page) = get(&app, "/deletedcertificates").await;
    assert_eq!(names(&page), ["done"]);
    let (_, page) = get(&app, "/deletedcertificates?includePending=true").await;
    assert_eq!(names(&page), ["done", "waiting"]);
    // A page of one without includePending is full and has no next page to ask for.
    let (_, page) = get(&app, "/deletedcertificates?maxresults=1").await;
    assert_eq!(names(&page), ["done"]);
    assert!(page["nextLink"].is_null(), "{page}");
    let (_, page) = get(&app, "/deletedsecrets?maxresults=1").await;
    assert_eq!(page["value"].as_array().unwrap().len(), 1);
    assert!(page["nextLink"].is_null(), "{page}");
}
