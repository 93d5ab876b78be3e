//! Certificate commands: one per Key Vault operation that changes a certificate, and the
//! worker's. Everything slow or random (keys, CSRs, certificates, ids, times) is prepared
//! before a command is built; `decide` only judges it.

use std::collections::BTreeMap;

use super::event::VersionRecord;
use crate::domain::policy::{ActionType, Policy, PolicyPatch};

/// How the issuer named in a create's policy resolves, looked up when the request was
/// prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuerResolution {
    /// `Self`.
    SelfSigned,
    /// `Unknown`.
    Manual,
    /// An enabled issuer object backed by this configured provider.
    Provider {
        provider: String,
        approval_required: bool,
    },
    /// The issuer object does not exist.
    NotFound,
    /// The issuer object is disabled.
    Disabled,
}

/// `CreateCertificate`: everything prepared beforehand (key, CSR, ids, self-signed cert).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    pub name: String,
    pub policy: Policy,
    pub issuer: IssuerResolution,
    pub request_id: String,
    pub key_id: String,
    pub public_key: String,
    pub csr: String,
    pub enabled: bool,
    pub tags: BTreeMap<String, String>,
    /// For `Self`: the self-signed certificate made from the same key.
    pub self_signed: Option<VersionRecord>,
    /// `preserveCertOrder`, if sent.
    pub preserve_cert_order: Option<bool>,
}

/// `MergeCertificate`: a chain already proven against `key_id`'s public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequest {
    /// The pending request the chain was checked against.
    pub request_id: String,
    pub certificate: VersionRecord,
    /// Attributes/tags sent with the merge, overriding those of the create.
    pub enabled: Option<bool>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// `ImportCertificate`: a key (sealed under `certificate.key_id`) and its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRequest {
    pub name: String,
    /// The policy read off the certificate (`Policy::from_certificate`).
    pub derived: Policy,
    /// The policy sent with the import, merged over `derived`.
    pub patch: Option<PolicyPatch>,
    pub public_key: String,
    pub certificate: VersionRecord,
    pub preserve_cert_order: Option<bool>,
}

/// `RestoreCertificate`: what a backup held (keys already resealed under new ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRequest {
    pub name: String,
    pub policy: Policy,
    pub versions: Vec<VersionRecord>,
}

/// A command on one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateCommand {
    /// `CreateCertificate`: POST `/certificates/{name}/create`.
    Create(Box<CreateRequest>),
    /// `UpdateCertificateOperation` with `cancellation_requested: true`.
    RequestCancellation { request_id: Option<String> },
    /// `DeleteCertificateOperation`.
    DeletePending { request_id: Option<String> },
    /// `MergeCertificate`.
    Merge(Box<MergeRequest>),
    /// POST `/certificates/{name}/pending/approve` (certbroker).
    Approve {
        request_id: Option<String>,
        officer: String,
    },
    /// POST `/certificates/{name}/pending/reject` (certbroker).
    Reject {
        request_id: Option<String>,
        officer: String,
        reason: String,
    },
    /// The worker delivers a provider's certificate.
    CompleteIssuance {
        request_id: String,
        certificate: VersionRecord,
    },
    /// The worker reports a provider's refusal or failure.
    FailIssuance { request_id: String, message: String },
    /// The worker honours a requested cancellation.
    HonourCancellation { request_id: String },
    /// The worker records one step of a request's ACME order.
    RecordAcmeStep { request_id: String, step: AcmeStep },
    /// The worker fired a lifetime action for a version.
    RecordLifetimeAction {
        version: String,
        action: ActionType,
        expires: i64,
        contacts: Vec<String>,
    },
    /// `UpdateCertificate` (`version` `None`: the current one): attributes, tags, and the
    /// policy when one is sent (merged over the policy in force).
    UpdateVersion {
        version: Option<String>,
        enabled: Option<bool>,
        tags: Option<BTreeMap<String, String>>,
        policy: Option<PolicyPatch>,
    },
    /// `UpdateCertificatePolicy`: merged over the policy in force.
    UpdatePolicy { patch: PolicyPatch },
    /// `ImportCertificate`.
    Import(Box<ImportRequest>),
    /// `DeleteCertificate` (soft delete): `now` and the retention in days.
    Delete { now: i64, retention_days: i64 },
    /// `RecoverDeletedCertificate`.
    Recover,
    /// `PurgeDeletedCertificate`; with `due_at`, only if the scheduled purge date is not
    /// after it (the worker).
    Purge { due_at: Option<i64> },
    /// `RestoreCertificate`.
    Restore(Box<RestoreRequest>),
}

/// One step of an ACME order (RFC 8555 §7), as the worker observed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcmeStep {
    AccountRegistered {
        provider: String,
        account_url: String,
    },
    OrderPlaced {
        order_url: String,
    },
    AuthorizationValid {
        authorization_url: String,
        identifier: String,
    },
    Finalized,
    CertificateDownloaded {
        certificate_url: String,
    },
}

impl AcmeStep {
    /// The event type the step is recorded as.
    pub fn event_type(&self) -> &'static str {
        match self {
            AcmeStep::AccountRegistered { .. } => "AcmeAccountRegistered",
            AcmeStep::OrderPlaced { .. } => "AcmeOrderPlaced",
            AcmeStep::AuthorizationValid { .. } => "AcmeAuthorizationValid",
            AcmeStep::Finalized => "AcmeOrderFinalized",
            AcmeStep::CertificateDownloaded { .. } => "AcmeCertificateDownloaded",
        }
    }
}
