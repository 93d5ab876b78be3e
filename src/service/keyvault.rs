//! The rest of Key Vault's certificate surface as commands and reads: attribute and policy
//! updates, import, soft delete (recover, purge, scheduled purge), backup and restore,
//! contacts, and the managed secret and key behind each certificate version.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::SecondsFormat;
use serde::{Deserialize, Serialize};

use super::certificates::{read_view, version_record, Caller, CertificateView};
use super::keys::KeyStore;
use super::{apply_certificate_command, flatten, load_certificate, new_id, ServiceError, Shared};
use crate::crypto;
use crate::domain::certificate::{
    CertificateCommand, CertificateEvent, CertificateState, ImportRequest, LifecycleCommand,
    RestoreRequest, VersionRecord,
};
use crate::domain::contacts::{self, Contact, ContactsCommand, ContactsEvent};
use crate::domain::names::ObjectName;
use crate::domain::policy::{
    default_ekus, default_key_usage, ActionType, ContentType, IssuerParameters, KeyProperties,
    KeySpec, LifetimeAction, Policy, SubjectAlternativeNames, Trigger, X509Properties,
};
use crate::domain::DomainError;
use crate::es::store;
use crate::es::{DomainEvent, EventMeta, StreamId};
use crate::projections::certificate_lifecycle::{self, ListedCertificate};
use crate::projections::certificate_versions::{self, VersionRow};
use crate::projections::{self, contacts as contacts_view};

/// Associated data of backup blobs (also their format version).
const BACKUP_AAD: &str = "certbroker-certificate-backup-v1";

/// Merges a policy update into the stored policy (PATCH semantics), given by the REST layer.
pub type PolicyMerge = Box<dyn FnOnce(&Policy) -> Result<Policy, DomainError> + Send>;

/// What an import needs beyond the name.
pub struct ImportInput {
    /// The bytes of `value`: PKCS#12 (DER or base64) or PEM text (or its base64).
    pub value: Vec<u8>,
    pub password: Option<String>,
    /// Builds the policy from the one read off the certificate (`None`: keep that one).
    pub policy: Option<PolicyMerge>,
    pub enabled: Option<bool>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// The managed secret of a certificate version.
pub struct SecretView {
    pub name: String,
    pub version: VersionRow,
    pub content_type: ContentType,
    /// PKCS#12 as standard base64, or PEM text.
    pub value: String,
}

/// The managed key of a certificate version.
pub struct KeyView {
    pub name: String,
    pub version: VersionRow,
    pub jwk: serde_json::Value,
    pub key_ops: Vec<&'static str>,
}

#[derive(Serialize, Deserialize)]
struct BackupVersion {
    record: VersionRecord,
    /// Base64 PKCS#8 DER of the private key.
    key: String,
}

#[derive(Serialize, Deserialize)]
struct Backup {
    name: String,
    policy: Policy,
    versions: Vec<BackupVersion>,
}

/// Commands and reads of the rest of the surface.
#[derive(Clone)]
pub struct KeyVaultService {
    shared: Shared,
    retention_days: i64,
}

/// Inside the writer's transaction: merges the live certificate's policy with `merge`
/// (PATCH semantics) and applies the result as an `UpdatePolicy` command. Returns the
/// merged policy.
async fn merge_policy(
    conn: &mut sqlx::SqliteConnection,
    vault: &str,
    name: &str,
    meta: &EventMeta,
    merge: PolicyMerge,
) -> Result<Policy, ServiceError> {
    let loaded = store::load(conn, &StreamId::certificate(vault, name)).await?;
    let state = CertificateState::from_events(&loaded.events);
    let Some(base) = state.policy.as_ref().filter(|_| state.deleted.is_none()) else {
        return Err(not_found(name, None));
    };
    let policy = merge(base)?;
    apply_certificate_command(
        conn,
        vault,
        name,
        meta,
        CertificateCommand::Lifecycle(LifecycleCommand::UpdatePolicy {
            policy: Box::new(policy.clone()),
        }),
    )
    .await?;
    Ok(policy)
}

fn meta(caller: &Caller, shared: &Shared) -> EventMeta {
    EventMeta {
        actor: caller.actor.clone(),
        client_request_id: caller.client_request_id.clone(),
        remote_addr: caller.remote_addr.clone(),
        at: shared.clock.now(),
    }
}

fn not_found(name: &str, version: Option<&str>) -> ServiceError {
    DomainError::CertificateNotFound {
        name: match version {
            Some(v) => format!("{name}/versions/{v}"),
            None => name.to_owned(),
        },
    }
    .into()
}

/// The key operations Key Vault derives from a policy's key usage.
pub fn key_ops(policy: Option<&Policy>) -> Vec<&'static str> {
    use crate::domain::policy::KeyUsage as U;
    let usages = policy
        .map(|p| p.x509_props.key_usage.clone())
        .unwrap_or_else(default_key_usage);
    let mut ops: Vec<&'static str> = Vec::new();
    for u in usages {
        let add: &[&'static str] = match u {
            U::DataEncipherment => &["encrypt", "decrypt"],
            U::DecipherOnly => &["decrypt"],
            U::EncipherOnly => &["encrypt"],
            U::KeyEncipherment => &["wrapKey", "unwrapKey"],
            U::DigitalSignature
            | U::KeyCertSign
            | U::NonRepudiation
            | U::CrlSign
            | U::KeyAgreement => &["sign", "verify"],
        };
        for op in add {
            if !ops.contains(op) {
                ops.push(op);
            }
        }
    }
    ops
}

