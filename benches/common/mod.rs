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
