//! certbroker's own CA: a root and an intermediate that signs leaves. Made at first start
//! in `<data_dir>/ca` (keys sealed under the master key) or loaded from PEM files named in
//! the config (then that certificate signs directly).

use std::path::Path;

use anyhow::Context;

use super::keystore::{write_private_file, KeyStore};
use crate::config::{CaSettings, ProviderSettings};
use crate::crypto::{self, x509::IssueParams, PKey, Private, X509};

/// The signing CA and the chain above it.
pub struct LocalCa {
    key: PKey<Private>,
    cert: X509,
    /// DER of the signing certificate and every certificate above it, nearest first.
    pub chain: Vec<Vec<u8>>,
}

impl std::fmt::Debug for LocalCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalCa")
    }
}

/// Why the CA would not issue.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The CA's policy refuses the request (the request fails: CertificateIssuerError).
    #[error("{0}")]
    Refused(String),
    /// Something broke; try again later.
    #[error("{0}")]
    Internal(String),
}

fn sealed_key(keys: &KeyStore, path: &Path, aad: &str) -> anyhow::Result<PKey<Private>> {
    let sealed = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let der = keys
        .unseal(aad, &sealed)
        .map_err(|e| anyhow::anyhow!("unsealing {}: {e}", path.display()))?;
    Ok(crypto::keys::private_key_from_der(&der)?)
}

fn store_sealed(
    keys: &KeyStore,
    path: &Path,
    aad: &str,
    key: &PKey<Private>,
) -> anyhow::Result<()> {
    let der = crypto::keys::private_key_to_der(key)?;
    let sealed = keys
        .seal(aad, &der)
        .map_err(|e| anyhow::anyhow!("sealing {}: {e}", path.display()))?;
    write_private_file(path, &sealed)
}

