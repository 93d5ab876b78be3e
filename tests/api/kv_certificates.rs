//! Lists, versions, attribute/tag updates and policy get/update.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{redact, TestApp};

/// Creates a self-signed certificate (complete at once) and returns its version.
pub async fn create_self(app: &TestApp, name: &str) -> String {
    let r = app
        .create(
            name,
            json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": format!("CN={name}.example.com")}, "issuer": {"name": "Self"}}, "tags": {"team": "a"}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let r = app.get_certificate(name).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    last_segment(&b["id"])
}

/// The last path segment of an id or URL (a version, or a name).
pub fn last_segment(id: &Value) -> String {
    id.as_str().unwrap().rsplit('/').next().unwrap().to_owned()
}

pub async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app.send(Method::GET, path, None).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

pub async fn send(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let r = app.send(method, path, body).await;
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Follows a `nextLink` (replacing nothing: the link carries api-version already).
async fn follow(app: &TestApp, link: &str) -> (u16, Value) {
    let r = app
        .client
        .get(link)
        .bearer_auth(crate::helpers::TOKEN)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

#[tokio::test]
async fn list_certificates_pages_with_maxresults_and_next_link() {
    let app = TestApp::spawn().await;
    for n in ["c-a", "c-b", "c-c"] {
        create_self(&app, n).await;
    }
    let (status, page) = get(&app, "/certificates?maxresults=2").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            format!("{}/certificates/c-a", app.address),
            format!("{}/certificates/c-b", app.address)
        ]
    );
    let item = redact(page["value"][0].clone(), &app.address);
    assert_eq!(
        item,
        json!({
            "id": "https://vault/certificates/c-a",
            "x5t": "<x5t>",
            "attributes": {"enabled": true, "nbf": "<time>", "exp": "<time>", "created": "<time>", "updated": "<time>", "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90},
            "tags": {"team": "a"}
        })
    );
    let next = page["nextLink"].as_str().unwrap().to_owned();
    assert!(next.starts_with(&format!("{}/certificates?", app.address)));
    let (status, page2) = follow(&app, &next).await;
    assert_eq!(status, 200);
    assert_eq!(page2["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        page2["value"][0]["id"],
        format!("{}/certificates/c-c", app.address)
    );
    assert_eq!(page2["nextLink"], Value::Null);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn list_certificates_shows_pending_only_certificates_with_include_pending() {
    let app = TestApp::spawn().await;
    create_self(&app, "done").await;
    app.create_manual("waiting").await;
    let (_, page) = get(&app, "/certificates").await;
    assert_eq!(page["value"].as_array().unwrap().len(), 1);
    let (_, page) = get(&app, "/certificates?includePending=true").await;
    let ids: Vec<String> = page["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| last_segment(&i["id"]))
        .collect();
    assert_eq!(ids, ["done", "waiting"]);
}

#[tokio::test]
async fn list_refuses_bad_paging_parameters_with_400() {
    let app = TestApp::spawn().await;
    for path in [
        "/certificates?maxresults=0",
        "/certificates?maxresults=26",
        "/certificates?maxresults=x",
        "/certificates?includePending=maybe",
        "/certificates?$skiptoken=bad_token!",
        "/certificates/none/versions?$skiptoken=-1",
    ] {
        let (status, body) = get(&app, path).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(body["error"]["code"], "BadParameter", "{path}");
    }
}

#[tokio::test]
async fn list_versions_returns_every_version_oldest_first() {
    let app = TestApp::spawn().await;
    let v1 = create_self(&app, "multi").await;
    let v2 = create_self(&app, "multi").await;
    let (status, page) = get(&app, "/certificates/multi/versions?maxresults=1").await;
    assert_eq!(status, 200);
    assert_eq!(
        page["value"][0]["id"],
        format!("{}/certificates/multi/{v1}", app.address)
    );
    let (_, page2) = follow(&app, page["nextLink"].as_str().unwrap()).await;
    assert_eq!(
        page2["value"][0]["id"],
        format!("{}/certificates/multi/{v2}", app.address)
    );
    assert_eq!(page2["nextLink"], Value::Null);
    let (status, body) = get(&app, "/certificates/nothing/versions").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "CertificateNotFound");
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn update_certificate_changes_enabled_and_tags_of_one_version() {
    let app = TestApp::spawn().await;
    let v1 = create_self(&app, "upd").await;
    let v2 = create_self(&app, "upd").await;
    let (status, body) = send(
        &app,
        Method::PATCH,
        "/certificates/upd/",
        Some(json!({"attributes": {"enabled": false}, "tags": {"env": "test"}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], format!("{}/certificates/upd/{v2}", app.address));
    assert_eq!(body["attributes"]["enabled"], false);
    assert_eq!(body["tags"], json!({"env": "test"}));
    // The older version is untouched; a PATCH of it by version changes only it.
    let (_, old) = get(&app, &format!("/certificates/upd/{v1}")).await;
    assert_eq!(old["attributes"]["enabled"], true);
    assert_eq!(old["tags"], json!({"team": "a"}));
    let (status, body) = send(
        &app,
        Method::PATCH,
        &format!("/certificates/upd/{v1}"),
        Some(json!({"tags": {}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["tags"], json!({}));
    assert_eq!(body["attributes"]["enabled"], true);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn update_certificate_refuses_unknown_names_and_bad_bodies_writing_nothing() {
    let app = TestApp::spawn().await;
    create_self(&app, "keep").await;
    let before = app.event_count().await;
    for (path, body, status, code) in [
        (
            "/certificates/nope/",
            json!({"tags": {}}),
            404,
            "CertificateNotFound",
        ),
        (
            "/certificates/keep/0123456789abcdef0123456789abcdef",
            json!({"tags": {}}),
            404,
            "CertificateNotFound",
        ),
        (
            "/certificates/keep/",
            json!({"tags": "x"}),
            400,
            "BadParameter",
        ),
        (
            "/certificates/keep/",
            json!({"attributes": {"enabled": "yes"}}),
            400,
            "BadParameter",
        ),
        ("/certificates/bad_name/", json!({}), 400, "BadParameter"),
    ] {
        let (s, b) = send(&app, Method::PATCH, path, Some(body)).await;
        assert_eq!(s, status, "{path}");
        assert_eq!(b["error"]["code"], code, "{path}");
    }
    assert_eq!(app.event_count().await, before);
}

#[tokio::test]
async fn policy_get_and_patch_merges_the_fields_sent() {
    let app = TestApp::spawn().await;
    create_self(&app, "pol").await;
    let (status, policy) = get(&app, "/certificates/pol/policy").await;
    assert_eq!(status, 200);
    assert_eq!(
        policy["id"],
        format!("{}/certificates/pol/policy", app.address)
    );
    assert_eq!(policy["key_props"]["kty"], "EC");
    assert_eq!(policy["x509_props"]["subject"], "CN=pol.example.com");
    let (status, updated) = send(
        &app,
        Method::PATCH,
        "/certificates/pol/policy",
        Some(json!({"x509_props": {"validity_months": 6}, "secret_props": {"contentType": "application/x-pem-file"}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(updated["x509_props"]["validity_months"], 6);
    assert_eq!(updated["x509_props"]["subject"], "CN=pol.example.com");
    assert_eq!(
        updated["secret_props"]["contentType"],
        "application/x-pem-file"
    );
    assert_eq!(updated["key_props"]["kty"], "EC");
    assert_eq!(updated["issuer"]["name"], "Self");
    let (_, again) = get(&app, "/certificates/pol/policy").await;
    assert_eq!(again["x509_props"], updated["x509_props"]);
    // The bundle carries the new policy too.
    let (_, bundle) = get(&app, "/certificates/pol/").await;
    assert_eq!(bundle["policy"]["x509_props"]["validity_months"], 6);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn policy_refuses_unknown_names_and_bad_values_writing_nothing() {
    let app = TestApp::spawn().await;
    create_self(&app, "pol2").await;
    let before = app.event_count().await;
    let (s, b) = get(&app, "/certificates/missing/policy").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("CertificateNotFound"))
    );
    let (s, b) = send(
        &app,
        Method::PATCH,
        "/certificates/missing/policy",
        Some(json!({"x509_props": {"validity_months": 6}})),
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (404, Some("CertificateNotFound"))
    );
    for body in [
        json!({"x509_props": {"validity_months": 0}}),
        json!({"key_props": {"kty": "oct"}}),
        json!([1, 2]),
    ] {
        let (s, b) = send(&app, Method::PATCH, "/certificates/pol2/policy", Some(body)).await;
        assert_eq!(
            (s, b["error"]["code"].as_str()),
            (400, Some("BadParameter"))
        );
    }
    let r = app
        .client
        .patch(app.url("/certificates/pol2/policy"))
        .bearer_auth(crate::helpers::TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(app.event_count().await, before);
}

#[tokio::test]
async fn update_certificate_with_a_policy_applies_both_or_neither() {
    let app = TestApp::spawn().await;
    create_self(&app, "both").await;
    let before = app.event_count().await;
    let (status, err) = send(
        &app,
        Method::PATCH,
        "/certificates/both/0123456789abcdef0123456789abcdef",
        Some(json!({"policy": {"x509_props": {"validity_months": 3}}, "tags": {"x": "y"}})),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "CertificateNotFound");
    assert_eq!(app.event_count().await, before);
    let (_, policy) = get(&app, "/certificates/both/policy").await;
    assert_eq!(policy["x509_props"]["validity_months"], 12);

    let (status, body) = send(
        &app,
        Method::PATCH,
        "/certificates/both/",
        Some(json!({"policy": {"x509_props": {"validity_months": 3}}, "tags": {"x": "y"}})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["policy"]["x509_props"]["validity_months"], 3);
    assert_eq!(body["tags"], json!({"x": "y"}));
    app.assert_views_rebuild_identically().await;
}
