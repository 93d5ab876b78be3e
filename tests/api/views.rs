//! The rebuild check itself: it must notice a view that drifted from the events.

use certbroker::es::storage::Session;

use crate::helpers::TestApp;

#[tokio::test]
async fn rebuild_check_reports_a_tampered_view_and_rebuild_repairs_it() {
    let app = TestApp::spawn().await;
    app.create_manual("drift").await;
    let mut conn = app.open_database().await;
    sqlx::query("UPDATE pending_operations SET status = 'completed'")
        .execute(&app.pool)
        .await
        .unwrap();
    let report = certbroker::projections::rebuild_command(&mut conn, true)
        .await
        .unwrap();
    assert_eq!(report.differences.len(), 2, "{:?}", report.differences);
    assert!(report.differences[0].starts_with("- pending_operations"));
    // The check rolled back: the drift is still there until a real rebuild.
    let status: String = sqlx::query_scalar("SELECT status FROM pending_operations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "completed");
    certbroker::projections::rebuild_command(&mut conn, false)
        .await
        .unwrap();
    let status: String = sqlx::query_scalar("SELECT status FROM pending_operations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "inProgress");
    app.assert_views_rebuild_identically().await;
}

/// Streams that span pages are folded whole: a rebuild reading one, two or three events at
/// a time writes the same views as the live ones.
#[tokio::test]
async fn a_rebuild_in_small_pages_writes_the_live_views() {
    let app = TestApp::spawn().await;
    for name in ["paged-a", "paged-b", "paged-c"] {
        app.create_manual(name).await;
        // A second and third event in the stream, so that it spans pages.
        assert_eq!(app.cancel(name, None).await.status(), 200);
        if name == "paged-a" {
            assert_eq!(app.delete_pending(name, None).await.status(), 200);
        }
    }
    assert_eq!(
        app.put_issuer("paged-issuer", "local-ca").await.status(),
        200
    );
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(events >= 8, "{events}");
    let mut owned = app.open_database().await;
    for page in [1, 2, 3] {
        owned.begin_write().await.unwrap();
        let mut conn = owned.conn();
        let live = certbroker::projections::dump(&mut conn).await.unwrap();
        assert!(!live.is_empty());
        let replayed = certbroker::projections::rebuild_paged(&mut conn, page)
            .await
            .unwrap();
        let rebuilt = certbroker::projections::dump(&mut conn).await.unwrap();
        owned.exec("ROLLBACK").await.unwrap();
        assert_eq!(replayed as i64, events, "page {page}");
        assert_eq!(rebuilt, live, "page {page}");
    }
}

/// Reads of the pending object race writes to it; every read made after a write was
/// acknowledged shows that write (the server serves these reads from memory between
/// writes, so this fails if a write ever leaves a stale object behind).
#[tokio::test]
async fn pending_reads_show_every_acknowledged_write_while_reads_race_them() {
    use reqwest::Method;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let app = Arc::new(TestApp::spawn().await);
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (app, stop) = (app.clone(), stop.clone());
            tokio::spawn(async move {
                let mut reads = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    let status = app.get_pending("raced", None).await.status().as_u16();
                    assert!(status == 200 || status == 404, "{status}");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for round in 0..15 {
        let created = app.create_manual("raced").await;
        let request_id = created["request_id"].as_str().unwrap().to_owned();
        let seen: serde_json::Value = app.get_pending("raced", None).await.json().await.unwrap();
        assert_eq!(seen["request_id"], request_id.as_str(), "round {round}");
        assert_eq!(seen["cancellation_requested"], false, "round {round}");

        assert_eq!(app.cancel("raced", None).await.status(), 200);
        let seen: serde_json::Value = app.get_pending("raced", None).await.json().await.unwrap();
        assert_eq!(
            seen["cancellation_requested"], true,
            "round {round}: {seen}"
        );

        let deleted = app
            .send(Method::DELETE, "/certificates/raced/pending", None)
            .await;
        assert_eq!(deleted.status(), 200);
        assert_eq!(
            app.get_pending("raced", None).await.status(),
            404,
            "round {round}: the deleted request is gone"
        );
        // The certificate object stays (a deleted pending request leaves its name); a new
        // request on it starts the next round.
        let r = app.send(Method::DELETE, "/certificates/raced", None).await;
        assert_eq!(r.status(), 200, "round {round}");
        let purged = app
            .send(Method::DELETE, "/deletedcertificates/raced", None)
            .await;
        assert_eq!(purged.status(), 204, "round {round}");
    }
    stop.store(true, Ordering::Relaxed);
    let mut reads = 0;
    for r in readers {
        reads += r.await.unwrap();
    }
    assert!(reads > 0);
    app.assert_views_rebuild_identically().await;
}
