//! The pending request: create, cancel, delete, merge, approve, reject (scenarios S1-S11).

use super::*;
use crate::domain::DomainError;

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
        failed("r1", CODE_ISSUER_ERROR, "no"),
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
        cancel(),
    )
    .expect("accepted");
    assert_eq!(events, vec![cancellation_requested("r1")]);
}

#[test]
fn cancellation_twice_records_nothing_more() {
    let history = [
        created("issuer1", "r1", Some("local-ca"), false),
        cancellation_requested("r1"),
    ];
    assert_eq!(then(&history, cancel()), Ok(vec![]));
}

#[test]
fn cancellation_when_not_in_progress_is_refused_s8() {
    let history = [created("Self", "r1", None, false), completed("r1")];
    assert!(matches!(
        then(&history, cancel()),
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
        failed("r1", CODE_ISSUER_ERROR, "x"),
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
