//! Certificates (Key Vault `CertificateBundle`): create, get, list, versions, update,
//! policy, import, delete. Backup and restore are in `backup`.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

use super::keypool::KeyPool;
use super::keystore::PreparedKey;
use super::{blocking, certificate_not_found, new_id, Caller, Core, Result, ServiceError};
use crate::crypto;
use crate::domain::certificate::{
    CertificateCommand, CertificateState, CreateRequest, ImportRequest, IssuerResolution,
    VersionRecord,
};
use crate::domain::names::ObjectName;
use crate::domain::policy::{CertificateFacts, ContentType, IssuerKind, Policy, PolicyPatch};
use crate::domain::DomainError;
use crate::es::aggregate::Certificate;
use crate::es::{Effect, Executed, Loaded, StreamId};
use crate::projections::certificate_versions::{self, VersionRow};
use crate::projections::certificates::{self as view, CertificateRow, ListedCertificate};
use crate::projections::issuers;
use crate::projections::pending_operations::{self, PendingRow};

/// A certificate as the REST layer renders it: its row, the version asked for (none while
/// its first version is pending), and whether it has a pending object.
#[derive(Debug, Clone)]
pub struct CertificateView {
    pub certificate: CertificateRow,
    pub version: Option<VersionRow>,
    pub pending: bool,
}

impl CertificateView {
    /// The view a certificate's state shows, at `version` (or the current one).
    pub fn of_state(
        stream: &StreamId,
        state: &CertificateState,
        version: Option<&str>,
    ) -> Option<Self> {
        let certificate = view::row(stream, state)?;
        let version = match state.version(version) {
            Some(v) => {
                let seq = state
                    .versions
                    .iter()
                    .position(|x| x.version == v.version)
                    .unwrap_or_default();
                Some(certificate_versions::version_row(stream, seq, v))
            }
            None if version.is_some() => return None,
            None => None,
        };
        Some(CertificateView {
            certificate,
            version,
            pending: state.pending.is_some(),
        })
    }
}

/// What a create needs beyond the name.
#[derive(Debug, Clone, Default)]
pub struct CreateInput {
    /// The policy sent, or `None` to use the stored one.
    pub policy: Option<PolicyPatch>,
    pub enabled: Option<bool>,
    pub tags: Option<BTreeMap<String, String>>,
    pub preserve_cert_order: Option<bool>,
}

/// What an import needs beyond the name.
pub struct ImportInput {
    /// The bytes of `value`: PKCS#12 (DER or base64) or PEM text (or its base64).
    pub value: Vec<u8>,
    pub password: Option<String>,
    /// What a create would send; its policy is merged over the one read off the
    /// certificate.
    pub fields: CreateInput,
}

/// Builds the version record of a certificate chain (leaf first).
pub fn version_record(key_id: &str, chain: &[Vec<u8>]) -> Result<VersionRecord> {
    let leaf = chain
        .first()
        .ok_or_else(|| ServiceError::Internal("empty certificate chain".into()))?;
    let info = crypto::x509::cert_info(leaf)?;
    let validity = crypto::chain::Validity {
        not_before: info.not_before,
        not_after: info.not_after,
    };
    Ok(version_record_of(key_id, chain, validity))
}

/// [`version_record`] for a chain whose leaf's validity is known (a merge just checked it).
pub fn version_record_of(
    key_id: &str,
    chain: &[Vec<u8>],
    validity: crypto::chain::Validity,
) -> VersionRecord {
    let leaf = &chain[0];
    VersionRecord {
        version: new_id(),
        key_id: key_id.to_owned(),
        cer: STANDARD.encode(leaf),
        chain: chain[1..].iter().map(|c| STANDARD.encode(c)).collect(),
        x5t: URL_SAFE_NO_PAD.encode(crypto::seal::sha1(leaf)),
        nbf: validity.not_before,
        exp: validity.not_after,
        enabled: true,
        tags: BTreeMap::new(),
    }
}

/// The certificates service.
#[derive(Clone)]
pub struct Certificates(pub(crate) Arc<Core>);

/// A certificate command's outcome rendered as the certificate at `version`.
pub(crate) fn view_after(
    stream: &StreamId,
    name: &ObjectName,
    done: &Executed<Certificate>,
    version: Option<&str>,
) -> Result<CertificateView> {
    CertificateView::of_state(stream, &done.after, version)
        .ok_or_else(|| certificate_not_found(name.as_str(), version))
}