/// The policy Key Vault reads off an imported certificate: its subject, DNS names and
/// validity, the key's type, issuer `Unknown`, e-mail at 80 % of the lifetime.
fn policy_from_certificate(
    leaf: &[u8],
    spec: KeySpec,
    content_type: ContentType,
) -> Result<Policy, ServiceError> {
    let info = crypto::x509::cert_info(leaf)?;
    let months = ((info.not_after - info.not_before) / (30 * 86_400)).clamp(1, 1200) as u32;
    let (kty, size, crv) = match spec {
        KeySpec::Rsa { bits } => ("RSA", i64::from(bits), None),
        KeySpec::Ec { curve } => ("EC", i64::from(curve.bits()), Some(curve.as_str())),
    };
    let key_props = KeyProperties::resolve(Some(kty), Some(size), crv, Some(true), Some(false))?;
    Ok(Policy {
        key_props,
        content_type,
        x509_props: X509Properties {
            subject: info.subject.clone(),
            sans: SubjectAlternativeNames {
                dns_names: info.dns_names.clone(),
                ..Default::default()
            },
            ekus: default_ekus(),
            key_usage: default_key_usage(),
            validity_months: months,
        },
        lifetime_actions: vec![LifetimeAction {
            trigger: Trigger::LifetimePercentage(80),
            action: ActionType::EmailContacts,
        }],
        issuer: IssuerParameters {
            name: "Unknown".into(),
            cty: None,
            cert_transparency: None,
        },
        enabled: true,
    })
}

fn chain_of(version: &VersionRow) -> Result<Vec<Vec<u8>>, ServiceError> {
    let mut out = vec![STANDARD
        .decode(&version.cer)
        .map_err(|e| ServiceError::Internal(format!("stored certificate: {e}")))?];
    let rest: Vec<String> = serde_json::from_str(&version.chain).unwrap_or_default();
    for c in rest {
        out.push(
            STANDARD
                .decode(c)
                .map_err(|e| ServiceError::Internal(format!("stored chain: {e}")))?,
        );
    }
    Ok(out)
}

impl KeyVaultService {
    /// A service over the shared parts, keeping deleted certificates `retention_days`.
    pub fn new(shared: Shared, retention_days: i64) -> Self {
        KeyVaultService {
            shared,
            retention_days,
        }
    }

    /// Soft-delete retention in days.
    pub fn retention_days(&self) -> i64 {
        self.retention_days
    }

