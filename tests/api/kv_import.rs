//! Import (PKCS#12 with and without password, PEM) and the certificate-backed secret and key.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use certbroker::crypto;
use certbroker::domain::policy::{Curve, KeySpec, X509Properties};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::kv_certificates::{create_self, get, send};

/// A fresh EC key and a self-signed certificate for `cn` (DER).
pub fn key_and_cert(cn: &str) -> (crypto::PKey<crypto::Private>, Vec<u8>) {
    let key = crypto::keys::generate_key(&KeySpec::Ec { curve: Curve::P256 }).unwrap();
    let props = X509Properties {
        subject: format!("CN={cn}"),
        sans: Default::default(),
        ekus: vec![],
        key_usage: vec![],
        validity_months: 12,
    };
    let der = crypto::x509::self_signed(&key, &props, chrono::Utc::now().timestamp()).unwrap();
    (key, der)
}

pub fn pkcs12(key: &crypto::PKey<crypto::Private>, cert: &[u8], password: &str) -> Vec<u8> {
    let x509 = crypto::X509::from_der(cert).unwrap();
    let mut b = openssl::pkcs12::Pkcs12::builder();
    b.key_algorithm(openssl::nid::Nid::AES_256_CBC)
        .cert_algorithm(openssl::nid::Nid::AES_256_CBC)
        .mac_md(openssl::hash::MessageDigest::sha256())
        .pkey(key)
        .cert(&x509);
    b.build2(password).unwrap().to_der().unwrap()
}

fn pem(key: &crypto::PKey<crypto::Private>, cert: &[u8]) -> String {
    let mut out =
        String::from_utf8(crypto::X509::from_der(cert).unwrap().to_pem().unwrap()).unwrap();
    out.push_str(&String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap());
    out
}

fn x5t(der: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crypto::seal::sha1(der))
}

pub async fn import(app: &TestApp, name: &str, body: Value) -> (u16, Value) {
    send(
        app,
        Method::POST,
        &format!("/certificates/{name}/import"),
        Some(body),
    )
    .await
}