impl Certificates {
    fn core(&self) -> &Core {
        &self.0
    }

    /// Runs a certificate command on `name` in the caller's vault.
    pub(crate) async fn run(
        &self,
        caller: &Caller,
        name: &ObjectName,
        command: CertificateCommand,
        loaded: Option<Loaded<Certificate>>,
        effects: Vec<Effect>,
    ) -> Result<(StreamId, Executed<Certificate>)> {
        let stream = StreamId::certificate(&caller.vault, name.as_str());
        let done = self
            .core()
            .execute(
                caller,
                stream.clone(),
                name.as_str(),
                command,
                loaded,
                effects,
                Arc::new(()),
            )
            .await?;
        Ok((stream, done))
    }

    /// `CreateCertificate`: makes (or reuses) the key, a CSR and, for `Self`, the
    /// certificate; then records the request. Returns the pending object as created
    /// (`inProgress`, also for `Self`, whose certificate is there from the next read on:
    /// the Python SDK's poller relies on that).
    pub async fn create(
        &self,
        caller: &Caller,
        name: &ObjectName,
        input: CreateInput,
    ) -> Result<PendingRow> {
        let core = self.core();
        let stream = StreamId::certificate(&caller.vault, name.as_str());
        let loaded = core.load::<Certificate>(&stream).await?;
        let policy = match input.policy {
            Some(patch) => Policy::new(patch)?,
            None => loaded
                .state
                .policy
                .clone()
                .ok_or(DomainError::PolicyRequired)?,
        };
        let issuer = self.resolve_issuer(&caller.vault, &policy).await?;
        let mut csr_policy = policy.clone();
        if let IssuerResolution::Provider { provider, .. } = &issuer {
            if let Some(settings) = core.providers.configured.get(provider) {
                super::issuance_policy::check(provider, settings, &policy)?;
                csr_policy = super::issuance_policy::csr_policy(settings, &policy);
            }
        }
        let reused = match (policy.key_props.reuse_key, loaded.state.latest()) {
            (true, Some(latest)) => {
                let mut reader = core.reader().await?;
                let key = core.keys.load(&mut reader.conn(), &latest.key_id).await?;
                let public = crypto::keys::public_key_der(&key)?;
                (crypto::keys::key_spec_of(&public)? == policy.key_props.spec())
                    .then(|| (latest.key_id.clone(), key, public))
            }
            _ => None,
        };
        let pool = core.key_pool.clone();
        let now = core.clock.now().timestamp();
        let prepared = blocking("key generation", move || {
            prepare_request(&pool, &csr_policy, reused, now)
        })
        .await?;
        let mut effects = Vec::new();
        if prepared.new_key {
            effects.push(Effect::StoreKey(prepared.key.to_store(&caller.vault)));
        }
        let command = CertificateCommand::Create(Box::new(CreateRequest {
            name: name.as_str().to_owned(),
            policy,
            issuer,
            request_id: new_id(),
            key_id: prepared.key.key_id.clone(),
            public_key: STANDARD.encode(&prepared.key.public_der),
            csr: STANDARD.encode(&prepared.csr),
            enabled: input.enabled.unwrap_or(true),
            tags: input.tags.unwrap_or_default(),
            self_signed: prepared.self_signed,
            preserve_cert_order: input.preserve_cert_order,
        }));
        let (stream, done) = self
            .run(caller, name, command, Some(loaded), effects)
            .await?;
        if done
            .after
            .pending
            .as_ref()
            .is_some_and(|p| p.provider.is_some())
        {
            core.wake.notify_one();
        }
        // The request as created: the state after its first event.
        pending_operations::row(&stream, &done.state_after(1))
            .ok_or_else(|| ServiceError::Internal("a create recorded no request".into()))
    }