/// Makes a root and an intermediate in `<data_dir>/ca`. They are written into
/// `<data_dir>/ca.new` first and the folder renamed into place, so a crash part-way leaves
/// no half-made CA: a `ca` folder without `intermediate.pem` (one no certificate can have
/// been issued by) is moved aside to `ca.incomplete`.
fn make_ca(
    settings: &CaSettings,
    data_dir: &Path,
    keys: &KeyStore,
    now: i64,
) -> anyhow::Result<()> {
    let (dir, staging) = (data_dir.join("ca"), data_dir.join("ca.new"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    std::fs::create_dir_all(&staging)?;
    let (root_k, root_c) = crypto::x509::create_ca(
        &format!("{} Root", settings.common_name),
        now,
        settings.validity_days,
        None,
    )?;
    let (k, c) = crypto::x509::create_ca(
        &format!("{} Intermediate", settings.common_name),
        now,
        settings.validity_days,
        Some((&root_k, &root_c)),
    )?;
    store_sealed(keys, &staging.join("root.key.sealed"), "ca-root", &root_k)?;
    store_sealed(
        keys,
        &staging.join("intermediate.key.sealed"),
        "ca-intermediate",
        &k,
    )?;
    write_private_file(&staging.join("root.pem"), &root_c.to_pem()?)?;
    write_private_file(&staging.join("intermediate.pem"), &c.to_pem()?)?;
    if dir.exists() {
        let aside = data_dir.join("ca.incomplete");
        if aside.exists() {
            std::fs::remove_dir_all(&aside)?;
        }
        tracing::warn!(dir = %dir.display(), "an incomplete CA folder is moved aside to ca.incomplete");
        std::fs::rename(&dir, &aside)?;
    }
    std::fs::rename(&staging, &dir)?;
    std::fs::File::open(data_dir)?.sync_all()?;
    Ok(())
}

impl LocalCa {
    /// Loads the CA from the config's PEM files, or from `<data_dir>/ca`, making a root and
    /// an intermediate there at first start.
    pub fn open(
        settings: &CaSettings,
        data_dir: &Path,
        keys: &KeyStore,
        now: i64,
    ) -> anyhow::Result<Self> {
        if !settings.cert_file.is_empty() {
            let pem = std::fs::read(&settings.cert_file)
                .with_context(|| format!("reading ca.cert_file {}", settings.cert_file))?;
            let chain = crypto::x509::certs_from_pem(&pem)?;
            let first = chain.first().context("ca.cert_file holds no certificate")?;
            let cert = X509::from_der(first)?;
            let key_pem = std::fs::read(&settings.key_file)
                .with_context(|| format!("reading ca.key_file {}", settings.key_file))?;
            let key = PKey::private_key_from_pem(&key_pem)
                .context("ca.key_file is not a PEM private key")?;
            if !cert.public_key()?.public_eq(&key) {
                anyhow::bail!("ca.key_file does not match ca.cert_file");
            }
            return Ok(LocalCa { key, cert, chain });
        }
        let dir = data_dir.join("ca");
        let root_pem = dir.join("root.pem");
        let int_pem = dir.join("intermediate.pem");
        let int_key = dir.join("intermediate.key.sealed");
        if !int_pem.exists() {
            make_ca(settings, data_dir, keys, now)?;
        }
        let root = X509::from_pem(&std::fs::read(&root_pem)?)?;
        let cert = X509::from_pem(&std::fs::read(&int_pem)?)?;
        let key = sealed_key(keys, &int_key, "ca-intermediate")?;
        Ok(LocalCa {
            key,
            chain: vec![cert.to_der()?, root.to_der()?],
            cert,
        })
    }

    /// The CA certificates as PEM, signing certificate first.
    pub fn chain_pem(&self) -> String {
        self.chain
            .iter()
            .filter_map(|der| crypto::x509::cert_to_pem(der).ok())
            .collect()
    }

    /// Issues a certificate for `csr_der` under `provider`'s policy. Slow: call from a
    /// blocking thread.
    pub fn issue(
        &self,
        csr_der: &[u8],
        validity_months: u32,
        provider: &ProviderSettings,
        now: i64,
    ) -> Result<Vec<u8>, IssueError> {
        let info =
            crypto::csr::csr_info(csr_der).map_err(|e| IssueError::Refused(e.to_string()))?;
        let mut names: Vec<String> = info.dns_names.clone();
        if let Some(cn) = &info.subject_cn {
            names.push(cn.clone());
        }
        if !provider.allowed_domains.is_empty() {
            if names.is_empty() {
                return Err(IssueError::Refused(
                    "The request names no domain; this issuer only issues for its allowed domains."
                        .into(),
                ));
            }
            for n in &names {
                if !domain_allowed(n, &provider.allowed_domains) {
                    return Err(IssueError::Refused(format!(
                        "The CA refused the request: '{n}' is outside the domains this issuer may certify ({}).",
                        provider.allowed_domains.join(", ")
                    )));
                }
            }
        }
        let months = validity_months.min(provider.max_validity_months).max(1);
        let not_after = chrono::DateTime::from_timestamp(now, 0)
            .and_then(|t| t.checked_add_months(chrono::Months::new(months)))
            .map(|t| t.timestamp())
            .ok_or_else(|| IssueError::Internal("validity out of range".into()))?;
        crypto::x509::issue_from_csr(
            csr_der,
            &self.key,
            &self.cert,
            &IssueParams {
                not_before: now,
                not_after,
            },
        )
        .map_err(|e| match e {
            crypto::CryptoError::Invalid(m) => IssueError::Refused(m),
            other => IssueError::Internal(other.to_string()),
        })
    }
}

/// True when `name` is one of `allowed` or a subdomain of one (case-insensitive).
pub fn domain_allowed(name: &str, allowed: &[String]) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let name = name.strip_prefix("*.").unwrap_or(&name);
    allowed.iter().any(|a| {
        let a = a.trim_end_matches('.').to_ascii_lowercase();
        let a = a.strip_prefix("*.").unwrap_or(&a);
        name == a || name.ends_with(&format!(".{a}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_start_cut_short_is_made_again_and_then_kept() {
        let data = tempfile::tempdir().unwrap();
        let settings = CaSettings {
            cert_file: String::new(),
            key_file: String::new(),
            common_name: "Test CA".into(),
            validity_days: 30,
        };
        let keys = KeyStore::from_master([7; 32]);
        // What a crash after the first sealed key left behind.
        std::fs::create_dir_all(data.path().join("ca")).unwrap();
        std::fs::write(data.path().join("ca/root.key.sealed"), b"partial").unwrap();
        let first = LocalCa::open(&settings, data.path(), &keys, 1_700_000_000).unwrap();
        assert!(data.path().join("ca.incomplete/root.key.sealed").exists());
        assert!(!data.path().join("ca.new").exists());
        let again = LocalCa::open(&settings, data.path(), &keys, 1_700_000_100).unwrap();
        assert_eq!(again.chain_pem(), first.chain_pem());
    }

    #[test]
    fn allowed_domains_cover_subdomains_only() {
        let allowed = vec!["example.com".to_string()];
        assert!(domain_allowed("example.com", &allowed));
        assert!(domain_allowed("www.Example.com", &allowed));
        assert!(domain_allowed("*.example.com", &allowed));
        assert!(!domain_allowed("badexample.com", &allowed));
        assert!(!domain_allowed("example.org", &allowed));
    }
}
