//! Seeding at start (`certbroker serve --seed FILE`, `seed.file`): the issuers, contacts
//! and certificates a TOML file describes are created through the services, as ordinary
//! events by actor `seed`, unless the data directory already has them (an issuer or a
//! certificate of that name, live or deleted; any contacts in that vault): a second start
//! with the same file changes nothing.
//!
//! ```toml
//! [[issuers]]
//! name = "corp"
//! provider = "DigiCert"                      # a Key Vault or a configured provider name
//! credentials = { account_id = "acct-1" }
//! org_details = { id = "org-1", admin_details = [{ first_name = "Ada", email = "ada@example.com" }] }
//!
//! [[contacts]]
//! email = "pki@example.com"
//! name = "PKI team"
//!
//! [[certificates]]
//! name = "web"
//! tags = { env = "dev" }
//! policy = { key_props = { kty = "EC" }, x509_props = { subject = "CN=web.example.com", validity_months = 12 }, issuer = { name = "Self" } }
//!
//! [[certificates]]
//! name = "legacy"
//! import = "legacy.p12"                      # PEM or PKCS#12, next to the seed file
//! password = "secret"
//! ```
//!
//! Each entry may name its `vault` (default: the default vault).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use figment::providers::{Format, Toml};
use figment::Figment;
use serde::Deserialize;

use crate::domain::contacts::{Contact, ContactsCommand};
use crate::domain::names::ObjectName;
use crate::domain::DomainError;
use crate::http::dto::issuers::IssuerSetRequest;
use crate::http::dto::policy::PolicyRequest;
use crate::service::certificates::{CreateInput, ImportInput};
use crate::service::{Caller, ServiceError, Services};

/// The actor recorded on seeded events.
pub const ACTOR: &str = "seed";

/// A seed file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedFile {
    #[serde(default)]
    pub issuers: Vec<SeedIssuer>,
    #[serde(default)]
    pub contacts: Vec<SeedContact>,
    #[serde(default)]
    pub certificates: Vec<SeedCertificate>,
}

/// An issuer object: Key Vault's `IssuerBundle` fields, and its name.
#[derive(Debug, Deserialize)]
pub struct SeedIssuer {
    pub name: String,
    #[serde(default)]
    pub vault: Option<String>,
    #[serde(flatten)]
    pub bundle: IssuerSetRequest,
}

/// One contact of a vault.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedContact {
    #[serde(default)]
    pub vault: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
}

/// A certificate: created with `policy` (self-signed, through an issuer, or a manual
/// request), or imported from the PEM or PKCS#12 file `import` (relative to the seed file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedCertificate {
    pub name: String,
    #[serde(default)]
    pub vault: Option<String>,
    pub policy: Option<PolicyRequest>,
    pub import: Option<PathBuf>,
    pub password: Option<String>,
    pub enabled: Option<bool>,
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(rename = "preserveCertOrder")]
    pub preserve_cert_order: Option<bool>,
}

/// What a seeding did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SeedReport {
    pub created: usize,
    /// Already there: left as they are.
    pub skipped: usize,
}

/// Reads a seed file.
pub fn read(path: &Path) -> anyhow::Result<SeedFile> {
    if !path.is_file() {
        anyhow::bail!("seed file {} does not exist", path.display());
    }
    Figment::from(Toml::file(path))
        .extract()
        .map_err(|e| anyhow::anyhow!("seed file {}: {e}", path.display()))
}

fn vault(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| crate::DEFAULT_VAULT.to_owned())
}

/// Creates what `path` describes and the data directory does not have yet.
pub async fn apply(services: &Services, path: &Path) -> anyhow::Result<SeedReport> {
    let seed = read(path)?;
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let mut report = SeedReport::default();
    for issuer in seed.issuers {
        let caller = Caller::system(&vault(&issuer.vault), ACTOR);
        let name = ObjectName::parse("issuer", &issuer.name)?;
        match services.issuers.get(&caller.vault, &name).await {
            Ok(_) => {
                report.skipped += 1;
                continue;
            }
            Err(ServiceError::Domain(DomainError::IssuerNotFound { .. })) => {}
            Err(e) => return Err(e.into()),
        }
        services
            .issuers
            .set(&caller, &name, issuer.bundle.into_changes(), true)
            .await
            .with_context(|| format!("seeding issuer {}", issuer.name))?;
        report.created += 1;
    }
    let mut contacts: BTreeMap<String, Vec<Contact>> = BTreeMap::new();
    for c in seed.contacts {
        contacts.entry(vault(&c.vault)).or_default().push(Contact {
            email: c.email,
            name: c.name,
            phone: c.phone,
        });
    }
    for (v, list) in contacts {
        if services.contacts.find(&v).await?.is_some() {
            report.skipped += 1;
            continue;
        }
        services
            .contacts
            .command(&Caller::system(&v, ACTOR), ContactsCommand::Set(list))
            .await
            .with_context(|| format!("seeding the contacts of vault {v}"))?;
        report.created += 1;
    }
    for cert in seed.certificates {
        let caller = Caller::system(&vault(&cert.vault), ACTOR);
        let name = ObjectName::parse("certificate", &cert.name)?;
        let core = &services.core;
        if core.listed(&caller.vault, &name, false).await?.is_some()
            || core.listed(&caller.vault, &name, true).await?.is_some()
        {
            report.skipped += 1;
            continue;
        }
        let what = format!("seeding certificate {}", cert.name);
        match (cert.import, cert.policy) {
            (Some(file), policy) => {
                let file = base.join(file);
                let value = std::fs::read(&file)
                    .with_context(|| format!("{what}: reading {}", file.display()))?;
                services
                    .certificates
                    .import(
                        &caller,
                        &name,
                        ImportInput {
                            value,
                            password: cert.password,
                            fields: CreateInput {
                                policy: policy.map(Into::into),
                                enabled: cert.enabled,
                                tags: cert.tags,
                                preserve_cert_order: cert.preserve_cert_order,
                            },
                        },
                    )
                    .await
                    .context(what)?;
            }
            (None, Some(policy)) => {
                services
                    .certificates
                    .create(
                        &caller,
                        &name,
                        CreateInput {
                            policy: Some(policy.into()),
                            enabled: cert.enabled,
                            tags: cert.tags,
                            preserve_cert_order: cert.preserve_cert_order,
                        },
                    )
                    .await
                    .context(what)?;
            }
            (None, None) => anyhow::bail!("{what}: give it a 'policy' or an 'import' file"),
        }
        report.created += 1;
    }
    Ok(report)
}
