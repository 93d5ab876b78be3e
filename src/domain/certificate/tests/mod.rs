//! Given events / when command / then events or refusal, for every transition of the
//! certificate aggregate: the pending request ([`operation`]), the worker's commands
//! ([`worker`]), ACME steps and lifetime actions ([`acme`]), and the certificate's
//! lifecycle ([`lifecycle`]). The fixtures are here.

mod acme;
mod lifecycle;
mod operation;
mod worker;

pub(super) use std::collections::BTreeMap;

pub(super) use super::*;
pub(super) use crate::domain::policy::{
    ContentType, IssuerParameters, KeyProperties, KeyType, Policy, X509Properties,
};
pub(super) use crate::domain::DomainError;

pub(super) fn policy(issuer: &str) -> Policy {
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

pub(super) fn record(version: &str, key_id: &str) -> VersionRecord {
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

pub(super) fn created(
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

pub(super) fn create_cmd(
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

/// The worker issued `request_id`'s version "v1" (key "k1").
pub(super) fn completed(request_id: &str) -> CertificateEvent {
    CertificateEvent::IssuanceCompleted {
        request_id: request_id.into(),
        certificate: record("v1", "k1"),
    }
}

/// `request_id` failed with `code` and `message`.
pub(super) fn failed(request_id: &str, code: &str, message: &str) -> CertificateEvent {
    CertificateEvent::IssuanceFailed {
        request_id: request_id.into(),
        error: OperationError {
            code: code.into(),
            message: message.into(),
        },
    }
}

/// The caller asked to cancel `request_id`.
pub(super) fn cancellation_requested(request_id: &str) -> CertificateEvent {
    CertificateEvent::CancellationRequested {
        request_id: request_id.into(),
    }
}

/// The caller's cancellation of the current request.
pub(super) fn cancel() -> CertificateCommand {
    CertificateCommand::RequestCancellation { request_id: None }
}

pub(super) fn given(events: &[CertificateEvent]) -> CertificateState {
    CertificateState::from_events(events)
}

pub(super) fn then(
    events: &[CertificateEvent],
    cmd: CertificateCommand,
) -> Result<Vec<CertificateEvent>, DomainError> {
    decide(&given(events), "c1", cmd)
}

pub(super) fn provider() -> IssuerResolution {
    IssuerResolution::Provider {
        provider: "local-ca".into(),
        approval_required: false,
    }
}
