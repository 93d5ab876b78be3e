//! `certbroker migrate-storage --to postgres://...` (run when the suite runs on PostgreSQL):
//! a SQLite data directory with a history of every kind of event the server writes (an
//! ACME order at real Pebble included) moves to a fresh PostgreSQL database with the same
//! head and the ACME account; the target
//! rebuilds and verifies clean, a server on it serves the certificates, their keys (with the
//! same master key) and the tokens and clients made on the source; a second run refuses.

use std::collections::BTreeSet;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use certbroker::config::Secret;
use reqwest::Method;
use serde_json::{json, Value};

use crate::acme::{drive_until_settled, use_pebble};
use crate::audit_chain::certbroker;
use crate::helpers::{fresh_storage_url, on_postgres, OutsideCa, TestApp};
use crate::kv_certificates::{create_self, get, send};
use crate::kv_import::{import, key_and_cert, pkcs12};
use crate::pebble::{Pebble, PebbleOptions, PebblePorts};

/// The event types the history below must hold.
const KINDS: &[&str] = &[
    "AcmeAccountRegistered",
    "AcmeOrderPlaced",
    "AcmeAuthorizationValid",
    "AcmeOrderFinalized",
    "AcmeCertificateDownloaded",
    "PendingCreated",
    "CancellationRequested",
    "IssuanceApproved",
    "IssuanceRejected",
    "IssuanceCompleted",
    "CertificateMerged",
    "IssuanceFailed",
    "IssuanceCancelled",
    "PendingDeleted",
    "VersionUpdated",
    "PolicyUpdated",
    "CertificateImported",
    "CertificateDeleted",
    "CertificateRecovered",
    "CertificatePurged",
    "CertificateRestored",
    "LifetimeActionTriggered",
    "IssuerSet",
    "IssuerDeleted",
    "ContactsSet",
    "ContactsDeleted",
    "AccessRefused",
    "TokenCreated",
    "TokenRevoked",
    "ClockAdvanced",
    "ClientCreated",
    "ClientRevoked",
];

