//! `make bench` (ACME part): certificates per second through certbroker's ACME provider
//! against a real Pebble, next to Pebble's own issuance rate measured in the same run with
//! a minimal instant-acme client, and the latency certbroker adds per certificate.
//!
//! Both sides use the same Pebble (challenges always valid, no nonce rejection), EC P-256
//! keys and one client at a time driving orders (certbroker's worker drives its requests
//! in rounds; the minimal client drives one order after another).

#![allow(clippy::unwrap_used)]

#[path = "../tests/api/pebble.rs"]
#[allow(dead_code)]
mod pebble;

use std::time::{Duration, Instant};

use certbroker::config::Settings;
use certbroker::crypto;
use certbroker::domain::policy::{Curve, KeySpec, SubjectAlternativeNames, X509Properties};
use certbroker::startup::Application;
use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};
use pebble::{Pebble, PebbleOptions, PebblePorts};
use serde_json::{json, Value};

fn p50(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn csr_for(name: &str) -> Vec<u8> {
    let key = crypto::keys::generate_key(&KeySpec::Ec { curve: Curve::P256 }).unwrap();
    let props = X509Properties {
        subject: format!("CN={name}"),
        sans: SubjectAlternativeNames {
            dns_names: vec![name.to_owned()],
            ..Default::default()
        },
        ekus: vec![],
        key_usage: vec![],
        validity_months: 12,
    };
    crypto::csr::build_csr(&key, &props).unwrap()
}

/// One certificate with a bare instant-acme client: order, ready, finalize, download.
async fn minimal_issue(account: &Account, name: &str, csr: &[u8]) {
    let ids = [Identifier::Dns(name.to_owned())];
    let mut order = account.new_order(&NewOrder::new(&ids)).await.unwrap();
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.unwrap();
        if authz.status == AuthorizationStatus::Pending {
            authz
                .challenge(ChallengeType::Http01)
                .unwrap()
                .set_ready()
                .await
                .unwrap();
        }
    }
    let poll = RetryPolicy::new()
        .initial_delay(Duration::from_millis(20))
        .backoff(1.5)
        .timeout(Duration::from_secs(30));
    assert_eq!(order.poll_ready(&poll).await.unwrap(), OrderStatus::Ready);
    order.finalize_csr(csr).await.unwrap();
    order.poll_certificate(&poll).await.unwrap();
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` does not, and then a short
    // run checks that the benchmark still works without spending the test run's time.
    let full_run = std::env::args().any(|a| a == "--bench");
    let n: usize = std::env::var("BENCH_ACME_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full_run { 50 } else { 3 });
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;

    // Baseline: Pebble's own rate with a minimal client.
    let directory = pebble.ports.directory_url();
    let account = minimal_account(&std::fs::read(&pebble.tls_ca_file).unwrap(), &directory).await;
    let csrs: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            let name = format!("base{i}.example.com");
            let csr = csr_for(&name);
            (name, csr)
        })
        .collect();
    let mut base_lat = Vec::with_capacity(n);
    let start = Instant::now();
    for (name, csr) in &csrs {
        let t = Instant::now();
        minimal_issue(&account, name, csr).await;
        base_lat.push(t.elapsed());
    }
    let base_rate = n as f64 / start.elapsed().as_secs_f64();

    // certbroker: the same number of requests through an ACME issuer, worker running.
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::for_test(dir.path());
    settings.log.level = "error".into();
    settings.worker.enabled = true;
    settings.worker.interval_ms = 20;
    settings.providers.insert(
        "pebble".into(),
        serde_json::from_value(json!({"kind": "acme", "directory_url": directory,
            "ca_file": pebble.tls_ca_file}))
        .unwrap(),
    );
    let app = Application::build(settings).await.unwrap();
    let base = format!("https://127.0.0.1:{}", app.port());
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(app.trust_pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    tokio::spawn(app.run_until_stopped());
    let url = |p: &str| format!("{base}{p}?api-version=7.5");
    let r = client
        .put(url("/certificates/issuers/acme"))
        .bearer_auth("test-token")
        .json(&json!({"provider": "pebble"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let create = |i: usize| {
        client
            .post(url(&format!("/certificates/cb{i}/create")))
            .bearer_auth("test-token")
            .json(
                &json!({"policy": {"key_props": {"kty": "EC", "crv": "P-256"},
                "x509_props": {"subject": format!("CN=cb{i}.example.com")},
                "issuer": {"name": "acme"}}}),
            )
            .send()
    };
    let status = |i: usize| {
        let c = client.clone();
        let u = url(&format!("/certificates/cb{i}/pending"));
        async move {
            let v: Value = c
                .get(u)
                .bearer_auth("test-token")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            v["status"].as_str().unwrap_or_default().to_owned()
        }
    };
    // Throughput: all requests at once, until every one completed.
    let start = Instant::now();
    for i in 0..n {
        assert_eq!(create(i).await.unwrap().status(), 202);
    }
    for i in 0..n {
        loop {
            match status(i).await.as_str() {
                "completed" => break,
                "inProgress" => tokio::time::sleep(Duration::from_millis(5)).await,
                other => panic!("request cb{i} ended {other}"),
            }
        }
    }
    let cb_rate = n as f64 / start.elapsed().as_secs_f64();
    // Latency: one request at a time, create to completed as a client polling every 5 ms sees it.
    let m = n.min(20);
    let mut cb_lat = Vec::with_capacity(m);
    for i in n..n + m {
        let t = Instant::now();
        assert_eq!(create(i).await.unwrap().status(), 202);
        while status(i).await == "inProgress" {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cb_lat.push(t.elapsed());
    }

    let (bl, cl) = (p50(base_lat), p50(cb_lat));
    println!("ACME issuance against Pebble (n={n}, one run)");
    println!(
        "{:<52} {:>10} {:>12} {:>8}",
        "measure", "certbroker", "minimal", "ratio"
    );
    println!(
        "{:<52} {:>10.1} {:>12.1} {:>8.2}",
        "certificates/s (EC P-256, one driver)",
        cb_rate,
        base_rate,
        cb_rate / base_rate
    );
    println!(
        "{:<52} {:>10.1} {:>12.1} {:>8.2}",
        "p50 ms per certificate (one at a time)",
        cl.as_secs_f64() * 1e3,
        bl.as_secs_f64() * 1e3,
        cl.as_secs_f64() / bl.as_secs_f64()
    );
    println!(
        "latency certbroker adds per certificate (p50): {:.1} ms",
        (cl.as_secs_f64() - bl.as_secs_f64()) * 1e3
    );
}

/// A bare instant-acme account over the same HTTP transport certbroker uses.
async fn minimal_account(ca_pem: &[u8], directory: &str) -> Account {
    let http = certbroker::worker::acme::http_client(Some(ca_pem)).unwrap();
    let (account, _) = Account::builder_with_http(http)
        .create(
            &NewAccount {
                contact: &[],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            directory.to_owned(),
            None,
        )
        .await
        .unwrap();
    account
}
