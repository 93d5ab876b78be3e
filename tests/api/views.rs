//! The rebuild check itself: it must notice a view that drifted from the events.

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
