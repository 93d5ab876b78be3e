//! The events hash chain against tampering: the real `certbroker verify` binary on a real
//! SQLite file edited with the real `sqlite3` CLI.

use std::process::Command;

use certbroker::startup::{database_path, Application};

use crate::helpers::TestApp;

/// Runs `sql` on the app's database with the engine's own CLI (`sqlite3` or `psql`).
pub fn sql(app: &TestApp, sql: &str) -> String {
    let out = if app.storage_url.is_empty() {
        Command::new("sqlite3")
            .arg(database_path(&app.data_dir))
            .arg(sql)
            .output()
            .expect("the sqlite3 CLI is installed (scripts/setup.sh)")
    } else {
        Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(&app.storage_url)
            .arg("-c")
            .arg(sql)
            .output()
            .expect("the psql CLI is installed (scripts/setup.sh)")
    };
    assert!(
        out.status.success(),
        "sqlite3 failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs the real binary with `args` on the app's database; returns (exit code, stdout).
pub fn certbroker(app: &TestApp, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_certbroker"))
        .arg("--data-dir")
        .arg(&app.data_dir)
        .arg("--storage-url")
        .arg(&app.storage_url)
        .args(args)
        .env("CERTBROKER__LOG__LEVEL", "error")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), stdout)
}

/// An app with six events on six certificates.
async fn app_with_events() -> TestApp {
    let app = TestApp::spawn().await;
    for i in 1..=6 {
        app.create_manual(&format!("c{i}")).await;
    }
    assert_eq!(sql(&app, "SELECT COUNT(*) FROM events"), "6");
    app
}

