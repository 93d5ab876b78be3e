//! The real `certbroker` binary as operators run it: configured by the environment only,
//! its stdout lines (the ready line) and its stderr log lines captured. Killed and reaped on
//! drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running `certbroker serve`.
pub struct Binary {
    child: Child,
    /// `https://127.0.0.1:PORT`, from the ready line.
    pub address: String,
    pub data_dir: PathBuf,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

/// Reads `r` line by line into `into` until it closes; sends each line to `tx` as well.
fn pump(
    r: impl std::io::Read + Send + 'static,
    into: Arc<Mutex<Vec<String>>>,
    tx: Option<std::sync::mpsc::Sender<String>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            into.lock().unwrap().push(line.clone());
            if let Some(tx) = &tx {
                let _ = tx.send(line);
            }
        }
    });
}

impl Binary {
    /// Starts `certbroker serve` with no arguments and only `env` (plus `CERTBROKER__`
    /// variables for the data directory and a loopback listener), optionally through a
    /// wrapper command (`setpriv ...`), and waits for `certbroker ready on ...`.
    pub fn start(data_dir: &Path, env: &[(&str, &str)], wrapper: &[&str]) -> Binary {
        let bin = env!("CARGO_BIN_EXE_certbroker");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CERTBROKER__STORAGE__DATA_DIR", data_dir)
            .env("CERTBROKER__SERVER__LISTEN", "127.0.0.1:0")
            .env("CERTBROKER__SERVER__WORKERS", "2")
            .env("CERTBROKER__WORKER__INTERVAL_MS", "50")
            .current_dir("/")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start certbroker");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        pump(child.stdout.take().unwrap(), stdout.clone(), Some(tx));
        pump(child.stderr.take().unwrap(), stderr.clone(), None);
        let address = loop {
            match rx.recv_timeout(Duration::from_secs(120)) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("certbroker ready on ") {
                        break rest.trim().to_owned();
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "certbroker never printed its ready line; stderr:\n{}",
                        stderr.lock().unwrap().join("\n")
                    );
                }
            }
        };
        Binary {
            child,
            address,
            data_dir: data_dir.to_owned(),
            stdout,
            stderr,
        }
    }

    /// The process id (the binary itself: wrappers such as setpriv exec it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// A client trusting the TLS CA the server made in its data directory.
    pub fn client(&self) -> reqwest::Client {
        crate::helpers::client_trusting(
            &std::fs::read_to_string(self.data_dir.join("tls/ca.pem")).unwrap(),
        )
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `certbroker ARGS` with only `env`; returns (exit code, stdout).
pub fn run(args: &[&str], env: &[(&str, &str)], wrapper: &[&str]) -> (i32, String) {
    let bin = env!("CARGO_BIN_EXE_certbroker");
    let mut cmd = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CERTBROKER__LOG__LEVEL", "error")
        .current_dir("/");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}
