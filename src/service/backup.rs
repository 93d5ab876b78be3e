//! `BackupCertificate` and `RestoreCertificate`: every version of a certificate with its
//! key, sealed under the master key as one opaque blob that only a server with the same
//! master key can restore.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::certificates::{view_after, CertificateView, Certificates};
use super::{certificate_not_found, new_id, Caller, Result, ServiceError};
use crate::crypto;
use crate::domain::certificate::{CertificateCommand, RestoreRequest, VersionRecord};
use crate::domain::names::ObjectName;
use crate::domain::policy::Policy;
use crate::domain::DomainError;
use crate::es::aggregate::Certificate;
use crate::es::{Effect, StreamId};

/// Associated data of backup blobs (also their format version).
const BACKUP_AAD: &str = "certbroker-certificate-backup-v1";

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

impl Certificates {
    /// `BackupCertificate`: every version with its key, sealed under the master key.
    pub async fn backup(&self, vault: &str, name: &ObjectName) -> Result<String> {
        let core = &self.0;
        let loaded = core
            .load::<Certificate>(&StreamId::certificate(vault, name.as_str()))
            .await?;
        let state = loaded.state;
        let (Some(stored_name), Some(policy), None) =
            (state.name.clone(), state.policy.clone(), state.deleted)
        else {
            return Err(certificate_not_found(name.as_str(), None));
        };
        if state.versions.is_empty() {
            return Err(DomainError::BadParameter(format!(
                "The certificate {name} has no version to back up yet."
            ))
            .into());
        }
        let mut reader = core.reader().await?;
        let mut versions = Vec::new();
        for v in &state.versions {
            let key = core.keys.load(&mut reader.conn(), &v.key_id).await?;
            let mut record = v.record();
            record.key_id = String::new();
            versions.push(BackupVersion {
                record,
                key: STANDARD.encode(crypto::keys::private_key_to_der(&key)?),
            });
        }
        let plain = serde_json::to_vec(&Backup {
            name: stored_name,
            policy,
            versions,
        })
        .map_err(|e| ServiceError::Internal(format!("backup encoding: {e}")))?;
        let sealed = core.keys.seal(BACKUP_AAD, &plain)?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// `RestoreCertificate`: opens a blob made by `backup` under this master key.
    pub async fn restore(&self, caller: &Caller, blob: &str) -> Result<CertificateView> {
        let damaged = || {
            ServiceError::from(DomainError::BadParameter(
                "The backup blob is malformed, was altered, or was not made by this server's master key.".into(),
            ))
        };
        let trimmed = blob.trim().trim_end_matches('=');
        let sealed = URL_SAFE_NO_PAD
            .decode(trimmed)
            .or_else(|_| STANDARD_NO_PAD.decode(trimmed))
            .map_err(|_| damaged())?;
        let plain = self
            .0
            .keys
            .unseal(BACKUP_AAD, &sealed)
            .map_err(|_| damaged())?;
        let backup: Backup = serde_json::from_slice(&plain).map_err(|_| damaged())?;
        let name = ObjectName::parse("certificate", &backup.name)?;
        let mut effects = Vec::new();
        let mut versions = Vec::new();
        for v in backup.versions {
            let der = STANDARD.decode(&v.key).map_err(|_| damaged())?;
            let key = crypto::keys::private_key_from_der(&der)?;
            let prepared = self.0.keys.wrap(new_id(), key)?;
            let mut record = v.record;
            record.key_id = prepared.key_id.clone();
            versions.push(record);
            effects.push(Effect::StoreKey(prepared.to_store(&caller.vault)));
        }
        let command = CertificateCommand::Restore(Box::new(RestoreRequest {
            name: name.as_str().to_owned(),
            policy: backup.policy,
            versions,
        }));
        let (stream, done) = self.run(caller, &name, command, None, effects).await?;
        view_after(&stream, &name, &done, None)
    }
}
