//! `make bench`: certbroker's throughput as ratios against baselines measured in the same
//! run on the same machine (absolute numbers on shared machines mean little).
//!
//! 1. Manual create (EC P-256) over HTTPS vs in-process key generation + CSR.
//! 2. Merge over HTTPS vs the in-process chain check it performs.
//! 3. GET pending vs a trivial handler (`/healthz`) on the same server.
//! 4. Durable manual creates (EC P-256) at 1, 16 and 64 clients vs raw SQLite one-event
//!    commits (WAL, `synchronous=FULL`, `BEGIN IMMEDIATE`) on the same disk, with the mean
//!    batch size the group commit reached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use certbroker::crypto;
use certbroker::domain::policy::{Curve, KeySpec, X509Properties};
use serde_json::{json, Value};

mod common;
use common::{run_clients, CONCURRENCY};

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn run_concurrent<F, Fut>(n: usize, f: F) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    run_clients(CONCURRENCY, n, f).await
}

/// Raw SQLite: `n` one-event transactions of ~300-byte rows with `UNIQUE(stream, seq)`,
/// WAL and `synchronous=FULL`, one `BEGIN IMMEDIATE` each (the durable ceiling).
async fn raw_sqlite_commits(dir: &std::path::Path, n: usize) -> f64 {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use sqlx::{ConnectOptions, Connection};
    let mut conn = SqliteConnectOptions::new()
        .filename(dir.join("raw.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await
        .expect("raw db");
    sqlx::query(
        "CREATE TABLE events (position INTEGER PRIMARY KEY, stream TEXT NOT NULL, seq INTEGER NOT NULL, payload TEXT NOT NULL, UNIQUE(stream, seq))",
    )
    .execute(&mut conn)
    .await
    .expect("create");
    let payload = "x".repeat(300);
    let start = Instant::now();
    for i in 0..n {
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut conn)
            .await
            .expect("begin");
        sqlx::query("INSERT INTO events (stream, seq, payload) VALUES ($1, 1, $2)")
            .bind(format!("certificate/default/raw{i}"))
            .bind(&payload)
            .execute(&mut conn)
            .await
            .expect("insert");
        sqlx::query("COMMIT")
            .execute(&mut conn)
            .await
            .expect("commit");
    }
    let r = rate(n, start.elapsed());
    conn.close().await.expect("close");
    r
}

fn x509(subject: &str) -> X509Properties {
    X509Properties {
        subject: subject.into(),
        sans: Default::default(),
        ekus: vec![],
        key_usage: vec![],
        validity_months: 12,
    }
}

#[tokio::main]
async fn main() {
    let n = common::operations(2000, 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let (base, client) = common::start_server(dir.path()).await;
    let url = {
        let base = base.clone();
        move |p: &str| format!("{base}{p}?api-version=7.5")
    };

    // 1. Key generation + CSR in-process (the same crypto the create handler runs).
    let spec = KeySpec::Ec { curve: Curve::P256 };
    let props = x509("CN=bench.example.com");
    let start = Instant::now();
    for _ in 0..n {
        let key = crypto::keys::generate_key(&spec).expect("key");
        crypto::csr::build_csr(&key, &props).expect("csr");
    }
    let base_create = rate(n, start.elapsed());

    let (c, u) = (client.clone(), url.clone());
    let create_time = run_concurrent(n, move |i| {
        let c = c.clone();
        let u = u(&format!("/certificates/bench{i}/create"));
        async move {
            let r = c
                .post(u)
                .bearer_auth("test-token")
                .json(&json!({"policy": {"key_props": {"kty": "EC", "crv": "P-256"}, "x509_props": {"subject": format!("CN=bench{i}.example.com")}}}))
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 202);
        }
    })
    .await;
    let http_create = rate(n, create_time);

    // 2. Merge: sign every CSR first (outside the timing), then time the chain check alone
    //    in-process and the merges over HTTPS.
    let now = chrono::Utc::now().timestamp();
    let (ca_key, ca) = crypto::x509::create_ca("Bench CA", now - 60, 30, None).expect("ca");
    let mut chains = Vec::with_capacity(n);
    let mut publics = Vec::with_capacity(n);
    for i in 0..n {
        let op: Value = client
            .get(url(&format!("/certificates/bench{i}/pending")))
            .bearer_auth("test-token")
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        let csr = STANDARD
            .decode(op["csr"].as_str().expect("csr"))
            .expect("b64");
        let leaf = crypto::x509::issue_from_csr(
            &csr,
            &ca_key,
            &ca,
            &crypto::x509::IssueParams {
                not_before: now - 60,
                not_after: now + 86400,
            },
        )
        .expect("issue");
        publics.push(crypto::csr::csr_info(&csr).expect("info").public_key_der);
        chains.push(vec![
            STANDARD.encode(leaf),
            STANDARD.encode(ca.to_der().expect("der")),
        ]);
    }
    let start = Instant::now();
    for (x5c, public) in chains.iter().zip(&publics) {
        // The check the server makes: each certificate decoded once.
        let certs = crypto::chain::parse_x5c_certs(x5c).expect("parse");
        crypto::chain::verify_merge_certs(&certs, public, now).expect("verify");
        crypto::chain::to_ders(&certs).expect("der");
    }
    let base_merge = rate(n, start.elapsed());
    let chains = Arc::new(chains);
    let (c, u) = (client.clone(), url.clone());
    let merge_time = run_concurrent(n, move |i| {
        let c = c.clone();
        let u = u(&format!("/certificates/bench{i}/pending/merge"));
        let x5c = chains[i].clone();
        async move {
            let r = c
                .post(u)
                .bearer_auth("test-token")
                .json(&json!({"x5c": x5c}))
                .send()
                .await
                .expect("send");
            assert_eq!(r.status(), 201);
        }
    })
    .await;
    let http_merge = rate(n, merge_time);

    // 3. GET pending vs the trivial handler on the same server, same client and concurrency.
    let reads = n * 5;
    let (c, u) = (client.clone(), url.clone());
    let health_time = run_concurrent(reads, move |_| {
        let c = c.clone();
        let u = u("/healthz");
        async move {
            assert_eq!(c.get(u).send().await.expect("send").status(), 200);
        }
    })
    .await;
    let (c, u) = (client.clone(), url.clone());
    let get_time = run_concurrent(reads, move |i| {
        let c = c.clone();
        let u = u(&format!("/certificates/bench{}/pending", i % n));
        async move {
            assert_eq!(
                c.get(u)
                    .bearer_auth("test-token")
                    .send()
                    .await
                    .expect("send")
                    .status(),
                200
            );
        }
    })
    .await;
    let health = rate(reads, health_time);
    let get = rate(reads, get_time);

    // 4. Durable creates at 1, 16 and 64 clients, beside raw one-event commits.
    let raw = raw_sqlite_commits(dir.path(), n).await;
    let mut scale = Vec::new();
    for clients in [1usize, 16, 64] {
        let (per_second, batch) = common::durable_creates(&client, &base, clients, n).await;
        scale.push((clients, per_second, batch));
    }

    println!("certbroker throughput (n={n}, {CONCURRENCY} concurrent HTTPS clients, one run)");
    println!(
        "{:<44} {:>10} {:>12} {:>8}",
        "measure", "per second", "baseline/s", "ratio"
    );
    println!(
        "{:<44} {:>10.0} {:>12.0} {:>8.2}",
        "create (EC P-256) over HTTPS vs keygen+CSR",
        http_create,
        base_create,
        http_create / base_create
    );
    println!(
        "{:<44} {:>10.0} {:>12.0} {:>8.2}",
        "merge over HTTPS vs in-process chain check",
        http_merge,
        base_merge,
        http_merge / base_merge
    );
    println!(
        "{:<44} {:>10.0} {:>12.0} {:>8.2}",
        "GET pending vs trivial handler (/healthz)",
        get,
        health,
        get / health
    );
    for (clients, r, batch) in scale {
        println!(
            "{:<44} {:>10.0} {:>12.0} {:>8.2}",
            format!("durable creates, {clients} clients (batch {batch:.1})"),
            r,
            raw,
            r / raw
        );
    }
}
