//! Certificate commands (create, cancel, delete pending, merge, approve, reject, and the
//! worker's complete/fail/cancel) and the reads the REST layer needs.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::SecondsFormat;

use super::keys::{KeyStore, PreparedKey};
use super::{apply_certificate_command, flatten, load_certificate, new_id, ServiceError, Shared};
use crate::config::ProviderSettings;
use crate::crypto;
use crate::domain::certificate::{
    CertificateCommand, CreateRequest, IssuerResolution, MergeRequest, OperationStatus,
    VersionRecord,
};
use crate::domain::names::ObjectName;
use crate::domain::policy::{IssuerKind, Policy};
use crate::domain::DomainError;
use crate::es::EventMeta;
use crate::projections::certificate_versions::{self, CertificateRow, VersionRow};
use crate::projections::issuers;
use crate::projections::pending_operations::{self, PendingRow};

/// Who asks, in which vault (HTTP: from the token and Host; worker: itself).
#[derive(Debug, Clone)]
pub struct Caller {
    pub vault: String,
    pub actor: String,
    pub client_request_id: Option<String>,
    pub remote_addr: Option<String>,
}

impl Caller {
    /// The server acting by itself in `vault`.
    pub fn system(vault: &str, actor: &str) -> Self {
        Caller {
            vault: vault.to_owned(),
            actor: actor.to_owned(),
            client_request_id: None,
            remote_addr: None,
        }
    }

    fn meta(&self, shared: &Shared) -> EventMeta {
        EventMeta {
            actor: self.actor.clone(),
            client_request_id: self.client_request_id.clone(),
            remote_addr: self.remote_addr.clone(),
            at: shared.clock.now(),
        }
    }
}

/// A certificate as the REST layer renders it.
#[derive(Debug, Clone)]
pub struct CertificateView {
    pub certificate: CertificateRow,
    pub version: VersionRow,
    pub pending: Option<PendingRow>,
}

/// What a create needs beyond the name.
#[derive(Debug, Clone, Default)]
pub struct CreateInput {
    /// The policy sent (defaults filled), or `None` to use the stored one.
    pub policy: Option<Policy>,
    pub enabled: Option<bool>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// Certificate commands and reads.
#[derive(Clone)]
pub struct CertificateService {
    shared: Shared,
    providers: std::sync::Arc<BTreeMap<String, ProviderSettings>>,
}

fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Builds the version record of a certificate chain (leaf first).
pub fn version_record(key_id: &str, chain: &[Vec<u8>]) -> Result<VersionRecord, ServiceError> {
    let leaf = chain
        .first()
        .ok_or_else(|| ServiceError::Internal("empty certificate chain".into()))?;
    let info = crypto::x509::cert_info(leaf)?;
    Ok(VersionRecord {
        version: new_id(),
        key_id: key_id.to_owned(),
        cer: b64(leaf),
        chain: chain[1..].iter().map(|c| b64(c)).collect(),
        x5t: URL_SAFE_NO_PAD.encode(crypto::seal::sha1(leaf)),
        nbf: info.not_before,
        exp: info.not_after,
        enabled: true,
        tags: BTreeMap::new(),
    })
}

impl CertificateService {
    /// A service over the shared parts and the configured providers.
    pub fn new(
        shared: Shared,
        providers: std::sync::Arc<BTreeMap<String, ProviderSettings>>,
    ) -> Self {
        CertificateService { shared, providers }
    }

