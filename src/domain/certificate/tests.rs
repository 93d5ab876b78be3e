//! Given events / when command / then events or refusal, for every transition.

use std::collections::BTreeMap;

use super::*;
use crate::domain::policy::{
    ContentType, IssuerParameters, KeyProperties, KeyType, Policy, X509Properties,
};
use crate::domain::DomainError;

fn policy(issuer: &str) -> Policy {
    Policy {
        key_props: KeyProperties {
            exportable: true,
            kty: KeyType::Rsa,
            key_size: 2048,
            curve: None,
            reuse_key: false,
        },
        content_type: ContentType::Pkcs12,
        x509_props: X509Properties {
            subject: "CN=example.com".into(),
            sans: Default::default(),
            ekus: vec![],
            key_usage: vec![],
            validity_months: 12,
        },
        lifetime_actions: vec![],
        issuer: IssuerParameters {
            name: issuer.into(),
            cty: None,
            cert_transparency: None,
        },
        enabled: true,
    }
}

fn record(version: &str, key_id: &str) -> VersionRecord {
    VersionRecord {
        version: version.into(),
        key_id: key_id.into(),
        cer: "Y2Vy".into(),
        chain: vec![],
        x5t: "x5t".into(),
        nbf: 1,
        exp: 2,
        enabled: true,
        tags: BTreeMap::new(),
    }
}

fn created(
    issuer: &str,
    request_id: &str,
    provider: Option<&str>,
    approval: bool,
) -> CertificateEvent {
    CertificateEvent::PendingCreated {
        name: "c1".into(),
        request_id: request_id.into(),
        policy: policy(issuer),
        provider: provider.map(str::to_owned),
        approval_required: approval,
        key_id: "k1".into(),
        public_key: "cHVi".into(),
        csr: "Y3Ny".into(),
        enabled: true,
        tags: BTreeMap::new(),
        preserve_cert_order: None,
    }
}

fn create_cmd(
    issuer: &str,
    resolution: IssuerResolution,
    self_signed: Option<VersionRecord>,
) -> CertificateCommand {
    CertificateCommand::Create(Box::new(CreateRequest {
        name: "c1".into(),
        policy: policy(issuer),
        issuer: resolution,
        request_id: "r2".into(),
        key_id: "k2".into(),
        public_key: "cHVi".into(),
        csr: "Y3Ny".into(),
        enabled: true,
        tags: BTreeMap::new(),
        self_signed,
        preserve_cert_order: None,
    }))
}

fn given(events: &[CertificateEvent]) -> CertificateState {
    CertificateState::from_events(events)
}

fn then(
    events: &[CertificateEvent],
    cmd: CertificateCommand,
) -> Result<Vec<CertificateEvent>, DomainError> {
    decide(&given(events), "c1", cmd)
}

fn provider() -> IssuerResolution {
    IssuerResolution::Provider {
        provider: "local-ca".into(),
        approval_required: false,
    }
}

#[test]
fn manual_create_records_a_pending_request_in_progress() {
    let events =
        then(&[], create_cmd("Unknown", IssuerResolution::Manual, None)).expect("accepted");
    assert_eq!(events.len(), 1);
    let state = given(&events);
    let p = state.pending.expect("pending");
    assert_eq!(p.status, OperationStatus::InProgress);
    assert_eq!(p.request_id, "r2");
    assert!(!p.cancellation_requested);
}

#[test]
fn self_signed_create_completes_in_the_same_command() {
    let events = then(
        &[],
        create_cmd(
            "Self",
            IssuerResolution::SelfSigned,
            Some(record("v1", "k2")),
        ),
    )
    .expect("accepted");
    assert!(matches!(
        events[1],
        CertificateEvent::IssuanceCompleted { .. }
    ));
    let state = given(&events);
    assert_eq!(
        state.pending.as_ref().expect("pending").status,
        OperationStatus::Completed
    );
    assert_eq!(state.latest().expect("version").version, "v1");
}

#[test]
fn create_while_in_progress_is_refused_s6() {
    let err = then(
        &[created("Unknown", "r1", None, false)],
        create_cmd("Unknown", IssuerResolution::Manual, None),
    );
    assert_eq!(err, Err(DomainError::PendingInProgress));
}

#[test]
fn create_over_a_failed_request_overwrites_it_s5() {
    let history = [
        created("issuer1", "r1", Some("local-ca"), false),
        CertificateEvent::IssuanceFailed {
            request_id: "r1".into(),
            error: OperationError {
                code: CODE_ISSUER_ERROR.into(),
                message: "no".into(),
            },
        },
    ];
    let events = then(&history, create_cmd("issuer1", provider(), None)).expect("accepted");
    let mut all = history.to_vec();
    all.extend(events);
    assert_eq!(given(&all).pending.expect("pending").request_id, "r2");
}

