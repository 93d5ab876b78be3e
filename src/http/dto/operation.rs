//! `CertificateOperation` (the pending object) on the wire.

use serde::Serialize;

use crate::domain::certificate::{DETAILS_ISSUER, DETAILS_MANUAL};
use crate::domain::policy::IssuerParameters;
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
        == crate::domain::policy::IssuerKind::Manual;
    match row.status.as_str() {
        "inProgress" if manual => DETAILS_MANUAL.into(),
        "inProgress" if row.approval_required && !row.approved => {
            format!("{DETAILS_ISSUER} The request is waiting for an officer's approval.")
        }
        "inProgress" => DETAILS_ISSUER.into(),
        "completed" => "The certificate request is completed.".into(),
        "cancelled" => "The certificate request was cancelled.".into(),
        _ => row.error_message.clone().unwrap_or_default(),
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
            status: row.status.clone(),
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