    async fn command_then_read(
        &self,
        caller: &Caller,
        name: &str,
        command: LifecycleCommand,
        read_version: Option<String>,
    ) -> Result<CertificateView, ServiceError> {
        let vault = caller.vault.clone();
        let name_s = name.to_owned();
        let meta = meta(caller, &self.shared);
        let out = self
            .shared
            .writer
            .submit(move |conn| {
                Box::pin(async move {
                    apply_certificate_command(
                        conn,
                        &vault,
                        &name_s,
                        &meta,
                        CertificateCommand::Lifecycle(command),
                    )
                    .await?;
                    read_view(conn, &vault, &name_s, read_version.as_deref()).await
                })
            })
            .await;
        flatten(out)?.ok_or_else(|| not_found(name, None))
    }

    /// `GetCertificates` / `GetDeletedCertificates`: a page after `after` (name key).
    pub async fn list(
        &self,
        vault: &str,
        deleted: bool,
        include_pending: bool,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ListedCertificate>, ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        Ok(
            certificate_lifecycle::list(&mut conn, vault, deleted, include_pending, after, limit)
                .await?,
        )
    }

    /// `GetCertificateVersions`: a page after sequence `after`, with the certificate's name.
    pub async fn versions(
        &self,
        vault: &str,
        name: &ObjectName,
        after: i64,
        limit: i64,
    ) -> Result<(String, Vec<VersionRow>), ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        let cert = certificate_versions::get_certificate(&mut conn, vault, &name.key())
            .await?
            .ok_or_else(|| not_found(name.as_str(), None))?;
        let rows =
            certificate_lifecycle::versions(&mut conn, vault, &name.key(), after, limit).await?;
        Ok((cert.name, rows))
    }

    /// `GetCertificatePolicy`: the policy with its created/updated times and the name.
    pub async fn policy(
        &self,
        vault: &str,
        name: &ObjectName,
    ) -> Result<(String, Policy, i64, i64), ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        let cert = certificate_versions::get_certificate(&mut conn, vault, &name.key())
            .await?
            .ok_or_else(|| not_found(name.as_str(), None))?;
        let policy: Policy = serde_json::from_str(&cert.policy)
            .map_err(|e| ServiceError::Internal(format!("stored policy: {e}")))?;
        Ok((cert.name, policy, cert.policy_created, cert.policy_updated))
    }

    /// `UpdateCertificatePolicy`: merges inside the write transaction (PATCH semantics).
    pub async fn update_policy(
        &self,
        caller: &Caller,
        name: &ObjectName,
        merge: PolicyMerge,
    ) -> Result<(String, Policy, i64, i64), ServiceError> {
        let vault = caller.vault.clone();
        let name_s = name.as_str().to_owned();
        let meta = meta(caller, &self.shared);
        let out = self
            .shared
            .writer
            .submit(move |conn| {
                Box::pin(async move {
                    let policy = merge_policy(conn, &vault, &name_s, &meta, merge).await?;
                    let cert = certificate_versions::get_certificate(
                        conn,
                        &vault,
                        &name_s.to_ascii_lowercase(),
                    )
                    .await?
                    .ok_or_else(|| ServiceError::Internal("certificate missing".into()))?;
                    Ok::<_, ServiceError>((
                        cert.name,
                        policy,
                        cert.policy_created,
                        cert.policy_updated,
                    ))
                })
            })
            .await;
        flatten(out)
    }

    /// `UpdateCertificate`: a version's `enabled` and tags, and the policy when one is sent
    /// (merged), all in one transaction.
    pub async fn update_version(
        &self,
        caller: &Caller,
        name: &ObjectName,
        version: Option<String>,
        enabled: Option<bool>,
        tags: Option<BTreeMap<String, String>>,
        policy: Option<PolicyMerge>,
    ) -> Result<CertificateView, ServiceError> {
        let vault = caller.vault.clone();
        let name_s = name.as_str().to_owned();
        let meta = meta(caller, &self.shared);
        let out = self
            .shared
            .writer
            .submit(move |conn| {
                Box::pin(async move {
                    if let Some(merge) = policy {
                        merge_policy(conn, &vault, &name_s, &meta, merge).await?;
                    }
                    apply_certificate_command(
                        conn,
                        &vault,
                        &name_s,
                        &meta,
                        CertificateCommand::Lifecycle(LifecycleCommand::UpdateVersion {
                            version: version.clone(),
                            enabled,
                            tags,
                        }),
                    )
                    .await?;
                    read_view(conn, &vault, &name_s, version.as_deref()).await
                })
            })
            .await;
        flatten(out)?.ok_or_else(|| not_found(name.as_str(), None))
    }

    /// `ImportCertificate`: reads the bundle, checks the key against the certificate, seals
    /// the key, and records the new current version.
    pub async fn import(
        &self,
        caller: &Caller,
        name: &ObjectName,
        input: ImportInput,
    ) -> Result<CertificateView, ServiceError> {
        let state = load_certificate(&self.shared.pool, &caller.vault, name.as_str()).await?;
        if state.deleted.is_some() {
            return Err(DomainError::CertificateDeleted {
                name: name.to_string(),
            }
            .into());
        }
        let keys = self.shared.keys.clone();
        let ImportInput {
            value,
            password,
            policy,
            enabled,
            tags,
        } = input;
        let stored_policy = state.policy.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            let pem = is_pem(&value);
            let imported = crypto::pkcs12::import_bundle(&value, password.as_deref())?;
            let spki = crypto::keys::public_key_der(&imported.key)?;
            let spec = crypto::keys::key_spec_of(&spki)?;
            let content_type = if pem {
                ContentType::Pem
            } else {
                ContentType::Pkcs12
            };
            let derived = policy_from_certificate(&imported.chain[0], spec, content_type)?;
            let mut policy = match (policy, stored_policy) {
                (Some(merge), _) => merge(&derived)?,
                (None, Some(stored)) => stored,
                (None, None) => derived.clone(),
            };
            // The key is what it is: its type and size come from the file.
            policy.key_props.kty = derived.key_props.kty;
            policy.key_props.key_size = derived.key_props.key_size;
            policy.key_props.curve = derived.key_props.curve;
            let key = keys.wrap(new_id(), imported.key)?;
            let mut record = version_record(&key.key_id, &imported.chain)?;
            record.enabled = enabled.unwrap_or(true);
            record.tags = tags.unwrap_or_default();
            Ok::<_, ServiceError>((key, policy, record))
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("import task failed: {e}")))??;
        let (key, policy, record) = prepared;
        let vault = caller.vault.clone();
        let name_s = name.as_str().to_owned();
        let meta = meta(caller, &self.shared);
        let out = self
            .shared
            .writer
            .submit(move |conn| {
                Box::pin(async move {
                    let at = meta.at.to_rfc3339_opts(SecondsFormat::Micros, true);
                    KeyStore::insert(conn, &vault, &key, &at).await?;
                    apply_certificate_command(
                        conn,
                        &vault,
                        &name_s,
                        &meta,
                        CertificateCommand::Lifecycle(LifecycleCommand::Import(Box::new(
                            ImportRequest {
                                name: name_s.clone(),
                                policy,
                                public_key: STANDARD.encode(&key.public_der),
                                certificate: record,
                            },
                        ))),
                    )
                    .await?;
                    read_view(conn, &vault, &name_s, None).await
                })
            })
            .await;
        flatten(out)?.ok_or_else(|| not_found(name.as_str(), None))
    }

    /// `DeleteCertificate`: soft delete; returns the deleted certificate.
    pub async fn delete(
        &self,
        caller: &Caller,
        name: &ObjectName,
    ) -> Result<ListedCertificate, ServiceError> {
        let vault = caller.vault.clone();
        let name_s = name.as_str().to_owned();
        let meta = meta(caller, &self.shared);
        let retention_days = self.retention_days;
        let out = self
            .shared
            .writer
            .submit(move |conn| {
                Box::pin(async move {
                    let now = meta.at.timestamp();
                    apply_certificate_command(
                        conn,
                        &vault,
                        &name_s,
                        &meta,
                        CertificateCommand::Lifecycle(LifecycleCommand::Delete {
                            now,
                            retention_days,
                        }),
                    )
                    .await?;
                    Ok::<_, ServiceError>(
                        certificate_lifecycle::get_any(conn, &vault, &name_s.to_ascii_lowercase())
                            .await?,
                    )
                })
            })
            .await;
        flatten(out)?.ok_or_else(|| not_found(name.as_str(), None))
    }

    /// `GetDeletedCertificate`.
    pub async fn get_deleted(
        &self,
        vault: &str,
        name: &ObjectName,
    ) -> Result<ListedCertificate, ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        certificate_lifecycle::get_any(&mut conn, vault, &name.key())
            .await?
            .filter(|c| c.deleted.deleted_date.is_some())
            .ok_or_else(|| {
                DomainError::DeletedCertificateNotFound {
                    name: name.to_string(),
                }
                .into()
            })
    }

    /// `RecoverDeletedCertificate`: returns the certificate as it is again.
    pub async fn recover(
        &self,
        caller: &Caller,
        name: &ObjectName,
    ) -> Result<CertificateView, ServiceError> {
        self.command_then_read(caller, name.as_str(), LifecycleCommand::Recover, None)
            .await
    }

    /// `PurgeDeletedCertificate` (or the worker's scheduled purge with `due_at`): the events
    /// stay, the views and the sealed keys go.
    pub async fn purge(
        &self,
        caller: &Caller,
        name: &str,
        due_at: Option<i64>,
    ) -> Result<(), ServiceError> {
        let vault = caller.vault.clone();
        let name_s = name.to_owned();
        let meta = meta(caller, &self.shared);
        let out = self
            .shared
            .writer
            .submit(move |conn| {
                Box::pin(async move {
                    // Every key the stream ever named: versions and requests that never
                    // completed (keys of an earlier purge are already gone; deleting is a no-op).
                    let stream = StreamId::certificate(&vault, &name_s);
                    let loaded = store::load::<CertificateEvent>(conn, &stream).await?;
                    apply_certificate_command(
                        conn,
                        &vault,
                        &name_s,
                        &meta,
                        CertificateCommand::Lifecycle(LifecycleCommand::Purge { due_at }),
                    )
                    .await?;
                    let mut key_ids: Vec<String> = Vec::new();
                    for e in &loaded.events {
                        match e {
                            CertificateEvent::PendingCreated { key_id, .. } => {
                                key_ids.push(key_id.clone())
                            }
                            CertificateEvent::IssuanceCompleted { certificate, .. }
                            | CertificateEvent::CertificateMerged { certificate, .. }
                            | CertificateEvent::CertificateImported { certificate, .. } => {
                                key_ids.push(certificate.key_id.clone())
                            }
                            CertificateEvent::CertificateRestored { versions, .. } => {
                                key_ids.extend(versions.iter().map(|v| v.key_id.clone()))
                            }
                            _ => {}
                        }
                    }
                    key_ids.sort();
                    key_ids.dedup();
                    for key_id in key_ids {
                        KeyStore::delete(conn, &key_id).await?;
                    }
                    Ok::<_, ServiceError>(())
                })
            })
            .await;
        flatten(out)
    }

    /// Purges every deleted certificate past its scheduled purge date (all vaults).
    /// Returns how many were purged.
    pub async fn purge_due(&self, actor: &str) -> Result<usize, ServiceError> {
        let now = self.shared.clock.now().timestamp();
        let due = {
            let mut conn = self.shared.pool.acquire().await?;
            certificate_lifecycle::due_for_purge(&mut conn, now, 100).await?
        };
        let mut purged = 0;
        for (vault, name) in due {
            let caller = Caller::system(&vault, actor);
            match self.purge(&caller, &name, Some(now)).await {
                Ok(()) => purged += 1,
                Err(e) => tracing::warn!(certificate = %name, vault = %vault, error = %e,
                    "scheduled purge failed; will retry"),
            }
        }
        Ok(purged)
    }

    /// `BackupCertificate`: every version with its key, sealed under the master key.
    pub async fn backup(&self, vault: &str, name: &ObjectName) -> Result<String, ServiceError> {
        let state = load_certificate(&self.shared.pool, vault, name.as_str()).await?;
        let (Some(stored_name), Some(policy), None) =
            (state.name.clone(), state.policy.clone(), state.deleted)
        else {
            return Err(not_found(name.as_str(), None));
        };
        let mut conn = self.shared.pool.acquire().await?;
        let mut versions = Vec::new();
        for v in &state.versions {
            let row =
                certificate_versions::get_version(&mut conn, vault, &name.key(), Some(&v.version))
                    .await?
                    .ok_or_else(|| ServiceError::Internal("version row missing".into()))?;
            let key = self.shared.keys.load(&mut conn, &v.key_id).await?;
            let chain: Vec<String> = serde_json::from_str(&row.chain).unwrap_or_default();
            versions.push(BackupVersion {
                record: VersionRecord {
                    version: row.version.clone(),
                    key_id: String::new(),
                    cer: row.cer.clone(),
                    chain,
                    x5t: row.x5t.clone(),
                    nbf: row.nbf,
                    exp: row.exp,
                    enabled: row.enabled,
                    tags: serde_json::from_str(&row.tags).unwrap_or_default(),
                },
                key: STANDARD.encode(crypto::keys::private_key_to_der(&key)?),
            });
        }
        if versions.is_empty() {
            return Err(DomainError::BadParameter(format!(
                "The certificate {name} has no version to back up yet."
            ))
            .into());
        }
        let plain = serde_json::to_vec(&Backup {
            name: stored_name,
            policy,
            versions,
        })
        .map_err(|e| ServiceError::Internal(format!("backup encoding: {e}")))?;
        let sealed = self.shared.keys.seal(BACKUP_AAD, &plain)?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// `RestoreCertificate`: opens a blob made by `backup` under this master key.
    pub async fn restore(
        &self,
        caller: &Caller,
        blob: &str,
    ) -> Result<CertificateView, ServiceError> {
        let damaged = || {
            ServiceError::from(DomainError::BadParameter(
                "The backup blob is malformed, was altered, or was not made by this server's master key.".into(),
            ))
        };
        let trimmed = blob.trim().trim_end_matches('=');
        let sealed = URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
            .map_err(|_| damaged())?;
        let plain = self
            .shared
            .keys
            .unseal(BACKUP_AAD, &sealed)
            .map_err(|_| damaged())?;
        let backup: Backup = serde_json::from_slice(&plain).map_err(|_| damaged())?;
        let name = ObjectName::parse("certificate", &backup.name)?;
        let mut keys = Vec::new();
        let mut versions = Vec::new();
        for v in backup.versions {
            let der = STANDARD.decode(&v.key).map_err(|_| damaged())?;
            let key = crypto::keys::private_key_from_der(&der)?;
            let prepared = self.shared.keys.wrap(new_id(), key)?;
            let mut record = v.record;
            record.key_id = prepared.key_id.clone();
            versions.push(record);
            keys.push(prepared);
        }
        let vault = caller.vault.clone();
        let name_s = name.as_str().to_owned();
        let meta = meta(caller, &self.shared);
        let policy = backup.policy;
        let out = self
            .shared
            .writer
            .submit(move |conn| {
                Box::pin(async move {
                    let at = meta.at.to_rfc3339_opts(SecondsFormat::Micros, true);
                    for k in &keys {
                        KeyStore::insert(conn, &vault, k, &at).await?;
                    }
                    apply_certificate_command(
                        conn,
                        &vault,
                        &name_s,
                        &meta,
                        CertificateCommand::Lifecycle(LifecycleCommand::Restore(Box::new(
                            RestoreRequest {
                                name: name_s.clone(),
                                policy,
                                versions,
                            },
                        ))),
                    )
                    .await?;
                    read_view(conn, &vault, &name_s, None).await
                })
            })
            .await;
        flatten(out)?.ok_or_else(|| not_found(name.as_str(), None))
    }

    /// `GetCertificateContacts`.
    pub async fn contacts(&self, vault: &str) -> Result<Vec<Contact>, ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        contacts_view::get(&mut conn, vault)
            .await?
            .ok_or_else(|| DomainError::ContactsNotFound.into())
    }

    /// `SetCertificateContacts` / `DeleteCertificateContacts`: returns the list set, or the
    /// one deleted.
    pub async fn contacts_command(
        &self,
        caller: &Caller,
        command: ContactsCommand,
    ) -> Result<Vec<Contact>, ServiceError> {
        let vault = caller.vault.clone();
        let meta = meta(caller, &self.shared);
        let out = self
            .shared
            .writer
            .submit(move |conn| {
                Box::pin(async move {
                    let stream = StreamId::contacts(&vault);
                    let loaded = store::load::<ContactsEvent>(conn, &stream).await?;
                    let before = contacts::current(&loaded.events);
                    let events = contacts::decide(before.as_deref(), command)?;
                    let stored =
                        store::append(conn, &stream, loaded.version, &events, &meta, |e| {
                            DomainEvent::Contacts(e.clone())
                        })
                        .await?;
                    for s in &stored {
                        projections::apply(conn, s).await?;
                    }
                    let after = contacts::current(&events);
                    Ok::<_, ServiceError>(after.or(before).unwrap_or_default())
                })
            })
            .await;
        flatten(out)
    }

    /// `GetSecret` of a certificate: the certificate chain with its private key when the
    /// policy marks the key exportable (else the certificates alone), as the policy's
    /// content type.
    pub async fn secret(
        &self,
        vault: &str,
        name: &ObjectName,
        version: Option<&str>,
    ) -> Result<SecretView, ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        let view = read_view(&mut conn, vault, name.as_str(), version)
            .await?
            .ok_or_else(|| secret_not_found(name.as_str(), version))?;
        if !view.version.enabled {
            return Err(DomainError::SecretDisabled.into());
        }
        let policy: Option<Policy> = serde_json::from_str(&view.certificate.policy).ok();
        let content_type = policy
            .as_ref()
            .map(|p| p.content_type)
            .unwrap_or(ContentType::Pkcs12);
        let exportable = policy.as_ref().is_none_or(|p| p.key_props.exportable);
        let key = if exportable {
            Some(
                self.shared
                    .keys
                    .load(&mut conn, &view.version.key_id)
                    .await?,
            )
        } else {
            None
        };
        let chain = chain_of(&view.version)?;
        let value = match content_type {
            ContentType::Pkcs12 => {
                STANDARD.encode(crypto::pkcs12::export_pkcs12(key.as_ref(), &chain)?)
            }
            ContentType::Pem => crypto::pkcs12::export_pem(key.as_ref(), &chain)?,
        };
        Ok(SecretView {
            name: view.certificate.name,
            version: view.version,
            content_type,
            value,
        })
    }

    /// The public key of a version as a JWK (read off its certificate).
    pub fn public_jwk(&self, version: &VersionRow) -> Result<serde_json::Value, ServiceError> {
        let leaf = STANDARD
            .decode(&version.cer)
            .map_err(|e| ServiceError::Internal(format!("stored certificate: {e}")))?;
        let info = crypto::x509::cert_info(&leaf)?;
        Ok(crypto::keys::public_jwk(&info.public_key_der)?)
    }

    /// `GetKey` of a certificate: its public key as a JWK.
    pub async fn key(
        &self,
        vault: &str,
        name: &ObjectName,
        version: Option<&str>,
    ) -> Result<KeyView, ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        let view = read_view(&mut conn, vault, name.as_str(), version)
            .await?
            .ok_or_else(|| key_not_found(name.as_str(), version))?;
        let policy: Option<Policy> = serde_json::from_str(&view.certificate.policy).ok();
        let jwk = self.public_jwk(&view.version)?;
        Ok(KeyView {
            name: view.certificate.name,
            version: view.version,
            jwk,
            key_ops: key_ops(policy.as_ref()),
        })
    }
}

fn secret_not_found(name: &str, version: Option<&str>) -> ServiceError {
    DomainError::SecretNotFound {
        name: match version {
            Some(v) => format!("{name}/{v}"),
            None => name.to_owned(),
        },
    }
    .into()
}

fn key_not_found(name: &str, version: Option<&str>) -> ServiceError {
    DomainError::KeyNotFound {
        name: match version {
            Some(v) => format!("{name}/{v}"),
            None => name.to_owned(),
        },
    }
    .into()
}

/// True when an import's value is PEM text, raw or base64-encoded.
fn is_pem(value: &[u8]) -> bool {
    let starts = |b: &[u8]| {
        let t = b.trim_ascii_start();
        t.starts_with(b"-----BEGIN")
    };
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
