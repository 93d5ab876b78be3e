//! `TestApp`: one server per test, on its own temporary data directory.

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use certbroker::config::Settings;
use certbroker::crypto;
use certbroker::startup::Application;
use certbroker::worker::Worker;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use sqlx::AnyPool;

#[path = "../common/storage.rs"]
mod storage;
#[allow(unused_imports)]
pub use storage::{fresh_storage_url, on_postgres, STORAGE_URL_ENV};

/// A read-write pool on the database of `storage_url` (or the SQLite file in `data_dir`).
pub async fn any_pool(storage_url: &str, data_dir: &std::path::Path) -> AnyPool {
    sqlx::any::install_default_drivers();
    let url = if storage_url.is_empty() {
        format!(
            "sqlite://{}",
            certbroker::startup::database_path(data_dir).display()
        )
    } else {
        storage_url.to_owned()
    };
    sqlx::any::AnyPoolOptions::new()
        .max_connections(2)
        .connect(&url)
        .await
        .unwrap()
}

pub const TOKEN: &str = "test-token";
pub const API: &str = "7.5";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The database, read-write, whichever engine it is.
    pub pool: AnyPool,
    pub worker: Worker,
    pub data_dir: PathBuf,
    /// `storage.url`: empty for SQLite.
    pub storage_url: String,
    /// The ACME HTTP-01 listener's port, when configured.
    pub http01_port: Option<u16>,
    /// The handlers' state (tests write the refusals still being counted).
    pub state: certbroker::http::AppState,
    /// The plain-HTTP managed-identity listener's port, when configured.
    pub identity_port: Option<u16>,
    _dir: tempfile::TempDir,
}

