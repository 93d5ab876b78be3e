//! The real `certbroker serve` on a data directory, configured by the environment, killed
//! with SIGKILL (and reaped) on demand and on drop; the `rebuild --check` and `verify`
//! commands run on the same directory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

pub const TOKEN: &str = "faults-token";
pub const API: &str = "7.5";

pub struct Server {
    child: Option<Child>,
    /// `https://127.0.0.1:PORT`, from the ready line.
    pub address: String,
    pub client: reqwest::Client,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary on `data_dir` and waits (bounded) for its ready line.
    pub fn start(data_dir: &Path) -> Server {
        Self::try_start(data_dir).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts the binary; `Err` with its stderr when it exits or never gets ready.
    pub fn try_start(data_dir: &Path) -> Result<Server, String> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_certbroker"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CERTBROKER__STORAGE__DATA_DIR", data_dir)
            .env("CERTBROKER__SERVER__LISTEN", "127.0.0.1:0")
            .env("CERTBROKER__SERVER__WORKERS", "2")
            .env("CERTBROKER__WORKER__INTERVAL_MS", "50")
            .env("CERTBROKER__AUTH__TOKEN", TOKEN)
            .env("CERTBROKER__LOG__LEVEL", "warn")
            .current_dir("/")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start certbroker");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let err = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let address = loop {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("certbroker ready on ") {
                        break rest.trim().to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let status = child.wait();
                    // Let the stderr pump drain.
                    std::thread::sleep(Duration::from_millis(100));
                    return Err(format!(
                        "certbroker never became ready ({status:?}); stderr:\n{}",
                        stderr.lock().unwrap().join("\n")
                    ));
                }
            }
        };
        let pem = std::fs::read_to_string(data_dir.join("tls/ca.pem")).unwrap();
        Ok(Server {
            child: Some(child),
            address,
            client: crate::helpers::client_trusting(&pem),
            stderr,
        })
    }

    /// The process id (0 once killed).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGKILL and reap: no shutdown code of the server runs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self, path: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}{path}{sep}api-version={API}", self.address)
    }

    /// One request with the admin token; `Err` when no answer came (the server died).
    pub async fn try_send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(TOKEN)
            .timeout(Duration::from_secs(60));
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await
    }

    /// One request that must be answered; returns (status, JSON body or Null).
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let r = self.try_send(method, path, body).await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs `certbroker --data-dir DIR ARGS`; returns (exit code, stdout + stderr).
pub fn cli(data_dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_certbroker"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CERTBROKER__LOG__LEVEL", "error")
        .current_dir("/")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `certbroker rebuild --check` and `certbroker verify` both exit 0 on `data_dir`.
pub fn assert_rebuild_and_verify_clean(data_dir: &Path) {
    let (code, out) = cli(data_dir, &["rebuild", "--check"]);
    assert_eq!(code, 0, "rebuild --check:\n{out}");
    let (code, out) = cli(data_dir, &["verify"]);
    assert_eq!(code, 0, "verify:\n{out}");
    assert!(out.contains("verified"), "verify:\n{out}");
}
