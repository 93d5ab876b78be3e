//! `certbroker healthcheck`: asks a running server whether it is ready, for container
//! health checks (no curl needed).

use std::process::ExitCode;

use anyhow::Context;
use certbroker::error::error_chain;

/// `certbroker healthcheck`: GET the readiness URL, trusting `cacert` (and the system's
/// CAs); exit 0 on 200, 1 otherwise.
pub async fn healthcheck(
    url: &str,
    cacert: Option<&std::path::Path>,
    timeout: u64,
) -> anyhow::Result<ExitCode> {
    let mut builder = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(timeout.max(1)))
        .no_proxy();
    if let Some(path) = cacert {
        let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let certs = openssl::x509::X509::stack_from_pem(&pem)
            .with_context(|| format!("{} is not PEM", path.display()))?;
        for c in certs {
            builder = builder.add_root_certificate(reqwest::Certificate::from_der(&c.to_der()?)?);
        }
    }
    let client = builder.build().context("making the HTTPS client")?;
    match client.get(url).send().await {
        Ok(r) if r.status().is_success() => {
            println!("ready: {url}");
            Ok(ExitCode::SUCCESS)
        }
        Ok(r) => {
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            let why = body["error"]["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {status}"));
            println!("not ready ({status}): {why}");
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            println!("not ready: {url}: {}", error_chain(&e));
            Ok(ExitCode::from(1))
        }
    }
}
