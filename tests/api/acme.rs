//! The ACME provider against real Pebble: issuance end to end, real HTTP-01 validation,
//! badNonce retries, refusals, cancellation mid-order, and kill -9 mid-order.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use certbroker::config::{ProviderSettings, Settings};
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::pebble::{ChallTestSrv, Pebble, PebbleOptions, PebblePorts};

/// An ACME provider named `pebble` pointing at `ports`, trusting `tls_ca_file`.
pub fn acme_provider(directory_url: &str, tls_ca_file: &Path) -> ProviderSettings {
    serde_json::from_value(json!({
        "kind": "acme",
        "directory_url": directory_url,
        "contact_email": "pki@example.com",
        "ca_file": tls_ca_file,
    }))
    .unwrap()
}

pub fn use_pebble(settings: &mut Settings, pebble: &Pebble) {
    settings.providers.insert(
        "pebble".into(),
        acme_provider(&pebble.ports.directory_url(), &pebble.tls_ca_file),
    );
    settings.acme.retry_base_ms = 20;
}

pub async fn status(app: &TestApp, name: &str) -> Value {
    app.get_pending(name, None).await.json().await.unwrap()
}

/// Runs worker rounds until the request fails, and the message of its
/// `CertificateIssuerError`.
async fn issuer_error_of(app: &TestApp, name: &str) -> String {
    let done = drive_until_settled(app, name).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["code"], "CertificateIssuerError");
    done["error"]["message"].as_str().unwrap().to_owned()
}

/// Runs worker rounds until the request leaves `inProgress` (bounded).
pub async fn drive_until_settled(app: &TestApp, name: &str) -> Value {
    for _ in 0..30 {
        app.run_worker().await;
        let b = status(app, name).await;
        if b["status"] != "inProgress" {
            return b;
        }
    }
    panic!(
        "{name} is still in progress: {}\nevents: {:?}",
        status(app, name).await,
        event_types(app, name).await
    );
}

pub async fn event_types(app: &TestApp, name: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT event_type FROM events WHERE stream_id LIKE '%/' || $1 ORDER BY position",
    )
    .bind(name)
    .fetch_all(&app.pool)
    .await
    .unwrap()
}

/// The current version's leaf and chain, as PEM.
pub async fn current_chain_pem(app: &TestApp, name: &str) -> (String, String) {
    let (cer, chain): (String, String) = sqlx::query_as(
        r#"SELECT v.cer, CAST(v.chain AS TEXT) FROM certificate_versions v JOIN certificates c
             ON c.vault = v.vault AND c.name_key = v.name_key AND c.current_version = v.version
           WHERE c.name_key = $1"#,
    )
    .bind(name)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let pem =
        |b64: &str| certbroker::crypto::x509::cert_to_pem(&STANDARD.decode(b64).unwrap()).unwrap();
    let chain: Vec<String> = serde_json::from_str(&chain).unwrap();
    (pem(&cer), chain.iter().map(|c| pem(c)).collect())
}

/// `openssl verify -CAfile root -untrusted chain leaf` succeeds.
pub fn openssl_verifies(root_pem: &str, chain_pem: &str, leaf_pem: &str) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let (root, chain, leaf) = (
        dir.path().join("root.pem"),
        dir.path().join("chain.pem"),
        dir.path().join("leaf.pem"),
    );
    std::fs::write(&root, root_pem).unwrap();
    std::fs::write(&chain, chain_pem).unwrap();
    std::fs::write(&leaf, leaf_pem).unwrap();
    let out = std::process::Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(&root)
        .arg("-untrusted")
        .arg(&chain)
        .arg(&leaf)
        .output()
        .unwrap();
    out.status.success()
}

