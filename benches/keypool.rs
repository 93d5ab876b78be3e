//! `make bench` (key pool part): RSA create latency over HTTPS, one client, with the key
//! pool warm (every create draws a key made ahead) and drained (a pool of 0: every key is
//! made for its request, which is the cost the pool hides). p50/p95/p99 per key size.

use std::time::{Duration, Instant};

use certbroker::domain::policy::KeySpec;
use certbroker::service::keypool::KeyPool;
use serde_json::json;

mod common;
use common::percentile;

/// Key sizes measured, each with the pool size of the warm server and the rounds taken.
const SIZES: &[(u32, usize)] = &[(2048, 8), (3072, 4), (4096, 2)];

async fn create(client: &reqwest::Client, url: String, bits: u32) -> Duration {
    let start = Instant::now();
    let r = client
        .post(url)
        .bearer_auth("test-token")
        .json(&json!({"policy": {"key_props": {"kty": "RSA", "key_size": bits}, "x509_props": {"subject": "CN=pool.example.com"}}}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 202);
    start.elapsed()
}

async fn wait_full(pool: std::sync::Arc<KeyPool>) {
    tokio::task::spawn_blocking(move || pool.wait_full())
        .await
        .expect("wait");
}

#[tokio::main]
async fn main() {
    let rounds = common::operations(8, 1);
    let warm_dir = tempfile::tempdir().expect("tempdir");
    let (warm_base, warm_client, warm) = common::start_server_with(warm_dir.path(), |s| {
        s.keys.pool_threads = 1;
        s.keys.pool = SIZES
            .iter()
            .map(|(bits, size)| (format!("rsa-{bits}"), *size))
            .collect();
    })
    .await;
    let drained_dir = tempfile::tempdir().expect("tempdir");
    let (drained_base, drained_client, _) =
        common::start_server_with(drained_dir.path(), |_| {}).await;
    let pool = warm.core.key_pool.clone();

    println!("certbroker RSA create latency over HTTPS (one client; warm: keys drawn from the pool, refilled between rounds; drained: pool of 0, key made inline)");
    println!(
        "{:<26} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "measure", "samples", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    let mut i = 0usize;
    for &(bits, size) in SIZES {
        let spec = KeySpec::Rsa { bits };
        let mut warm_times = Vec::new();
        for _ in 0..rounds {
            wait_full(pool.clone()).await;
            for _ in 0..size {
                i += 1;
                let url = format!("{warm_base}/certificates/pool{i}/create?api-version=7.5");
                warm_times.push(create(&warm_client, url, bits).await);
            }
        }
        assert_eq!(pool.level(&spec).1, size);
        // Inline keys are slower: as many samples as the warm run takes keys in total,
        // but at least a handful.
        let mut drained_times = Vec::new();
        for _ in 0..(rounds * size / 2).max(2) {
            i += 1;
            let url = format!("{drained_base}/certificates/pool{i}/create?api-version=7.5");
            drained_times.push(create(&drained_client, url, bits).await);
        }
        for (label, times) in [("warm", &mut warm_times), ("drained", &mut drained_times)] {
            times.sort();
            println!(
                "{:<26} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                format!("RSA-{bits} create, {label}"),
                times.len(),
                percentile(times, 0.50),
                percentile(times, 0.95),
                percentile(times, 0.99),
                percentile(times, 1.0),
            );
        }
    }
}
