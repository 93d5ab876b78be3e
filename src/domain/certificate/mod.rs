//! The certificate aggregate: one stream per vault and certificate name.
//!
//! [`decide`] refuses a command or returns the events it causes; [`CertificateState::apply`]
//! folds events into state and never fails. Scenario numbers (S1-S11) are the pending-request
//! lifecycle's, in the table of the README's section "The pending request".

mod command;
mod decide;
mod event;
mod state;
#[cfg(test)]
mod tests;

pub use command::{
    AcmeStep, CertificateCommand, CreateRequest, ImportRequest, IssuerResolution, MergeRequest,
    RestoreRequest,
};
pub use decide::{decide, mergeable, released_keys};
pub use event::{CertificateEvent, OperationError, VersionRecord};
pub use state::{
    AcmeProgress, CertificateState, DeletedInfo, OperationStatus, PendingOperation, VersionInfo,
};

/// Error code for a failure on the issuer's side (Key Vault, scenario S4).
pub const CODE_ISSUER_ERROR: &str = "CertificateIssuerError";
/// Error code for a failure on the requester's side (Key Vault, scenario S4).
pub const CODE_REQUEST_REJECTED: &str = "RequestRejected";

/// `status_details` of a manual (issuer `Unknown`) request (scenario S10).
pub const DETAILS_MANUAL: &str =
    "Pending certificate created. Please Perform Merge to complete the request.";
/// `status_details` of a request sent to an issuer (scenario S1).
pub const DETAILS_ISSUER: &str = "Pending certificate created. Certificate request is in progress. This may take some time based on the issuer provider. Please check again later.";

/// The error a rejected request shows (scenario S4: a user-side refusal).
pub fn rejection_error(officer: &str, reason: &str) -> OperationError {
    OperationError {
        code: CODE_REQUEST_REJECTED.into(),
        message: format!("The request was rejected by {officer}: {reason}"),
    }
}
