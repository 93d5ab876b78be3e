//! Prometheus metrics (`GET /metrics`, text exposition by the `prometheus` crate).
//!
//! Two kinds: counters and histograms recorded where things happen, through the named
//! functions below (HTTP requests, refusals, the writer's batches, issuance, ACME steps,
//! lifetime actions), kept in one process-wide registry; and gauges computed from the views
//! at scrape time ([`render`]), built afresh on each scrape so a deleted certificate or a
//! finished request leaves no stale series. Recording never fails, never blocks on I/O and
//! never sees a token, key or CSR: labels are route operations, statuses, vault, provider
//! and certificate names.

use std::sync::OnceLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::es::storage::Storage;
use crate::projections::observe;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

struct Recorded {
    registry: Registry,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    refused: IntCounterVec,
    writer_batch: Histogram,
    writer_commit: Histogram,
    events_appended: IntCounter,
    issuance: IntCounterVec,
    issuance_duration: HistogramVec,
    acme_step: HistogramVec,
    lifetime_actions: IntCounterVec,
    keys_drawn: IntCounterVec,
}

/// Seconds buckets for work that takes from milliseconds (local CA) to minutes (ACME).
const SLOW_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    r.register(Box::new(c.clone()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    c
}

fn histogram_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> HistogramVec {
    let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(buckets), labels)
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    r.register(Box::new(h.clone()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    h
}

fn histogram(r: &Registry, name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    r.register(Box::new(h.clone()))
        .unwrap_or_else(|e| panic!("metric {name}: {e}"));
    h
}

impl Recorded {
    // The names and label sets are constants: registering them cannot fail at run time, and
    // a mistake in them fails every test at the first request.
    fn new() -> Self {
        let r = Registry::new();
        let http_requests = counter_vec(
            &r,
            "certbroker_http_requests_total",
            "HTTP requests answered, by route operation, status code and vault.",
            &["operation", "status", "vault"],
        );
        let http_duration = histogram_vec(
            &r,
            "certbroker_http_request_duration_seconds",
            "Time from receiving a request to its response, by route operation and vault.",
            &["operation", "vault"],
            prometheus::DEFAULT_BUCKETS.to_vec(),
        );
        let refused = counter_vec(
            &r,
            "certbroker_http_refused_total",
            "Requests refused, by reason (missing_token, invalid_token, forbidden, conflict, throttled).",
            &["reason"],
        );
        let writer_batch = histogram(
            &r,
            "certbroker_writer_batch_size",
            "Commands committed together in one write transaction.",
            vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0],
        );
        let writer_commit = histogram(
            &r,
            "certbroker_writer_commit_duration_seconds",
            "Time of one write transaction, from BEGIN to COMMIT.",
            prometheus::exponential_buckets(0.0005, 2.0, 14)
                .unwrap_or_else(|_| prometheus::DEFAULT_BUCKETS.to_vec()),
        );
        let events_appended = IntCounter::new(
            "certbroker_events_appended_total",
            "Event rows committed to the event store (audit records included).",
        )
        .unwrap_or_else(|e| panic!("metric certbroker_events_appended_total: {e}"));
        r.register(Box::new(events_appended.clone()))
            .unwrap_or_else(|e| panic!("metric certbroker_events_appended_total: {e}"));
        let issuance = counter_vec(
            &r,
            "certbroker_issuance_total",
            "Issuance attempts the worker finished, by provider and outcome (issued, refused, error).",
            &["provider", "outcome"],
        );
        let issuance_duration = histogram_vec(
            &r,
            "certbroker_issuance_duration_seconds",
            "Time to issue one certificate, by provider and outcome: the signing for the built-in CA, from the request to the download (or refusal) for ACME.",
            &["provider", "outcome"],
            SLOW_BUCKETS.to_vec(),
        );
        let acme_step = histogram_vec(
            &r,
            "certbroker_acme_step_duration_seconds",
            "Time of one ACME step (account, order, authorization, finalize, download).",
            &["step"],
            SLOW_BUCKETS.to_vec(),
        );
        let lifetime_actions = counter_vec(
            &r,
            "certbroker_lifetime_actions_total",
            "Lifetime actions fired, by action (AutoRenew, EmailContacts).",
            &["action"],
        );
        let keys_drawn = counter_vec(
            &r,
            "certbroker_keys_drawn_total",
            "Private keys a create took, by key type and source (pool: made ahead; inline: made for the request).",
            &["key_type", "source"],
        );
        Recorded {
            registry: r,
            http_requests,
            http_duration,
            refused,
            writer_batch,
            writer_commit,
            events_appended,
            issuance,
            issuance_duration,
            acme_step,
            lifetime_actions,
            keys_drawn,
        }
    }
}

fn recorded() -> &'static Recorded {
    static METRICS: OnceLock<Recorded> = OnceLock::new();
    METRICS.get_or_init(Recorded::new)
}