#[test]
fn create_naming_a_missing_or_disabled_issuer_is_a_bad_parameter() {
    for r in [IssuerResolution::NotFound, IssuerResolution::Disabled] {
        assert!(matches!(
            then(&[], create_cmd("issuer1", r, None)),
            Err(DomainError::BadParameter(_))
        ));
    }
}

#[test]
fn cancellation_of_a_request_in_progress_is_recorded_s8() {
    let events = then(
        &[created("issuer1", "r1", Some("local-ca"), false)],
        CertificateCommand::RequestCancellation { request_id: None },
    )
    .expect("accepted");
    assert_eq!(
        events,
        vec![CertificateEvent::CancellationRequested {
            request_id: "r1".into()
        }]
    );
}

#[test]
fn cancellation_twice_records_nothing_more() {
    let history = [
        created("issuer1", "r1", Some("local-ca"), false),
        CertificateEvent::CancellationRequested {
            request_id: "r1".into(),
        },
    ];
    assert_eq!(
        then(
            &history,
            CertificateCommand::RequestCancellation { request_id: None }
        ),
        Ok(vec![])
    );
}

#[test]
fn cancellation_when_not_in_progress_is_refused_s8() {
    let history = [
        created("Self", "r1", None, false),
        CertificateEvent::IssuanceCompleted {
            request_id: "r1".into(),
            certificate: record("v1", "k1"),
        },
    ];
    assert!(matches!(
        then(
            &history,
            CertificateCommand::RequestCancellation { request_id: None }
        ),
        Err(DomainError::NotInProgress { .. })
    ));
}

#[test]
fn request_id_filter_that_does_not_match_is_not_found_s2() {
    let history = [created("Unknown", "r1", None, false)];
    for cmd in [
        CertificateCommand::RequestCancellation {
            request_id: Some("other".into()),
        },
        CertificateCommand::DeletePending {
            request_id: Some("other".into()),
        },
    ] {
        assert!(matches!(
            then(&history, cmd),
            Err(DomainError::PendingNotFound { .. })
        ));
    }
}

#[test]
fn delete_pending_removes_it_s9() {
    let history = [created("Unknown", "r1", None, false)];
    let events = then(
        &history,
        CertificateCommand::DeletePending {
            request_id: Some("r1".into()),
        },
    )
    .expect("accepted");
    let mut all = history.to_vec();
    all.extend(events);
    assert!(given(&all).pending.is_none());
    assert!(matches!(
        decide(
            &given(&all),
            "c1",
            CertificateCommand::DeletePending { request_id: None }
        ),
        Err(DomainError::PendingNotFound { .. })
    ));
}

fn merge(request_id: &str, key_id: &str) -> CertificateCommand {
    CertificateCommand::Merge(Box::new(MergeRequest {
        request_id: request_id.into(),
        certificate: record("v9", key_id),
        enabled: None,
        tags: None,
    }))
}

#[test]
fn merge_after_manual_create_completes_it_s11() {
    let history = [created("Unknown", "r1", None, false)];
    let events = then(&history, merge("r1", "k1")).expect("accepted");
    let mut all = history.to_vec();
    all.extend(events);
    let state = given(&all);
    assert_eq!(
        state.pending.expect("pending").target_version.as_deref(),
        Some("v9")
    );
    assert_eq!(state.versions.len(), 1);
}

#[test]
fn merge_on_an_issuer_request_in_progress_is_forbidden_s7() {
    let err = then(
        &[created("issuer1", "r1", Some("local-ca"), false)],
        merge("r1", "k1"),
    );
    assert_eq!(
        err,
        Err(DomainError::MergeForbidden {
            issuer: "issuer1".into()
        })
    );
}

#[test]
fn merge_after_an_issuer_request_failed_is_allowed_s7() {
    let history = [
        created("issuer1", "r1", Some("local-ca"), false),
        CertificateEvent::IssuanceFailed {
            request_id: "r1".into(),
            error: OperationError {
                code: CODE_ISSUER_ERROR.into(),
                message: "x".into(),
            },
        },
    ];
    assert!(then(&history, merge("r1", "k1")).is_ok());
}

