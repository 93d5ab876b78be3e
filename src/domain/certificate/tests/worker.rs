//! The worker's commands on a request: complete, fail, honour a cancellation.

use super::*;
use crate::domain::DomainError;

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
        cancellation_requested("r1"),
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
    let done = [created("Self", "r1", None, false), completed("r1")];
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
    assert!(json["PendingCreated"]["request_id"].is_string());
    let back: CertificateEvent = serde_json::from_value(json).expect("deserialise");
    assert_eq!(back, e);
}

#[test]
fn a_request_that_needs_approval_is_issued_only_once_approved() {
    let history = [created("issuer1", "r1", Some("local-ca-approval"), true)];
    let complete = || CertificateCommand::CompleteIssuance {
        request_id: "r1".into(),
        certificate: record("v1", ""),
    };
    assert_eq!(
        then(&history, complete()),
        Err(DomainError::AwaitingApproval)
    );
    let order = CertificateCommand::RecordAcmeStep {
        request_id: "r1".into(),
        step: AcmeStep::OrderPlaced {
            order_url: "https://ca/order/1".into(),
        },
    };
    assert_eq!(then(&history, order), Err(DomainError::AwaitingApproval));
    // A provider may still fail it.
    let fail = CertificateCommand::FailIssuance {
        request_id: "r1".into(),
        message: "x".into(),
    };
    assert!(then(&history, fail).is_ok());
    let approve = CertificateCommand::Approve {
        request_id: None,
        officer: "alice".into(),
    };
    let mut all = history.to_vec();
    all.extend(then(&history, approve).expect("approved"));
    assert!(matches!(
        then(&all, complete()).as_deref(),
        Ok([CertificateEvent::IssuanceCompleted { .. }])
    ));
}