    /// How the issuer named in `policy` resolves in `vault` now.
    async fn resolve_issuer(&self, vault: &str, policy: &Policy) -> Result<IssuerResolution> {
        let issuer_name = match policy.issuer.kind() {
            IssuerKind::SelfSigned => return Ok(IssuerResolution::SelfSigned),
            IssuerKind::Manual => return Ok(IssuerResolution::Manual),
            IssuerKind::Object(n) => n,
        };
        let mut reader = self.core().reader().await?;
        let row =
            issuers::get(&mut reader.conn(), vault, &issuer_name.to_ascii_lowercase()).await?;
        Ok(match row {
            None => IssuerResolution::NotFound,
            Some(r) if !r.enabled => IssuerResolution::Disabled,
            Some(r) => match self.core().providers.resolve(&r.provider) {
                Some((provider, p)) => IssuerResolution::Provider {
                    provider: provider.to_owned(),
                    approval_required: p.approval_required,
                },
                None => {
                    return Err(DomainError::BadParameter(format!(
                        "Issuer '{issuer_name}' names provider '{}', which is no longer configured on this server.",
                        r.provider
                    ))
                    .into())
                }
            },
        })
    }

    /// `GetCertificate`: the current version when `version` is `None`.
    pub async fn get(
        &self,
        vault: &str,
        name: &ObjectName,
        version: Option<&str>,
    ) -> Result<CertificateView> {
        let not_found = || certificate_not_found(name.as_str(), version);
        // Without a version asked for, a certificate whose first version is still pending
        // (or whose first request was deleted) answers as Key Vault does: its policy,
        // `enabled: false`, no `cer`.
        let (certificate, row) = match version {
            Some(_) => {
                let (listed, row) = self
                    .core()
                    .listed_version(vault, name, version)
                    .await?
                    .ok_or_else(not_found)?;
                (listed.certificate, Some(row))
            }
            None => {
                let listed = self.listed(vault, name).await?;
                (listed.certificate, listed.version)
            }
        };
        let mut reader = self.core().reader().await?;
        let pending = pending_operations::get(&mut reader.conn(), vault, &name.key())
            .await?
            .is_some();
        Ok(CertificateView {
            certificate,
            version: row,
            pending,
        })
    }

