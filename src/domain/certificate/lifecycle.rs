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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::certificate::event::VersionRecord;

    fn record(version: &str) -> VersionRecord {
        VersionRecord {
            version: version.into(),
            key_id: format!("k-{version}"),
            cer: "Y2Vy".into(),
            chain: vec![],
            x5t: "eDV0".into(),
            nbf: 0,
            exp: 1,
            enabled: true,
            tags: BTreeMap::new(),
        }
    }

    fn policy() -> Policy {
        serde_json::from_value(serde_json::json!({
            "key_props": {"exportable": true, "kty": "EC", "key_size": 256, "curve": "P-256", "reuse_key": false},
            "content_type": "application/x-pkcs12",
            "x509_props": {"subject": "CN=x", "sans": {}, "ekus": [], "key_usage": [], "validity_months": 12},
            "lifetime_actions": [],
            "issuer": {"name": "Unknown"},
            "enabled": true
        }))
        .expect("policy fixture")
    }

    fn imported() -> CertificateEvent {
        CertificateEvent::CertificateImported {
            name: "c".into(),
            policy: policy(),
            public_key: "cGs=".into(),
            certificate: record("v1"),
        }
    }

    fn given(events: &[CertificateEvent]) -> CertificateState {
        CertificateState::from_events(events)
    }

    #[test]
    fn delete_then_recover_then_purge_follow_the_soft_delete_rules() {
        let live = given(&[imported()]);
        let deleted = decide_lifecycle(
            &live,
            "c",
            LifecycleCommand::Delete {
                now: 100,
                retention_days: 7,
            },
        )
        .expect("delete");
        assert_eq!(
            deleted,
            vec![CertificateEvent::CertificateDeleted {
                deleted_date: 100,
                scheduled_purge_date: 100 + 7 * 86_400,
                recoverable_days: 7,
            }]
        );
        let mut events = vec![imported()];
        events.extend(deleted);
        let state = given(&events);
        assert_eq!(
            decide_lifecycle(
                &state,
                "c",
                LifecycleCommand::UpdatePolicy {
                    policy: Box::new(policy())
                }
            ),
            Err(DomainError::CertificateNotFound { name: "c".into() })
        );
        assert_eq!(
            decide_lifecycle(&live, "c", LifecycleCommand::Recover),
            Err(DomainError::DeletedCertificateNotFound { name: "c".into() })
        );
        assert_eq!(
            decide_lifecycle(&state, "c", LifecycleCommand::Purge { due_at: Some(100) })
                .map(|_| ()),
            Err(DomainError::BadParameter(
                "The deleted certificate c is not due for purge yet.".into()
            ))
        );
        let purged =
            decide_lifecycle(&state, "c", LifecycleCommand::Purge { due_at: None }).expect("purge");
        events.extend(purged);
        assert_eq!(given(&events), CertificateState::default());
    }

    #[test]
    fn import_and_restore_refuse_deleted_or_taken_names() {
        let mut events = vec![imported()];
        events.push(CertificateEvent::CertificateDeleted {
            deleted_date: 1,
            scheduled_purge_date: 2,
            recoverable_days: 7,
        });
        let deleted = given(&events);
        let import = LifecycleCommand::Import(Box::new(ImportRequest {
            name: "c".into(),
            policy: policy(),
            public_key: String::new(),
            certificate: record("v2"),
        }));
        assert_eq!(
            decide_lifecycle(&deleted, "c", import),
            Err(DomainError::CertificateDeleted { name: "c".into() })
        );
        let restore = LifecycleCommand::Restore(Box::new(RestoreRequest {
            name: "c".into(),
            policy: policy(),
            versions: vec![record("v1")],
        }));
        assert_eq!(
            decide_lifecycle(&given(&[imported()]), "c", restore.clone()),
            Err(DomainError::CertificateExists { name: "c".into() })
        );
        let restored =
            decide_lifecycle(&CertificateState::default(), "c", restore).expect("restore");
        assert_eq!(given(&restored).versions.len(), 1);
    }

    #[test]
    fn update_version_names_the_version_it_changes() {
        let state = given(&[imported()]);
        assert_eq!(
            decide_lifecycle(
                &state,
                "c",
                LifecycleCommand::UpdateVersion {
                    version: None,
                    enabled: Some(false),
                    tags: None
                }
            ),
            Ok(vec![CertificateEvent::VersionUpdated {
                version: "v1".into(),
                enabled: Some(false),
                tags: None
            }])
        );
        assert_eq!(
            decide_lifecycle(
                &state,
                "c",
                LifecycleCommand::UpdateVersion {
                    version: Some("nope".into()),
                    enabled: None,
                    tags: None
                }
            ),
            Err(DomainError::CertificateNotFound {
                name: "c/versions/nope".into()
            })
        );
    }
}
