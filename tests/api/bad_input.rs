//! Bad input: the right 4xx in Key Vault's envelope, nothing written, never a 5xx.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{TestApp, TOKEN};

async fn expect_error(r: reqwest::Response, status: u16, code: &str, needle: &str) {
    assert_eq!(r.status(), status);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "'{message}' should contain '{needle}'"
    );
    assert_eq!(body.as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn invalid_names_are_400() {
    let app = TestApp::spawn().await;
    let long = "a".repeat(128);
    for name in ["bad_name", "with.dot", long.as_str(), "caf%C3%A9"] {
        let r = app
            .create(name, json!({"policy": {"x509_props": {"subject": "CN=x"}}}))
            .await;
        expect_error(r, 400, "BadParameter", "1-127 characters").await;
        let r = app.get_pending(name, None).await;
        assert_eq!(r.status(), 400);
    }
    let r = app.put_issuer("bad_issuer", "local-ca").await;
    expect_error(r, 400, "BadParameter", "issuer name").await;
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_400() {
    let app = TestApp::spawn().await;
    let url = app.url("/certificates/c1/create");
    for (body, needle) in [
        ("{not json", "not valid JSON"),
        ("", "empty"),
        (
            r#"{"policy": {"x509_props": {"subject": 42}}}"#,
            "expected a string",
        ),
        (
            r#"{"policy": {"key_props": {"exportable": "yes"}}}"#,
            "expected a boolean",
        ),
        (r#"{"policy": "self"}"#, "does not match"),
        (r#"[1, 2]"#, "does not match"),
    ] {
        let r = app
            .client
            .post(&url)
            .bearer_auth(TOKEN)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        expect_error(r, 400, "BadParameter", needle).await;
    }
    let r = app
        .send(
            Method::PATCH,
            "/certificates/c1/pending",
            Some(json!({"cancellation_requested": "yes"})),
        )
        .await;
    expect_error(r, 400, "BadParameter", "expected a boolean").await;
    let r = app
        .send(
            Method::POST,
            "/certificates/c1/pending/merge",
            Some(json!({"x5c": "abc"})),
        )
        .await;
    expect_error(r, 400, "BadParameter", "expected a sequence").await;
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn unknown_key_types_curves_and_sizes_are_400() {
    let app = TestApp::spawn().await;
    for (key_props, needle) in [
        (json!({"kty": "DSA"}), "DSA"),
        (json!({"kty": "oct"}), "oct"),
        (json!({"kty": "RSA-HSM"}), "RSA-HSM"),
        (json!({"kty": "EC", "crv": "P-192"}), "P-192"),
        (json!({"kty": "RSA", "key_size": 1024}), "1024"),
        (json!({"kty": "EC", "crv": "P-256", "key_size": 384}), "384"),
    ] {
        let r = app
            .create(
                "c1",
                json!({"policy": {"key_props": key_props, "x509_props": {"subject": "CN=x"}}}),
            )
            .await;
        expect_error(r, 400, "BadParameter", needle).await;
    }
    let r = app.create("c1", json!({})).await;
    expect_error(r, 400, "BadParameter", "policy is required").await;
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn missing_or_unknown_api_version_is_400() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(format!("{}/certificates/c1/pending", app.address))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "BadParameter", "api-version").await;
    let r = app
        .client
        .get(format!(
            "{}/certificates/c1/pending?api-version=9.9",
            app.address
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    expect_error(
        r,
        400,
        "BadParameter",
        "The specified version (9.9) is not recognized",
    )
    .await;
    // Every version the SDKs send is accepted (a 404 here means the version passed).
    for v in [
        "2026-04-01",
        "2025-07-01",
        "7.6",
        "7.5",
        "7.4",
        "7.3",
        "7.2",
        "7.1",
        "7.0",
        "2016-10-01",
    ] {
        let r = app
            .client
            .get(format!(
                "{}/certificates/c1/pending?api-version={v}",
                app.address
            ))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{v}");
    }
    // The key may be percent-encoded (the JS SDK sends api%2Dversion).
    let r = app
        .client
        .get(format!(
            "{}/certificates/c1/pending?api%2Dversion=7.5",
            app.address
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = TestApp::spawn().await;
    let big = "A".repeat(2 * 1024 * 1024);
    let r = app
        .send(
            Method::POST,
            "/certificates/c1/pending/merge",
            Some(json!({"x5c": [big]})),
        )
        .await;
    expect_error(r, 413, "RequestEntityTooLarge", "limit").await;
}

#[tokio::test]
async fn garbage_in_x5c_is_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let op = app.create_manual("c1").await;
    let other = crate::helpers::OutsideCa::new();
    let foreign = app.create_manual("c2").await;
    let before = app.event_count().await;
    let foreign_chain = other.sign(foreign["csr"].as_str().unwrap());
    let good = other.sign(op["csr"].as_str().unwrap());
    let mut broken = good.clone();
    broken.swap(1, 2);
    for (x5c, needle) in [
        (json!([]), "x5c"),
        (json!(["!!!not base64!!!"]), "x5c[0]"),
        (
            json!([base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                b"hello"
            )]),
            "x5c[0]",
        ),
        (json!(foreign_chain), "does not match"),
        (json!(broken), "x5c[0]"),
    ] {
        let r = app
            .send(
                Method::POST,
                "/certificates/c1/pending/merge",
                Some(json!({"x5c": x5c})),
            )
            .await;
        expect_error(r, 400, "BadParameter", needle).await;
    }
    let r = app
        .send(
            Method::POST,
            "/certificates/c1/pending/merge",
            Some(json!({})),
        )
        .await;
    expect_error(r, 400, "BadParameter", "x5c").await;
    assert_eq!(app.event_count().await, before);
    // The pending request is untouched and still merges.
    assert_eq!(app.merge("c1", good).await.status(), 201);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn unknown_paths_and_methods_get_the_envelope() {
    let app = TestApp::spawn().await;
    let r = app.send(Method::GET, "/nothing/here", None).await;
    expect_error(r, 404, "NotFound", "/nothing/here").await;
    let r = app
        .send(Method::PUT, "/certificates/c1/pending", Some(json!({})))
        .await;
    expect_error(r, 405, "MethodNotAllowed", "PUT").await;
    let r = app.get_certificate("nothing").await;
    expect_error(r, 404, "CertificateNotFound", "nothing").await;
}
