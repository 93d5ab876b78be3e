//! Worker leases: claim, expiry, take-over and fencing on either engine (through the lease
//! API with holders of their own), and, on PostgreSQL, three certbroker processes on one
//! database where the one driving an ACME order at real Pebble is killed -9 mid-order and
//! another completes it, Pebble having seen one order.

use std::path::Path;
use std::time::Duration;

use certbroker::domain::names::ObjectName;
use certbroker::es::leases::Leases;
use certbroker::es::ExecError;
use certbroker::service::{Caller, ServiceError};
use certbroker::worker::request_job;
use reqwest::Method;
use serde_json::{json, Value};

use crate::acme::Binary;
use crate::helpers::{fresh_storage_url, on_postgres, TestApp};
use crate::pebble::{free_port, ChallTestSrv, Pebble, PebbleOptions, PebblePorts};

fn leases(app: &TestApp, holder: &str) -> Leases {
    Leases::new(
        app.state.services.core.es.clone(),
        holder,
        Duration::from_secs(600),
    )
}

async fn event_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_lease_has_one_holder_until_it_expires_and_the_next_holder_gets_a_higher_epoch() {
    let app = TestApp::spawn().await;
    let (a, b) = (leases(&app, "replica-a"), leases(&app, "replica-b"));
    let first = a
        .claim("job:1")
        .await
        .unwrap()
        .expect("a free job is claimed");
    assert!(b.claim("job:1").await.unwrap().is_none(), "held by a");
    assert!(
        b.claim("job:2").await.unwrap().is_some(),
        "another job is free"
    );
    let again = a
        .claim("job:1")
        .await
        .unwrap()
        .expect("a claims its own again");
    assert_eq!(again.epoch, first.epoch, "a still holds it: same epoch");
    assert!(a.renew(&first).await.unwrap());

    // a's lease runs out (renewed for no time at all): b takes it over.
    assert!(a
        .clone()
        .with_ttl(Duration::ZERO)
        .renew(&first)
        .await
        .unwrap());
    let taken = b
        .claim("job:1")
        .await
        .unwrap()
        .expect("an expired lease is taken over");
    assert!(taken.epoch > first.epoch, "{taken:?} after {first:?}");
    assert!(!a.renew(&first).await.unwrap(), "a's fence is stale");
    assert!(!a.release(&first).await.unwrap());
    assert!(a.claim("job:1").await.unwrap().is_none(), "held by b");

    // Released: the next claimer has it at once, with a higher epoch still.
    assert!(b.release(&taken).await.unwrap());
    let back = a
        .claim("job:1")
        .await
        .unwrap()
        .expect("a released job is free");
    assert!(back.epoch > taken.epoch);
}

#[tokio::test]
async fn a_worker_whose_lease_was_taken_over_records_nothing_and_skips_the_job() {
    let app = TestApp::spawn().await;
    app.put_issuer("ca", "local-ca").await;
    app.create_with_issuer("fenced", "ca", "CN=fenced.example.com")
        .await;
    let services = &app.state.services;
    let row = services.operations.awaiting_provider(10).await.unwrap()[0].clone();
    let job = request_job(&row.vault, &row.name);
    let (a, b) = (leases(&app, "replica-a"), leases(&app, "replica-b"));
    let stale = a.claim(&job).await.unwrap().unwrap();
    assert!(a
        .clone()
        .with_ttl(Duration::ZERO)
        .renew(&stale)
        .await
        .unwrap());
    let current = b.claim(&job).await.unwrap().expect("taken over");

    // a, paused past its lease, wakes and fails the request: refused, nothing written.
    let before = event_count(&app).await;
    let caller = Caller::system(&row.vault, certbroker::worker::ACTOR);
    let name = ObjectName::parse("certificate", &row.name).unwrap();
    let refused = a
        .hold(
            stale.clone(),
            services.operations.fail_issuance(
                &caller,
                &name,
                row.request_id.clone(),
                "stale".into(),
            ),
        )
        .await;
    assert!(
        matches!(
            refused,
            Err(ServiceError::Exec(ExecError::LeaseLost { .. }))
        ),
        "{refused:?}"
    );
    assert_eq!(event_count(&app).await, before, "nothing was appended");

    // A worker holding a's identity leaves the request to b, who holds it.
    let worker_a = app.worker.clone().with_leases(a.clone());
    assert_eq!(worker_a.run_once().await.unwrap(), 0);
    let pending: Value = app.get_pending("fenced", None).await.json().await.unwrap();
    assert_eq!(pending["status"], "inProgress");

    // b gives it up: a's worker drives it to the end, fenced by its new lease.
    assert!(b.release(&current).await.unwrap());
    assert_eq!(worker_a.run_once().await.unwrap(), 1);
    let pending: Value = app.get_pending("fenced", None).await.json().await.unwrap();
    assert_eq!(pending["status"], "completed", "{pending}");
    app.assert_views_rebuild_identically().await;
}

