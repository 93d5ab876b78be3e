//! What the HTTPS benchmarks share: how many operations to run and a server to run them on.

use std::sync::Arc;
use std::time::{Duration, Instant};

use certbroker::config::Settings;
use certbroker::service::Services;
use certbroker::startup::Application;

/// Clients running at once against the server.
#[allow(dead_code)]
pub const CONCURRENCY: usize = 16;

/// Operations per measure: `BENCH_N`, else `full` under `cargo bench` (which passes
/// `--bench`) and a short smoke run under `cargo test --all-targets`, which checks that the
/// benchmark still works without spending the test run's time.
pub fn operations(full: usize, smoke: usize) -> usize {
    let full_run = std::env::args().any(|a| a == "--bench");
    std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full_run { full } else { smoke })
}

/// The server, started in-process on a loopback port over `dir`, its base URL and a client
/// trusting it with a connection per concurrent task.
#[allow(dead_code)]
pub async fn start_server(dir: &std::path::Path) -> (String, reqwest::Client) {
    let (base, client, _) = start_server_with(dir, |_| {}).await;
    (base, client)
}

/// [`start_server`] with `tweak` applied to the settings; also returns the services.
#[allow(dead_code)]
pub async fn start_server_with(
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut Settings),
) -> (String, reqwest::Client, Services) {
    let mut settings = Settings::for_test(dir);
    settings.log.level = "error".into();
    tweak(&mut settings);
    let app = Application::build(settings).await.expect("app");
    let services = app.services.clone();
    let base = format!("https://127.0.0.1:{}", app.port());
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(app.trust_pem.as_bytes()).expect("pem"),
        )
        .pool_max_idle_per_host(64)
        .build()
        .expect("client");
    tokio::spawn(app.run_until_stopped());
    (base, client, services)
}

/// Runs `f(0)`, ..., `f(n - 1)` from `clients` tasks at once; returns the time it took.
#[allow(dead_code)]
pub async fn run_clients<F, Fut>(clients: usize, n: usize, f: F) -> Duration
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let f = Arc::new(f);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let f = f.clone();
            let next = next.clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    f(i).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    start.elapsed()
}

/// The `p` quantile (0 to 1) of `sorted`, in milliseconds.
#[allow(dead_code)]
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

/// Creates one EC P-256 certificate through `url` (a `.../create?api-version=...` URL) with
/// `issuer` (`Self` signs it at once, `Unknown` leaves it pending) and asserts the 202.
#[allow(dead_code)]
pub async fn create_ec(client: &reqwest::Client, url: String, issuer: &str) {
    let r = client
        .post(url)
        .bearer_auth("test-token")
        .json(&serde_json::json!({"policy": {
            "key_props": {"kty": "EC", "crv": "P-256"},
            "x509_props": {"subject": "CN=bench.example.com"},
            "issuer": {"name": issuer}}}))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 202);
}

/// Durable manual creates (EC P-256, issuer `Unknown`) of `n` new certificates
/// (`durable{clients}x{i}`) on the server at `base` from `clients` clients at once: creates
/// per second and the mean batch the writer's group commit reached meanwhile.
#[allow(dead_code)]
pub async fn durable_creates(
    client: &reqwest::Client,
    base: &str,
    clients: usize,
    n: usize,
) -> (f64, f64) {
    let (c, b) = (client.clone(), base.to_owned());
    let (b0, c0) = certbroker::es::writer::batch_stats();
    let took = run_clients(clients, n, move |i| {
        let url = format!("{b}/certificates/durable{clients}x{i}/create?api-version=7.5");
        let c = c.clone();
        async move { create_ec(&c, url, "Unknown").await }
    })
    .await;
    let (b1, c1) = certbroker::es::writer::batch_stats();
    (
        n as f64 / took.as_secs_f64(),
        (c1 - c0) as f64 / (b1 - b0).max(1) as f64,
    )
}