fn assert_broken_at(app: &TestApp, position: i64) -> String {
    let (code, out) = certbroker(app, &["verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("chain broken at position {position}:")),
        "{out}"
    );
    out
}

#[tokio::test]
async fn an_intact_chain_verifies_and_prints_the_head() {
    let app = app_with_events().await;
    let last = sql(&app, "SELECT hash FROM events WHERE position = 6");
    assert_eq!(last.len(), 64);
    let (code, out) = certbroker(&app, &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verified 6 events"), "{out}");
    assert!(
        out.contains(&format!("head position 6 hash {last}")),
        "{out}"
    );
    let (code, out) = certbroker(&app, &["verify", "--expect-head", &last]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("expected head found at position 6"), "{out}");
}

#[tokio::test]
async fn an_edited_row_is_named_by_its_position() {
    let app = app_with_events().await;
    sql(
        &app,
        "UPDATE events SET actor = 'mallory' WHERE position = 3",
    );
    assert_broken_at(&app, 3);
}

#[tokio::test]
async fn an_edited_payload_is_named_even_when_its_hash_is_recomputed_alone() {
    let app = app_with_events().await;
    // Editing a row and writing any hash of the attacker's choosing for it still breaks the
    // link to the next row.
    sql(
        &app,
        "UPDATE events SET payload = replace(payload, 'c2', 'cX'), hash = (SELECT hash FROM events WHERE position = 1) WHERE position = 2",
    );
    assert_broken_at(&app, 2);
}

#[tokio::test]
async fn a_deleted_row_is_named_by_the_position_after_it() {
    let app = app_with_events().await;
    sql(&app, "DELETE FROM events WHERE position = 3");
    let out = assert_broken_at(&app, 4);
    assert!(out.contains("rows were deleted"), "{out}");
}

#[tokio::test]
async fn a_row_inserted_in_the_middle_is_named() {
    let app = app_with_events().await;
    // Make room at position 3, then insert a forged row there carrying row 2's hash.
    sql(
        &app,
        "UPDATE events SET position = position + 1000 WHERE position >= 3;
         UPDATE events SET position = position - 999 WHERE position >= 1000;
         INSERT INTO events (position, stream_id, version, event_type, schema_version, payload,
                             recorded_at, actor, client_request_id, remote_addr, hash)
           SELECT 3, 'certificate/default/forged', 1, event_type, schema_version, payload,
                  recorded_at, 'mallory', NULL, NULL, hash FROM events WHERE position = 2;",
    );
    assert_eq!(sql(&app, "SELECT COUNT(*) FROM events"), "7");
    assert_broken_at(&app, 3);
}

#[tokio::test]
async fn a_row_appended_without_the_writer_is_named() {
    let app = app_with_events().await;
    sql(
        &app,
        "INSERT INTO events (position, stream_id, version, event_type, schema_version, payload,
                             recorded_at, actor)
           SELECT MAX(position) + 1, 'certificate/default/forged', 1, 'PendingDeleted', 1, '{}',
                  '2026-01-01T00:00:00.000000Z', 'mallory' FROM events",
    );
    let out = assert_broken_at(&app, 7);
    assert!(out.contains("not sealed"), "{out}");
    // The writer seals only what it appends: the slipped-in row stays named.
    app.create_manual("c7").await;
    let out = assert_broken_at(&app, 7);
    assert!(out.contains("not sealed"), "{out}");
    assert_eq!(
        sql(
            &app,
            "SELECT CASE WHEN hash IS NOT NULL THEN 1 ELSE 0 END FROM events WHERE position = 8"
        ),
        "1"
    );
    // And a restart refuses, since the row is in the tail.
    let err = Application::build(app.settings())
        .await
        .err()
        .expect("an unsealed row refuses the start");
    assert!(format!("{err:#}").contains("position 7"), "{err:#}");
}

#[tokio::test]
async fn an_old_schema_event_is_upcast_on_every_read_and_rebuilds() {
    let app = app_with_events().await;
    // A v1 AccessRefused row as an earlier writer stored and chained it.
    let fixture = include_str!("../fixtures/events/access_refused_v1.json").trim();
    sql(
        &app,
        &format!(
            "INSERT INTO events (position, stream_id, version, event_type, schema_version, payload,
                                 recorded_at, actor, client_request_id, remote_addr)
               VALUES (7, 'audit/default/c1', 1, 'AccessRefused', 1, '{fixture}',
                       '2026-01-01T00:00:00.000000Z', 'anonymous', NULL, '127.0.0.1:9')"
        ),
    );
    let prev = sql(&app, "SELECT hash FROM events WHERE position = 6");
    let row = certbroker::es::chain::ChainRow {
        position: 7,
        stream_id: "audit/default/c1".into(),
        version: 1,
        event_type: "AccessRefused".into(),
        schema_version: 1,
        payload: fixture.into(),
        recorded_at: "2026-01-01T00:00:00.000000Z".into(),
        actor: "anonymous".into(),
        client_request_id: None,
        remote_addr: Some("127.0.0.1:9".into()),
        hash: None,
    };
    let prev: [u8; 32] = hex::decode(prev).unwrap().try_into().unwrap();
    let hash = hex::encode(certbroker::es::chain::link(&prev, &row.cols()));
    sql(
        &app,
        &format!("UPDATE events SET hash = '{hash}' WHERE position = 7"),
    );
    let (code, out) = certbroker(&app, &["verify"]);
    assert_eq!(code, 0, "{out}");
    // Later refusals are written at the current version beside it.
    let r = app
        .client
        .get(app.url("/certificates/c1/pending"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = app
        .send(
            reqwest::Method::GET,
            "/certificates/c1/history?eventType=AccessRefused",
            None,
        )
        .await;
    let page: serde_json::Value = r.json().await.unwrap();
    let items = page["value"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["schemaVersion"], 1);
    assert_eq!(items[1]["schemaVersion"], 3);
    for item in items {
        assert_eq!(
            item["data"]["error"],
            serde_json::json!({"code": "Unauthorized", "message": "Request is missing a Bearer or PoP token."})
        );
        assert!(item["data"].get("code").is_none(), "{item}");
    }
    // Rebuild decodes it (through the upcaster) and the views still match.
    let (code, out) = certbroker(&app, &["rebuild", "--check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("replayed 8 events"), "{out}");
    assert!(out.contains("views match the events"), "{out}");
}

#[tokio::test]
async fn rebuild_check_from_the_cli_exits_1_on_a_drifted_view_and_rebuild_repairs_it() {
    let app = app_with_events().await;
    sql(
        &app,
        "UPDATE pending_operations SET status = 'completed' WHERE name_key = 'c2'",
    );
    let (code, out) = certbroker(&app, &["rebuild", "--check"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("- pending_operations"), "{out}");
    assert!(out.contains("2 differences"), "{out}");
    let (code, out) = certbroker(&app, &["rebuild"]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = certbroker(&app, &["rebuild", "--check"]);
    assert_eq!(code, 0, "{out}");
    // Rebuilding touches views only: the chain still verifies.
    let (code, out) = certbroker(&app, &["verify"]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test]
async fn reordered_rows_are_named_at_the_first_moved_position() {
    let app = app_with_events().await;
    sql(
        &app,
        "UPDATE events SET position = -2 WHERE position = 2;
         UPDATE events SET position = 2 WHERE position = 4;
         UPDATE events SET position = 4 WHERE position = -2;",
    );
    assert_broken_at(&app, 2);
}

#[tokio::test]
async fn truncating_the_tail_is_caught_only_with_the_expected_head() {
    let app = app_with_events().await;
    let head = sql(&app, "SELECT hash FROM events WHERE position = 6");
    sql(&app, "DELETE FROM events WHERE position > 4");
    // The shorter chain is valid in itself ...
    let (code, out) = certbroker(&app, &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("head position 4"), "{out}");
    // ... but it no longer holds the head kept elsewhere.
    let (code, out) = certbroker(&app, &["verify", "--expect-head", &head]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("truncated or rewritten"), "{out}");
}

#[tokio::test]
async fn the_server_refuses_to_start_on_a_broken_tail_unless_told_to_warn() {
    let app = app_with_events().await;
    sql(
        &app,
        "UPDATE events SET recorded_at = '2020-01-01T00:00:00.000000Z' WHERE position = 5",
    );
    let mut settings = app.settings();
    let err = Application::build(settings.clone())
        .await
        .err()
        .expect("a broken chain refuses the start");
    assert!(format!("{err:#}").contains("position 5"), "{err:#}");
    settings.audit.on_broken_chain = certbroker::config::BrokenChainAction::Warn;
    assert!(Application::build(settings).await.is_ok());
}

#[tokio::test]
async fn rows_from_before_the_chain_are_chained_from_the_first_at_start() {
    let app = app_with_events().await;
    // A database written before the chain existed: no hashes at all.
    sql(&app, "UPDATE events SET hash = NULL");
    let out = assert_broken_at(&app, 1);
    assert!(out.contains("not sealed"), "{out}");
    let settings = app.settings();
    let _restarted = Application::build(settings).await.unwrap();
    let (code, out) = certbroker(&app, &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verified 6 events"), "{out}");
}