/// Writes one replica's config: the shared database, master key, Pebble and a short lease.
fn replica_config(
    dir: &Path,
    name: &str,
    url: &str,
    pebble: &Pebble,
    worker: bool,
    http01_port: Option<u16>,
) -> std::path::PathBuf {
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [9u8; 32]);
    let http01 = http01_port.map_or(String::new(), |p| format!("127.0.0.1:{p}"));
    let config = dir.join(format!("{name}.toml"));
    std::fs::write(
        &config,
        format!(
            "[storage]\nurl = \"{url}\"\n[seal]\nmaster_key = \"{key}\"\n\
             [worker]\nenabled = {worker}\ninterval_ms = 50\nlease_seconds = 2\n\
             [acme]\nretry_base_ms = 20\nhttp01_listen = \"{http01}\"\n\
             [providers.pebble]\nkind = \"acme\"\ndirectory_url = \"{}\"\nca_file = \"{}\"\n",
            pebble.ports.directory_url(),
            pebble.tls_ca_file.display()
        ),
    )
    .unwrap();
    config
}

async fn events_of(pool: &sqlx::PgPool, event_type: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT CAST(payload AS TEXT) FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_all(pool)
        .await
        .unwrap()
}

fn client_of(data: &Path) -> reqwest::Client {
    crate::helpers::client_trusting(&std::fs::read_to_string(data.join("tls/ca.pem")).unwrap())
}

#[tokio::test]
async fn a_killed_replica_mid_order_is_taken_over_by_another_and_the_ca_sees_one_order() {
    if !on_postgres() {
        return; // replicas share a PostgreSQL database; SQLite is one process's file
    }
    let url = fresh_storage_url().await;
    let dns = ChallTestSrv::start().await;
    // Replica C runs no worker; its HTTP-01 listener is the one the CA's validation reaches.
    let http01 = free_port();
    let pebble = Pebble::start(
        PebblePorts::pick(),
        PebbleOptions {
            always_valid: false,
            http_port: http01,
            dns_server: Some(dns.dns_addr.clone()),
            ..PebbleOptions::default()
        },
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let data = |n: &str| dir.path().join(n);
    let config_a = replica_config(dir.path(), "a", &url, &pebble, true, None);
    let config_b = replica_config(dir.path(), "b", &url, &pebble, true, None);
    let config_c = replica_config(dir.path(), "c", &url, &pebble, false, Some(http01));
    let db = sqlx::PgPool::connect(&url).await.unwrap();

    // A alone drives the request: it places the order, records it, and is held there.
    let a = Binary::start(&data("a"), &config_a, Some("AcmeOrderPlaced"));
    let client_a = client_of(&data("a"));
    let r = a
        .call(
            &client_a,
            Method::PUT,
            "/certificates/issuers/acme-issuer",
            Some(json!({"provider": "pebble"})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = a
        .call(
            &client_a,
            Method::POST,
            "/certificates/taken/create",
            Some(json!({"policy": {"key_props": {"kty": "EC"},
                "x509_props": {"subject": "CN=taken.example.com"},
                "issuer": {"name": "acme-issuer"}}})),
        )
        .await;
    assert_eq!(r.status(), 202);
    let mut placed = Vec::new();
    for _ in 0..400 {
        placed = events_of(&db, "AcmeOrderPlaced").await;
        if !placed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(placed.len(), 1, "the order was never placed");

    // B and C join while A holds the lease, each on an empty data directory of its own
    // (the ACME account A registered is in the database); A dies; B takes over on expiry.
    let b = Binary::start(&data("b"), &config_b, None);
    let c = Binary::start(&data("c"), &config_c, None);
    a.kill_9();
    let client_c = client_of(&data("c"));
    let mut status = Value::Null;
    for _ in 0..600 {
        let r = c
            .call(&client_c, Method::GET, "/certificates/taken/pending", None)
            .await;
        status = r.json().await.unwrap();
        if status["status"] != "inProgress" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status["status"], "completed", "{status}\n{}", pebble.log());
    assert_eq!(events_of(&db, "AcmeOrderPlaced").await, placed, "one order");
    assert_eq!(pebble.orders_added(), 1, "{}", pebble.log());
    let done = events_of(&db, "AcmeCertificateDownloaded").await;
    assert_eq!(done.len(), 1);
    let accounts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM acme_accounts")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        accounts, 1,
        "B drove the order with the account A registered"
    );
    assert!(!data("b").join("acme").exists(), "no account file on B");
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM acme_challenges")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(left, 0, "answers are withdrawn once validated");
    drop((b, c));
    db.close().await;

    let verified = std::process::Command::new(env!("CARGO_BIN_EXE_certbroker"))
        .args(["verify", "--storage-url", &url])
        .output()
        .unwrap();
    assert!(
        verified.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
}
