//! The adjustable clock (`clock.adjustable`): an admin moves it forward and what became
//! due happens now — automatic renewal, scheduled purge — with every move in the audit
//! trail. Off by default: the endpoint is then 404.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::kv_certificates::{get, send};

/// A server with the adjustable clock and the background worker running; the worker's
/// own interval is an hour, so only wake-ups make it act.
async fn spawn_adjustable() -> TestApp {
    TestApp::spawn_with(|s| {
        s.clock.adjustable = true;
        s.worker.enabled = true;
        s.worker.interval_ms = 3_600_000;
    })
    .await
}

/// Polls `check` until it holds (the worker acts in its own task).
async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{what} did not happen");
}

async fn advance(app: &TestApp, by: &str) -> (u16, Value) {
    send(
        app,
        Method::POST,
        "/admin/clock/advance",
        Some(json!({ "by": by })),
    )
    .await
}

#[tokio::test]
async fn moving_the_clock_25_days_makes_the_worker_renew_a_one_month_certificate() {
    let app = spawn_adjustable().await;
    let r = app
        .create(
            "renewme",
            json!({"policy": {
                "key_props": {"kty": "EC"},
                "x509_props": {"subject": "CN=renewme.example.com", "validity_months": 1},
                "issuer": {"name": "Self"},
                "lifetime_actions": [{"trigger": {"lifetime_percentage": 80}, "action": {"action_type": "AutoRenew"}}]
            }}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let (_, versions) = get(&app, "/certificates/renewme/versions").await;
    assert_eq!(versions["value"].as_array().unwrap().len(), 1);
    let (_, clock) = get(&app, "/admin/clock").await;
    assert_eq!(clock["offsetSeconds"], 0);
    let before = clock["now"].as_i64().unwrap();

    let (status, moved) = advance(&app, "25d").await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["offsetSeconds"], 25 * 86400);
    assert!(moved["now"].as_i64().unwrap() >= before + 25 * 86400);

    let fired = || async {
        sqlx::query_scalar::<_, String>(
            "SELECT actor FROM events WHERE stream_id = 'certificate/default/renewme' AND event_type = 'LifetimeActionTriggered'",
        )
        .fetch_optional(&app.pool)
        .await
        .unwrap()
    };
    eventually("the renewal", async || fired().await.is_some()).await;
    let (_, v) = get(&app, "/certificates/renewme/versions").await;
    assert_eq!(v["value"].as_array().unwrap().len(), 2, "{v}");
    let (_, cert) = get(&app, "/certificates/renewme").await;
    assert!(cert["attributes"]["nbf"].as_i64().unwrap() >= before + 25 * 86400);
    let renewed_by = fired().await.unwrap();
    assert_eq!(renewed_by, "worker");

    // The move is in the audit trail, by whom and how far.
    let (status, page) = get(&app, "/audit/events?eventType=ClockAdvanced").await;
    assert_eq!(status, 200);
    let entries = page["value"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{page}");
    assert_eq!(entries[0]["actor"], "static");
    assert_eq!(
        entries[0]["data"],
        json!({"by_seconds": 25 * 86400, "offset_seconds": 25 * 86400})
    );
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn moving_the_clock_past_retention_purges_deleted_certificates() {
    let app = spawn_adjustable().await;
    let policy = json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=old.example.com"}, "issuer": {"name": "Self"}}});
    assert_eq!(app.create("old", policy).await.status(), 202);
    let (status, _) = send(&app, Method::DELETE, "/certificates/old", None).await;
    assert_eq!(status, 200);
    let (status, _) = get(&app, "/deletedcertificates/old").await;
    assert_eq!(status, 200);
    let (status, _) = advance(&app, "89d").await;
    assert_eq!(status, 200);
    let (status, _) = get(&app, "/deletedcertificates/old").await;
    assert_eq!(status, 200, "still within the 90 days");
    let (status, moved) = advance(&app, "1d1h").await;
    assert_eq!(status, 200);
    assert_eq!(moved["offsetSeconds"], 90 * 86400 + 3600);
    eventually("the scheduled purge", async || {
        get(&app, "/deletedcertificates/old").await.0 == 404
    })
    .await;
    let purged: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM events WHERE stream_id = 'certificate/default/old' AND actor = 'worker'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(purged, 1);
    let moves: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE event_type = 'ClockAdvanced'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(moves, 2);
}

#[tokio::test]
async fn bad_durations_are_400_and_move_nothing() {
    let app = spawn_adjustable().await;
    for body in [
        json!({"by": "soon"}),
        json!({"by": "0d"}),
        json!({"by": "25"}),
        json!({}),
        json!({"by": "1d", "extra": true}),
    ] {
        let (status, err) = send(
            &app,
            Method::POST,
            "/admin/clock/advance",
            Some(body.clone()),
        )
        .await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["error"]["code"], "BadParameter", "{body}: {err}");
    }
    let (_, clock) = get(&app, "/admin/clock").await;
    assert_eq!(clock["offsetSeconds"], 0);
    let moves: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE event_type = 'ClockAdvanced'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(moves, 0);
}

#[tokio::test]
async fn the_clock_endpoint_is_404_unless_the_clock_is_adjustable() {
    let app = TestApp::spawn().await;
    let (status, err) = advance(&app, "25d").await;
    assert_eq!(status, 404, "{err}");
    assert_eq!(err["error"]["code"], "NotFound");
    let (status, _) = get(&app, "/admin/clock").await;
    assert_eq!(status, 404);
    // Without a token it is refused before that, like every admin route.
    let r = app
        .client
        .post(app.url("/admin/clock/advance"))
        .json(&json!({"by": "1d"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        app.event_count().await,
        0,
        "nothing but the refusal's audit record"
    );
}

#[tokio::test]
async fn the_clock_keeps_its_recorded_offset_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("CERTBROKER__CLOCK__ADJUSTABLE", "true")];
    let server = crate::seed::Server::start_with(dir.path(), &[], &env);
    let (status, moved) = server
        .send(
            Method::POST,
            "/admin/clock/advance",
            Some(json!({"by": "10d"})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    drop(server);
    let server = crate::seed::Server::start_with(dir.path(), &[], &env);
    let (_, clock) = server.get("/admin/clock").await;
    assert_eq!(clock["offsetSeconds"], 10 * 86400);
    drop(server);
    // Started with the clock fixed, the endpoint is gone again.
    let server = crate::seed::Server::start_with(dir.path(), &[], &[]);
    let (status, _) = server.get("/admin/clock").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn moving_the_clock_near_expiry_fires_email_contacts() {
    let app = spawn_adjustable().await;
    let (status, _) = send(
        &app,
        Method::PUT,
        "/certificates/contacts",
        Some(json!({"contacts": [{"email": "pki@example.com"}]})),
    )
    .await;
    assert_eq!(status, 200);
    let r = app
        .create(
            "expiring",
            json!({"policy": {
                "key_props": {"kty": "EC"},
                "x509_props": {"subject": "CN=expiring.example.com", "validity_months": 1},
                "issuer": {"name": "Self"},
                "lifetime_actions": [{"trigger": {"days_before_expiry": 3}, "action": {"action_type": "EmailContacts"}}]
            }}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let notified = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM events WHERE stream_id = 'certificate/default/expiring' AND event_type = 'LifetimeActionTriggered'",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap()
    };
    let (status, _) = advance(&app, "20d").await;
    assert_eq!(status, 200);
    let (status, _) = advance(&app, "1h").await;
    assert_eq!(status, 200);
    assert_eq!(notified().await, 0, "still weeks before expiry");
    let (status, _) = advance(&app, "14d").await;
    assert_eq!(status, 200);
    eventually("the notification", async || notified().await == 1).await;
    // One version: EmailContacts renews nothing.
    let (_, v) = get(&app, "/certificates/expiring/versions").await;
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
}
