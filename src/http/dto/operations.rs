//! `CertificateOperation` (the pending object) on the wire, and the requests on it.

use serde::{Deserialize, Serialize};

use crate::domain::certificate::{OperationStatus, DETAILS_ISSUER, DETAILS_MANUAL};
use crate::domain::policy::{IssuerKind, IssuerParameters};
use crate::projections::pending_operations::PendingRow;

#[derive(Debug, Serialize)]
pub struct IssuerResponse {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cty: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_transparency: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct ErrorResponse {
    pub code: String,
    pub message: String,
}

/// Key Vault `CertificateOperation`.
#[derive(Debug, Serialize)]
pub struct CertificateOperationResponse {
    pub id: String,
    pub issuer: IssuerResponse,
    pub csr: String,
    pub cancellation_requested: bool,
    pub status: String,
    pub status_details: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorResponse>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub request_id: String,
}

fn status_details(row: &PendingRow) -> String {
    let manual = IssuerParameters {
        name: row.issuer_name.clone(),
        cty: None,
        cert_transparency: None,
    }
    .kind()
        == IssuerKind::Manual;
    match row.status {
        OperationStatus::InProgress if manual => DETAILS_MANUAL.into(),
        OperationStatus::InProgress if row.approval_required && !row.approved => {
            format!("{DETAILS_ISSUER} The request is waiting for an officer's approval.")
        }
        OperationStatus::InProgress => DETAILS_ISSUER.into(),
        OperationStatus::Completed => "The certificate request is completed.".into(),
        OperationStatus::Cancelled => "The certificate request was cancelled.".into(),
        OperationStatus::Failed => row.error_message.clone().unwrap_or_default(),
    }
}

impl CertificateOperationResponse {
    /// Renders a pending row for a client that called `base_url`.
    pub fn from_row(base_url: &str, row: &PendingRow) -> Self {
        CertificateOperationResponse {
            id: format!("{base_url}/certificates/{}/pending", row.name),
            issuer: IssuerResponse {
                name: row.issuer_name.clone(),
                cty: row.issuer_cty.clone(),
                cert_transparency: row.issuer_ct,
            },
            csr: row.csr.clone(),
            cancellation_requested: row.cancellation_requested,
            status: row.status.as_str().to_owned(),
            status_details: status_details(row),
            error: match (&row.error_code, &row.error_message) {
                (Some(code), Some(message)) => Some(ErrorResponse {
                    code: code.clone(),
                    message: message.clone(),
                }),
                _ => None,
            },
            target: row
                .target_version
                .as_ref()
                .map(|_| format!("{base_url}/certificates/{}", row.name)),
            request_id: row.request_id.clone(),
        }
    }
}

/// `CertificateOperationUpdateParameter`.
#[derive(Debug, Default, Deserialize)]
pub struct UpdateOperationRequest {
    pub cancellation_requested: Option<bool>,
}

/// The officer's rejection (certbroker).
#[derive(Debug, Default, Deserialize)]
pub struct RejectRequest {
    pub reason: Option<String>,
}