/// A reqwest client trusting `pem`.
pub fn client_trusting(pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(pem.as_bytes()).unwrap())
        .build()
        .unwrap()
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        Self::spawn_with_clock(tweak, std::sync::Arc::new(certbroker::service::SystemClock)).await
    }

    pub async fn spawn_with_clock(
        tweak: impl FnOnce(&mut Settings),
        clock: std::sync::Arc<dyn certbroker::service::Clock>,
    ) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = Settings::for_test(dir.path());
        settings.storage.url = certbroker::config::Secret::new(fresh_storage_url().await);
        tweak(&mut settings);
        let data_dir = settings.storage.data_dir.clone();
        let storage_url = settings.storage.url.expose().clone();
        let app = Application::build_with_clock(settings, clock)
            .await
            .unwrap();
        let port = app.port();
        let http01_port = app.http01_port();
        let identity_port = app.identity_port();
        let pool = any_pool(&storage_url, &data_dir).await;
        let worker = app.worker.clone();
        let trust_pem = app.trust_pem.clone();
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address: format!("https://127.0.0.1:{port}"),
            client: client_trusting(&trust_pem),
            pool,
            worker,
            data_dir,
            storage_url,
            http01_port,
            state,
            identity_port,
            _dir: dir,
        }
    }

    /// The test settings on this app's data directory and database.
    pub fn settings(&self) -> Settings {
        let mut settings = Settings::for_test(&self.data_dir);
        settings.storage.url = certbroker::config::Secret::new(self.storage_url.clone());
        settings
    }

    /// A write connection of its own on the app's database, as the command-line tools open.
    pub async fn open_database(&self) -> certbroker::es::storage::Owned {
        certbroker::startup::open_tool_database(&self.settings())
            .await
            .unwrap()
            .1
    }

    pub fn url(&self, path: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}{path}{sep}api-version={API}", self.address)
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }

    pub async fn create(&self, name: &str, body: Value) -> Response {
        self.send(
            Method::POST,
            &format!("/certificates/{name}/create"),
            Some(body),
        )
        .await
    }

    pub async fn create_manual(&self, name: &str) -> Value {
        let r = self
            .create(name, json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": format!("CN={name}.example.com")}, "issuer": {"name": "Unknown"}}}))
            .await;
        assert_eq!(r.status(), 202);
        r.json().await.unwrap()
    }

    pub async fn get_pending(&self, name: &str, request_id: Option<&str>) -> Response {
        let path = match request_id {
            Some(r) => format!("/certificates/{name}/pending?request_id={r}"),
            None => format!("/certificates/{name}/pending"),
        };
        self.send(Method::GET, &path, None).await
    }

    pub async fn cancel(&self, name: &str, request_id: Option<&str>) -> Response {
        let path = match request_id {
            Some(r) => format!("/certificates/{name}/pending?request_id={r}"),
            None => format!("/certificates/{name}/pending"),
        };
        self.send(
            Method::PATCH,
            &path,
            Some(json!({"cancellation_requested": true})),
        )
        .await
    }

    pub async fn delete_pending(&self, name: &str, request_id: Option<&str>) -> Response {
        let path = match request_id {
            Some(r) => format!("/certificates/{name}/pending?request_id={r}"),
            None => format!("/certificates/{name}/pending"),
        };
        self.send(Method::DELETE, &path, None).await
    }

    pub async fn merge(&self, name: &str, x5c: Vec<String>) -> Response {
        self.send(
            Method::POST,
            &format!("/certificates/{name}/pending/merge"),
            Some(json!({"x5c": x5c})),
        )
        .await
    }

    pub async fn get_certificate(&self, name: &str) -> Response {
        self.send(Method::GET, &format!("/certificates/{name}/"), None)
            .await
    }

    /// Asserts that `name` exists without any version (its first request is pending,
    /// failed, cancelled or deleted): Key Vault answers its policy, `enabled: false` and
    /// no `cer`.
    pub async fn assert_no_version_yet(&self, name: &str) {
        let r = self.get_certificate(name).await;
        assert_eq!(r.status(), 200, "{name}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(b["attributes"]["enabled"], false, "{b}");
        assert!(b.get("cer").is_none(), "{b}");
        assert!(b["policy"].is_object(), "{b}");
    }

    pub async fn put_issuer(&self, name: &str, provider: &str) -> Response {
        self.send(
            Method::PUT,
            &format!("/certificates/issuers/{name}"),
            Some(json!({"provider": provider})),
        )
        .await
    }

    pub async fn create_with_issuer(&self, name: &str, issuer: &str, subject: &str) -> Value {
        let r = self
            .create(name, json!({"policy": {"key_props": {"kty": "EC", "crv": "P-256"}, "x509_props": {"subject": subject}, "issuer": {"name": issuer}}}))
            .await;
        assert_eq!(r.status(), 202);
        r.json().await.unwrap()
    }

    pub async fn run_worker(&self) -> usize {
        self.worker.run_once().await.unwrap()
    }

    /// Renames table `from` to `to` behind the server's back (to make its reads fail).
    pub async fn rename_table(&self, from: &str, to: &str) {
        sqlx::query(&format!("ALTER TABLE {from} RENAME TO {to}"))
            .execute(&self.pool)
            .await
            .unwrap();
    }

    /// Domain events (audit records excluded).
    pub async fn event_count(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE stream_id NOT LIKE 'audit/%'")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Writes the refusals still being counted (as the end of their window would).
    pub async fn flush_refusals(&self) {
        self.state.refusals.flush(&self.state.services, true).await;
    }

    /// Refused requests recorded: the sum of the refusal records' counts.
    pub async fn refused_count(&self) -> i64 {
        self.flush_refusals().await;
        let payloads: Vec<String> =
            sqlx::query_scalar("SELECT payload FROM events WHERE event_type = 'AccessRefused'")
                .fetch_all(&self.pool)
                .await
                .unwrap();
        payloads
            .iter()
            .map(|p| {
                let v: serde_json::Value = serde_json::from_str(p).unwrap();
                v["count"].as_i64().unwrap_or(1)
            })
            .sum()
    }

    /// Audit records (refused requests, token changes): they are events but change no view.
    /// The refusals still being counted are written first.
    pub async fn audit_count(&self) -> i64 {
        self.flush_refusals().await;
        sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE stream_id LIKE 'audit/%'")
            .fetch_one(&self.pool)
            .await
            .unwrap()
    }

    /// Dumps every view, rebuilds from the events in a rolled-back transaction, and asserts
    /// the rebuilt views equal the live ones.
    pub async fn assert_views_rebuild_identically(&self) {
        let mut conn = self.open_database().await;
        let report = certbroker::projections::rebuild_command(&mut conn, true)
            .await
            .unwrap();
        assert!(report.events > 0 || self.event_count().await == 0);
        assert!(
            report.differences.is_empty(),
            "views differ after rebuild:\n{}",
            report.differences.join("\n")
        );
    }
}

/// A CA for signing the CSRs of manual requests, as an outside CA would.
pub struct OutsideCa {
    pub root: crypto::X509,
    pub int_key: crypto::PKey<crypto::Private>,
    pub int: crypto::X509,
}

impl OutsideCa {
    pub fn new() -> Self {
        let now = chrono::Utc::now().timestamp();
        let (root_key, root) =
            crypto::x509::create_ca("Outside Root", now - 3600, 365, None).unwrap();
        let (int_key, int) = crypto::x509::create_ca(
            "Outside Intermediate",
            now - 3600,
            365,
            Some((&root_key, &root)),
        )
        .unwrap();
        OutsideCa { root, int_key, int }
    }

    /// Signs the pending object's CSR; returns x5c (leaf, intermediate, root) as base64 DER.
    pub fn sign(&self, csr_b64: &str) -> Vec<String> {
        let csr = STANDARD.decode(csr_b64).unwrap();
        let now = chrono::Utc::now().timestamp();
        let leaf = crypto::x509::issue_from_csr(
            &csr,
            &self.int_key,
            &self.int,
            &crypto::x509::IssueParams {
                not_before: now - 60,
                not_after: now + 86400 * 30,
            },
        )
        .unwrap();
        vec![
            STANDARD.encode(leaf),
            STANDARD.encode(self.int.to_der().unwrap()),
            STANDARD.encode(self.root.to_der().unwrap()),
        ]
    }
}

/// Replaces what differs between runs (ids, times, blobs) so full bodies can be compared.
pub fn redact(mut v: Value, address: &str) -> Value {
    fn walk(v: &mut Value, address: &str) {
        match v {
            Value::Object(map) => {
                for (k, val) in map.iter_mut() {
                    match k.as_str() {
                        "csr" | "cer" | "x5t" | "request_id" if val.is_string() => {
                            *val = json!(format!("<{k}>"))
                        }
                        "created" | "updated" | "nbf" | "exp" if val.is_i64() => {
                            *val = json!("<time>")
                        }
                        _ => walk(val, address),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, address)),
            Value::String(s) => {
                let replaced = s.replace(address, "https://vault");
                *s = hex32(&replaced);
            }
            _ => {}
        }
    }
    walk(&mut v, address);
    v
}

/// Replaces runs of exactly 32 lowercase hex characters (versions, request ids).
pub fn hex32(s: &str) -> String {
    let mut out = String::new();
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let run = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        if run == 32 {
            out.push_str("<hex32>");
            i += 32;
        } else if run > 0 {
            out.extend(&chars[i..i + run]);
            i += run;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A clock tests can move (soft-delete retention, scheduled purge, lifetime actions): the
/// system clock plus an offset the test sets, so time still passes between steps.
#[derive(Default)]
pub struct TestClock(std::sync::atomic::AtomicI64);

impl TestClock {
    pub fn new() -> std::sync::Arc<Self> {
        std::sync::Arc::new(TestClock::default())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: chrono::Duration) {
        self.0
            .fetch_add(by.num_seconds(), std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves the clock to `at` (Unix seconds).
    pub fn set(&self, at: i64) {
        self.0.store(
            at - chrono::Utc::now().timestamp(),
            std::sync::atomic::Ordering::SeqCst,
        );
    }
}

impl certbroker::service::Clock for TestClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
            + chrono::Duration::seconds(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}
