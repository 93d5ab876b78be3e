//! The rest of Key Vault's certificate surface: attribute and policy updates, import, soft
//! delete (recover, purge), and restore from a backup. Pure: every time, id and key is
//! prepared by the caller.

use std::collections::BTreeMap;

use super::event::{CertificateEvent, VersionRecord};
use super::state::{CertificateState, OperationStatus};
use crate::domain::error::DomainError;
use crate::domain::policy::Policy;

/// `ImportCertificate`: a key (already sealed under `certificate.key_id`) and its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRequest {
    pub name: String,
    pub policy: Policy,
    pub public_key: String,
    pub certificate: VersionRecord,
}

/// `RestoreCertificate`: what a backup held (keys already resealed under new ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRequest {
    pub name: String,
    pub policy: Policy,
    pub versions: Vec<VersionRecord>,
}

/// Commands of this module (wrapped by `CertificateCommand::Lifecycle`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleCommand {
    /// PATCH `/certificates/{name}/{version}` (`version` `None`: the current one).
    UpdateVersion {
        version: Option<String>,
        enabled: Option<bool>,
        tags: Option<BTreeMap<String, String>>,
    },
    /// PATCH `/certificates/{name}/policy` with the merged policy.
    UpdatePolicy { policy: Box<Policy> },
    /// POST `/certificates/{name}/import`.
    Import(Box<ImportRequest>),
    /// DELETE `/certificates/{name}`: `now` and the retention in days.
    Delete { now: i64, retention_days: i64 },
    /// POST `/deletedcertificates/{name}/recover`.
    Recover,
    /// DELETE `/deletedcertificates/{name}`; with `due_at`, only if the scheduled purge date
    /// is not after it (the worker).
    Purge { due_at: Option<i64> },
    /// POST `/certificates/restore`.
    Restore(Box<RestoreRequest>),
}

fn live<'a>(state: &'a CertificateState, name: &str) -> Result<&'a CertificateState, DomainError> {
    if !state.exists() || state.deleted.is_some() {
        return Err(DomainError::CertificateNotFound {
            name: name.to_owned(),
        });
    }
    Ok(state)
}

fn not_deleted(state: &CertificateState, name: &str) -> Result<(), DomainError> {
    if state.deleted.is_some() {
        return Err(DomainError::CertificateDeleted {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Decides a lifecycle command.
pub fn decide_lifecycle(
    state: &CertificateState,
    name: &str,
    command: LifecycleCommand,
) -> Result<Vec<CertificateEvent>, DomainError> {
    match command {
        LifecycleCommand::UpdateVersion {
            version,
            enabled,
            tags,
        } => {
            live(state, name)?;
            let found = match &version {
                Some(v) => state
                    .versions
                    .iter()
                    .find(|x| x.version.eq_ignore_ascii_case(v)),
                None => state.latest(),
            };
            let Some(found) = found else {
                return Err(DomainError::CertificateNotFound {
                    name: match version {
                        Some(v) => format!("{name}/versions/{v}"),
                        None => name.to_owned(),
                    },
                });
            };
            Ok(vec![CertificateEvent::VersionUpdated {
                version: found.version.clone(),
                enabled,
                tags,
            }])
        }
        LifecycleCommand::UpdatePolicy { policy } => {
            live(state, name)?;
            Ok(vec![CertificateEvent::PolicyUpdated { policy: *policy }])
        }
        LifecycleCommand::Import(req) => {
            not_deleted(state, name)?;
            if state
                .pending
                .as_ref()
                .is_some_and(|p| p.status == OperationStatus::InProgress)
            {
                return Err(DomainError::PendingInProgress);
            }
            Ok(vec![CertificateEvent::CertificateImported {
                name: req.name,
                policy: req.policy,
                public_key: req.public_key,
                certificate: req.certificate,
            }])
        }
        LifecycleCommand::Delete {
            now,
            retention_days,
        } => {
            live(state, name)?;
            Ok(vec![CertificateEvent::CertificateDeleted {
                deleted_date: now,
                scheduled_purge_date: now + retention_days * 86_400,
                recoverable_days: retention_days,
            }])
        }
        LifecycleCommand::Recover => match state.deleted {
            Some(_) => Ok(vec![CertificateEvent::CertificateRecovered {}]),
            None => Err(DomainError::DeletedCertificateNotFound {
                name: name.to_owned(),
            }),
        },
        LifecycleCommand::Purge { due_at } => match (state.deleted, due_at) {
            (None, _) => Err(DomainError::DeletedCertificateNotFound {
                name: name.to_owned(),
            }),
            (Some(d), Some(at)) if d.scheduled_purge_date > at => Err(DomainError::BadParameter(
                format!("The deleted certificate {name} is not due for purge yet."),
            )),
            (Some(_), due_at) => Ok(vec![CertificateEvent::CertificatePurged {
                scheduled: due_at.is_some(),
            }]),
        },
        LifecycleCommand::Restore(req) => {
            not_deleted(state, name)?;
            if state.exists() {
                return Err(DomainError::CertificateExists {
                    name: name.to_owned(),
                });
            }
            if req.versions.is_empty() {
                return Err(DomainError::BadParameter(
                    "The backup holds no certificate version.".into(),
                ));
            }
            Ok(vec![CertificateEvent::CertificateRestored {
                name: req.name,
                policy: req.policy,
                versions: req.versions,
            }])
        }
    }
}