/// Runs the binary with `args` on the database `storage_url` ("" for the SQLite file in
/// `data_dir`): (exit code, stdout, stderr).
fn run(data_dir: &std::path::Path, storage_url: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_certbroker"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--storage-url")
        .arg(storage_url)
        .args(args)
        .env("CERTBROKER__LOG__LEVEL", "error")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn ok(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> Value {
    let (status, b) = send(app, method, path, body).await;
    assert!((200..300).contains(&status), "{path}: {status} {b}");
    b
}

async fn create(app: &TestApp, name: &str, issuer: &str, subject: &str) {
    let r = app
        .create(name, json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": subject}, "issuer": {"name": issuer}}}))
        .await;
    assert_eq!(r.status(), 202, "{name}");
}

/// Writes a history with every kind of event in [`KINDS`] on `app` (SQLite); returns the
/// names of a token still active and one revoked.
async fn write_history(app: &TestApp) -> (String, String) {
    for (issuer, provider) in [
        ("internal", "local-ca"),
        ("approval", "local-ca-approval"),
        ("restricted", "local-ca-restricted"),
        ("gone", "local-ca"),
    ] {
        let body = Some(json!({ "provider": provider }));
        ok(
            app,
            Method::PUT,
            &format!("/certificates/issuers/{issuer}"),
            body,
        )
        .await;
    }
    ok(app, Method::DELETE, "/certificates/issuers/gone", None).await;
    let contacts = json!({"contacts": [{"email": "ops@example.com"}]});
    ok(
        app,
        Method::PUT,
        "/certificates/contacts",
        Some(contacts.clone()),
    )
    .await;
    ok(app, Method::DELETE, "/certificates/contacts", None).await;
    ok(app, Method::PUT, "/certificates/contacts", Some(contacts)).await;

    // Manual requests: merged, deleted.
    let pending = app.create_manual("merged").await;
    let x5c = OutsideCa::new().sign(pending["csr"].as_str().unwrap());
    assert_eq!(app.merge("merged", x5c).await.status(), 201);
    app.create_manual("dropped").await;
    assert_eq!(app.delete_pending("dropped", None).await.status(), 200);

    // The built-in CA: issued, cancelled, approved then issued, rejected, refused by the CA.
    create(app, "local", "internal", "CN=local.example.com").await;
    create(app, "cancelled", "internal", "CN=cancelled.example.com").await;
    assert_eq!(app.cancel("cancelled", None).await.status(), 200);
    create(app, "approved", "approval", "CN=approved.example.com").await;
    ok(
        app,
        Method::POST,
        "/certificates/approved/pending/approve",
        None,
    )
    .await;
    create(app, "rejected", "approval", "CN=rejected.example.com").await;
    ok(
        app,
        Method::POST,
        "/certificates/rejected/pending/reject",
        Some(json!({"reason": "no"})),
    )
    .await;
    create(app, "refused", "restricted", "CN=refused.example.org").await;
    for name in ["local", "cancelled", "approved", "refused"] {
        drive_until_settled(app, name).await;
    }

    // Self-signed: a version updated, the policy updated; an import; soft delete.
    let version = create_self(app, "selfie").await;
    ok(
        app,
        Method::PATCH,
        &format!("/certificates/selfie/{version}"),
        Some(json!({"tags": {"t": "1"}})),
    )
    .await;
    ok(
        app,
        Method::PATCH,
        "/certificates/selfie/policy",
        Some(json!({"x509_props": {"validity_months": 6}})),
    )
    .await;
    let (key, cert) = key_and_cert("imported.example.com");
    let p12 = STANDARD.encode(pkcs12(&key, &cert, ""));
    let (status, body) = import(app, "imported", json!({"value": p12})).await;
    assert_eq!(status, 200, "{body}");
    create_self(app, "recovered").await;
    ok(app, Method::DELETE, "/certificates/recovered", None).await;
    ok(
        app,
        Method::POST,
        "/deletedcertificates/recovered/recover",
        None,
    )
    .await;
    create_self(app, "purged").await;
    ok(app, Method::DELETE, "/certificates/purged", None).await;
    let r = app
        .send(Method::DELETE, "/deletedcertificates/purged", None)
        .await;
    assert_eq!(r.status(), 204);
    create_self(app, "restored").await;
    let blob = ok(app, Method::POST, "/certificates/restored/backup", None).await["value"].clone();
    ok(app, Method::DELETE, "/certificates/restored", None).await;
    let r = app
        .send(Method::DELETE, "/deletedcertificates/restored", None)
        .await;
    assert_eq!(r.status(), 204);
    ok(
        app,
        Method::POST,
        "/certificates/restore",
        Some(json!({"value": blob})),
    )
    .await;

    // A lifetime action made due by moving the clock.
    let r = app
        .create(
            "renewed",
            json!({"policy": {
                "key_props": {"kty": "EC"},
                "x509_props": {"subject": "CN=renewed.example.com", "validity_months": 1},
                "issuer": {"name": "Self"},
                "lifetime_actions": [{"trigger": {"lifetime_percentage": 80}, "action": {"action_type": "AutoRenew"}}]
            }}),
        )
        .await;
    assert_eq!(r.status(), 202);
    ok(
        app,
        Method::POST,
        "/admin/clock/advance",
        Some(json!({"by": "25d"})),
    )
    .await;
    drive_until_settled(app, "renewed").await;

    // Audit records: a refused request, tokens and clients made and revoked on the CLI.
    assert_eq!(status_as(app, "not-a-token").await, 401);
    app.flush_refusals().await;
    let (code, kept) = certbroker(
        app,
        &["token", "create", "--name", "kept", "--role", "reader"],
    );
    assert_eq!(code, 0, "{kept}");
    let (code, revoked) = certbroker(
        app,
        &["token", "create", "--name", "revoked", "--role", "reader"],
    );
    assert_eq!(code, 0, "{revoked}");
    assert_eq!(
        certbroker(app, &["token", "revoke", "--name", "revoked"]).0,
        0
    );
    for name in ["client-kept", "client-gone"] {
        let (code, out) = certbroker(
            app,
            &["client", "create", "--name", name, "--role", "operator"],
        );
        assert_eq!(code, 0, "{out}");
    }
    assert_eq!(
        certbroker(app, &["client", "revoke", "--name", "client-gone"]).0,
        0
    );
    (kept.trim().to_owned(), revoked.trim().to_owned())
}

/// The status of `GET /certificates` with `token`.
async fn status_as(app: &TestApp, token: &str) -> u16 {
    let r = app.client.get(app.url("/certificates")).bearer_auth(token);
    r.send().await.unwrap().status().as_u16()
}

async fn count(pool: &sqlx::AnyPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The line `<which> head position N hash H` of the migration's output.
fn head_line<'a>(out: &'a str, which: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(&format!("{which} head ")))
        .unwrap_or_else(|| panic!("no {which} head in:\n{out}"))
}

#[tokio::test]
async fn a_sqlite_history_of_every_kind_moves_to_postgres_with_the_same_head() {
    if !on_postgres() {
        return; // the target is a PostgreSQL database
    }
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;
    let source = TestApp::spawn_with(|s| {
        s.storage.url = Secret::new(String::new());
        s.clock.adjustable = true;
        use_pebble(s, &pebble);
    })
    .await;
    assert_eq!(source.storage_url, "");
    let (kept, revoked) = write_history(&source).await;
    // An order at an ACME CA: the account and every step of the order are in the history.
    assert_eq!(
        source.put_issuer("acme-issuer", "pebble").await.status(),
        200
    );
    let r = source
        .create(
            "acmed",
            json!({"policy": {"key_props": {"kty": "EC"},
                "x509_props": {"subject": "CN=acmed.example.com",
                               "sans": {"dns_names": ["acmed.example.com"]}},
                "issuer": {"name": "acme-issuer"}}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let done = drive_until_settled(&source, "acmed").await;
    assert_eq!(done["status"], "completed", "{done}");
    let kinds: BTreeSet<String> = sqlx::query_scalar("SELECT DISTINCT event_type FROM events")
        .fetch_all(&source.pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let missing: Vec<_> = KINDS.iter().filter(|k| !kinds.contains(**k)).collect();
    assert!(missing.is_empty(), "the history lacks {missing:?}");
    let (position, hash): (i64, String) =
        sqlx::query_as("SELECT position, hash FROM events ORDER BY position DESC LIMIT 1")
            .fetch_one(&source.pool)
            .await
            .unwrap();
    let head = format!("head position {position} hash {hash}");

    let target = fresh_storage_url().await;
    let (code, out, err) = run(&source.data_dir, "", &["migrate-storage", "--to", &target]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(head_line(&out, "source"), format!("source {head}"), "{out}");
    assert_eq!(head_line(&out, "target"), format!("target {head}"), "{out}");
    assert!(
        out.contains(&format!("copied events: {position} rows")),
        "{out}"
    );

    // The target on its own: the views rebuild identically, the chain verifies to the
    // same head, and the views equal the source's.
    let (code, out, err) = run(&source.data_dir, &target, &["rebuild", "--check"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("views match the events"), "{out}");
    let (code, out, err) = run(
        &source.data_dir,
        &target,
        &["verify", "--expect-head", &hash],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&head), "{out}");
    let mut src = source.open_database().await;
    let mut settings = source.settings();
    settings.storage.url = Secret::new(target.clone());
    let (_storage, mut dst) = certbroker::startup::open_tool_database(&settings)
        .await
        .unwrap();
    let src_views = certbroker::projections::dump(&mut src.conn())
        .await
        .unwrap();
    let dst_views = certbroker::projections::dump(&mut dst.conn())
        .await
        .unwrap();
    assert!(!src_views.is_empty());
    assert_eq!(src_views, dst_views);
    let on_target = crate::helpers::any_pool(&target, &source.data_dir).await;
    for table in ["keys", "tokens", "clients", "meta", "acme_accounts"] {
        let (from, to) = (
            count(&source.pool, table).await,
            count(&on_target, table).await,
        );
        assert!(from > 0, "{table}");
        assert_eq!(from, to, "{table}");
    }

    // A server on the target with the same master key (and a data directory of its own)
    // serves what the source served.
    let master = std::fs::read(source.data_dir.join("master.key")).unwrap();
    let on_pg = {
        let (target, master) = (target.clone(), STANDARD.encode(master));
        TestApp::spawn_with(move |s| {
            s.storage.url = Secret::new(target);
            s.seal.master_key = Secret::new(master);
        })
        .await
    };
    for name in [
        "acmed",
        "merged",
        "local",
        "imported",
        "restored",
        "renewed",
        "recovered",
    ] {
        let (status, before) = get(&source, &format!("/certificates/{name}/")).await;
        assert_eq!(status, 200, "{name}");
        let (status, after) = get(&on_pg, &format!("/certificates/{name}/")).await;
        assert_eq!(status, 200, "{name}: {after}");
        assert_eq!(after["cer"], before["cer"], "{name}");
    }
    let (status, secret) = get(&on_pg, "/secrets/imported/").await;
    assert_eq!(status, 200, "{secret}");
    let p12 = STANDARD.decode(secret["value"].as_str().unwrap()).unwrap();
    let parsed = openssl::pkcs12::Pkcs12::from_der(&p12)
        .unwrap()
        .parse2("")
        .unwrap();
    let (_, cert) = get(&source, "/certificates/imported/").await;
    assert_eq!(
        STANDARD.encode(parsed.cert.unwrap().to_der().unwrap()),
        cert["cer"].as_str().unwrap()
    );
    let (status, _) = get(&on_pg, "/secrets/local/").await;
    assert_eq!(status, 200);
    assert_eq!(status_as(&on_pg, &kept).await, 200);
    assert_eq!(status_as(&on_pg, &revoked).await, 401);
    let (code, clients, _) = run(&source.data_dir, &target, &["client", "list"]);
    assert_eq!(code, 0);
    assert!(
        clients.contains("client-kept") && clients.contains("client-gone"),
        "{clients}"
    );

    // New appends continue the chain without a gap.
    on_pg.flush_refusals().await;
    on_pg.create_manual("after-the-move").await;
    let (count, max): (i64, i64) = sqlx::query_as("SELECT COUNT(*), MAX(position) FROM events")
        .fetch_one(&on_target)
        .await
        .unwrap();
    assert!(max > position);
    assert_eq!(count, max);
    let (code, out, _) = run(
        &source.data_dir,
        &target,
        &["verify", "--expect-head", &hash],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("verified {max} events")), "{out}");

    // A second migration to the same target is refused and writes nothing.
    let (code, out, err) = run(&source.data_dir, "", &["migrate-storage", "--to", &target]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("already holds"), "{err}");
    assert!(!out.contains("copied"), "{out}");
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&on_target)
        .await
        .unwrap();
    assert_eq!(after, count);
    on_pg.assert_views_rebuild_identically().await;
}
