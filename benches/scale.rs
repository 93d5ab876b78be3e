//! `make bench` (scale part): what changes as a vault grows to 100k certificates.
//!
//! The vault is filled over HTTPS with self-issued EC P-256 certificates (each its own key
//! and certificate, one command each). At each size it measures:
//!
//! - the database's size per 10k certificates (after a WAL checkpoint, events and views);
//! - listing: the mean time per page of a walk over every page (`maxresults=25`,
//!   following `nextLink`), and the first page against the last one;
//! - `GET /certificates/{name}` latency from one client over names spread across the vault;
//! - the process's resident memory (the server runs in-process; the clients are small).
//!
//! At the largest size: durable creates (Unknown issuer) at 1 to 64 clients, the batch size
//! the group commit reached, and the peak resident memory while they ran.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{percentile, run_clients};

/// Resident and peak resident memory of this process, in MiB (`/proc/self/status`).
fn memory_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|kib| kib / 1024.0)
            .unwrap_or(f64::NAN)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Bytes of the SQLite files under `dir` after the WAL is checkpointed into the database.
async fn database_bytes(dir: &std::path::Path) -> u64 {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Connection};
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("data dir").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".sqlite3") {
            files.push(entry.path());
        }
    }
    let mut total = 0;
    for db in files {
        let mut conn = SqliteConnectOptions::new()
            .filename(&db)
            .connect()
            .await
            .expect("open db");
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .expect("checkpoint");
        conn.close().await.expect("close");
        for suffix in ["", "-wal", "-shm"] {
            let path = format!("{}{suffix}", db.display());
            total += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}

fn name(i: usize) -> String {
    format!("scale{i:07}")
}

struct Listing {
    pages: usize,
    rows: usize,
    per_page_ms: f64,
    first_ms: f64,
    last_ms: f64,
}

async fn get_json(client: &reqwest::Client, url: &str) -> (Value, Duration) {
    let start = Instant::now();
    let r = client
        .get(url)
        .bearer_auth("test-token")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "{url}");
    let v: Value = r.json().await.expect("json");
    (v, start.elapsed())
}

/// Walks every page of the certificate list; times the first and the last page again alone
/// (median of a few reads each).
async fn walk(client: &reqwest::Client, base: &str) -> Listing {
    let first = format!("{base}/certificates?api-version=7.5&maxresults=25");
    let mut next = Some(first.clone());
    let (mut pages, mut rows, mut total, mut last) = (0, 0, Duration::ZERO, first.clone());
    while let Some(url) = next {
        let (page, took) = get_json(client, &url).await;
        total += took;
        pages += 1;
        rows += page["value"].as_array().map_or(0, |v| v.len());
        next = page["nextLink"].as_str().map(str::to_owned);
        last = url;
    }
    let timed = |url: String| async move {
        let mut t = Vec::new();
        for _ in 0..21 {
            t.push(get_json(client, &url).await.1);
        }
        t.sort();
        percentile(&t, 0.5)
    };
    let first_ms = timed(first).await;
    let last_ms = timed(last).await;
    Listing {
        pages,
        rows,
        per_page_ms: total.as_secs_f64() * 1000.0 / pages as f64,
        first_ms,
        last_ms,
    }
}

/// `GET /certificates/{name}` from one client over `samples` names spread across `0..size`.
async fn get_latency(
    client: &reqwest::Client,
    base: &str,
    size: usize,
    samples: usize,
) -> [f64; 3] {
    let mut t = Vec::with_capacity(samples);
    for k in 0..samples {
        // A stride coprime to any size of the form 10^j, so the names cover the vault.
        let i = (k * 7919 + 13) % size;
        let url = format!("{base}/certificates/{}?api-version=7.5", name(i));
        t.push(get_json(client, &url).await.1);
    }
    t.sort();
    [
        percentile(&t, 0.5),
        percentile(&t, 0.99),
        percentile(&t, 1.0),
    ]
}

/// Creates self-issued certificates `from..to` from 64 clients.
async fn fill(client: &reqwest::Client, base: &str, from: usize, to: usize) -> f64 {
    let (c, b) = (client.clone(), base.to_owned());
    let took = run_clients(64, to - from, move |k| {
        let c = c.clone();
        let url = format!("{b}/certificates/{}/create?api-version=7.5", name(from + k));
        async move { common::create_ec(&c, url, "Self").await }
    })
    .await;
    (to - from) as f64 / took.as_secs_f64()
}

#[tokio::main]
async fn main() {
    let largest = common::operations(100_000, 300);
    let sizes = [largest / 100, largest / 10, largest];
    let creates = common::operations(2000, 20);
    let dir = tempfile::tempdir().expect("tempdir");
    let (base, client) = common::start_server(dir.path()).await;

    println!("certbroker at scale (self-issued EC P-256 certificates, filled over HTTPS from 64 clients; one run)");
    println!(
        "{:>9} {:>9} {:>10} {:>9} {:>10} {:>10} {:>9} {:>9} {:>9} {:>8}",
        "certs",
        "fill/s",
        "MiB/10k",
        "pages",
        "ms/page",
        "last/first",
        "GET p50",
        "GET p99",
        "GET max",
        "RSS MiB"
    );
    let mut have = 0;
    for size in sizes {
        let fill_rate = fill(&client, &base, have, size).await;
        have = size;
        let bytes = database_bytes(dir.path()).await;
        let listing = walk(&client, &base).await;
        assert_eq!(listing.rows, size, "the walk lists every certificate once");
        let [p50, p99, max] = get_latency(&client, &base, size, 1000.min(size * 4)).await;
        let (rss, _) = memory_mib();
        println!(
            "{:>9} {:>9.0} {:>10.1} {:>9} {:>10.2} {:>10.2} {:>9.2} {:>9.2} {:>9.2} {:>8.0}",
            size,
            fill_rate,
            bytes as f64 / 1_048_576.0 / (size as f64 / 10_000.0),
            listing.pages,
            listing.per_page_ms,
            listing.last_ms / listing.first_ms,
            p50,
            p99,
            max,
            rss
        );
    }

    // Durable creates at 1..64 clients on the full vault, resident memory sampled meanwhile.
    let peak_kib = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak_kib, sampling) = (peak_kib.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                let (rss, _) = memory_mib();
                peak_kib.fetch_max((rss * 1024.0) as u64, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    println!();
    println!(
        "{:<44} {:>10} {:>8} {:>12}",
        "durable creates on the full vault", "per second", "batch", "vs 1 client"
    );
    let mut one = None;
    for clients in [1usize, 2, 4, 8, 16, 32, 64] {
        let (r, batch) = common::durable_creates(&client, &base, clients, creates).await;
        let one = *one.get_or_insert(r);
        println!(
            "{:<44} {:>10.0} {:>8.1} {:>12.2}",
            format!("{clients} clients"),
            r,
            batch,
            r / one
        );
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.await.expect("sampler");
    let (_, hwm) = memory_mib();
    println!(
        "resident memory under those creates: peak {:.0} MiB sampled, {:.0} MiB high-water mark of the process",
        peak_kib.load(Ordering::Relaxed) as f64 / 1024.0,
        hwm
    );
}