#[test]
fn merge_twice_is_refused_the_second_time() {
    let history = [
        created("Unknown", "r1", None, false),
        CertificateEvent::CertificateMerged {
            request_id: "r1".into(),
            certificate: record("v1", "k1"),
        },
    ];
    assert!(matches!(
        then(&history, merge("r1", "k1")),
        Err(DomainError::AlreadyCompleted { .. })
    ));
}

#[test]
fn merge_checked_against_an_older_request_is_refused() {
    assert!(matches!(
        then(&[created("Unknown", "r1", None, false)], merge("r0", "k1")),
        Err(DomainError::InvalidChain(_))
    ));
    assert!(matches!(
        then(&[created("Unknown", "r1", None, false)], merge("r1", "k0")),
        Err(DomainError::InvalidChain(_))
    ));
}

#[test]
fn approval_is_only_for_requests_that_wait_for_it() {
    let officer = || "alice".to_string();
    assert!(matches!(
        then(
            &[created("issuer1", "r1", Some("local-ca"), false)],
            CertificateCommand::Approve {
                request_id: None,
                officer: officer()
            }
        ),
        Err(DomainError::ApprovalNotApplicable(_))
    ));
    let history = [created("issuer1", "r1", Some("local-ca-approval"), true)];
    let events = then(
        &history,
        CertificateCommand::Approve {
            request_id: None,
            officer: officer(),
        },
    )
    .expect("accepted");
    let mut all = history.to_vec();
    all.extend(events);
    assert!(given(&all).pending.expect("pending").approved);
    assert!(matches!(
        decide(
            &given(&all),
            "c1",
            CertificateCommand::Approve {
                request_id: None,
                officer: officer()
            }
        ),
        Err(DomainError::ApprovalNotApplicable(_))
    ));
}

#[test]
fn rejection_fails_the_request_with_request_rejected() {
    let history = [created("issuer1", "r1", Some("local-ca-approval"), true)];
    let events = then(
        &history,
        CertificateCommand::Reject {
            request_id: None,
            officer: "bob".into(),
            reason: "not ours".into(),
        },
    )
    .expect("accepted");
    let mut all = history.to_vec();
    all.extend(events);
    let p = given(&all).pending.expect("pending");
    assert_eq!(p.status, OperationStatus::Failed);
    assert_eq!(p.error.expect("error").code, CODE_REQUEST_REJECTED);
    assert!(matches!(
        then(
            &history,
            CertificateCommand::Reject {
                request_id: None,
                officer: "bob".into(),
                reason: " ".into()
            }
        ),
        Err(DomainError::BadParameter(_))
    ));
}

