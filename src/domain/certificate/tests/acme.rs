//! ACME steps and lifetime actions.

use super::*;
use crate::domain::DomainError;

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
        failed("r1", CODE_ISSUER_ERROR, "no"),
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
        cancellation_requested("r1"),
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
    let state = given(&[created("Self", "r1", None, false), completed("r1")]);
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
