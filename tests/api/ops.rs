//! Operating certbroker, on the real binary: Prometheus metrics checked by the real
//! `promtool` and moving with what the test does, readiness and the `healthcheck` command,
//! the ready line, JSON request logs with no secret in them, and a start as a non-root user
//! configured by the environment alone on an empty data directory.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TOKEN;
use crate::ops_binary::{run, Binary};

const METRICS_TOKEN: &str = "scrape-me-0123456789";

fn sha256_hex(s: &str) -> String {
    hex::encode(certbroker::crypto::seal::sha256(s.as_bytes()))
}

async fn call(
    b: &Binary,
    client: &reqwest::Client,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> reqwest::Response {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut req = client.request(method, format!("{}{path}{sep}api-version=7.5", b.address));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

/// `promtool check metrics` on `text`: (success, what it said).
pub fn promtool_check(text: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool is installed (Debian package prometheus; scripts/setup.sh)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Samples of an exposition: `name{labels}` (labels sorted as written) → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_owned(), v.parse().ok()?))
        })
        .collect()
}

fn value(s: &BTreeMap<String, f64>, key: &str) -> f64 {
    s.get(key).copied().unwrap_or(0.0)
}

async fn scrape(b: &Binary, client: &reqwest::Client, token: &str) -> String {
    let r = client
        .get(format!("{}/metrics", b.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().await.unwrap()
}

#[test]
fn promtool_refuses_a_broken_exposition() {
    // The check below is only worth something if promtool does refuse bad text.
    let (ok, out) = promtool_check("# TYPE x counter\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n");
    assert!(!ok, "{out}");
}

#[tokio::test]
async fn metrics_pass_promtool_and_move_with_requests_refusals_issuance_and_views() {
    let dir = tempfile::tempdir().unwrap();
    let hash = sha256_hex(METRICS_TOKEN);
    let b = Binary::start(
        dir.path(),
        &[
            ("CERTBROKER__AUTH__TOKEN", TOKEN),
            ("CERTBROKER__METRICS__TOKEN_SHA256", &hash),
            ("CERTBROKER__LOG__LEVEL", "warn"),
        ],
        &[],
    );
    let c = b.client();

    // Who may scrape: the scraper's token and admins; no token is 401; the scraper's token
    // opens nothing else.
    let r = c
        .get(format!("{}/metrics", b.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = call(
        &b,
        &c,
        Method::GET,
        "/certificates",
        Some(METRICS_TOKEN),
        None,
    )
    .await;
    assert_eq!(r.status(), 401);
    let before_text = scrape(&b, &c, METRICS_TOKEN).await;
    let (ok, out) = promtool_check(&before_text);
    assert!(ok, "promtool: {out}\n{before_text}");
    let before = samples(&before_text);

    // Two creates, one self-signed (done at once) and one waiting for an officer; one
    // request without a token, one with a wrong token, one conflict.
    let r = call(
        &b,
        &c,
        Method::PUT,
        "/certificates/issuers/approval",
        Some(TOKEN),
        Some(json!({"provider": "local-ca-approval"})),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = call(&b, &c, Method::POST, "/certificates/m-self/create", Some(TOKEN), Some(json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=m-self"}, "issuer": {"name": "Self"}}}))).await;
    assert_eq!(r.status(), 202);
    let r = call(&b, &c, Method::POST, "/certificates/m-approve/create", Some(TOKEN), Some(json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=m-approve"}, "issuer": {"name": "approval"}}}))).await;
    assert_eq!(r.status(), 202);
    let r = call(&b, &c, Method::POST, "/certificates/m-approve/create", Some(TOKEN), Some(json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=m-approve"}, "issuer": {"name": "approval"}}}))).await;
    assert_eq!(r.status(), 409);
    let r = call(&b, &c, Method::GET, "/certificates", None, None).await;
    assert_eq!(r.status(), 401);
    let r = call(&b, &c, Method::GET, "/certificates", Some("wrong"), None).await;
    assert_eq!(r.status(), 401);
    let r = call(
        &b,
        &c,
        Method::GET,
        "/certificates/m-self/",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let exp = r.json::<Value>().await.unwrap()["attributes"]["exp"]
        .as_i64()
        .unwrap();

    let mid_text = scrape(&b, &c, METRICS_TOKEN).await;
    let (ok, out) = promtool_check(&mid_text);
    assert!(ok, "promtool: {out}\n{mid_text}");
    let mid = samples(&mid_text);
    let moved = |key: &str| value(&mid, key) - value(&before, key);
    assert_eq!(
        moved(
            r#"certbroker_http_requests_total{operation="CreateCertificate",status="202",vault="default"}"#
        ),
        2.0
    );
    assert_eq!(
        moved(
            r#"certbroker_http_requests_total{operation="CreateCertificate",status="409",vault="default"}"#
        ),
        1.0
    );
    assert_eq!(
        moved(
            r#"certbroker_http_request_duration_seconds_count{operation="CreateCertificate",vault="default"}"#
        ),
        3.0
    );
    // Unauthenticated requests are not attributed to the vault their Host header names.
    assert_eq!(
        moved(
            r#"certbroker_http_requests_total{operation="GetCertificates",status="401",vault="-"}"#
        ),
        2.0
    );
    assert_eq!(
        moved(r#"certbroker_http_refused_total{reason="missing_token"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"certbroker_http_refused_total{reason="invalid_token"}"#),
        1.0
    );
    assert_eq!(
        moved(r#"certbroker_http_refused_total{reason="conflict"}"#),
        1.0
    );
    assert_eq!(
        value(
            &mid,
            r#"certbroker_certificate_expiry_timestamp_seconds{certificate="m-self",vault="default"}"#
        ),
        exp as f64
    );
    assert_eq!(value(&mid, "certbroker_pending_approvals"), 1.0);
    assert_eq!(
        value(
            &mid,
            r#"certbroker_pending_operations{provider="local-ca-approval",status="inProgress"}"#
        ),
        1.0
    );
    assert!(
        value(&mid, "certbroker_events_head_position")
            > value(&before, "certbroker_events_head_position")
    );

    // The officer approves; the worker issues through the built-in CA.
    let r = call(
        &b,
        &c,
        Method::POST,
        "/certificates/m-approve/pending/approve",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let mut after = BTreeMap::new();
    for _ in 0..200 {
        after = samples(&scrape(&b, &c, METRICS_TOKEN).await);
        if value(
            &after,
            r#"certbroker_issuance_total{outcome="issued",provider="local-ca-approval"}"#,
        ) >= 1.0
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        value(
            &after,
            r#"certbroker_issuance_total{outcome="issued",provider="local-ca-approval"}"#
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            r#"certbroker_issuance_duration_seconds_count{outcome="issued",provider="local-ca-approval"}"#
        ),
        1.0
    );
    // The issued version is the current one once the worker's command committed.
    for _ in 0..200 {
        after = samples(&scrape(&b, &c, METRICS_TOKEN).await);
        if after.contains_key(r#"certbroker_certificate_expiry_timestamp_seconds{certificate="m-approve",vault="default"}"#) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = call(
        &b,
        &c,
        Method::GET,
        "/certificates/m-approve/",
        Some(TOKEN),
        None,
    )
    .await;
    let exp2 = r.json::<Value>().await.unwrap()["attributes"]["exp"]
        .as_i64()
        .unwrap();
    assert_eq!(
        value(
            &after,
            r#"certbroker_certificate_expiry_timestamp_seconds{certificate="m-approve",vault="default"}"#
        ),
        exp2 as f64
    );
    assert_eq!(value(&after, "certbroker_pending_approvals"), 0.0);
    assert_eq!(value(&after, "certbroker_worker_queue_depth"), 0.0);

    // A deleted certificate leaves no expiry series behind.
    let r = call(
        &b,
        &c,
        Method::DELETE,
        "/certificates/m-self",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let last_text = scrape(&b, &c, TOKEN).await;
    let (ok, out) = promtool_check(&last_text);
    assert!(ok, "promtool: {out}\n{last_text}");
    assert!(
        !last_text.contains(r#"certificate="m-self""#),
        "{last_text}"
    );
    assert!(last_text.contains(r#"certificate="m-approve""#));
}

#[tokio::test]
async fn readiness_healthcheck_and_the_ready_line_on_the_real_binary() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Binary::start(
        dir.path(),
        &[
            ("CERTBROKER__AUTH__TOKEN", TOKEN),
            ("CERTBROKER__LOG__LEVEL", "warn"),
        ],
        &[],
    );
    let c = b.client();
    // The ready line follows the listening line, with the same address.
    let out = b.stdout_lines();
    let listening = out
        .iter()
        .position(|l| l.contains("listening on "))
        .unwrap();
    let ready = out
        .iter()
        .position(|l| l.starts_with("certbroker ready on "))
        .unwrap();
    assert!(listening < ready, "{out:?}");
    assert!(out[listening].contains(&b.address), "{out:?}");

    let r = c
        .get(format!("{}/healthz", b.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(format!("{}/readyz", b.address)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"status": "ready", "checks": {"database": "ok", "migrations": "ok", "worker": "ok"}})
    );

    let url = format!("{}/readyz", b.address);
    let data = dir.path().to_str().unwrap();
    let env = [("CERTBROKER__STORAGE__DATA_DIR", data)];
    // The TLS CA from the data directory is trusted by default.
    let (code, out) = run(&["healthcheck", "--url", &url], &env, &[]);
    assert_eq!(code, 0, "{out}");
    // Another CA is not: the check fails rather than skipping verification.
    let other = tempfile::tempdir().unwrap();
    let (key, ca) =
        certbroker::crypto::x509::create_ca("Other", chrono::Utc::now().timestamp(), 1, None)
            .unwrap();
    drop(key);
    let other_pem = other.path().join("other.pem");
    std::fs::write(&other_pem, ca.to_pem().unwrap()).unwrap();
    let (code, out) = run(
        &[
            "healthcheck",
            "--url",
            &url,
            "--cacert",
            other_pem.to_str().unwrap(),
        ],
        &env,
        &[],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not ready"), "{out}");
    // An explicit --cacert of the right CA works with no data directory at all.
    let ca_pem = dir.path().join("tls/ca.pem");
    let (code, out) = run(
        &[
            "healthcheck",
            "--url",
            &url,
            "--cacert",
            ca_pem.to_str().unwrap(),
        ],
        &[(
            "CERTBROKER__STORAGE__DATA_DIR",
            other.path().to_str().unwrap(),
        )],
        &[],
    );
    assert_eq!(code, 0, "{out}");

    b.kill();
    let (code, out) = run(&["healthcheck", "--url", &url], &env, &[]);
    assert_eq!(code, 1, "{out}");
}

/// A fresh EC key and a self-signed certificate, as PEM (certificate, then PKCS#8 key).
fn pem_with_key(cn: &str) -> (String, String) {
    use certbroker::crypto;
    use certbroker::domain::policy::{Curve, KeySpec, X509Properties};
    let key = crypto::keys::generate_key(&KeySpec::Ec { curve: Curve::P256 }).unwrap();
    let props = X509Properties {
        subject: format!("CN={cn}"),
        sans: Default::default(),
        ekus: vec![],
        key_usage: vec![],
        validity_months: 12,
    };
    let der = crypto::x509::self_signed(&key, &props, chrono::Utc::now().timestamp()).unwrap();
    let cert = String::from_utf8(crypto::X509::from_der(&der).unwrap().to_pem().unwrap()).unwrap();
    let key = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (cert, key)
}

/// The base64 body of a PEM block (what would show if it leaked in any form).
fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[tokio::test]
async fn json_logs_have_one_line_per_request_and_no_token_key_or_csr() {
    let dir = tempfile::tempdir().unwrap();
    let b = Binary::start(
        dir.path(),
        &[
            ("CERTBROKER__AUTH__TOKEN", TOKEN),
            ("CERTBROKER__LOG__FORMAT", "json"),
            ("CERTBROKER__LOG__LEVEL", "info"),
        ],
        &[],
    );
    let c = b.client();
    let r = c
        .post(format!("{}/certificates/j1/create?api-version=7.5", b.address))
        .bearer_auth(TOKEN)
        .header("x-ms-client-request-id", "client-req-1")
        .json(&json!({"policy": {"key_props": {"kty": "EC"}, "x509_props": {"subject": "CN=j1.example.com"}, "issuer": {"name": "Unknown"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let create_id = r.headers()["x-ms-request-id"].to_str().unwrap().to_owned();
    let csr = r.json::<Value>().await.unwrap()["csr"]
        .as_str()
        .unwrap()
        .to_owned();
    let (cert, key) = pem_with_key("j2.example.com");
    let r = call(
        &b,
        &c,
        Method::POST,
        "/certificates/j2/import",
        Some(TOKEN),
        Some(json!({"value": format!("{cert}{key}")})),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = call(
        &b,
        &c,
        Method::GET,
        "/certificates/j1/pending",
        Some("not-the-token"),
        None,
    )
    .await;
    assert_eq!(r.status(), 401);
    let refused_id = r.headers()["x-ms-request-id"].to_str().unwrap().to_owned();
    let r = call(&b, &c, Method::GET, "/nowhere", Some(TOKEN), None).await;
    assert_eq!(r.status(), 404);

    // Lines are written as requests finish; wait until the last one is there.
    let mut lines = Vec::new();
    for _ in 0..100 {
        lines = b.stderr_lines();
        if lines.iter().any(|l| l.contains("/nowhere")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let requests: Vec<&Value> = parsed
        .iter()
        .filter(|v| v["message"] == "request" && v["target"] == "certbroker::http")
        .collect();
    assert_eq!(requests.len(), 4, "{lines:#?}");
    let create = requests
        .iter()
        .find(|v| v["request_id"] == create_id.as_str())
        .expect("the create's line carries the id answered in x-ms-request-id");
    assert_eq!(create["level"], "INFO");
    assert_eq!(create["vault"], "default");
    assert_eq!(create["operation"], "CreateCertificate");
    assert_eq!(create["status"], 202);
    assert_eq!(create["actor"], "static");
    assert_eq!(create["method"], "POST");
    assert_eq!(create["path"], "/certificates/j1/create");
    assert_eq!(create["client_request_id"], "client-req-1");
    assert!(create["latency_ms"].as_f64().unwrap() >= 0.0);
    assert!(create["timestamp"].is_string());
    let refused = requests
        .iter()
        .find(|v| v["request_id"] == refused_id.as_str())
        .unwrap();
    assert_eq!(refused["status"], 401);
    assert_eq!(refused["actor"], "-");
    assert_eq!(refused["operation"], "GetCertificateOperation");
    let missing = requests.iter().find(|v| v["path"] == "/nowhere").unwrap();
    assert_eq!(missing["operation"], "NotFound");
    assert_eq!(missing["status"], 404);

    let all = lines.join("\n");
    for secret in [
        TOKEN,
        "not-the-token",
        csr.as_str(),
        &pem_body(&key)[..40],
        "PRIVATE KEY",
    ] {
        assert!(!all.contains(secret), "the logs carry {secret:?}");
    }
}

/// What the Dockerfile's runtime stage says: its `CERTBROKER__` environment, the
/// HEALTHCHECK's arguments (after `certbroker`) and its USER.
fn dockerfile() -> (Vec<(String, String)>, Vec<String>, String) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    // Join continued lines; keep only the last stage.
    let joined = text.replace("\\\n", " ");
    let stage = joined.rsplit("\nFROM ").next().unwrap();
    let mut env = Vec::new();
    let mut health = Vec::new();
    let mut user = String::new();
    for line in stage.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("ENV ") {
            for pair in rest.split_whitespace() {
                let (k, v) = pair.split_once('=').unwrap();
                env.push((k.to_owned(), v.to_owned()));
            }
        } else if let Some(rest) = line.strip_prefix("HEALTHCHECK ") {
            let json = &rest[rest.find("CMD ").unwrap() + 4..];
            let cmd: Vec<String> = serde_json::from_str(json).unwrap();
            assert_eq!(cmd[0], "certbroker");
            health = cmd[1..].to_vec();
        } else if let Some(rest) = line.strip_prefix("USER ") {
            user = rest.to_owned();
        }
    }
    (env, health, user)
}

#[test]
fn the_dockerfile_runs_serve_as_a_non_root_user_with_data_in_a_volume_and_checks_health() {
    let (env, health, user) = dockerfile();
    assert!(env.contains(&("CERTBROKER__STORAGE__DATA_DIR".into(), "/data".into())));
    assert!(env.iter().all(|(k, _)| k.starts_with("CERTBROKER__")));
    assert_eq!(health[0], "healthcheck");
    let uid = user.split(':').next().unwrap();
    assert!(uid.parse::<u32>().unwrap() > 0, "USER {user}");
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    assert!(text.contains("VOLUME [\"/data\"]"));
    assert!(text.contains("EXPOSE 8443"));
    assert!(text.contains("CMD [\"serve\"]"));
}

#[tokio::test]
async fn runs_as_a_non_root_user_from_the_environment_alone_on_an_empty_data_dir() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let is_root = current_uid() == 0;
    // As root (CI), drop to nobody as the container's USER does; as anyone else, run as
    // that user.
    let wrapper: &[&str] = if is_root {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::chown(&data, Some(65534), Some(65534)).unwrap();
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
    } else {
        &[]
    };
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);
    // The container's environment, but the data directory and a loopback port of the test.
    let (docker_env, health, _) = dockerfile();
    let mut env: Vec<(&str, &str)> = docker_env
        .iter()
        .filter(|(k, _)| k != "CERTBROKER__STORAGE__DATA_DIR" && k != "CERTBROKER__SERVER__LISTEN")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push(("CERTBROKER__AUTH__TOKEN", TOKEN));
    env.push(("CERTBROKER__LOG__LEVEL", "warn"));
    let b = Binary::start(&data, &env, wrapper);
    let status = std::fs::read_to_string(format!("/proc/{}/status", b.pid())).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    if is_root {
        assert!(
            uid_line.split_whitespace().skip(1).all(|u| u == "65534"),
            "{uid_line}"
        );
        // What it made in the data directory belongs to that user, keys private to it.
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        for f in ["certbroker.sqlite3", "master.key", "tls/ca.pem"] {
            let m = std::fs::metadata(data.join(f)).unwrap();
            assert_eq!(m.uid(), 65534, "{f}");
        }
        let key = std::fs::metadata(data.join("master.key")).unwrap();
        assert_eq!(key.permissions().mode() & 0o077, 0);
    }
    assert!(b
        .stdout_lines()
        .iter()
        .any(|l| l == &format!("certbroker ready on {}", b.address)));
    let port = b.address.rsplit(':').next().unwrap().to_owned();
    let listen = format!("127.0.0.1:{port}");
    // The HEALTHCHECK command as the same user, configured as in the container: by the
    // environment, no --url, trusting the CA in the data directory.
    let health: Vec<&str> = health.iter().map(String::as_str).collect();
    let (code, out) = run(
        &health,
        &[
            ("CERTBROKER__STORAGE__DATA_DIR", data.to_str().unwrap()),
            ("CERTBROKER__SERVER__LISTEN", &listen),
        ],
        wrapper,
    );
    assert_eq!(code, 0, "{out}");
    let r = call(
        &b,
        &b.client(),
        Method::GET,
        "/certificates",
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = b
        .client()
        .get(format!("{}/readyz", b.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// The real user id of this process, read from /proc (no libc call needed).
fn current_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|u| u.parse().ok())
        .unwrap()
}

#[test]
fn the_shipped_alert_rules_pass_promtool_and_their_unit_tests() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/prometheus");
    for args in [
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("promtool is installed (scripts/setup.sh)");
        assert!(
            out.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The rule names metrics this server exports.
    let rules = std::fs::read_to_string(format!("{dir}/alerts.yml")).unwrap();
    let src = include_str!("../../src/metrics.rs");
    for metric in [
        "certbroker_certificate_expiry_timestamp_seconds",
        "certbroker_issuance_total",
        "certbroker_worker_queue_depth",
    ] {
        assert!(rules.contains(metric) && src.contains(metric), "{metric}");
    }
}