#[test]
fn worker_completion_takes_the_pending_key_and_attributes() {
    let events = then(
        &[created("issuer1", "r1", Some("local-ca"), false)],
        CertificateCommand::CompleteIssuance {
            request_id: "r1".into(),
            certificate: record("v1", ""),
        },
    )
    .expect("accepted");
    match &events[0] {
        CertificateEvent::IssuanceCompleted { certificate, .. } => {
            assert_eq!(certificate.key_id, "k1")
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn worker_completion_after_a_cancellation_request_honours_the_cancellation() {
    let history = [
        created("issuer1", "r1", Some("local-ca"), false),
        CertificateEvent::CancellationRequested {
            request_id: "r1".into(),
        },
    ];
    let events = then(
        &history,
        CertificateCommand::CompleteIssuance {
            request_id: "r1".into(),
            certificate: record("v1", ""),
        },
    )
    .expect("accepted");
    assert!(matches!(
        events[0],
        CertificateEvent::IssuanceCancelled { .. }
    ));
    let mut all = history.to_vec();
    all.extend(events);
    assert_eq!(
        given(&all).pending.expect("pending").status,
        OperationStatus::Cancelled
    );
}

#[test]
fn worker_failure_records_an_issuer_error() {
    let events = then(
        &[created("issuer1", "r1", Some("local-ca"), false)],
        CertificateCommand::FailIssuance {
            request_id: "r1".into(),
            message: "refused".into(),
        },
    )
    .expect("accepted");
    let mut all = vec![created("issuer1", "r1", Some("local-ca"), false)];
    all.extend(events);
    assert_eq!(
        given(&all)
            .pending
            .expect("pending")
            .error
            .expect("error")
            .code,
        CODE_ISSUER_ERROR
    );
}

#[test]
fn worker_acting_on_a_replaced_or_finished_request_is_refused() {
    let history = [created("issuer1", "r1", Some("local-ca"), false)];
    assert!(matches!(
        then(
            &history,
            CertificateCommand::FailIssuance {
                request_id: "r0".into(),
                message: "x".into()
            }
        ),
        Err(DomainError::PendingNotFound { .. })
    ));
    let done = [
        created("Self", "r1", None, false),
        CertificateEvent::IssuanceCompleted {
            request_id: "r1".into(),
            certificate: record("v1", "k1"),
        },
    ];
    assert!(matches!(
        then(
            &done,
            CertificateCommand::HonourCancellation {
                request_id: "r1".into()
            }
        ),
        Err(DomainError::NotInProgress { .. })
    ));
}

#[test]
fn honouring_needs_a_cancellation_request() {
    let history = [created("issuer1", "r1", Some("local-ca"), false)];
    assert!(matches!(
        then(
            &history,
            CertificateCommand::HonourCancellation {
                request_id: "r1".into()
            }
        ),
        Err(DomainError::BadParameter(_))
    ));
}

#[test]
fn events_round_trip_through_json() {
    let e = created("Unknown", "r1", None, false);
    let json = serde_json::to_value(&e).expect("serialise");
    assert_eq!(json["event_type"], "PendingCreated");
    let back: CertificateEvent = serde_json::from_value(json).expect("deserialise");
    assert_eq!(back, e);
}

// ACME and lifetime actions

fn order_placed(request_id: &str) -> CertificateEvent {
    CertificateEvent::AcmeOrderPlaced {
        request_id: request_id.into(),
        order_url: "https://ca/order/1".into(),
    }
}

#[test]
fn a_request_gets_one_acme_order_only() {
    let state = given(&[created("ca", "r1", Some("acme"), false), order_placed("r1")]);
    let second = decide(
        &state,
        "c1",
        CertificateCommand::RecordAcmeStep {
            request_id: "r1".into(),
            step: AcmeStep::OrderPlaced {
                order_url: "https://ca/order/2".into(),
            },
        },
    );
    assert!(matches!(second, Err(DomainError::BadParameter(m)) if m.contains("order/1")));
    // A new request starts a fresh order.
    let state = given(&[
        created("ca", "r1", Some("acme"), false),
        order_placed("r1"),
        CertificateEvent::IssuanceFailed {
            request_id: "r1".into(),
            error: OperationError {
                code: CODE_ISSUER_ERROR.into(),
                message: "no".into(),
            },
        },
        created("ca", "r2", Some("acme"), false),
    ]);
    assert_eq!(
        decide(
            &state,
            "c1",
            CertificateCommand::RecordAcmeStep {
                request_id: "r2".into(),
                step: AcmeStep::OrderPlaced {
                    order_url: "https://ca/order/3".into(),
                },
            },
        ),
        Ok(vec![CertificateEvent::AcmeOrderPlaced {
            request_id: "r2".into(),
            order_url: "https://ca/order/3".into(),
        }])
    );
}

#[test]
fn acme_steps_are_refused_once_the_request_is_no_longer_in_progress() {
    let state = given(&[
        created("ca", "r1", Some("acme"), false),
        order_placed("r1"),
        CertificateEvent::CancellationRequested {
            request_id: "r1".into(),
        },
        CertificateEvent::IssuanceCancelled {
            request_id: "r1".into(),
            error: OperationError {
                code: CODE_REQUEST_REJECTED.into(),
                message: "cancelled".into(),
            },
        },
    ]);
    let r = decide(
        &state,
        "c1",
        CertificateCommand::RecordAcmeStep {
            request_id: "r1".into(),
            step: AcmeStep::Finalized,
        },
    );
    assert!(matches!(r, Err(DomainError::NotInProgress { .. })));
}

#[test]
fn a_lifetime_action_fires_once_per_version() {
    let state = given(&[
        created("Self", "r1", None, false),
        CertificateEvent::IssuanceCompleted {
            request_id: "r1".into(),
            certificate: record("v1", "k1"),
        },
    ]);
    let cmd = || CertificateCommand::RecordLifetimeAction {
        version: "v1".into(),
        action: crate::domain::policy::ActionType::AutoRenew,
        expires: 2,
        contacts: vec![],
    };
    let events = decide(&state, "c1", cmd()).unwrap();
    assert_eq!(events.len(), 1);
    let mut after = state.clone();
    after.apply(&events[0], 0);
    assert_eq!(decide(&after, "c1", cmd()), Ok(vec![]));
    let unknown = CertificateCommand::RecordLifetimeAction {
        version: "v9".into(),
        action: crate::domain::policy::ActionType::AutoRenew,
        expires: 2,
        contacts: vec![],
    };
    assert!(matches!(
        decide(&state, "c1", unknown),
        Err(DomainError::CertificateNotFound { .. })
    ));
}

// Attributes, policy, import, soft delete, restore.

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
