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
