//! Seeding at start: the real binary with `serve --seed FILE` creates what the file
//! describes on a fresh data directory, by actor `seed`; a second start with the same file
//! on the same directory changes nothing.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{client_trusting, TOKEN};

/// A running `certbroker serve`; killed and reaped on drop.
pub struct Server {
    child: Child,
    address: String,
    client: reqwest::Client,
}

impl Server {
    fn start(data_dir: &Path, seed: &Path) -> Server {
        Self::start_with(data_dir, &["--seed".as_ref(), seed.as_os_str()], &[])
    }

    /// `serve` on `data_dir` with extra arguments and environment.
    pub fn start_with(data_dir: &Path, args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_certbroker"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .args(args)
            .env("CERTBROKER__AUTH__TOKEN", TOKEN)
            .env("CERTBROKER__LOG__LEVEL", "warn")
            .envs(env.iter().copied())
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
        let ca = std::fs::read_to_string(data_dir.join("tls").join("ca.pem")).unwrap();
        Server {
            child,
            address,
            client: client_trusting(&ca),
        }
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut req = self
            .client
            .request(
                method,
                format!("{}{path}{sep}api-version=7.5", self.address),
            )
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Waits until `name`'s pending request has left `inProgress`.
    async fn settled(&self, name: &str) -> Value {
        for _ in 0..600 {
            let (_, op) = self.get(&format!("/certificates/{name}/pending")).await;
            if op["status"] != "inProgress" {
                return op;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("{name} stayed in progress");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Events by actor, every actor.
async fn events_by_actor(data_dir: &Path) -> Vec<(String, i64)> {
    let (pool, _conn) = certbroker::startup::open_database(data_dir).await.unwrap();
    sqlx::query_as("SELECT actor, COUNT(*) FROM events GROUP BY actor ORDER BY actor")
        .fetch_all(&pool)
        .await
        .unwrap()
}

fn write_seed(dir: &Path) -> std::path::PathBuf {
    use certbroker::crypto;
    let now = chrono::Utc::now().timestamp();
    let (key, cert) = crypto::x509::create_ca("imported.example.com", now - 60, 30, None).unwrap();
    let der = cert.to_der().unwrap();
    std::fs::create_dir_all(dir.join("files")).unwrap();
    std::fs::write(
        dir.join("files/imported.pem"),
        crypto::pkcs12::export_pem(Some(&key), std::slice::from_ref(&der)).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("files/imported.p12"),
        crypto::pkcs12::export_pkcs12(Some(&key), &[der]).unwrap(),
    )
    .unwrap();
    let seed = dir.join("seed.toml");
    std::fs::write(
        &seed,
        r#"
[[issuers]]
name = "corp"
provider = "DigiCert"
credentials = { account_id = "acct-1", pwd = "never-shown" }
org_details = { id = "org-1", admin_details = [{ first_name = "Ada", last_name = "Lovelace", email = "ada@example.com", phone = "555" }] }

[[contacts]]
email = "pki@example.com"
name = "PKI team"

[[contacts]]
email = "oncall@example.com"

[[certificates]]
name = "self-web"
tags = { env = "dev" }
policy = { key_props = { kty = "EC" }, x509_props = { subject = "CN=web.example.com", validity_months = 12 }, issuer = { name = "Self" } }

[[certificates]]
name = "through-corp"
policy = { key_props = { kty = "EC" }, x509_props = { subject = "CN=api.example.com" }, issuer = { name = "corp" } }

[[certificates]]
name = "manual"
policy = { key_props = { kty = "RSA", key_size = 2048 }, x509_props = { subject = "CN=manual.example.com" }, issuer = { name = "Unknown" } }

[[certificates]]
name = "from-pem"
import = "files/imported.pem"

[[certificates]]
name = "from-p12"
import = "files/imported.p12"
"#,
    )
    .unwrap();
    seed
}

#[tokio::test]
async fn seeding_creates_the_file_on_a_fresh_data_dir_and_changes_nothing_the_second_time() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let seed = write_seed(&dir.path().join("seeddir"));

    let server = Server::start(&data_dir, &seed);
    let (status, issuer) = server.get("/certificates/issuers/corp").await;
    assert_eq!(status, 200, "{issuer}");
    assert_eq!(issuer["provider"], "DigiCert");
    assert_eq!(issuer["credentials"], json!({"account_id": "acct-1"}));
    assert_eq!(
        issuer["org_details"]["admin_details"][0]["email"],
        "ada@example.com"
    );
    let (_, contacts) = server.get("/certificates/contacts").await;
    let emails: Vec<&str> = contacts["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["pki@example.com", "oncall@example.com"]);
    let (status, web) = server.get("/certificates/self-web").await;
    assert_eq!(status, 200, "{web}");
    assert!(web["cer"].is_string());
    assert_eq!(web["tags"], json!({"env": "dev"}));
    assert_eq!(server.settled("through-corp").await["status"], "completed");
    let (_, api) = server.get("/certificates/through-corp").await;
    assert!(api["cer"].is_string(), "{api}");
    let (_, manual) = server.get("/certificates/manual/pending").await;
    assert_eq!(manual["status"], "inProgress");
    assert!(manual["csr"].is_string());
    for name in ["from-pem", "from-p12"] {
        let (status, b) = server.get(&format!("/certificates/{name}")).await;
        assert_eq!(status, 200, "{name}: {b}");
        assert_eq!(
            b["policy"]["x509_props"]["subject"],
            "CN=imported.example.com"
        );
    }
    drop(server);

    let first = events_by_actor(&data_dir).await;
    let seeded = first.iter().find(|(a, _)| a == "seed").map(|(_, n)| *n);
    assert!(seeded.is_some_and(|n| n >= 7), "{first:?}");
    assert!(
        first.iter().all(|(a, _)| a == "seed" || a == "worker"),
        "only the seed and the worker wrote: {first:?}"
    );

    // Started again with the same file: nothing new.
    let server = Server::start(&data_dir, &seed);
    let (status, _) = server.get("/certificates/self-web").await;
    assert_eq!(status, 200);
    let (_, versions) = server.get("/certificates/self-web/versions").await;
    assert_eq!(versions["value"].as_array().unwrap().len(), 1);
    drop(server);
    assert_eq!(events_by_actor(&data_dir).await, first);
}

#[tokio::test]
async fn a_seed_file_that_does_not_parse_stops_the_start_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.toml");
    std::fs::write(&seed, "[[certificates]]\nname = \"x\"\ncolour = \"blue\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_certbroker"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--seed")
        .arg(&seed)
        .env("CERTBROKER__AUTH__TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("colour"), "{stderr}");
}
