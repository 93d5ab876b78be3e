//! Real Pebble (Debian `pebble`, installed by scripts/setup.sh) for the ACME tests: its TLS
//! certificate is made here at test time, it listens on free loopback ports with a
//! per-test config, and it is killed and reaped on drop. `pebble-challtestsrv` serves as
//! its DNS for real HTTP-01 validation.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use certbroker::crypto;

/// A free loopback TCP port (bound and released), drawn below Linux's ephemeral range
/// (32768 and up), which the kernel hands out to every outgoing connection and every
/// `127.0.0.1:0` listener of the other tests running beside this one: a port from that
/// range can be taken between its release here and Pebble's bind.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    for _ in 0..1000 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(0);
        let port = 20_000 + (h.finish() % 12_000) as u16;
        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)) {
            return l.local_addr().unwrap().port();
        }
    }
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// How a Pebble instance behaves.
pub struct PebbleOptions {
    /// `PEBBLE_VA_ALWAYS_VALID=1`: challenges pass without any network check.
    pub always_valid: bool,
    /// `PEBBLE_WFE_NONCEREJECT` (percentage of nonces rejected; Pebble's default is 5).
    pub nonce_reject: u32,
    /// Port Pebble's VA connects to for HTTP-01.
    pub http_port: u16,
    /// DNS server Pebble resolves names with (`-dnsserver`).
    pub dns_server: Option<String>,
    /// External account binding required, with this (kid, base64url HMAC key).
    pub eab: Option<(String, String)>,
}

impl Default for PebbleOptions {
    fn default() -> Self {
        PebbleOptions {
            always_valid: true,
            nonce_reject: 0,
            http_port: 5002,
            dns_server: None,
            eab: None,
        }
    }
}

/// Ports chosen before Pebble starts (the directory URL goes into certbroker's config).
pub struct PebblePorts {
    pub acme: u16,
    pub management: u16,
}

impl PebblePorts {
    pub fn pick() -> Self {
        PebblePorts {
            acme: free_port(),
            management: free_port(),
        }
    }

    pub fn directory_url(&self) -> String {
        format!("https://localhost:{}/dir", self.acme)
    }
}

/// A running Pebble; SIGKILLed and reaped on drop.
pub struct Pebble {
    child: Child,
    pub ports: PebblePorts,
    /// PEM of the CA that signed Pebble's own TLS certificate (what clients must trust).
    pub tls_ca_file: PathBuf,
    log_file: PathBuf,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Pebble {
    pub async fn start(ports: PebblePorts, options: PebbleOptions) -> Pebble {
        let dir = tempfile::tempdir().unwrap();
        let now = chrono::Utc::now().timestamp() - 60;
        let (ca_key, ca) = crypto::x509::create_ca("Pebble test TLS CA", now, 2, None).unwrap();
        let (key, cert) = crypto::x509::tls_server_cert(
            &ca_key,
            &ca,
            &["localhost".to_string()],
            &["127.0.0.1".parse().unwrap()],
            now,
            2,
        )
        .unwrap();
        let tls_ca_file = dir.path().join("tls-ca.pem");
        std::fs::write(&tls_ca_file, ca.to_pem().unwrap()).unwrap();
        let cert_file = dir.path().join("cert.pem");
        std::fs::write(&cert_file, cert.to_pem().unwrap()).unwrap();
        let key_file = dir.path().join("key.pem");
        std::fs::write(&key_file, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{}", ports.acme),
            "managementListenAddress": format!("127.0.0.1:{}", ports.management),
            "certificate": cert_file,
            "privateKey": key_file,
            "httpPort": options.http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": options.eab.is_some(),
            "externalAccountMACKeys": options
                .eab
                .iter()
                .map(|(kid, key)| (kid.clone(), serde_json::Value::from(key.clone())))
                .collect::<serde_json::Map<_, _>>(),
        }});
        let config_file = dir.path().join("pebble-config.json");
        std::fs::write(&config_file, config.to_string()).unwrap();
        let log_file = dir.path().join("pebble.log");
        let log = std::fs::File::create(&log_file).unwrap();
        let mut cmd = Command::new("pebble");
        cmd.arg("-config").arg(&config_file);
        if let Some(dns) = &options.dns_server {
            cmd.args(["-dnsserver", dns]);
        }
        cmd.env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_AUTHZREUSE", "0")
            .env(
                "PEBBLE_VA_ALWAYS_VALID",
                if options.always_valid { "1" } else { "0" },
            )
            .env("PEBBLE_WFE_NONCEREJECT", options.nonce_reject.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let child = cmd
            .spawn()
            .expect("pebble is not installed: run scripts/setup.sh");
        let client = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(&tls_ca_file).unwrap()).unwrap(),
            )
            .build()
            .unwrap();
        let pebble = Pebble {
            child,
            ports,
            tls_ca_file,
            log_file,
            client,
            _dir: dir,
        };
        pebble.wait_ready().await;
        pebble
    }

    async fn wait_ready(&self) {
        let url = self.ports.directory_url();
        for _ in 0..200 {
            if let Ok(r) = self.client.get(&url).send().await {
                if r.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("Pebble did not become ready:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// How many orders Pebble created (from its log).
    pub fn orders_added(&self) -> usize {
        self.log().matches("Added order").count()
    }

    /// The root that Pebble's issued chains lead to (management `/roots/0`).
    pub async fn root_pem(&self) -> String {
        self.client
            .get(format!(
                "https://localhost:{}/roots/0",
                self.ports.management
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `pebble-challtestsrv` as a DNS server answering every A query with 127.0.0.1.
pub struct ChallTestSrv {
    child: Child,
    pub dns_addr: String,
}

impl ChallTestSrv {
    pub async fn start() -> ChallTestSrv {
        let dns_port = free_port();
        let mgmt_port = free_port();
        let dns_addr = format!("127.0.0.1:{dns_port}");
        let child = Command::new("pebble-challtestsrv")
            .args([
                "-defaultIPv6",
                "",
                "-defaultIPv4",
                "127.0.0.1",
                "-dns01",
                &dns_addr,
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                &format!("127.0.0.1:{mgmt_port}"),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pebble-challtestsrv is not installed: run scripts/setup.sh");
        let srv = ChallTestSrv { child, dns_addr };
        // Ready when its management listener accepts connections (it starts DNS first).
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", mgmt_port)).is_ok() {
                return srv;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pebble-challtestsrv did not become ready");
    }
}

impl Drop for ChallTestSrv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
