//! Several replicas on one PostgreSQL database (run when the suite runs on PostgreSQL):
//! three servers, each with its own data directory, sharing the database and the master
//! key. The seed's scenarios run with each step on the next replica; merge, cancel and
//! delete-pending sent at once to different replicas end as one serial order would; what
//! one replica writes (issuers, contacts, tokens) the others see at once; and appends
//! from all of them form one gap-free chain that `verify` and `rebuild --check` accept.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use certbroker::config::Secret;
use reqwest::Method;
use serde_json::{json, Value};

use crate::audit_chain::certbroker;
use crate::helpers::{on_postgres, OutsideCa, TestApp};
use crate::scenarios::{self, Steps};

async fn replicas(n: usize) -> Vec<TestApp> {
    let key = STANDARD.encode([7u8; 32]);
    let first = {
        let key = key.clone();
        TestApp::spawn_with(move |s| s.seal.master_key = Secret::new(key)).await
    };
    let url = first.storage_url.clone();
    let mut all = vec![first];
    for _ in 1..n {
        let (key, url) = (key.clone(), url.clone());
        all.push(
            TestApp::spawn_with(move |s| {
                s.seal.master_key = Secret::new(key);
                s.storage.url = Secret::new(url);
            })
            .await,
        );
    }
    all
}

