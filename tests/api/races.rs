//! Races on one pending request: exactly one command wins; events stay consistent.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{OutsideCa, TestApp};

#[tokio::test]
async fn two_concurrent_merges_one_wins_the_other_gets_a_4xx() {
    let app = TestApp::spawn().await;
    let ca = OutsideCa::new();
    for round in 0..5 {
        let name = format!("race{round}");
        let op = app.create_manual(&name).await;
        let x5c = ca.sign(op["csr"].as_str().unwrap());
        let (a, b) = tokio::join!(app.merge(&name, x5c.clone()), app.merge(&name, x5c));
        let mut statuses = vec![a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses[0], 201, "{statuses:?}");
        assert!((400..500).contains(&statuses[1]), "{statuses:?}");
        let merged: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM events WHERE event_type = 'CertificateMerged' AND stream_id = $1",
        )
        .bind(format!("certificate/default/{name}"))
        .fetch_one(&app.pool)
        .await
        .unwrap();
        assert_eq!(merged, 1);
    }
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn merge_racing_delete_leaves_one_consistent_outcome() {
    let app = TestApp::spawn().await;
    let ca = OutsideCa::new();
    for round in 0..5 {
        let name = format!("md{round}");
        let op = app.create_manual(&name).await;
        let x5c = ca.sign(op["csr"].as_str().unwrap());
        let (m, d) = tokio::join!(app.merge(&name, x5c), app.delete_pending(&name, None));
        let (m, d) = (m.status().as_u16(), d.status().as_u16());
        assert!(m == 201 || (400..500).contains(&m), "merge {m}");
        assert_eq!(
            d, 200,
            "delete always finds the pending object (completed or not)"
        );
        if m == 201 {
            assert_eq!(app.get_certificate(&name).await.status(), 200);
        } else {
            app.assert_no_version_yet(&name).await;
        }
        assert_eq!(app.get_pending(&name, None).await.status(), 404);
    }
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn concurrent_creates_on_one_name_make_exactly_one_request() {
    let app = TestApp::spawn().await;
    let body = serde_json::json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=x"}}});
    let futures: Vec<_> = (0..6)
        .map(|_| {
            app.send(
                Method::POST,
                "/certificates/busy/create",
                Some(body.clone()),
            )
        })
        .collect();
    let results = futures_util::future::join_all(futures).await;
    let mut accepted = 0;
    for r in results {
        match r.status().as_u16() {
            202 => accepted += 1,
            409 => assert_eq!(
                r.json::<Value>().await.unwrap()["error"]["code"],
                "Forbidden"
            ),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(accepted, 1);
    app.assert_views_rebuild_identically().await;
}
