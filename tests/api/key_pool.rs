//! The key pool (`keys.pool`) seen from the API: creates drawing pooled keys get keys of
//! their own, stored sealed like any other, which merges prove are the requests' keys.

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::{OutsideCa, TestApp};

#[tokio::test]
async fn creates_with_a_key_pool_get_distinct_keys_that_merge() {
    let app = TestApp::spawn_with(|s| {
        s.keys.pool_threads = 1;
        s.keys.pool = [("ec-p256".to_string(), 2), ("rsa-2048".to_string(), 1)].into();
    })
    .await;
    let ca = OutsideCa::new();
    let mut csrs = HashSet::new();
    for i in 0..6 {
        let name = format!("pooled{i}");
        let key_props = if i % 3 == 0 {
            json!({"kty": "RSA", "key_size": 2048})
        } else {
            json!({"kty": "EC", "crv": "P-256"})
        };
        let r = app
            .create(&name, json!({"policy": {"key_props": key_props, "x509_props": {"subject": format!("CN={name}.example.com")}, "issuer": {"name": "Unknown"}}}))
            .await;
        assert_eq!(r.status(), 202);
        let op: serde_json::Value = r.json().await.unwrap();
        let csr = op["csr"].as_str().unwrap().to_owned();
        assert!(csrs.insert(csr.clone()), "two requests got the same key");
        let merged = app.merge(&name, ca.sign(&csr)).await;
        assert_eq!(merged.status(), 201, "{}", merged.text().await.unwrap());
    }
    let (keys, distinct): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT public_key) FROM keys")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((keys, distinct), (6, 6));
    app.assert_views_rebuild_identically().await;
}
