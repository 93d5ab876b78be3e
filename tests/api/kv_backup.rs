//! Backup and restore, and the vault's certificate contacts.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::kv_certificates::{create_self, get, send};

async fn backup(app: &TestApp, name: &str) -> String {
    let (status, body) = send(
        app,
        Method::POST,
        &format!("/certificates/{name}/backup"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["value"].as_str().unwrap().to_owned()
}

async fn restore(app: &TestApp, blob: Value) -> (u16, Value) {
    send(
        app,
        Method::POST,
        "/certificates/restore",
        Some(json!({"value": blob})),
    )
    .await
}

#[tokio::test]
async fn backup_then_purge_then_restore_brings_back_every_version_and_its_key() {
    let app = TestApp::spawn().await;
    let v1 = create_self(&app, "bk").await;
    let v2 = create_self(&app, "bk").await;
    let (_, before) = get(&app, "/certificates/bk/").await;
    let (_, secret_before) = get(&app, "/secrets/bk").await;
    let blob = backup(&app, "bk").await;
    assert!(blob
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    send(&app, Method::DELETE, "/certificates/bk", None).await;
    let r = app
        .send(Method::DELETE, "/deletedcertificates/bk", None)
        .await;
    assert_eq!(r.status(), 204);

    let (status, restored) = restore(&app, json!(blob)).await;
    assert_eq!(status, 200, "{restored}");
    for field in ["id", "kid", "sid", "x5t", "cer", "tags"] {
        assert_eq!(restored[field], before[field], "{field}");
    }
    for part in [
        "key_props",
        "secret_props",
        "x509_props",
        "issuer",
        "lifetime_actions",
    ] {
        assert_eq!(restored["policy"][part], before["policy"][part], "{part}");
    }
    let (_, versions) = get(&app, "/certificates/bk/versions").await;
    let ids: Vec<&str> = versions["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(ids, [v1.as_str(), v2.as_str()]);
    // The private key came back too: the secret holds the same key.
    let (_, secret_after) = get(&app, "/secrets/bk").await;
    let key_of = |s: &Value| {
        let der = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            s["value"].as_str().unwrap(),
        )
        .unwrap();
        let p = openssl::pkcs12::Pkcs12::from_der(&der)
            .unwrap()
            .parse2("")
            .unwrap();
        p.pkey.unwrap().private_key_to_der().unwrap()
    };
    assert_eq!(key_of(&secret_after), key_of(&secret_before));
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn restore_over_an_existing_or_deleted_name_is_409_and_writes_nothing() {
    let app = TestApp::spawn().await;
    create_self(&app, "dup").await;
    let blob = backup(&app, "dup").await;
    let before = app.event_count().await;
    let (status, err) = restore(&app, json!(blob)).await;
    assert_eq!(status, 409);
    assert_eq!(err["error"]["code"], "Conflict");
    assert_eq!(app.event_count().await, before);
    send(&app, Method::DELETE, "/certificates/dup", None).await;
    let before = app.event_count().await;
    let (status, err) = restore(&app, json!(blob)).await;
    assert_eq!(status, 409);
    assert_eq!(err["error"]["code"], "Conflict");
    assert_eq!(app.event_count().await, before);
}

#[tokio::test]
async fn a_tampered_or_foreign_blob_is_400_and_writes_nothing() {
    let app = TestApp::spawn().await;
    create_self(&app, "tamper").await;
    let blob = backup(&app, "tamper").await;
    send(&app, Method::DELETE, "/certificates/tamper", None).await;
    app.send(Method::DELETE, "/deletedcertificates/tamper", None)
        .await;
    let mut bytes = blob.into_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let other = TestApp::spawn().await;
    create_self(&other, "tamper").await;
    let foreign = backup(&other, "tamper").await;
    let before = app.event_count().await;
    for blob in [
        json!(tampered),
        json!(foreign),
        json!("not base64 at all!"),
        json!(""),
        json!(42),
    ] {
        let (status, err) = restore(&app, blob.clone()).await;
        assert_eq!(status, 400, "{blob}");
        assert_eq!(err["error"]["code"], "BadParameter");
    }
    let (status, _) = send(&app, Method::POST, "/certificates/restore", Some(json!({}))).await;
    assert_eq!(status, 400);
    assert_eq!(app.event_count().await, before);
    let (status, err) = send(&app, Method::POST, "/certificates/none/backup", None).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "CertificateNotFound");
}

#[tokio::test]
async fn contacts_set_get_delete_and_refusals() {
    let app = TestApp::spawn().await;
    let (status, err) = get(&app, "/certificates/contacts").await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "ContactsNotFound");
    let contacts = json!([{"email": "ops@example.com", "name": "Ops", "phone": "555"}, {"email": "sec@example.com"}]);
    let expected =
        json!({"id": format!("{}/certificates/contacts", app.address), "contacts": contacts});
    let (status, body) = send(
        &app,
        Method::PUT,
        "/certificates/contacts",
        Some(json!({"contacts": contacts})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, expected);
    assert_eq!(
        get(&app, "/certificates/contacts").await,
        (200, expected.clone())
    );
    let before = app.event_count().await;
    for body in [
        json!({"contacts": [{"name": "no mail"}]}),
        json!({}),
        json!({"contacts": "x"}),
    ] {
        let (status, err) = send(&app, Method::PUT, "/certificates/contacts", Some(body)).await;
        assert_eq!(status, 400);
        assert_eq!(err["error"]["code"], "BadParameter");
    }
    assert_eq!(app.event_count().await, before);
    let (status, body) = send(&app, Method::DELETE, "/certificates/contacts", None).await;
    assert_eq!((status, body), (200, expected));
    let (status, _) = get(&app, "/certificates/contacts").await;
    assert_eq!(status, 404);
    let (status, err) = send(&app, Method::DELETE, "/certificates/contacts", None).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "ContactsNotFound");
    app.assert_views_rebuild_identically().await;
}
