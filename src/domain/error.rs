//! Business refusals. Each variant carries what its message needs; `crate::error` maps
//! every variant to an HTTP status and Key Vault error code in one place.

/// A command refused by the domain (never an infrastructure failure).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// A name breaks Key Vault's rule (1-127 characters: letters, digits, `-`).
    #[error("{0}")]
    InvalidName(String),
    /// A policy value is missing, unknown or out of range.
    #[error("{0}")]
    InvalidPolicy(String),
    /// A request field is malformed (not a policy value).
    #[error("{0}")]
    BadParameter(String),
    /// Create or import while a pending request is `inProgress` (Key Vault: 409).
    #[error("A new key vault certificate can not be created or imported while a pending key vault certificate's status is inProgress.")]
    PendingInProgress,
    /// No pending object under this name (or `request_id` does not match it).
    #[error("Pending certificate not found: {name}")]
    PendingNotFound { name: String },
    /// Cancellation asked of a request that is no longer `inProgress` (S8: 400); also a
    /// provider's step on such a request (the worker then logs it and moves on).
    #[error("Cancellation can only be requested while the pending certificate's status is inProgress; its status is {status}.")]
    NotInProgress { status: String },
    /// Merge on an issuer-backed request while it is `inProgress` (S7: 403).
    #[error("Merge is forbidden on pending object created with issuer: {issuer} while it is in progress.")]
    MergeForbidden { issuer: String },
    /// Merge on a request that has already completed.
    #[error("The pending certificate {name} is already completed; there is nothing to merge.")]
    AlreadyCompleted { name: String },
    /// The merged chain does not belong to the pending request or is not a chain.
    #[error("{0}")]
    InvalidChain(String),
    /// No certificate (or version) under this name.
    #[error("A certificate with (name/id) {name} was not found in this key vault. If you recently deleted this certificate you may be able to recover it using the correct recovery command.")]
    CertificateNotFound { name: String },
    /// No issuer object under this name.
    #[error("Issuer not found")]
    IssuerNotFound { name: String },
    /// An issuer object names a provider this server does not have.
    #[error("Unknown issuer provider '{provider}'. Providers configured on this server: {known}.")]
    UnknownProvider { provider: String, known: String },
    /// First create without a policy.
    #[error("A policy is required to create the first version of a certificate.")]
    PolicyRequired,
    /// A provider's issuance (or ACME step) on a request that still awaits an officer's
    /// approval.
    #[error("The certificate request awaits an officer's approval; it cannot be issued yet.")]
    AwaitingApproval,
    /// Approve/reject on a request whose provider does not take approvals, or twice.
    #[error("{0}")]
    ApprovalNotApplicable(String),

    /// Create, import or restore over a name that is soft-deleted (Key Vault: 409).
    #[error("Certificate {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the certificate can only be recovered or purged.")]
    CertificateDeleted { name: String },
    /// Recover, purge or get of a deleted certificate that is not deleted.
    #[error("Deleted Certificate not found: {name}")]
    DeletedCertificateNotFound { name: String },
    /// Restore over a name that exists.
    #[error("Certificate {name} already exists in this key vault; a backup can only be restored under a name that is free.")]
    CertificateExists { name: String },
    /// The vault has no certificate contacts.
    #[error("Contacts not found")]
    ContactsNotFound,
    /// No certificate-backed secret under this name (or version).
    #[error("A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command.")]
    SecretNotFound { name: String },
    /// No certificate-backed key under this name (or version).
    #[error("A key with (name/id) {name} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command.")]
    KeyNotFound { name: String },
    /// Get of the secret of a disabled certificate version (Key Vault: 403).
    #[error("Operation get is not allowed on a disabled secret.")]
    SecretDisabled,
}
