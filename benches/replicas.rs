//! `make bench`: certbroker on PostgreSQL, one replica and three, as ratios against
//! baselines measured in the same run on the same cluster.
//!
//! 1. Durable manual creates (EC P-256) at 16 and 64 clients, on 1 replica and on 3
//!    (in-process servers on one database, requests spread round-robin) vs raw single-row
//!    `BEGIN; INSERT; COMMIT` on the same cluster with the same `synchronous_commit`.
//! 2. Where the serialized append caps writes: raw commits from 16 connections with and
//!    without the append lock (`pg_advisory_xact_lock`), and, during the 3-replica runs,
//!    how often the lock was held and how many appends waited for it (`pg_locks`, sampled).
//! 3. GET pending with 3 replicas vs 1.
//!
//! The PostgreSQL server is `CERTBROKER_BENCH_STORAGE_URL` (an admin URL; the Makefile starts
//! a durable throwaway cluster with `scripts/pg.sh`); without it the benchmark says so and
//! stops (as under `cargo test --all-targets`).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use certbroker::config::Secret;
use serde_json::json;
use sqlx::{Connection, PgConnection};

mod common;
use common::run_clients;

/// The PostgreSQL server to run on (an admin URL).
const STORAGE_URL_ENV: &str = "CERTBROKER_BENCH_STORAGE_URL";

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// A new database on the server of `admin`, and its URL.
async fn fresh_database(admin: &str, name: &str) -> String {
    let mut conn = PgConnection::connect(admin).await.expect("connect");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut conn)
        .await
        .expect("drop");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create");
    conn.close().await.expect("close");
    let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
    format!("{base}/{name}")
}

/// One server's base URL and a client trusting it.
struct Replica {
    base: String,
    client: reqwest::Client,
}

/// `n` in-process replicas on the database at `url`, sharing one master key.
async fn replicas(n: usize, url: &str, dirs: &mut Vec<tempfile::TempDir>) -> Vec<Replica> {
    let key = STANDARD.encode([7u8; 32]);
    let mut all = Vec::new();
    for _ in 0..n {
        let dir = tempfile::tempdir().expect("tempdir");
        let (key, url) = (key.clone(), url.to_owned());
        let (base, client, _) = common::start_server_with(dir.path(), move |s| {
            s.storage.url = Secret::new(url);
            s.seal.master_key = Secret::new(key);
        })
        .await;
        dirs.push(dir);
        all.push(Replica { base, client });
    }
    all
}

