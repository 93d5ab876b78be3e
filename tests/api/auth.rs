//! Authentication: the challenge the SDKs follow, and the unauthenticated health check.

use serde_json::{json, Value};

use crate::helpers::TestApp;

#[tokio::test]
async fn healthz_answers_without_a_token() {
    let app = TestApp::spawn().await;
    let r = app
        .client
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-ms-request-id"));
}

#[tokio::test]
async fn missing_or_wrong_tokens_get_401_with_the_bearer_challenge() {
    let app = TestApp::spawn().await;
    let url = app.url("/certificates/c1/pending");
    for auth in [None, Some("Bearer wrong"), Some("Basic dGVzdA==")] {
        let mut req = app
            .client
            .get(&url)
            .header("x-ms-client-request-id", "abc-123");
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{auth:?}");
        // The challenge names the server's tenant, the one its tokens carry as `tid`.
        let tid = std::fs::read_to_string(app.data_dir.join("identity/tenant-id")).unwrap();
        assert_eq!(
            r.headers()["www-authenticate"],
            format!("Bearer authorization=\"https://login.microsoftonline.com/{tid}\", resource=\"https://vault.azure.net\"").as_str()
        );
        assert_eq!(r.headers()["x-ms-client-request-id"], "abc-123");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "Unauthorized");
    }
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"error": {"code": "Unauthorized", "message": "Request is missing a Bearer or PoP token."}})
    );
}

#[tokio::test]
async fn the_challenge_probe_with_a_held_back_body_writes_nothing() {
    let app = TestApp::spawn().await;
    // The SDKs' first request: same method and URL, no Authorization, Content-Length 0.
    let r = app
        .client
        .post(app.url("/certificates/c1/create"))
        .header("Content-Type", "application/json")
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn a_fixed_token_from_the_environment_layer_is_accepted() {
    let app = TestApp::spawn_with(|s| {
        s.auth.token = certbroker::config::Secret::new("from-env".into());
    })
    .await;
    let r = app
        .client
        .get(app.url("/certificates/issuers"))
        .bearer_auth("from-env")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