    /// The shared parts.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    /// `CreateCertificate`: makes (or reuses) the key, a CSR and, for `Self`, the certificate;
    /// then records the request. Returns the pending object as created (`inProgress`).
    pub async fn create(
        &self,
        caller: &Caller,
        name: &ObjectName,
        input: CreateInput,
    ) -> Result<PendingRow, ServiceError> {
        let state = load_certificate(&self.shared.pool, &caller.vault, name.as_str()).await?;
        // Fast refusal before any key is made; `decide` checks again inside the transaction.
        if state
            .pending
            .as_ref()
            .is_some_and(|p| p.status == OperationStatus::InProgress)
        {
            return Err(DomainError::PendingInProgress.into());
        }
        let policy = match input.policy.or_else(|| state.policy.clone()) {
            Some(p) => p,
            None => return Err(DomainError::PolicyRequired.into()),
        };
        let reused = match (policy.key_props.reuse_key, state.latest()) {
            (true, Some(latest)) => {
                let mut conn = self.shared.pool.acquire().await?;
                let key = self.shared.keys.load(&mut conn, &latest.key_id).await?;
                let public = crypto::keys::public_key_der(&key)?;
                (crypto::keys::key_spec_of(&public)? == policy.key_props.spec())
                    .then(|| (latest.key_id.clone(), key, public))
            }
            _ => None,
        };
        // The provider behind an issuer object shapes the CSR and may refuse the policy
        // outright; `decide` resolves the issuer again inside the transaction.
        let mut p = policy.clone();
        if let IssuerKind::Object(issuer_name) = policy.issuer.kind() {
            let mut conn = self.shared.pool.acquire().await?;
            let row =
                issuers::get(&mut conn, &caller.vault, &issuer_name.to_ascii_lowercase()).await?;
            if let Some((provider, settings)) = row.and_then(|r| {
                let s = self.providers.get(&r.provider).cloned();
                s.map(|s| (r.provider, s))
            }) {
                super::issuance_policy::check(&provider, &settings, &policy)?;
                p = super::issuance_policy::csr_policy(&settings, &policy);
            }
        }
        let keys = self.shared.keys.clone();
        let now = self.shared.clock.now().timestamp();
        let prepared = tokio::task::spawn_blocking(move || prepare_request(&keys, &p, reused, now))
            .await
            .map_err(|e| ServiceError::Internal(format!("key generation task failed: {e}")))??;

        let vault = caller.vault.clone();
        let name_s = name.as_str().to_owned();
        let meta = caller.meta(&self.shared);
        let providers = self.providers.clone();
        let enabled = input.enabled.unwrap_or(true);
        let tags = input.tags.unwrap_or_default();
        let out = self
            .shared
            .writer
            .submit(move |conn| {
                Box::pin(async move {
                    let issuer = match policy.issuer.kind() {
                        IssuerKind::SelfSigned => IssuerResolution::SelfSigned,
                        IssuerKind::Manual => IssuerResolution::Manual,
                        IssuerKind::Object(issuer_name) => {
                            match issuers::get(conn, &vault, &issuer_name.to_ascii_lowercase()).await? {
                                None => IssuerResolution::NotFound,
                                Some(row) if !row.enabled => IssuerResolution::Disabled,
                                Some(row) => match providers.get(&row.provider) {
                                    Some(p) => IssuerResolution::Provider {
                                        provider: row.provider.clone(),
                                        approval_required: p.approval_required,
                                    },
                                    None => {
                                        return Err(DomainError::BadParameter(format!(
                                            "Issuer '{issuer_name}' names provider '{}', which is no longer configured on this server.",
                                            row.provider
                                        ))
                                        .into())
                                    }
                                },
                            }
                        }
                    };
                    if prepared.new_key {
                        let at = meta.at.to_rfc3339_opts(SecondsFormat::Micros, true);
                        KeyStore::insert(conn, &vault, &prepared.key, &at).await?;
                    }
                    let command = CertificateCommand::Create(Box::new(CreateRequest {
                        name: name_s.clone(),
                        policy,
                        issuer,
                        request_id: new_id(),
                        key_id: prepared.key.key_id.clone(),
                        public_key: b64(&prepared.key.public_der),
                        csr: b64(&prepared.csr),
                        enabled,
                        tags,
                        self_signed: prepared.self_signed,
                    }));
                    apply_certificate_command(conn, &vault, &name_s, &meta, command).await?;
                    let mut row = pending_operations::get(conn, &vault, &name_s.to_ascii_lowercase())
                        .await?
                        .ok_or_else(|| ServiceError::Internal("pending row missing after create".into()))?;
                    // A create always answers inProgress; a Self request shows completed from
                    // the next read on (the Python SDK's poller relies on this).
                    row.status = OperationStatus::InProgress.as_str().into();
                    row.target_version = None;
                    Ok::<_, ServiceError>(row)
                })
            })
            .await;
        let row = flatten(out)?;
        if row.provider.is_some() {
            self.shared.wake.notify_one();
        }
        Ok(row)
    }

    /// `GetCertificateOperation`.
    pub async fn get_pending(
        &self,
        vault: &str,
        name: &ObjectName,
        request_id: Option<&str>,
    ) -> Result<PendingRow, ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        pending_operations::get(&mut conn, vault, &name.key())
            .await?
            .filter(|p| request_id.is_none_or(|r| r == p.request_id))
            .ok_or_else(|| {
                DomainError::PendingNotFound {
                    name: name.to_string(),
                }
                .into()
            })
    }

