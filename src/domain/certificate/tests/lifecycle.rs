//! Attributes, policy, import, soft delete, restore.

use super::*;
use crate::domain::DomainError;

fn lc_record(version: &str) -> VersionRecord {
    record(version, &format!("k-{version}"))
}

fn lc_policy() -> Policy {
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

fn lc_imported() -> CertificateEvent {
    CertificateEvent::CertificateImported {
        name: "c".into(),
        policy: lc_policy(),
        public_key: "cGs=".into(),
        certificate: lc_record("v1"),
        preserve_cert_order: None,
    }
}

#[test]
fn delete_then_recover_then_purge_follow_the_soft_delete_rules() {
    let live = given(&[lc_imported()]);
    let deleted = decide(
        &live,
        "c",
        CertificateCommand::Delete {
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
    let mut events = vec![lc_imported()];
    events.extend(deleted);
    let state = given(&events);
    assert_eq!(
        decide(
            &state,
            "c",
            CertificateCommand::UpdatePolicy {
                patch: crate::domain::policy::PolicyPatch::default()
            }
        ),
        Err(DomainError::CertificateNotFound { name: "c".into() })
    );
    assert_eq!(
        decide(&live, "c", CertificateCommand::Recover),
        Err(DomainError::DeletedCertificateNotFound { name: "c".into() })
    );
    assert_eq!(
        decide(&state, "c", CertificateCommand::Purge { due_at: Some(100) }).map(|_| ()),
        Err(DomainError::BadParameter(
            "The deleted certificate c is not due for purge yet.".into()
        ))
    );
    let purged = decide(&state, "c", CertificateCommand::Purge { due_at: None }).expect("purge");
    events.extend(purged);
    assert_eq!(given(&events), CertificateState::default());
}

#[test]
fn import_and_restore_refuse_deleted_or_taken_names() {
    let mut events = vec![lc_imported()];
    events.push(CertificateEvent::CertificateDeleted {
        deleted_date: 1,
        scheduled_purge_date: 2,
        recoverable_days: 7,
    });
    let deleted = given(&events);
    let import = CertificateCommand::Import(Box::new(ImportRequest {
        name: "c".into(),
        derived: lc_policy(),
        patch: None,
        public_key: String::new(),
        certificate: lc_record("v2"),
        preserve_cert_order: None,
    }));
    assert_eq!(
        decide(&deleted, "c", import),
        Err(DomainError::CertificateDeleted { name: "c".into() })
    );
    let restore = CertificateCommand::Restore(Box::new(RestoreRequest {
        name: "c".into(),
        policy: lc_policy(),
        versions: vec![lc_record("v1")],
    }));
    assert_eq!(
        decide(&given(&[lc_imported()]), "c", restore.clone()),
        Err(DomainError::CertificateExists { name: "c".into() })
    );
    let restored = decide(&CertificateState::default(), "c", restore).expect("restore");
    assert_eq!(given(&restored).versions.len(), 1);
}

#[test]
fn update_version_names_the_version_it_changes() {
    let state = given(&[lc_imported()]);
    assert_eq!(
        decide(
            &state,
            "c",
            CertificateCommand::UpdateVersion {
                version: None,
                enabled: Some(false),
                tags: None,
                policy: None
            }
        ),
        Ok(vec![CertificateEvent::VersionUpdated {
            version: "v1".into(),
            enabled: Some(false),
            tags: None
        }])
    );
    assert_eq!(
        decide(
            &state,
            "c",
            CertificateCommand::UpdateVersion {
                version: Some("nope".into()),
                enabled: None,
                tags: None,
                policy: None
            }
        ),
        Err(DomainError::CertificateNotFound {
            name: "c/versions/nope".into()
        })
    );
}
