//! Issuer objects: set, get, update, list, delete; unknown providers refused.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{redact, TestApp};

#[tokio::test]
async fn issuer_lifecycle_hides_the_password() {
    let app = TestApp::spawn().await;
    let r = app
        .send(Method::PUT, "/certificates/issuers/issuer01", Some(json!({
            "provider": "local-ca",
            "credentials": {"account_id": "keyvaultuser", "pwd": "password"},
            "org_details": {"admin_details": [{"first_name": "John", "last_name": "Doe", "email": "admin@example.com", "phone": "4255555555"}]}
        })))
        .await;
    assert_eq!(r.status(), 200);
    let expected = json!({
        "id": "https://vault/certificates/issuers/issuer01",
        "provider": "local-ca",
        "credentials": {"account_id": "keyvaultuser"},
        "org_details": {"admin_details": [{"first_name": "John", "last_name": "Doe", "email": "admin@example.com", "phone": "4255555555"}]},
        "attributes": {"enabled": true, "created": "<time>", "updated": "<time>"}
    });
    assert_eq!(redact(r.json().await.unwrap(), &app.address), expected);
    let r = app
        .send(Method::GET, "/certificates/issuers/ISSUER01", None)
        .await;
    assert_eq!(redact(r.json().await.unwrap(), &app.address), expected);
    let r = app
        .send(
            Method::PATCH,
            "/certificates/issuers/issuer01",
            Some(json!({"attributes": {"enabled": false}})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["attributes"]["enabled"], false);
    assert_eq!(b["credentials"]["account_id"], "keyvaultuser");
    // A disabled issuer cannot take requests.
    let r = app
        .create(
            "c1",
            json!({"policy": {"x509_props": {"subject": "CN=x"}, "issuer": {"name": "issuer01"}}}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = app.send(Method::GET, "/certificates/issuers", None).await;
    assert_eq!(
        redact(r.json().await.unwrap(), &app.address),
        json!({"value": [{"id": "https://vault/certificates/issuers/issuer01", "provider": "local-ca"}], "nextLink": null})
    );
    let r = app
        .send(Method::DELETE, "/certificates/issuers/issuer01", None)
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .send(Method::GET, "/certificates/issuers/issuer01", None)
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": {"code": "CertificateIssuerNotFound", "message": "Issuer not found"}})
    );
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn an_issuer_naming_an_unknown_provider_is_400() {
    let app = TestApp::spawn().await;
    let r = app.put_issuer("x", "NoSuchCA").await;
    assert_eq!(r.status(), 400);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["error"]["code"], "BadParameter");
    assert!(b["error"]["message"]
        .as_str()
        .unwrap()
        .contains("local-ca, local-ca-approval"));
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn create_naming_a_missing_issuer_is_400() {
    let app = TestApp::spawn().await;
    let r = app
        .create(
            "c1",
            json!({"policy": {"x509_props": {"subject": "CN=x"}, "issuer": {"name": "ghost"}}}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(app.event_count().await, 0);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM keys")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(n, 0, "a refused create must not keep its key");
}

#[tokio::test]
async fn issuers_page_with_next_link() {
    let app = TestApp::spawn().await;
    for i in 0..5 {
        assert_eq!(
            app.put_issuer(&format!("iss{i}"), "local-ca")
                .await
                .status(),
            200
        );
    }
    let mut url = app.url("/certificates/issuers?maxresults=2");
    let mut seen = Vec::new();
    loop {
        let b: Value = app
            .client
            .get(&url)
            .bearer_auth(crate::helpers::TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for v in b["value"].as_array().unwrap() {
            seen.push(
                v["id"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_owned(),
            );
        }
        match b["nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen, vec!["iss0", "iss1", "iss2", "iss3", "iss4"]);
}