    /// Runs a command and returns the pending row before (`before = true`) or after it.
    async fn pending_command(
        &self,
        caller: &Caller,
        name: &ObjectName,
        command: CertificateCommand,
        before: bool,
    ) -> Result<Option<PendingRow>, ServiceError> {
        let vault = caller.vault.clone();
        let name_s = name.as_str().to_owned();
        let meta = caller.meta(&self.shared);
        let out = self
            .shared
            .writer
            .submit(move |conn| {
                Box::pin(async move {
                    let key = name_s.to_ascii_lowercase();
                    let prior = pending_operations::get(conn, &vault, &key).await?;
                    apply_certificate_command(conn, &vault, &name_s, &meta, command).await?;
                    if before {
                        Ok::<_, ServiceError>(prior)
                    } else {
                        Ok(pending_operations::get(conn, &vault, &key).await?)
                    }
                })
            })
            .await;
        flatten(out)
    }

    fn require(row: Option<PendingRow>, name: &ObjectName) -> Result<PendingRow, ServiceError> {
        row.ok_or_else(|| {
            DomainError::PendingNotFound {
                name: name.to_string(),
            }
            .into()
        })
    }

    /// `UpdateCertificateOperation` with `cancellation_requested: true`.
    pub async fn request_cancellation(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: Option<String>,
    ) -> Result<PendingRow, ServiceError> {
        let row = self
            .pending_command(
                caller,
                name,
                CertificateCommand::RequestCancellation { request_id },
                false,
            )
            .await?;
        self.shared.wake.notify_one();
        Self::require(row, name)
    }

    /// `DeleteCertificateOperation`: returns the pending object as it was.
    pub async fn delete_pending(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: Option<String>,
    ) -> Result<PendingRow, ServiceError> {
        let row = self
            .pending_command(
                caller,
                name,
                CertificateCommand::DeletePending { request_id },
                true,
            )
            .await?;
        Self::require(row, name)
    }

    /// Officer approval of a request waiting for it.
    pub async fn approve(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: Option<String>,
    ) -> Result<PendingRow, ServiceError> {
        let officer = caller.actor.clone();
        let row = self
            .pending_command(
                caller,
                name,
                CertificateCommand::Approve {
                    request_id,
                    officer,
                },
                false,
            )
            .await?;
        self.shared.wake.notify_one();
        Self::require(row, name)
    }

    /// Officer rejection: the request fails with `RequestRejected`.
    pub async fn reject(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: Option<String>,
        reason: String,
    ) -> Result<PendingRow, ServiceError> {
        let officer = caller.actor.clone();
        let row = self
            .pending_command(
                caller,
                name,
                CertificateCommand::Reject {
                    request_id,
                    officer,
                    reason,
                },
                false,
            )
            .await?;
        Self::require(row, name)
    }

    /// `MergeCertificate`: proves `x5c` against the pending key, then records the version.
    pub async fn merge(
        &self,
        caller: &Caller,
        name: &ObjectName,
        x5c: Vec<String>,
        enabled: Option<bool>,
        tags: Option<BTreeMap<String, String>>,
    ) -> Result<CertificateView, ServiceError> {
        let state = load_certificate(&self.shared.pool, &caller.vault, name.as_str()).await?;
        let pending = state
            .pending
            .clone()
            .ok_or_else(|| DomainError::PendingNotFound {
                name: name.to_string(),
            })?;
        // Refuse what decide would refuse before doing any crypto on the input.
        if pending.status == OperationStatus::Completed {
            return Err(DomainError::AlreadyCompleted {
                name: name.to_string(),
            }
            .into());
        }
        if pending.status == OperationStatus::InProgress {
            if let IssuerKind::Object(issuer) = pending.issuer_kind() {
                return Err(DomainError::MergeForbidden { issuer }.into());
            }
        }
        let public = STANDARD
            .decode(&pending.public_key)
            .map_err(|e| ServiceError::Internal(format!("stored public key: {e}")))?;
        let now = self.shared.clock.now().timestamp();
        let key_id = pending.key_id.clone();
        let record = tokio::task::spawn_blocking(move || -> Result<VersionRecord, ServiceError> {
            let chain = crypto::chain::parse_x5c(&x5c)?;
            crypto::chain::verify_merge_chain(&chain, &public, now)?;
            version_record(&key_id, &chain)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("chain check task failed: {e}")))??;
        let command = CertificateCommand::Merge(Box::new(MergeRequest {
            request_id: pending.request_id.clone(),
            certificate: record,
            enabled,
            tags,
        }));
        self.version_command(caller, name, command).await
    }

