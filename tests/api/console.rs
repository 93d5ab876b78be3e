//! The operator console's server side (static files and their headers, the reads it makes,
//! the admin's chain walk) and readiness when the database is not writable or not migrated.

use reqwest::Method;
use serde_json::{json, Value};

use crate::audit_chain::{certbroker, sql};
use crate::helpers::TestApp;

#[tokio::test]
async fn the_console_is_public_static_and_served_under_a_strict_policy() {
    let app = TestApp::spawn().await;
    for (path, kind) in [
        ("/ui", "text/html"),
        ("/ui/", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
    ] {
        // No token and no api-version: a browser loads the page before signing in.
        let r = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with(kind),
            "{path}"
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        for d in [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(d), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.get("set-cookie").is_none());
    }
    let html = app
        .client
        .get(format!("{}/ui/", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // No inline script or style: only the two files from this origin.
    assert!(html.contains(r#"<script src="/ui/app.js" defer></script>"#));
    assert_eq!(html.matches("<script").count(), 1);
    assert!(!html.contains("<style") && !html.contains(" style="));
    // No event-handler attribute (onclick=, onload=, ...) either.
    let handler = html.split(' ').any(|w| {
        w.strip_prefix("on")
            .and_then(|rest| rest.split_once('='))
            .is_some_and(|(name, _)| {
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase())
            })
    });
    assert!(!handler, "{html}");
}

#[tokio::test]
async fn the_consoles_lists_show_issuer_age_status_expiry_and_versions() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.put_issuer("needs-ok", "local-ca-approval")
            .await
            .status(),
        200
    );
    app.create_with_issuer("waits", "needs-ok", "CN=waits.example.com")
        .await;
    let r = app
        .create("later", json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=later", "validity_months": 24}, "issuer": {"name": "Self"}}}))
        .await;
    assert_eq!(r.status(), 202);
    let r = app
        .create("sooner", json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=sooner", "validity_months": 1}, "issuer": {"name": "Self"}}}))
        .await;
    assert_eq!(r.status(), 202);
    app.create_manual("manual").await;

    let r = app
        .send(Method::GET, "/ops/pending?status=inProgress", None)
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let mut names: Vec<&str> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["manual", "waits"]);
    let w = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "waits")
        .unwrap();
    assert_eq!(w["issuer"], "needs-ok");
    assert_eq!(w["provider"], "local-ca-approval");
    assert_eq!(w["status"], "inProgress");
    assert_eq!(w["approvalRequired"], true);
    assert_eq!(w["approved"], false);
    assert!(w["created"].as_i64().unwrap() > 1_600_000_000);
    let all: Value = app
        .send(Method::GET, "/ops/pending", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["value"].as_array().unwrap().len(), 4);
    let r = app
        .send(Method::GET, "/ops/pending?status=bogus", None)
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "BadParameter"
    );

    let v: Value = app
        .send(Method::GET, "/ops/certificates", None)
        .await
        .json()
        .await
        .unwrap();
    let items = v["value"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|c| c["name"].as_str().unwrap()).collect();
    // Soonest expiry first; certificates without a version last.
    assert_eq!(names[..2], ["sooner", "later"]);
    assert_eq!(items.len(), 4);
    assert_eq!(items[0]["issuer"], "Self");
    assert_eq!(items[0]["versions"], 1);
    assert_eq!(items[0]["enabled"], true);
    assert!(items[0]["exp"].as_i64() < items[1]["exp"].as_i64());
    assert!(items[2]["exp"].is_null() && items[3]["exp"].is_null());

    let me: Value = app
        .send(Method::GET, "/ops/whoami", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        me,
        json!({"name": "static", "role": "admin", "vault": "default"})
    );
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn verify_now_walks_the_chain_and_names_the_first_edited_row() {
    let app = TestApp::spawn().await;
    for n in ["v1", "v2", "v3"] {
        app.create_manual(n).await;
    }
    let r = app.send(Method::POST, "/audit/verify", None).await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["rows"], 3);
    assert_eq!(v["head"]["position"], 3);
    let head = v["head"]["hash"].as_str().unwrap().to_owned();
    let r = app
        .send(
            Method::POST,
            &format!("/audit/verify?expectHead={head}"),
            None,
        )
        .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["expectedHead"]["foundAt"],
        3
    );
    let r = app
        .send(
            Method::POST,
            &format!("/audit/verify?expectHead={}", "0".repeat(64)),
            None,
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["verified"], false);

    sql(
        &app,
        "UPDATE events SET actor = 'mallory' WHERE position = 2",
    );
    let v: Value = app
        .send(Method::POST, "/audit/verify", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["verified"], false);
    assert_eq!(v["broken"]["position"], 2);
    // The same answer as the command line's.
    let (code, out) = certbroker(&app, &["verify"]);
    assert_eq!(code, 1);
    assert!(out.contains("chain broken at position 2:"), "{out}");
}

async fn readyz(app: &TestApp) -> (u16, Value) {
    let r = app
        .client
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn readyz_is_503_with_reasons_while_the_database_cannot_be_written_or_is_behind() {
    if crate::helpers::on_postgres() {
        // SQLite's file lock and migration table; PostgreSQL's append lock is not held
        // across requests by anything but a transaction.
        return;
    }
    let app = TestApp::spawn().await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "ready", "checks": {"database": "ok", "migrations": "ok", "worker": "disabled"}})
    );

    // Another process holds the write lock: the writer cannot take it.
    let mut holder = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(certbroker::startup::database_path(&app.data_dir));
    holder = holder.busy_timeout(std::time::Duration::from_secs(1));
    let mut conn = sqlx::ConnectOptions::connect(&holder).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut conn)
        .await
        .unwrap();
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "ServiceUnavailable");
    assert_eq!(body["status"], "unavailable");
    assert!(
        body["checks"]["database"]
            .as_str()
            .unwrap()
            .contains("write lock"),
        "{body}"
    );
    assert_eq!(body["checks"]["migrations"], "ok");
    sqlx::query("ROLLBACK").execute(&mut conn).await.unwrap();
    drop(conn);
    // Once released, the writer (which queued the probe) catches up.
    let mut last = (0, Value::Null);
    for _ in 0..100 {
        last = readyz(&app).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last.0, 200, "{}", last.1);

    // A database one migration behind this binary is not ready.
    sql(
        &app,
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    );
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 503);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("migrations: the database is at migration"),
        "{body}"
    );
    assert_eq!(body["checks"]["database"], "ok");
}
