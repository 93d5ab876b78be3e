//! Certificate events: our storage format. A shipped variant's JSON never changes meaning;
//! a change bumps its schema version (`es::upcast::current_version`) and adds an upcaster
//! in `es::upcast`. A field may be added when its absence reads as before (`serde(default)`,
//! not written when absent).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::policy::{ActionType, Policy};

/// `{code, message}` recorded when a request fails or is cancelled (Key Vault `Error`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationError {
    pub code: String,
    pub message: String,
}

/// A certificate version as it became current: the DER certificate and the chain above it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// 32 lowercase hex characters (Key Vault object version).
    pub version: String,
    /// Key id in the sealed key table.
    pub key_id: String,
    /// Base64 (standard) DER of the leaf certificate.
    pub cer: String,
    /// Base64 (standard) DER of the certificates above the leaf, nearest first.
    #[serde(default)]
    pub chain: Vec<String>,
    /// Base64url SHA-1 thumbprint of the leaf.
    pub x5t: String,
    /// notBefore / notAfter, Unix seconds.
    pub nbf: i64,
    pub exp: i64,
    pub enabled: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// Everything that can happen to a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
// Stored as the `event_type` column beside the variant's fields (`es::store::encode`):
// serde's external tag is what lets a payload decode straight into its variant.
// Events are decoded one at a time and moved, never stored in bulk arrays; boxing the
// policy would only add an allocation per decode.
#[allow(clippy::large_enum_variant)]
pub enum CertificateEvent {
    /// A create was accepted: a key was made (sealed under `key_id`) and a CSR signed by it.
    PendingCreated {
        name: String,
        request_id: String,
        policy: Policy,
        /// Provider behind the issuer object, if the issuer is an object.
        #[serde(default)]
        provider: Option<String>,
        #[serde(default)]
        approval_required: bool,
        key_id: String,
        /// Base64 SubjectPublicKeyInfo DER of the new key.
        public_key: String,
        /// Base64 DER PKCS#10.
        csr: String,
        /// Attributes and tags the resulting version will carry.
        enabled: bool,
        #[serde(default)]
        tags: BTreeMap<String, String>,
        /// `preserveCertOrder` as sent with the create (Key Vault 7.6+), if sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preserve_cert_order: Option<bool>,
    },
    /// The requester asked for the request to be cancelled (S8).
    CancellationRequested { request_id: String },
    /// An officer approved a request that waits for approval.
    IssuanceApproved { request_id: String, officer: String },
    /// An officer rejected a request that waits for approval.
    IssuanceRejected {
        request_id: String,
        officer: String,
        reason: String,
    },
    /// The issuer (self-signing or a provider) delivered the certificate.
    IssuanceCompleted {
        request_id: String,
        certificate: VersionRecord,
    },
    /// The requester merged a certificate signed elsewhere (S11, or S7 after failure).
    CertificateMerged {
        request_id: String,
        certificate: VersionRecord,
    },
    /// The issuer refused or failed the request.
    IssuanceFailed {
        request_id: String,
        error: OperationError,
    },
    /// A requested cancellation was honoured before issuance.
    IssuanceCancelled {
        request_id: String,
        error: OperationError,
    },
    /// The pending object was deleted (S9).
    PendingDeleted { request_id: String },
    /// `UpdateCertificate`: a version's `enabled` flag and/or tags changed.
    VersionUpdated {
        version: String,
        #[serde(default)]
        enabled: Option<bool>,
        #[serde(default)]
        tags: Option<BTreeMap<String, String>>,
    },
    /// `UpdateCertificatePolicy`: the merged policy now in force.
    PolicyUpdated { policy: Policy },
    /// `ImportCertificate`: a certificate with its key (sealed under `key_id`) became the
    /// current version; any pending object that was not in progress is gone.
    CertificateImported {
        name: String,
        policy: Policy,
        /// Base64 SubjectPublicKeyInfo DER of the imported key.
        public_key: String,
        certificate: VersionRecord,
        /// `preserveCertOrder` as sent with the import, if sent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        preserve_cert_order: Option<bool>,
    },
    /// `DeleteCertificate`: soft-deleted; recoverable until `scheduled_purge_date`.
    CertificateDeleted {
        /// Unix seconds.
        deleted_date: i64,
        /// Unix seconds.
        scheduled_purge_date: i64,
        recoverable_days: i64,
    },
    /// `RecoverDeletedCertificate`: back to the state it was deleted in.
    CertificateRecovered {},
    /// `PurgeDeletedCertificate` (or the retention ran out): gone for good; the name is free.
    CertificatePurged {
        /// True when the worker purged it at the end of retention.
        #[serde(default)]
        scheduled: bool,
    },
    /// `RestoreCertificate`: a backup was restored under its name (keys resealed under new ids).
    CertificateRestored {
        name: String,
        policy: Policy,
        versions: Vec<VersionRecord>,
    },
    // ACME provider progress (RFC 8555): each step of an order, so a restart resumes it.
    /// The ACME account used for the request was registered (RFC 8555 §7.3).
    AcmeAccountRegistered {
        request_id: String,
        provider: String,
        account_url: String,
    },
    /// An order was placed for the request (RFC 8555 §7.4); a restart resumes this order.
    AcmeOrderPlaced {
        request_id: String,
        order_url: String,
    },
    /// One authorization of the order became valid (RFC 8555 §7.5.1).
    AcmeAuthorizationValid {
        request_id: String,
        authorization_url: String,
        identifier: String,
    },
    /// The order was finalized with the request's own CSR (RFC 8555 §7.4).
    AcmeOrderFinalized { request_id: String },
    /// The certificate chain was downloaded (RFC 8555 §7.4.2); completion follows.
    AcmeCertificateDownloaded {
        request_id: String,
        certificate_url: String,
    },
    // Lifetime actions
    /// A lifetime action (Key Vault `LifetimeAction`) fired for a version: `AutoRenew` asked
    /// for a new version; `EmailContacts` notified `contacts`.
    LifetimeActionTriggered {
        version: String,
        action: ActionType,
        /// The version's notAfter, Unix seconds.
        expires: i64,
        #[serde(default)]
        contacts: Vec<String>,
    },
}
