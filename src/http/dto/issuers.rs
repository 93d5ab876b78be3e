//! `IssuerBundle` on the wire. The credentials' password is never returned.

use serde::Deserialize;

use crate::domain::issuer::IssuerChanges;
use crate::projections::issuers::IssuerRow;

#[derive(Debug, Default, Deserialize)]
pub struct CredentialsRequest {
    pub account_id: Option<String>,
    pub pwd: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct IssuerAttributesRequest {
    pub enabled: Option<bool>,
}

/// `CertificateIssuerSetParameters` / `CertificateIssuerUpdateParameters`.
#[derive(Debug, Default, Deserialize)]
pub struct IssuerSetRequest {
    pub provider: Option<String>,
    pub credentials: Option<CredentialsRequest>,
    pub org_details: Option<serde_json::Value>,
    pub attributes: Option<IssuerAttributesRequest>,
}

impl IssuerSetRequest {
    /// The changes this body asks for.
    pub fn into_changes(self) -> IssuerChanges {
        IssuerChanges {
            provider: self.provider,
            account_id: self.credentials.as_ref().map(|c| c.account_id.clone()),
            password_given: self
                .credentials
                .as_ref()
                .map(|c| c.pwd.as_deref().is_some_and(|p| !p.is_empty())),
            org_details: self.org_details.map(Some),
            enabled: self.attributes.and_then(|a| a.enabled),
        }
    }
}

/// A full issuer bundle.
pub fn bundle(base_url: &str, row: &IssuerRow) -> serde_json::Value {
    let mut out = serde_json::json!({
        "id": format!("{base_url}/certificates/issuers/{}", row.name),
        "provider": row.provider,
        "attributes": { "enabled": row.enabled, "created": row.created, "updated": row.updated },
    });
    if let Some(a) = &row.account_id {
        out["credentials"] = serde_json::json!({ "account_id": a });
    }
    if let Some(o) = &row.org_details {
        out["org_details"] = o.0.clone();
    }
    out
}

/// A list item (`CertificateIssuerItem`).
pub fn item(base_url: &str, row: &IssuerRow) -> serde_json::Value {
    serde_json::json!({
        "id": format!("{base_url}/certificates/issuers/{}", row.name),
        "provider": row.provider,
    })
}