/// Raw PostgreSQL: `n` one-row transactions (`BEGIN; INSERT; COMMIT`, a ~300-byte row with
/// `UNIQUE(stream, seq)`) from `connections` connections at once, each taking the append
/// lock first when `locked`.
async fn raw_commits(url: &str, table: &str, connections: usize, n: usize, locked: bool) -> f64 {
    let mut setup = PgConnection::connect(url).await.expect("connect");
    sqlx::query(&format!(
        "CREATE TABLE {table} (position BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, stream TEXT NOT NULL, seq BIGINT NOT NULL, payload TEXT NOT NULL, UNIQUE(stream, seq))"
    ))
    .execute(&mut setup)
    .await
    .expect("create");
    setup.close().await.expect("close");
    let mut conns = Vec::new();
    for _ in 0..connections {
        conns.push(PgConnection::connect(url).await.expect("connect"));
    }
    let next = Arc::new(AtomicUsize::new(0));
    let insert = format!("INSERT INTO {table} (stream, seq, payload) VALUES ($1, 1, $2)");
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let (next, insert) = (next.clone(), insert.clone());
            tokio::spawn(async move {
                let payload = "x".repeat(300);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    sqlx::query("BEGIN")
                        .execute(&mut conn)
                        .await
                        .expect("begin");
                    if locked {
                        sqlx::query("SELECT pg_advisory_xact_lock($1)")
                            .bind(certbroker::es::storage::postgres::APPEND_LOCK)
                            .execute(&mut conn)
                            .await
                            .expect("lock");
                    }
                    sqlx::query(&insert)
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
                conn.close().await.expect("close");
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    rate(n, start.elapsed())
}

/// What sampling `pg_locks` saw of the append lock while a measure ran.
#[derive(Default)]
struct LockSamples {
    samples: u64,
    held: u64,
    waiting: u64,
}

impl LockSamples {
    fn held_share(&self) -> f64 {
        self.held as f64 / self.samples.max(1) as f64
    }

    fn mean_waiting(&self) -> f64 {
        self.waiting as f64 / self.samples.max(1) as f64
    }
}

/// Samples the advisory locks of the database at `url` until `stop` is set.
async fn sample_append_lock(url: String, stop: Arc<AtomicBool>) -> LockSamples {
    let mut conn = PgConnection::connect(&url).await.expect("connect");
    let mut seen = LockSamples::default();
    while !stop.load(Ordering::Relaxed) {
        let (held, waiting): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE granted), COUNT(*) FILTER (WHERE NOT granted) \
             FROM pg_locks WHERE locktype = 'advisory' \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(&mut conn)
        .await
        .expect("pg_locks");
        seen.samples += 1;
        seen.held += held.min(1) as u64;
        seen.waiting += waiting as u64;
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    conn.close().await.expect("close");
    seen
}

/// One durable-create measure: its rate, the writers' mean batch and the lock samples.
struct Creates {
    rate: f64,
    batch: f64,
    batches_per_s: f64,
    lock: LockSamples,
}

/// `n` durable manual creates from `clients` clients, request `i` to replica `i % len`.
async fn durable_creates(
    replicas: &Arc<Vec<Replica>>,
    url: &str,
    label: &str,
    clients: usize,
    n: usize,
) -> Creates {
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_append_lock(url.to_owned(), stop.clone()));
    let (b0, c0) = certbroker::es::writer::batch_stats();
    let (all, label) = (replicas.clone(), label.to_owned());
    let time = run_clients(clients, n, move |i| {
        let r = &all[i % all.len()];
        let request = r
            .client
            .post(format!(
                "{}/certificates/{label}x{clients}x{i}/create?api-version=7.5",
                r.base
            ))
            .bearer_auth("test-token")
            .json(&json!({"policy": {"key_props": {"kty": "EC", "crv": "P-256"}, "x509_props": {"subject": "CN=durable.example.com"}, "issuer": {"name": "Unknown"}}}));
        async move {
            let r = request.send().await.expect("send");
            assert_eq!(r.status(), 202);
        }
    })
    .await;
    let (b1, c1) = certbroker::es::writer::batch_stats();
    stop.store(true, Ordering::Relaxed);
    let lock = sampler.await.expect("sampler");
    Creates {
        rate: rate(n, time),
        batch: (c1 - c0) as f64 / (b1 - b0).max(1) as f64,
        batches_per_s: rate((b1 - b0) as usize, time),
        lock,
    }
}

/// `reads` GET pending from 16 clients, spread round-robin, over the first `names` creates.
async fn gets(replicas: &Arc<Vec<Replica>>, label: &str, names: usize, reads: usize) -> f64 {
    let (all, label) = (replicas.clone(), label.to_owned());
    let time = run_clients(common::CONCURRENCY, reads, move |i| {
        let r = &all[i % all.len()];
        let request = r
            .client
            .get(format!(
                "{}/certificates/{label}x16x{}/pending?api-version=7.5",
                r.base,
                i % names
            ))
            .bearer_auth("test-token");
        async move {
            assert_eq!(request.send().await.expect("send").status(), 200);
        }
    })
    .await;
    rate(reads, time)
}

async fn setting(url: &str, name: &str) -> String {
    let mut conn = PgConnection::connect(url).await.expect("connect");
    let value: String = sqlx::query_scalar(&format!("SHOW {name}"))
        .fetch_one(&mut conn)
        .await
        .expect("show");
    conn.close().await.expect("close");
    value
}

fn row(measure: &str, value: f64, baseline: f64) {
    println!(
        "{:<52} {:>10.0} {:>12.0} {:>8.2}",
        measure,
        value,
        baseline,
        value / baseline
    );
}

#[tokio::main]
async fn main() {
    let admin = match std::env::var(STORAGE_URL_ENV) {
        Ok(url) if !url.is_empty() => url,
        _ => {
            println!("replicas benchmark skipped: {STORAGE_URL_ENV} names no PostgreSQL server (make bench starts one)");
            return;
        }
    };
    let n = common::operations(2000, 20);
    let raw_url = fresh_database(&admin, "bench_raw").await;
    let fsync = setting(&raw_url, "fsync").await;
    let synchronous_commit = setting(&raw_url, "synchronous_commit").await;
    let raw = raw_commits(&raw_url, "raw1", 1, n, false).await;
    let raw16 = raw_commits(&raw_url, "raw16", 16, n, false).await;
    let raw16_locked = raw_commits(&raw_url, "raw16locked", 16, n, true).await;

    let mut dirs = Vec::new();
    let mut creates = Vec::new();
    let mut reads = Vec::new();
    for count in [1usize, 3] {
        let url = fresh_database(&admin, &format!("bench_replicas{count}")).await;
        let servers = Arc::new(replicas(count, &url, &mut dirs).await);
        for clients in [16usize, 64] {
            let c = durable_creates(&servers, &url, "durable", clients, n).await;
            creates.push((count, clients, c));
        }
        reads.push(gets(&servers, "durable", n, n * 5).await);
    }

    println!(
        "certbroker on PostgreSQL (n={n}, one run; fsync={fsync}, synchronous_commit={synchronous_commit})"
    );
    println!(
        "{:<52} {:>10} {:>12} {:>8}",
        "measure", "per second", "baseline/s", "ratio"
    );
    for (count, clients, c) in &creates {
        row(
            &format!(
                "durable creates, {count} replica{}, {clients} clients (batch {:.1})",
                if *count == 1 { "" } else { "s" },
                c.batch
            ),
            c.rate,
            raw,
        );
    }
    row("raw commits, 16 connections vs 1", raw16, raw);
    row(
        "raw commits, 16 connections, append lock vs none",
        raw16_locked,
        raw16,
    );
    row("GET pending, 3 replicas vs 1", reads[1], reads[0]);
    println!("append lock while creating (pg_locks sampled every 2 ms):");
    for (count, clients, c) in &creates {
        println!(
            "  {count} replica(s), {clients} clients: held {:.0}% of samples, {:.1} appends waiting on average, {:.0} commits/s of {:.1} creates",
            c.lock.held_share() * 100.0,
            c.lock.mean_waiting(),
            c.batches_per_s,
            c.batch
        );
    }
}