#[tokio::test]
async fn import_pkcs12_without_password_returns_the_bundle_and_a_derived_policy() {
    let app = TestApp::spawn().await;
    let (key, cert) = key_and_cert("imported.example.com");
    let (status, body) = import(
        &app,
        "imp",
        json!({"value": STANDARD.encode(pkcs12(&key, &cert, "")), "tags": {"src": "p12"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["x5t"], x5t(&cert));
    assert_eq!(body["cer"], STANDARD.encode(&cert));
    assert_eq!(body["tags"], json!({"src": "p12"}));
    assert_eq!(body["contentType"], "application/x-pkcs12");
    assert_eq!(body["policy"]["issuer"]["name"], "Unknown");
    assert_eq!(body["policy"]["key_props"]["kty"], "EC");
    assert_eq!(body["policy"]["key_props"]["crv"], "P-256");
    assert_eq!(
        body["policy"]["x509_props"]["subject"],
        "CN=imported.example.com"
    );
    let version = body["id"].as_str().unwrap().rsplit('/').next().unwrap();
    assert_eq!(
        body["sid"],
        format!("{}/secrets/imp/{version}", app.address)
    );

    // The secret gives the key back (exportable by default), as PKCS#12 with no password.
    let (status, secret) = get(&app, "/secrets/imp/").await;
    assert_eq!(status, 200);
    assert_eq!(secret["id"], body["sid"]);
    assert_eq!(secret["kid"], body["kid"]);
    assert_eq!(secret["contentType"], "application/x-pkcs12");
    assert_eq!(secret["managed"], true);
    let p12 = STANDARD.decode(secret["value"].as_str().unwrap()).unwrap();
    let parsed = openssl::pkcs12::Pkcs12::from_der(&p12)
        .unwrap()
        .parse2("")
        .unwrap();
    assert!(parsed.pkey.unwrap().public_eq(&key));
    assert_eq!(parsed.cert.unwrap().to_der().unwrap(), cert);
    // The policy read off the certificate can be updated like any other.
    let (status, policy) = send(
        &app,
        Method::PATCH,
        "/certificates/imp/policy",
        Some(json!({"x509_props": {"validity_months": 6}})),
    )
    .await;
    assert_eq!(status, 200, "{policy}");
    assert_eq!(policy["x509_props"]["subject"], "CN=imported.example.com");
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn import_pkcs12_with_password_and_refuses_a_wrong_one() {
    let app = TestApp::spawn().await;
    let (key, cert) = key_and_cert("pw.example.com");
    let value = STANDARD.encode(pkcs12(&key, &cert, "s3cret"));
    let before = app.event_count().await;
    for body in [
        json!({"value": value, "pwd": "wrong"}),
        json!({"value": value}),
    ] {
        let (status, err) = import(&app, "pw", body).await;
        assert_eq!(status, 400);
        assert_eq!(err["error"]["code"], "BadParameter");
    }
    assert_eq!(app.event_count().await, before);
    let (status, body) = import(&app, "pw", json!({"value": value, "pwd": "s3cret"})).await;
    assert_eq!(status, 200);
    assert_eq!(body["x5t"], x5t(&cert));
}

#[tokio::test]
async fn import_pem_raw_or_base64_keeps_pem_as_the_secret_format() {
    let app = TestApp::spawn().await;
    let (key, cert) = key_and_cert("pem.example.com");
    let text = pem(&key, &cert);
    let (status, body) = import(&app, "pem-raw", json!({"value": text})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["contentType"], "application/x-pem-file");
    let (status, body) = import(&app, "pem-b64", json!({"value": STANDARD.encode(&text)})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["policy"]["secret_props"]["contentType"],
        "application/x-pem-file"
    );
    let (_, secret) = get(&app, "/secrets/pem-b64").await;
    assert_eq!(secret["contentType"], "application/x-pem-file");
    let value = secret["value"].as_str().unwrap();
    assert!(value.contains("BEGIN PRIVATE KEY"));
    assert!(value.contains("BEGIN CERTIFICATE"));
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn import_refuses_a_key_that_does_not_match_and_other_bad_input() {
    let app = TestApp::spawn().await;
    let (key_a, _) = key_and_cert("a.example.com");
    let (_, cert_b) = key_and_cert("b.example.com");
    let (key_c, cert_c) = key_and_cert("c.example.com");
    let mut damaged = pkcs12(&key_c, &cert_c, "");
    let mid = damaged.len() / 2;
    damaged[mid] ^= 0x55;
    let before = app.event_count().await;
    for body in [
        json!({"value": pem(&key_a, &cert_b)}),
        json!({"value": STANDARD.encode(damaged)}),
        json!({"value": "bm90IGEgY2VydGlmaWNhdGU="}),
        json!({"value": ""}),
        json!({"pwd": "x"}),
        json!({"value": 5}),
    ] {
        let (status, err) = import(&app, "bad", body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(err["error"]["code"], "BadParameter");
    }
    assert_eq!(app.event_count().await, before);
    let (status, _) = get(&app, "/certificates/bad/").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn import_while_a_request_is_in_progress_is_409_and_adds_a_version_otherwise() {
    let app = TestApp::spawn().await;
    app.create_manual("busy").await;
    let (key, cert) = key_and_cert("busy.example.com");
    let value = STANDARD.encode(pkcs12(&key, &cert, ""));
    let (status, err) = import(&app, "busy", json!({"value": value})).await;
    assert_eq!(status, 409);
    assert_eq!(err["error"]["code"], "Forbidden");

    create_self(&app, "twice").await;
    let (status, _) = import(&app, "twice", json!({"value": value})).await;
    assert_eq!(status, 200);
    let (_, versions) = get(&app, "/certificates/twice/versions").await;
    assert_eq!(versions["value"].as_array().unwrap().len(), 2);
    let (_, current) = get(&app, "/certificates/twice/").await;
    assert_eq!(current["x5t"], x5t(&cert));
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn a_non_exportable_key_stays_out_of_the_secret_and_the_key_is_a_public_jwk() {
    let app = TestApp::spawn().await;
    let r = app
        .create(
            "locked",
            json!({"policy": {"key_props": {"kty": "RSA", "exportable": false}, "secret_props": {"contentType": "application/x-pem-file"}, "x509_props": {"subject": "CN=locked"}, "issuer": {"name": "Self"}}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let (_, bundle) = get(&app, "/certificates/locked/").await;
    let (status, secret) = get(&app, "/secrets/locked").await;
    assert_eq!(status, 200);
    let value = secret["value"].as_str().unwrap();
    assert!(value.contains("BEGIN CERTIFICATE"));
    assert!(!value.contains("PRIVATE KEY"));

    let (status, key) = get(&app, "/keys/locked").await;
    assert_eq!(status, 200);
    assert_eq!(key["key"]["kid"], bundle["kid"]);
    assert_eq!(key["key"]["kty"], "RSA");
    assert!(key["key"]["n"].is_string());
    assert!(key["key"]["e"].is_string());
    assert!(key["key"].get("d").is_none());
    assert_eq!(key["managed"], true);
    let version = bundle["id"].as_str().unwrap().rsplit('/').next().unwrap();
    let (status, by_version) = get(&app, &format!("/keys/locked/{version}")).await;
    assert_eq!(status, 200);
    assert_eq!(by_version["key"], key["key"]);
}

#[tokio::test]
async fn secret_and_key_lists_follow_the_certificates() {
    let app = TestApp::spawn().await;
    let v1 = create_self(&app, "listed").await;
    create_self(&app, "listed").await;
    app.create_manual("pending-only").await;
    let (_, secrets) = get(&app, "/secrets").await;
    assert_eq!(
        secrets["value"],
        json!([{
            "id": format!("{}/secrets/listed", app.address),
            "contentType": "application/x-pkcs12",
            "managed": true,
            "attributes": secrets["value"][0]["attributes"].clone(),
            "tags": {"team": "a"},
        }])
    );
    let (_, keys) = get(&app, "/keys").await;
    assert_eq!(
        keys["value"][0]["kid"],
        format!("{}/keys/listed", app.address)
    );
    let (_, sv) = get(&app, "/secrets/listed/versions").await;
    assert_eq!(sv["value"].as_array().unwrap().len(), 2);
    assert_eq!(
        sv["value"][0]["id"],
        format!("{}/secrets/listed/{v1}", app.address)
    );
    let (_, kv) = get(&app, "/keys/listed/versions").await;
    assert_eq!(kv["value"].as_array().unwrap().len(), 2);
    for (path, code) in [
        ("/secrets/none", "SecretNotFound"),
        (
            "/secrets/listed/0123456789abcdef0123456789abcdef",
            "SecretNotFound",
        ),
        ("/secrets/none/versions", "SecretNotFound"),
        ("/secrets/pending-only", "SecretNotFound"),
        ("/keys/none", "KeyNotFound"),
        ("/keys/none/versions", "KeyNotFound"),
    ] {
        let (status, err) = get(&app, path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(err["error"]["code"], code, "{path}");
    }
    let (status, _) = send(
        &app,
        Method::PUT,
        "/secrets/listed",
        Some(json!({"value": "x"})),
    )
    .await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn the_secret_of_a_disabled_version_is_403() {
    let app = TestApp::spawn().await;
    create_self(&app, "off").await;
    let (status, _) = send(
        &app,
        Method::PATCH,
        "/certificates/off/",
        Some(json!({"attributes": {"enabled": false}})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, err) = get(&app, "/secrets/off/").await;
    assert_eq!(status, 403);
    assert_eq!(err["error"]["code"], "Forbidden");
    let (status, _) = get(&app, "/keys/off").await;
    assert_eq!(status, 200);
}