/// One answered HTTP request: `operation` is the route table's name for it (`NotFound`,
/// `MethodNotAllowed` when no route matched).
pub fn http_request(operation: &str, status: u16, vault: &str, seconds: f64) {
    let m = recorded();
    m.http_requests
        .with_label_values(&[operation, &status.to_string(), vault])
        .inc();
    m.http_duration
        .with_label_values(&[operation, vault])
        .observe(seconds);
}

/// A refused request (`missing_token`, `invalid_token`, `forbidden`, `conflict`, `throttled`).
pub fn refused(reason: &str) {
    recorded().refused.with_label_values(&[reason]).inc();
}

/// One write transaction of the single writer: how many commands it committed and how long
/// it took from BEGIN to COMMIT.
pub fn writer_batch(size: usize, commit_seconds: f64) {
    let m = recorded();
    m.writer_batch.observe(size as f64);
    m.writer_commit.observe(commit_seconds);
}

/// `n` event rows committed.
pub fn events_appended(n: u64) {
    recorded().events_appended.inc_by(n);
}

/// One issuance the worker finished with `provider`: `outcome` is `issued`, `refused` (the
/// CA said no) or `error` (to be retried).
pub fn issuance(provider: &str, outcome: &str, seconds: f64) {
    let m = recorded();
    m.issuance.with_label_values(&[provider, outcome]).inc();
    m.issuance_duration
        .with_label_values(&[provider, outcome])
        .observe(seconds);
}

/// One ACME step (`account`, `order`, `authorization`, `finalize`, `download`) and its time.
pub fn acme_step(step: &str, seconds: f64) {
    recorded()
        .acme_step
        .with_label_values(&[step])
        .observe(seconds);
}

/// A lifetime action fired (`AutoRenew`, `EmailContacts`).
pub fn lifetime_action(action: &str) {
    recorded()
        .lifetime_actions
        .with_label_values(&[action])
        .inc();
}

/// A key a create took: `source` is `pool` (made ahead) or `inline`.
pub fn key_drawn(key_type: &str, source: &str) {
    recorded()
        .keys_drawn
        .with_label_values(&[key_type, source])
        .inc();
}

/// Why the scrape-time gauges could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("reading the views for metrics: {0}")]
    Db(#[from] sqlx::Error),
    #[error("encoding metrics: {0}")]
    Encode(#[from] prometheus::Error),
}

/// Registers a gauge of one value in `scrape`.
fn gauge(scrape: &Registry, name: &str, help: &str, value: i64) -> prometheus::Result<()> {
    let g = IntGauge::new(name, help)?;
    g.set(value);
    scrape.register(Box::new(g))
}

/// Registers gauge `name` with one series per row: its label values and its value.
fn labelled<'a, const N: usize>(
    scrape: &Registry,
    name: &str,
    help: &str,
    labels: [&str; N],
    rows: impl IntoIterator<Item = ([&'a str; N], i64)>,
) -> prometheus::Result<()> {
    let g = IntGaugeVec::new(Opts::new(name, help), &labels)?;
    for (values, value) in rows {
        g.with_label_values(&values).set(value);
    }
    scrape.register(Box::new(g))
}

/// The whole exposition: the recorded metrics, then gauges read from the views now.
pub async fn render(storage: &Storage, build_version: &str) -> Result<String, RenderError> {
    let snapshot = {
        let mut pooled = storage.acquire().await?;
        observe::metrics_snapshot(&mut pooled).await?
    };
    let scrape = Registry::new();
    let version = [([build_version], 1)];
    let help = "Always 1; the version is a label.";
    labelled(&scrape, "certbroker_build_info", help, ["version"], version)?;

    labelled(
        &scrape,
        "certbroker_pending_operations",
        "Certificate operations (each certificate's latest request) by status and provider (none: manual or self-signed).",
        ["status", "provider"],
        snapshot.pending.iter().map(|p| {
            let provider = p.provider.as_deref().unwrap_or("none");
            ([p.status.as_str(), provider], p.count)
        }),
    )?;

    gauge(
        &scrape,
        "certbroker_worker_queue_depth",
        "Requests waiting for the worker: in progress, provider-backed, approved or not needing approval, or with a cancellation to honour.",
        snapshot.queue_depth,
    )?;

    gauge(
        &scrape,
        "certbroker_pending_approvals",
        "Requests waiting for an officer's approval.",
        snapshot.awaiting_approval,
    )?;

    labelled(
        &scrape,
        "certbroker_certificate_expiry_timestamp_seconds",
        "Expiry (notAfter, Unix seconds) of each certificate's current version.",
        ["vault", "certificate"],
        snapshot
            .expiries
            .iter()
            .map(|c| ([c.vault.as_str(), c.name.as_str()], c.exp)),
    )?;

    gauge(
        &scrape,
        "certbroker_events_head_position",
        "Position of the last row in the event store.",
        snapshot.head_position,
    )?;

    let mut families = recorded().registry.gather();
    families.extend(scrape.gather());
    let mut out = Vec::new();
    TextEncoder::new().encode(&families, &mut out)?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}