    /// `GetCertificates` (and `GetSecrets`, `GetKeys`): a page after `after` (name key).
    pub async fn list(
        &self,
        vault: &str,
        include_pending: bool,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ListedCertificate>> {
        self.core()
            .list_certificates(vault, false, include_pending, after, limit)
            .await
    }

    /// A live certificate's row and current version.
    pub async fn listed(&self, vault: &str, name: &ObjectName) -> Result<ListedCertificate> {
        self.core()
            .listed(vault, name, false)
            .await?
            .ok_or_else(|| certificate_not_found(name.as_str(), None))
    }

    /// `GetCertificateVersions` (and `GetSecretVersions`, `GetKeyVersions`): a page after
    /// sequence `after`, with the certificate; an unknown name is refused with
    /// `not_found(name)`.
    pub async fn versions(
        &self,
        vault: &str,
        name: &ObjectName,
        after: i64,
        limit: i64,
        not_found: fn(&str, Option<&str>) -> ServiceError,
    ) -> Result<(ListedCertificate, Vec<VersionRow>)> {
        self.core()
            .versions_page(vault, name, after, limit)
            .await?
            .ok_or_else(|| not_found(name.as_str(), None))
    }

    /// `GetCertificatePolicy`: the certificate's row (its policy and the policy's times).
    pub async fn policy(&self, vault: &str, name: &ObjectName) -> Result<CertificateRow> {
        Ok(self.listed(vault, name).await?.certificate)
    }

    /// `UpdateCertificatePolicy`: merged over the policy in force (PATCH semantics).
    pub async fn update_policy(
        &self,
        caller: &Caller,
        name: &ObjectName,
        patch: PolicyPatch,
    ) -> Result<CertificateRow> {
        let (stream, done) = self
            .run(
                caller,
                name,
                CertificateCommand::UpdatePolicy { patch },
                None,
                vec![],
            )
            .await?;
        view::row(&stream, &done.after).ok_or_else(|| certificate_not_found(name.as_str(), None))
    }

    /// `UpdateCertificate`: a version's `enabled` and tags, and the policy when one is sent
    /// (merged), in one command.
    pub async fn update(
        &self,
        caller: &Caller,
        name: &ObjectName,
        version: Option<String>,
        enabled: Option<bool>,
        tags: Option<BTreeMap<String, String>>,
        policy: Option<PolicyPatch>,
    ) -> Result<CertificateView> {
        let command = CertificateCommand::UpdateVersion {
            version: version.clone(),
            enabled,
            tags,
            policy,
        };
        let (stream, done) = self.run(caller, name, command, None, vec![]).await?;
        view_after(&stream, name, &done, version.as_deref())
    }

    /// `ImportCertificate`: reads the bundle, checks the key against the certificate, seals
    /// the key, and records the new current version.
    pub async fn import(
        &self,
        caller: &Caller,
        name: &ObjectName,
        input: ImportInput,
    ) -> Result<CertificateView> {
        let keys = self.core().keys.clone();
        let ImportInput {
            value,
            password,
            fields:
                CreateInput {
                    policy,
                    enabled,
                    tags,
                    preserve_cert_order,
                },
        } = input;
        let (key, derived, record) = blocking("import", move || {
            let content_type = if is_pem(&value) {
                ContentType::Pem
            } else {
                ContentType::Pkcs12
            };
            let imported = crypto::pkcs12::import_bundle(&value, password.as_deref())?;
            let spki = crypto::keys::public_key_der(&imported.key)?;
            let info = crypto::x509::cert_info(&imported.chain[0])?;
            let facts = CertificateFacts {
                subject: info.subject.clone(),
                dns_names: info.dns_names.clone(),
                not_before: info.not_before,
                not_after: info.not_after,
                key: crypto::keys::key_spec_of(&spki)?,
            };
            let derived = Policy::from_certificate(&facts, content_type)?;
            let key = keys.wrap(new_id(), imported.key)?;
            let mut record = version_record(&key.key_id, &imported.chain)?;
            record.enabled = enabled.unwrap_or(true);
            record.tags = tags.unwrap_or_default();
            Ok((key, derived, record))
        })
        .await?;
        let command = CertificateCommand::Import(Box::new(ImportRequest {
            name: name.as_str().to_owned(),
            derived,
            patch: policy,
            public_key: STANDARD.encode(&key.public_der),
            certificate: record,
            preserve_cert_order,
        }));
        let effects = vec![Effect::StoreKey(key.to_store(&caller.vault))];
        let (stream, done) = self.run(caller, name, command, None, effects).await?;
        view_after(&stream, name, &done, None)
    }

    /// `DeleteCertificate`: soft delete; returns the deleted certificate.
    pub async fn delete(&self, caller: &Caller, name: &ObjectName) -> Result<ListedCertificate> {
        let command = CertificateCommand::Delete {
            now: self.core().clock.now().timestamp(),
            retention_days: self.core().retention_days,
        };
        let (stream, done) = self.run(caller, name, command, None, vec![]).await?;
        view::listed(&stream, &done.after).ok_or_else(|| certificate_not_found(name.as_str(), None))
    }

    /// Every live certificate's current version and policy (lifetime actions).
    pub async fn current_versions(&self) -> Result<Vec<view::CurrentVersionRow>> {
        let mut reader = self.core().reader().await?;
        Ok(view::current_versions(&mut reader.conn()).await?)
    }
}

struct PreparedRequest {
    key: PreparedKey,
    new_key: bool,
    csr: Vec<u8>,
    self_signed: Option<VersionRecord>,
}

fn prepare_request(
    keys: &KeyPool,
    policy: &Policy,
    reused: Option<(String, crypto::PKey<crypto::Private>, Vec<u8>)>,
    now: i64,
) -> Result<PreparedRequest> {
    let (key, new_key) = match reused {
        Some((key_id, key, public_der)) => (
            PreparedKey {
                key_id,
                public_der,
                sealed: Vec::new(),
                key,
            },
            false,
        ),
        None => (keys.prepare(&policy.key_props.spec())?, true),
    };
    let csr = crypto::csr::build_csr(&key.key, &policy.x509_props)?;
    let self_signed = match policy.issuer.kind() {
        IssuerKind::SelfSigned => {
            let der = crypto::x509::self_signed(&key.key, &policy.x509_props, now)?;
            Some(version_record(&key.key_id, &[der])?)
        }
        _ => None,
    };
    Ok(PreparedRequest {
        key,
        new_key,
        csr,
        self_signed,
    })
}

/// True when an import's value is PEM text, raw or base64-encoded.
fn is_pem(value: &[u8]) -> bool {
    let starts = |b: &[u8]| b.trim_ascii_start().starts_with(b"-----BEGIN");
    if starts(value) {
        return true;
    }
    let text: Vec<u8> = value
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    STANDARD.decode(&text).is_ok_and(|d| starts(&d))
}