/// The ACME account certbroker registered at `pebble`, restored from its sealed credentials
/// in the database.
async fn pebble_account(app: &TestApp, pebble: &Pebble) -> instant_acme::Account {
    let keys = certbroker::service::keystore::KeyStore::open("", &app.data_dir).unwrap();
    let (id, aad) = certbroker::worker::acme::account_id("pebble", &pebble.ports.directory_url());
    let sealed: String = sqlx::query_scalar("SELECT sealed FROM acme_accounts WHERE account = $1")
        .bind(&id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let creds = keys.unseal(&aad, &hex::decode(sealed).unwrap()).unwrap();
    let http =
        certbroker::worker::acme::http_client(Some(&std::fs::read(&pebble.tls_ca_file).unwrap()))
            .unwrap();
    instant_acme::Account::builder_with_http(http)
        .from_credentials(serde_json::from_slice(&creds).unwrap())
        .await
        .unwrap()
}

async fn create_acme(app: &TestApp, name: &str, dns: &str) -> Value {
    let r = app
        .create(
            name,
            json!({"policy": {"key_props": {"kty": "EC", "crv": "P-256"},
                   "x509_props": {"subject": format!("CN={dns}"), "sans": {"dns_names": [dns]}},
                   "issuer": {"name": "acme-issuer"}}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    r.json().await.unwrap()
}

#[tokio::test]
async fn acme_issuer_completes_a_request_against_pebble_and_the_chain_verifies_to_its_root() {
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;
    let app = TestApp::spawn_with(|s| use_pebble(s, &pebble)).await;
    assert_eq!(app.put_issuer("acme-issuer", "pebble").await.status(), 200);
    let created = create_acme(&app, "acme1", "acme1.example.com").await;
    assert_eq!(created["status"], "inProgress");

    let done = drive_until_settled(&app, "acme1").await;
    assert_eq!(done["status"], "completed", "{done}");
    let types = event_types(&app, "acme1").await;
    assert_eq!(
        types,
        [
            "PendingCreated",
            "AcmeAccountRegistered",
            "AcmeOrderPlaced",
            "AcmeAuthorizationValid",
            "AcmeOrderFinalized",
            "AcmeCertificateDownloaded",
            "IssuanceCompleted"
        ]
    );
    assert_eq!(pebble.orders_added(), 1);

    // The version is the CA's certificate for the request's own key, with the chain.
    let cert: Value = app.get_certificate("acme1").await.json().await.unwrap();
    let (leaf, chain) = current_chain_pem(&app, "acme1").await;
    assert!(!chain.is_empty());
    assert_eq!(
        STANDARD.encode(
            certbroker::crypto::X509::from_pem(leaf.as_bytes())
                .unwrap()
                .to_der()
                .unwrap()
        ),
        cert["cer"].as_str().unwrap()
    );
    let root = pebble.root_pem().await;
    assert!(openssl_verifies(&root, &chain, &leaf));
    // ... and not to some other root.
    let other = certbroker::crypto::x509::create_ca("Other", 0, 3650, None)
        .unwrap()
        .1
        .to_pem()
        .unwrap();
    assert!(!openssl_verifies(
        &String::from_utf8(other).unwrap(),
        &chain,
        &leaf
    ));
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn an_account_sealed_in_a_file_by_an_earlier_version_is_imported_once_and_used() {
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;
    let app = TestApp::spawn_with(|s| use_pebble(s, &pebble)).await;
    // An account registered and sealed into `<data_dir>/acme` the way earlier versions did.
    let directory_url = pebble.ports.directory_url();
    let http =
        certbroker::worker::acme::http_client(Some(&std::fs::read(&pebble.tls_ca_file).unwrap()))
            .unwrap();
    let (legacy, creds) = instant_acme::Account::builder_with_http(http)
        .create(
            &instant_acme::NewAccount {
                contact: &[],
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            directory_url.clone(),
            None,
        )
        .await
        .unwrap();
    let keys = certbroker::service::keystore::KeyStore::open("", &app.data_dir).unwrap();
    let (id, aad) = certbroker::worker::acme::account_id("pebble", &directory_url);
    let file = app
        .data_dir
        .join("acme")
        .join(format!("{id}.account.sealed"));
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let sealed = keys
        .seal(&aad, &serde_json::to_vec(&creds).unwrap())
        .unwrap();
    std::fs::write(&file, sealed).unwrap();

    app.put_issuer("acme-issuer", "pebble").await;
    create_acme(&app, "imported", "imported.example.com").await;
    let done = drive_until_settled(&app, "imported").await;
    assert_eq!(done["status"], "completed", "{done}\n{}", pebble.log());
    assert_eq!(pebble_account(&app, &pebble).await.id(), legacy.id());
    assert!(!file.exists(), "the file is removed once imported");
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn real_http01_validation_reaches_certbrokers_challenge_listener() {
    let dns = ChallTestSrv::start().await;
    let ports = PebblePorts::pick();
    let directory_url = ports.directory_url();
    // certbroker first: Pebble must know the port its VA connects to for HTTP-01.
    let tls_dir = tempfile::tempdir().unwrap();
    let ca_file = tls_dir.path().join("placeholder");
    let app = TestApp::spawn_with(|s| {
        s.acme.http01_listen = "127.0.0.1:0".into();
        s.acme.retry_base_ms = 20;
        s.providers
            .insert("pebble".into(), acme_provider(&directory_url, &ca_file));
    })
    .await;
    let pebble = Pebble::start(
        ports,
        PebbleOptions {
            always_valid: false,
            http_port: app.http01_port.unwrap(),
            dns_server: Some(dns.dns_addr.clone()),
            ..PebbleOptions::default()
        },
    )
    .await;
    std::fs::copy(&pebble.tls_ca_file, &ca_file).unwrap();
    app.put_issuer("acme-issuer", "pebble").await;
    create_acme(&app, "http01", "http01.example.com").await;
    let done = drive_until_settled(&app, "http01").await;
    assert_eq!(done["status"], "completed", "{done}\n{}", pebble.log());
    let (leaf, chain) = current_chain_pem(&app, "http01").await;
    assert!(openssl_verifies(&pebble.root_pem().await, &chain, &leaf));
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn without_a_challenge_listener_real_validation_fails_with_the_cas_detail() {
    let dns = ChallTestSrv::start().await;
    let ports = PebblePorts::pick();
    let pebble = Pebble::start(
        ports,
        PebbleOptions {
            always_valid: false,
            // Nothing listens here: the VA's HTTP-01 request is refused.
            http_port: crate::pebble::free_port(),
            dns_server: Some(dns.dns_addr.clone()),
            ..PebbleOptions::default()
        },
    )
    .await;
    let app = TestApp::spawn_with(|s| use_pebble(s, &pebble)).await;
    app.put_issuer("acme-issuer", "pebble").await;
    create_acme(&app, "nolistener", "nolistener.example.com").await;
    let message = &issuer_error_of(&app, "nolistener").await;
    assert!(message.contains("nolistener.example.com"), "{message}");
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn bad_nonces_are_retried_until_the_orders_complete() {
    let pebble = Pebble::start(
        PebblePorts::pick(),
        PebbleOptions {
            nonce_reject: 70,
            ..PebbleOptions::default()
        },
    )
    .await;
    let app = TestApp::spawn_with(|s| {
        use_pebble(s, &pebble);
        s.acme.retry_attempts = 12;
        s.acme.retry_base_ms = 5;
    })
    .await;
    app.put_issuer("acme-issuer", "pebble").await;
    for name in ["nonce1", "nonce2"] {
        create_acme(&app, name, &format!("{name}.example.com")).await;
        let done = drive_until_settled(&app, name).await;
        assert_eq!(done["status"], "completed", "{done}");
    }
    // With most nonces refused, instant-acme's own three tries are not enough: ours ran.
    assert!(app.worker.acme().unwrap().retries() > 0);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn an_acme_providers_allowed_domains_and_validity_hold_before_the_ca_is_asked() {
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;
    let app = TestApp::spawn_with(|s| {
        use_pebble(s, &pebble);
        let p = s.providers.get_mut("pebble").unwrap();
        p.allowed_domains = vec!["allowed.example".into()];
        p.max_validity_months = 12;
    })
    .await;
    app.put_issuer("acme-issuer", "pebble").await;
    let long = app
        .create(
            "long",
            json!({"policy": {"key_props": {"kty": "EC"},
                   "x509_props": {"subject": "CN=www.allowed.example", "validity_months": 24},
                   "issuer": {"name": "acme-issuer"}}}),
        )
        .await;
    assert_eq!(long.status(), 400);
    let body: Value = long.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 12 months"),
        "{body}"
    );

    create_acme(&app, "outside", "www.other.example").await;
    let message = &issuer_error_of(&app, "outside").await;
    assert!(
        message.contains("'www.other.example' is outside"),
        "{message}"
    );
    assert_eq!(pebble.orders_added(), 0, "{}", pebble.log());
    let within = json!({"policy": {"key_props": {"kty": "EC", "crv": "P-256"},
        "x509_props": {"subject": "CN=www.allowed.example", "validity_months": 12},
        "issuer": {"name": "acme-issuer"}}});
    assert_eq!(app.create("within", within).await.status(), 202);
    let done = drive_until_settled(&app, "within").await;
    assert_eq!(done["status"], "completed", "{done}");
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn an_identifier_the_ca_refuses_fails_the_request_with_certificate_issuer_error() {
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;
    let app = TestApp::spawn_with(|s| use_pebble(s, &pebble)).await;
    app.put_issuer("acme-issuer", "pebble").await;
    create_acme(&app, "refused", "*.*.example.com").await;
    let message = &issuer_error_of(&app, "refused").await;
    assert!(
        message.contains("rejectedIdentifier") || message.contains("malformed"),
        "{message}"
    );
    assert!(message.contains("wildcard"), "{message}");
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn an_unreachable_acme_ca_fails_the_request_and_the_server_keeps_serving() {
    let ports = PebblePorts::pick();
    let app = TestApp::spawn_with(|s| {
        s.providers.insert(
            "pebble".into(),
            acme_provider(&ports.directory_url(), Path::new("")),
        );
        s.acme.retry_attempts = 2;
        s.acme.retry_base_ms = 5;
    })
    .await;
    app.put_issuer("acme-issuer", "pebble").await;
    create_acme(&app, "unreachable", "unreachable.example.com").await;
    let message = &issuer_error_of(&app, "unreachable").await;
    assert!(
        message.contains(&ports.directory_url()) && message.contains("2 attempts"),
        "{message}"
    );
    assert_eq!(app.get_pending("unreachable", None).await.status(), 200);
    app.assert_views_rebuild_identically().await;
}

#[tokio::test]
async fn cancellation_mid_order_deactivates_and_ends_cancelled() {
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;
    let app = TestApp::spawn_with(|s| use_pebble(s, &pebble)).await;
    app.put_issuer("acme-issuer", "pebble").await;
    create_acme(&app, "cancelme", "cancelme.example.com").await;
    // One round registers the account and places the order, then returns.
    assert_eq!(app.run_worker().await, 1);
    assert_eq!(
        event_types(&app, "cancelme").await.last().unwrap(),
        "AcmeOrderPlaced"
    );
    let placed: String = sqlx::query_scalar(
        "SELECT CAST(payload AS TEXT) FROM events WHERE event_type = 'AcmeOrderPlaced'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    let placed: Value = serde_json::from_str(&placed).unwrap();
    let order_url = placed["order_url"].as_str().unwrap().to_owned();
    let mut before = pebble_account(&app, &pebble)
        .await
        .order(order_url.clone())
        .await
        .unwrap();
    assert_eq!(before.state().status, instant_acme::OrderStatus::Pending);
    assert_eq!(app.cancel("cancelme", None).await.status(), 200);
    let done = drive_until_settled(&app, "cancelme").await;
    assert_eq!(done["status"], "cancelled");
    let types = event_types(&app, "cancelme").await;
    assert!(
        !types.iter().any(|t| t == "AcmeOrderFinalized"),
        "{types:?}"
    );
    app.assert_no_version_yet("cancelme").await;
    // At the CA the order was pending before; now its authorizations are deactivated,
    // which Pebble shows as an order status `deactivated` (outside RFC 8555's list, so
    // the client refuses to parse it: its error carries the status).
    let after = pebble_account(&app, &pebble)
        .await
        .order(order_url)
        .await
        .err()
        .expect("the order is no longer an ordinary one");
    assert!(after.to_string().contains("deactivated"), "{after}");
    app.assert_views_rebuild_identically().await;
}

/// A running `certbroker serve` on a config file; SIGKILLed and reaped on drop.
pub(crate) struct Binary {
    child: std::process::Child,
    address: String,
}

impl Binary {
    pub(crate) fn start(data_dir: &Path, config: &Path, halt_after: Option<&str>) -> Binary {
        let halt = halt_after.map(|step| (certbroker::worker::acme::HALT_AFTER_ENV, step));
        Self::start_with(data_dir, config, halt.as_slice())
    }

    /// [`Binary::start`] with the fault-injection variables `faults` set.
    pub(crate) fn start_with(data_dir: &Path, config: &Path, faults: &[(&str, &str)]) -> Binary {
        use std::io::{BufRead, BufReader};
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_certbroker"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--config")
            .arg(config)
            .env("CERTBROKER__AUTH__TOKEN", crate::helpers::TOKEN)
            .env("CERTBROKER__LOG__LEVEL", "warn")
            .env_remove(certbroker::worker::acme::HALT_AFTER_ENV)
            .env_remove(certbroker::worker::acme::LOSE_ANSWER_ENV)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        cmd.envs(faults.iter().copied());
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let address = loop {
            let line = lines.next().expect("server exited early").unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep reading, so the server never writes into a closed pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Binary { child, address }
    }

    /// SIGKILL: no shutdown code runs.
    pub(crate) fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub(crate) async fn call(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut req = client
            .request(method, format!("{}{path}?api-version=7.5", self.address))
            .bearer_auth(crate::helpers::TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.unwrap()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A config file in `dir` for a [`Binary`] whose provider `pebble` is `pebble`.
fn binary_config(dir: &Path, pebble: &Pebble) -> std::path::PathBuf {
    let config = dir.join("certbroker.toml");
    std::fs::write(
        &config,
        format!(
            "[worker]\ninterval_ms = 50\n[acme]\nretry_base_ms = 20\n[providers.pebble]\nkind = \"acme\"\ndirectory_url = \"{}\"\nca_file = \"{}\"\n",
            pebble.ports.directory_url(),
            pebble.tls_ca_file.display()
        ),
    )
    .unwrap();
    config
}

/// Asks `server` for certificate `name` (`CN={name}.example.com`) from its provider
/// `pebble`, through the issuer `acme-issuer`.
async fn request_from_pebble(server: &Binary, client: &reqwest::Client, name: &str) {
    let issuer = Some(json!({"provider": "pebble"}));
    let put = reqwest::Method::PUT;
    let r = server
        .call(client, put, "/certificates/issuers/acme-issuer", issuer)
        .await;
    assert_eq!(r.status(), 200);
    let policy = json!({"policy": {"key_props": {"kty": "EC"},
        "x509_props": {"subject": format!("CN={name}.example.com")},
        "issuer": {"name": "acme-issuer"}}});
    let path = format!("/certificates/{name}/create");
    let r = server
        .call(client, reqwest::Method::POST, &path, Some(policy))
        .await;
    assert_eq!(r.status(), 202);
}

/// The pending object of `name` once it has left `inProgress` (or after 10 s).
async fn settled_on(server: &Binary, client: &reqwest::Client, name: &str) -> Value {
    let path = format!("/certificates/{name}/pending");
    let mut status = Value::Null;
    for _ in 0..200 {
        let r = server.call(client, reqwest::Method::GET, &path, None).await;
        status = r.json().await.unwrap();
        if status["status"] != "inProgress" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    status
}

async fn events_of(db: &Path, event_type: &str) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}?mode=ro", db.display()))
        .await
        .unwrap();
    let rows = sqlx::query_scalar("SELECT payload FROM events WHERE event_type = $1")
        .bind(event_type)
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    rows
}

#[tokio::test]
async fn kill_9_mid_order_resumes_the_same_order_after_restart() {
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = binary_config(dir.path(), &pebble);
    let db = certbroker::startup::database_path(&data);

    // First life: the worker places the order, records it, and is then held there.
    let server = Binary::start(&data, &config, Some("AcmeOrderPlaced"));
    let client =
        crate::helpers::client_trusting(&std::fs::read_to_string(data.join("tls/ca.pem")).unwrap());
    request_from_pebble(&server, &client, "crash").await;
    let mut placed = Vec::new();
    for _ in 0..200 {
        placed = events_of(&db, "AcmeOrderPlaced").await;
        if !placed.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(placed.len(), 1, "the order was never placed");
    assert!(events_of(&db, "AcmeOrderFinalized").await.is_empty());
    server.kill_9();

    // Second life: the same order is resumed and completes.
    let server = Binary::start(&data, &config, None);
    let status = settled_on(&server, &client, "crash").await;
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(events_of(&db, "AcmeOrderPlaced").await, placed);
    assert_eq!(events_of(&db, "AcmeAccountRegistered").await.len(), 1);
    assert_eq!(pebble.orders_added(), 1, "{}", pebble.log());
    let order_url: Value = serde_json::from_str(&placed[0]).unwrap();
    assert!(order_url["order_url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("https://localhost:{}/", pebble.ports.acme)));
    let r = server
        .call(&client, reqwest::Method::GET, "/certificates/crash/", None)
        .await;
    assert_eq!(r.status(), 200);
    drop(server);
    let (_pool, mut conn) = certbroker::startup::open_database(&data).await.unwrap();
    let report = certbroker::projections::rebuild_command(&mut conn, true)
        .await
        .unwrap();
    assert!(report.differences.is_empty(), "{:?}", report.differences);
}

#[tokio::test]
async fn a_finalize_whose_answer_was_lost_is_not_sent_again_and_the_request_completes() {
    let pebble = Pebble::start(PebblePorts::pick(), PebbleOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = binary_config(dir.path(), &pebble);
    // The CA takes the finalize; its answer is replaced by a gateway's 504.
    let lose = [(certbroker::worker::acme::LOSE_ANSWER_ENV, "finalize")];
    let server = Binary::start_with(&data, &config, &lose);
    let client =
        crate::helpers::client_trusting(&std::fs::read_to_string(data.join("tls/ca.pem")).unwrap());
    request_from_pebble(&server, &client, "lost").await;
    let status = settled_on(&server, &client, "lost").await;
    // Sent again, the finalize would have been refused as orderNotReady.
    assert_eq!(status["status"], "completed", "{status}");
    let db = certbroker::startup::database_path(&data);
    assert_eq!(events_of(&db, "AcmeOrderFinalized").await.len(), 1);
    assert_eq!(pebble.orders_added(), 1, "{}", pebble.log());
}

#[tokio::test]
async fn external_account_binding_is_sent_when_configured_and_required_by_the_ca() {
    // A CA that requires EAB: without it the request fails with the CA's reason; with the
    // kid and HMAC key the CA issued, the account is bound and the certificate issued.
    let hmac = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let pebble = Pebble::start(
        PebblePorts::pick(),
        PebbleOptions {
            eab: Some(("kid-1".into(), hmac.into())),
            ..PebbleOptions::default()
        },
    )
    .await;
    let app = TestApp::spawn_with(|s| {
        use_pebble(s, &pebble);
        let mut bound = acme_provider(&pebble.ports.directory_url(), &pebble.tls_ca_file);
        bound.eab_kid = "kid-1".into();
        bound.eab_hmac_key = certbroker::config::Secret::new(hmac.to_string());
        s.providers.insert("pebble-eab".into(), bound);
    })
    .await;
    assert_eq!(app.put_issuer("unbound", "pebble").await.status(), 200);
    assert_eq!(app.put_issuer("bound", "pebble-eab").await.status(), 200);

    let r = app
        .create(
            "noeab",
            json!({"policy": {"key_props": {"kty": "EC", "crv": "P-256"},
                "x509_props": {"subject": "CN=noeab.example.com", "sans": {"dns_names": ["noeab.example.com"]}},
                "issuer": {"name": "unbound"}}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let failed = drive_until_settled(&app, "noeab").await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["code"], "CertificateIssuerError");
    let message = failed["error"]["message"]
        .as_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(message.contains("external"), "{message}");

    let r = app
        .create(
            "witheab",
            json!({"policy": {"key_props": {"kty": "EC", "crv": "P-256"},
                "x509_props": {"subject": "CN=witheab.example.com", "sans": {"dns_names": ["witheab.example.com"]}},
                "issuer": {"name": "bound"}}}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let done = drive_until_settled(&app, "witheab").await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(pebble.orders_added(), 1);
    app.assert_views_rebuild_identically().await;
}