/// The events every replica appended form one chain: positions without a gap, `verify`
/// accepts it whole, and `rebuild --check` finds the views equal to a replay of it.
async fn assert_one_unbroken_chain(apps: &[TestApp]) {
    let (count, max): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), COALESCE(MAX(position), 0) FROM events")
            .fetch_one(&apps[0].pool)
            .await
            .unwrap();
    assert_eq!(count, max, "positions are gap-free");
    let (code, out) = certbroker(&apps[1 % apps.len()], &["verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("verified {count} events")), "{out}");
    let (code, out) = certbroker(&apps[2 % apps.len()], &["rebuild", "--check"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("views match the events"), "{out}");
}

async fn get_as(app: &TestApp, token: &str, path: &str) -> u16 {
    app.client
        .request(Method::GET, app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn creates_spread_over_three_replicas_make_one_request_and_one_unbroken_chain() {
    if !on_postgres() {
        return; // replicas share a PostgreSQL database; SQLite is one process's file
    }
    let apps = replicas(3).await;
    let body = json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=shared.example.com"}, "issuer": {"name": "Unknown"}}});
    let creates = (0..64).map(|i| apps[i % 3].create("shared", body.clone()));
    let statuses: Vec<u16> = futures_util::future::join_all(creates)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 202 || *s == 409),
        "{statuses:?}"
    );
    // Each replica appends a few more, interleaved.
    for i in 0..9 {
        apps[i % 3].create_manual(&format!("r{i}")).await;
    }
    for app in &apps {
        assert_eq!(app.get_pending("shared", None).await.status(), 200);
    }
    apps[2].assert_views_rebuild_identically().await;
    assert_one_unbroken_chain(&apps).await;
}

#[tokio::test]
async fn a_token_revoked_through_one_replica_is_refused_by_the_others_at_once() {
    if !on_postgres() {
        return;
    }
    let apps = replicas(3).await;
    let (code, token) = certbroker(
        &apps[0],
        &["token", "create", "--name", "ops", "--role", "reader"],
    );
    assert_eq!(code, 0, "{token}");
    let token = token.trim().to_owned();
    for app in &apps {
        assert_eq!(get_as(app, &token, "/certificates").await, 200);
    }
    let (code, out) = certbroker(&apps[0], &["token", "revoke", "--name", "ops"]);
    assert_eq!(code, 0, "{out}");
    for app in &apps {
        assert_eq!(get_as(app, &token, "/certificates").await, 401);
    }
    assert_one_unbroken_chain(&apps).await;
}

/// One test per seed scenario, each step on the next of three replicas.
macro_rules! seed_across_replicas {
    ($($test:ident => $scenario:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $test() {
            if !on_postgres() {
                return;
            }
            let steps = Steps::over(replicas(3).await);
            scenarios::$scenario(&steps).await;
            assert_one_unbroken_chain(steps.apps()).await;
        }
    )*};
}

seed_across_replicas! {
    seed_s1_on_three_replicas_create_through_an_issuer_object => s1,
    seed_s2_on_three_replicas_get_pending_in_progress => s2,
    seed_s3_on_three_replicas_get_pending_when_completed => s3,
    seed_s4_on_three_replicas_failed_and_cancelled_requests => s4,
    seed_s5_on_three_replicas_pending_gone_after_delete_or_overwrite => s5,
    seed_s6_on_three_replicas_create_while_in_progress_is_409 => s6,
    seed_s7_on_three_replicas_merge_forbidden_then_allowed => s7,
    seed_s8_on_three_replicas_cancellation_request => s8,
    seed_s9_on_three_replicas_delete_pending => s9,
    seed_s10_on_three_replicas_manual_create => s10,
    seed_s11_on_three_replicas_merge_after_manual_create => s11,
}

/// The commands raced on one pending request.
const RACED: [&str; 3] = ["merge", "cancel", "delete-pending"];

/// Every order the three raced commands can run in, one after the other.
const ORDERS: [[usize; 3]; 6] = [
    [0, 1, 2],
    [0, 2, 1],
    [1, 0, 2],
    [1, 2, 0],
    [2, 0, 1],
    [2, 1, 0],
];

/// Race rounds (each a new manual request); `CERTBROKER_REPLICA_RACE_ROUNDS` sets it.
fn race_rounds() -> usize {
    std::env::var("CERTBROKER_REPLICA_RACE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12)
}

async fn send_raced(app: &TestApp, command: &str, name: &str, x5c: &[String]) -> (u16, Value) {
    let r = match command {
        "merge" => app.merge(name, x5c.to_vec()).await,
        "cancel" => app.cancel(name, None).await,
        _ => app.delete_pending(name, None).await,
    };
    let status = r.status().as_u16();
    (status, r.json().await.unwrap())
}

/// A manual request on `name`, and its CSR signed by `ca` (ready to merge).
async fn manual_request(app: &TestApp, ca: &OutsideCa, name: &str) -> Vec<String> {
    let op = app.create_manual(name).await;
    ca.sign(op["csr"].as_str().unwrap())
}

/// How a raced request ended: each command's status (in `RACED`'s order), its stream's
/// events, and its pending object and certificate as the replicas read them.
#[derive(Debug, Clone, PartialEq)]
struct Ending {
    statuses: Vec<u16>,
    events: Vec<String>,
    read: Value,
}

/// Reads how `name` ended through every replica (they must agree) and from the events.
async fn ending(apps: &[TestApp], name: &str, statuses: Vec<u16>) -> Ending {
    let events: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM events WHERE stream_id = $1 ORDER BY version")
            .bind(format!("certificate/default/{name}"))
            .fetch_all(&apps[0].pool)
            .await
            .unwrap();
    let mut reads = Vec::new();
    for app in apps {
        let r = app.get_pending(name, None).await;
        let (p_status, p): (u16, Value) = (r.status().as_u16(), r.json().await.unwrap());
        let r = app.get_certificate(name).await;
        let (c_status, c): (u16, Value) = (r.status().as_u16(), r.json().await.unwrap());
        reads.push(json!({
            "pending": [p_status, p["status"], p["cancellation_requested"], p["error"]["code"]],
            "certificate": [c_status, c["attributes"]["enabled"], c.get("cer").is_some(), c["error"]["code"]],
        }));
    }
    assert!(
        reads.windows(2).all(|w| w[0] == w[1]),
        "the replicas read {name} differently: {reads:?}"
    );
    Ending {
        statuses,
        events,
        read: reads.swap_remove(0),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merge_cancel_and_delete_pending_raced_across_replicas_end_as_one_serial_order() {
    if !on_postgres() {
        return;
    }
    let apps = replicas(3).await;
    let ca = OutsideCa::new();
    // What each serial order ends as: the commands one after the other, each on another
    // replica.
    let mut serial = Vec::new();
    for (k, order) in ORDERS.iter().enumerate() {
        let name = format!("serial{k}");
        let x5c = manual_request(&apps[k % 3], &ca, &name).await;
        let mut statuses = vec![0; RACED.len()];
        for (step, &command) in order.iter().enumerate() {
            let app = &apps[(k + step) % 3];
            statuses[command] = send_raced(app, RACED[command], &name, &x5c).await.0;
        }
        serial.push(ending(&apps, &name, statuses).await);
    }
    // The orders do not all end alike, or matching one would prove nothing.
    assert!(serial.iter().any(|e| *e != serial[0]), "{serial:#?}");
    let mut won = [0usize; ORDERS.len()];
    for round in 0..race_rounds() {
        let name = format!("race{round}");
        let x5c = manual_request(&apps[round % 3], &ca, &name).await;
        let raced = RACED.iter().enumerate().map(|(j, command)| {
            let (app, name, x5c) = (&apps[(round + j) % 3], &name, &x5c);
            async move { send_raced(app, command, name, x5c).await }
        });
        let answers = futures_util::future::join_all(raced).await;
        for (command, (status, body)) in RACED.iter().zip(&answers) {
            assert!(
                *status < 500,
                "round {round}: {command} got {status}: {body}"
            );
            if *status >= 300 {
                assert!(
                    body["error"]["code"].is_string() && body["error"]["message"].is_string(),
                    "round {round}: {command}'s refusal is not Key Vault's: {body}"
                );
            }
        }
        let statuses = answers.iter().map(|(status, _)| *status).collect();
        let ended = ending(&apps, &name, statuses).await;
        let Some(k) = serial.iter().position(|e| *e == ended) else {
            panic!("round {round} ended as no serial order would:\n{ended:#?}\nserial orders:\n{serial:#?}");
        };
        won[k] += 1;
    }
    let tally: Vec<String> = ORDERS
        .iter()
        .zip(won)
        .filter(|(_, n)| *n > 0)
        .map(|(order, n)| {
            let names: Vec<&str> = order.iter().map(|&c| RACED[c]).collect();
            format!("{} x{n}", names.join(" > "))
        })
        .collect();
    eprintln!(
        "raced rounds ended as (the first serial order matching): {}",
        tally.join(", ")
    );
    assert_one_unbroken_chain(&apps).await;
}

#[tokio::test]
async fn issuers_and_contacts_written_through_one_replica_are_seen_by_the_others_at_once() {
    if !on_postgres() {
        return;
    }
    let apps = replicas(3).await;
    assert_eq!(apps[0].put_issuer("shared", "local-ca").await.status(), 200);
    for app in &apps {
        let r = app
            .send(Method::GET, "/certificates/issuers/shared", None)
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["provider"], "local-ca");
    }
    // Another replica takes a request for it at once, and a third one's worker issues it.
    apps[1]
        .create_with_issuer("via-shared", "shared", "CN=via.example.com")
        .await;
    assert_eq!(apps[2].run_worker().await, 1);
    let r = apps[0].get_pending("via-shared", None).await;
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "completed");
    // Disabled through one replica: every replica refuses new requests for it at once.
    let r = apps[1]
        .send(
            Method::PATCH,
            "/certificates/issuers/shared",
            Some(json!({"attributes": {"enabled": false}})),
        )
        .await;
    assert_eq!(r.status(), 200);
    let refused = json!({"policy": {"x509_props": {"subject": "CN=off.example.com"}, "issuer": {"name": "shared"}}});
    for app in &apps {
        let r = app.create("off", refused.clone()).await;
        assert_eq!(r.status(), 400);
    }
    // Deleted through a third: gone on all.
    let r = apps[2]
        .send(Method::DELETE, "/certificates/issuers/shared", None)
        .await;
    assert_eq!(r.status(), 200);
    for app in &apps {
        let r = app
            .send(Method::GET, "/certificates/issuers/shared", None)
            .await;
        assert_eq!(r.status(), 404);
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"]["code"],
            "CertificateIssuerNotFound"
        );
    }
    // Contacts: set through one, read through all, deleted through another.
    let contacts = json!([{"email": "pki@example.com", "name": "PKI"}]);
    let r = apps[1]
        .send(
            Method::PUT,
            "/certificates/contacts",
            Some(json!({"contacts": contacts})),
        )
        .await;
    assert_eq!(r.status(), 200);
    for app in &apps {
        let r = app.send(Method::GET, "/certificates/contacts", None).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["contacts"], contacts);
    }
    let r = apps[2]
        .send(Method::DELETE, "/certificates/contacts", None)
        .await;
    assert_eq!(r.status(), 200);
    for app in &apps {
        let r = app.send(Method::GET, "/certificates/contacts", None).await;
        assert_eq!(r.status(), 404);
        assert_eq!(
            r.json::<Value>().await.unwrap()["error"]["code"],
            "ContactsNotFound"
        );
    }
    assert_one_unbroken_chain(&apps).await;
}
