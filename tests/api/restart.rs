//! Restart safety: SIGKILL the real binary and start it again on the same data directory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::helpers::{client_trusting, OutsideCa, TOKEN};

/// A running `certbroker serve`; killed (SIGKILL) and reaped on drop.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(data_dir: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_certbroker"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env("CERTBROKER__AUTH__TOKEN", TOKEN)
            .env("CERTBROKER__LOG__LEVEL", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("server exited before listening")
                .unwrap();
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        Server { child, address }
    }

    fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn call(
    client: &reqwest::Client,
    s: &Server,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = client
        .request(method, format!("{}{path}?api-version=7.5", s.address))
        .bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn sigkill_loses_no_acknowledged_write_and_merge_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let ca = OutsideCa::new();
    let server = Server::start(dir.path());
    let client = client_trusting(&std::fs::read_to_string(dir.path().join("tls/ca.pem")).unwrap());
    let policy = json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=restart.example.com"}}});
    let r = call(
        &client,
        &server,
        reqwest::Method::POST,
        "/certificates/merged/create",
        Some(policy.clone()),
    )
    .await;
    assert_eq!(r.status(), 202);
    let op: Value = r.json().await.unwrap();
    let r = call(
        &client,
        &server,
        reqwest::Method::POST,
        "/certificates/merged/pending/merge",
        Some(json!({"x5c": ca.sign(op["csr"].as_str().unwrap())})),
    )
    .await;
    assert_eq!(r.status(), 201);
    let merged: Value = r.json().await.unwrap();
    let r = call(
        &client,
        &server,
        reqwest::Method::POST,
        "/certificates/waiting/create",
        Some(policy),
    )
    .await;
    assert_eq!(r.status(), 202);
    let waiting: Value = r.json().await.unwrap();
    server.kill();

    let server = Server::start(dir.path());
    let r = call(
        &client,
        &server,
        reqwest::Method::GET,
        "/certificates/merged/",
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let again: Value = r.json().await.unwrap();
    assert_eq!(again["cer"], merged["cer"]);
    assert_eq!(
        again["id"].as_str().unwrap().rsplit('/').next(),
        merged["id"].as_str().unwrap().rsplit('/').next()
    );
    let r = call(
        &client,
        &server,
        reqwest::Method::GET,
        "/certificates/waiting/pending",
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let pending: Value = r.json().await.unwrap();
    assert_eq!(pending["request_id"], waiting["request_id"]);
    assert_eq!(pending["csr"], waiting["csr"]);
    let r = call(
        &client,
        &server,
        reqwest::Method::POST,
        "/certificates/waiting/pending/merge",
        Some(json!({"x5c": ca.sign(pending["csr"].as_str().unwrap())})),
    )
    .await;
    assert_eq!(r.status(), 201);
    server.kill();

    let out = Command::new(env!("CARGO_BIN_EXE_certbroker"))
        .args(["rebuild", "--check", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("views match the events"));
}

#[tokio::test]
async fn the_master_key_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let mode = std::fs::metadata(dir.path().join("master.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    server.kill();
}

#[tokio::test]
async fn unknown_configuration_keys_stop_start_up_with_the_key_named() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certbroker"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("CERTBROKER__SERVER__LISTEN_ADRESS", "x")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("listen_adress"));
}

#[tokio::test]
async fn a_dev_token_is_printed_once_when_none_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_certbroker"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env_remove("CERTBROKER__AUTH__TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let token = first.rsplit(' ').next().unwrap().to_owned();
    assert!(first.contains("dev token"), "{first}");
    let listening = lines.next().unwrap().unwrap();
    let address = listening
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let client = client_trusting(&std::fs::read_to_string(dir.path().join("tls/ca.pem")).unwrap());
    let r = client
        .get(format!("{address}/certificates/issuers?api-version=7.5"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stored = std::fs::read_to_string(dir.path().join("dev-token.sha256")).unwrap();
    assert!(!stored.contains(&token), "only the hash is kept");
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test]
async fn a_server_with_another_master_key_than_the_database_was_sealed_with_refuses_to_start() {
    use base64::Engine;
    let app = crate::helpers::TestApp::spawn().await;
    app.create_manual("sealed").await;
    let mut settings = app.settings();
    settings.seal.master_key = certbroker::config::Secret::new(
        base64::engine::general_purpose::STANDARD.encode([9u8; 32]),
    );
    let err = match certbroker::startup::Application::build(settings).await {
        Ok(_) => panic!("a server with another master key started"),
        Err(e) => format!("{e:#}"),
    };
    assert!(
        err.contains("not the one this database was sealed with"),
        "{err}"
    );
    // The same key as before still starts.
    let again = certbroker::startup::Application::build(app.settings()).await;
    assert!(again.is_ok(), "{:?}", again.err());
}
