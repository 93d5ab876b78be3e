//! What the HTTPS benchmarks share: how many operations to run and a server to run them on.

use certbroker::config::Settings;
use certbroker::startup::Application;

/// Clients running at once against the server.
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
pub async fn start_server(dir: &std::path::Path) -> (String, reqwest::Client) {
    let mut settings = Settings::for_test(dir);
    settings.log.level = "error".into();
    let app = Application::build(settings).await.expect("app");
    let base = format!("https://127.0.0.1:{}", app.port());
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(app.trust_pem.as_bytes()).expect("pem"),
        )
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("client");
    tokio::spawn(app.run_until_stopped());
    (base, client)
}