    async fn version_command(
        &self,
        caller: &Caller,
        name: &ObjectName,
        command: CertificateCommand,
    ) -> Result<CertificateView, ServiceError> {
        let vault = caller.vault.clone();
        let name_s = name.as_str().to_owned();
        let meta = caller.meta(&self.shared);
        let out = self
            .shared
            .writer
            .submit(move |conn| {
                Box::pin(async move {
                    apply_certificate_command(conn, &vault, &name_s, &meta, command).await?;
                    read_view(conn, &vault, &name_s, None).await
                })
            })
            .await;
        flatten(out)?
            .ok_or_else(|| ServiceError::Internal("certificate missing after write".into()))
    }

    /// `GetCertificate`: the current version when `version` is `None`.
    pub async fn get(
        &self,
        vault: &str,
        name: &ObjectName,
        version: Option<&str>,
    ) -> Result<CertificateView, ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        read_view(&mut conn, vault, name.as_str(), version)
            .await?
            .ok_or_else(|| {
                DomainError::CertificateNotFound {
                    name: match version {
                        Some(v) => format!("{name}/versions/{v}"),
                        None => name.to_string(),
                    },
                }
                .into()
            })
    }

    /// Worker: a provider issued the certificate.
    pub async fn complete_issuance(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: String,
        chain: Vec<Vec<u8>>,
    ) -> Result<(), ServiceError> {
        let record = version_record("", &chain)?;
        self.pending_command(
            caller,
            name,
            CertificateCommand::CompleteIssuance {
                request_id,
                certificate: record,
            },
            false,
        )
        .await
        .map(|_| ())
    }

    /// Worker: the provider refused or failed.
    pub async fn fail_issuance(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: String,
        message: String,
    ) -> Result<(), ServiceError> {
        self.pending_command(
            caller,
            name,
            CertificateCommand::FailIssuance {
                request_id,
                message,
            },
            false,
        )
        .await
        .map(|_| ())
    }

    /// Worker: one step of an ACME order (RFC 8555) for the pending request.
    pub async fn record_acme_step(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: String,
        step: crate::domain::certificate::AcmeStep,
    ) -> Result<(), ServiceError> {
        self.pending_command(
            caller,
            name,
            CertificateCommand::RecordAcmeStep { request_id, step },
            false,
        )
        .await
        .map(|_| ())
    }

    /// Worker: a lifetime action fired for `version`.
    pub async fn record_lifetime_action(
        &self,
        caller: &Caller,
        name: &ObjectName,
        version: String,
        action: crate::domain::policy::ActionType,
        expires: i64,
        contacts: Vec<String>,
    ) -> Result<(), ServiceError> {
        self.pending_command(
            caller,
            name,
            CertificateCommand::RecordLifetimeAction {
                version,
                action,
                expires,
                contacts,
            },
            false,
        )
        .await
        .map(|_| ())
    }

    /// Worker: honour a requested cancellation.
    pub async fn honour_cancellation(
        &self,
        caller: &Caller,
        name: &ObjectName,
        request_id: String,
    ) -> Result<(), ServiceError> {
        self.pending_command(
            caller,
            name,
            CertificateCommand::HonourCancellation { request_id },
            false,
        )
        .await
        .map(|_| ())
    }
}

/// Reads a live certificate, a version (or the current one) and its pending object.
pub(crate) async fn read_view(
    conn: &mut sqlx::SqliteConnection,
    vault: &str,
    name: &str,
    version: Option<&str>,
) -> Result<Option<CertificateView>, ServiceError> {
    let key = name.to_ascii_lowercase();
    let Some(certificate) = certificate_versions::get_certificate(conn, vault, &key).await? else {
        return Ok(None);
    };
    let Some(version) = certificate_versions::get_version(conn, vault, &key, version).await? else {
        return Ok(None);
    };
    let pending = pending_operations::get(conn, vault, &key).await?;
    Ok(Some(CertificateView {
        certificate,
        version,
        pending,
    }))
}

struct PreparedRequest {
    key: PreparedKey,
    new_key: bool,
    csr: Vec<u8>,
    self_signed: Option<VersionRecord>,
}

fn prepare_request(
    keys: &KeyStore,
    policy: &Policy,
    reused: Option<(String, crypto::PKey<crypto::Private>, Vec<u8>)>,
    now: i64,
) -> Result<PreparedRequest, ServiceError> {
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
