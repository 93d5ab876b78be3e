//! `CertificateBundle` and `CertificateItem` on the wire, and the requests that make and
//! change certificates.

use serde::Deserialize;
use serde_json::{json, Value};

use super::policy::{policy_response, PolicyRequest};
use super::{attributes, recovery_level, tags, AttributesRequest, TagsRequest};
use crate::projections::certificate_versions::VersionRow;
use crate::projections::certificates::{CertificateRow, ListedCertificate};
use crate::service::certificates::{CertificateView, CreateInput};

/// `CertificateCreateParameters`.
#[derive(Debug, Default, Deserialize)]
pub struct CreateCertificateRequest {
    pub policy: Option<PolicyRequest>,
    pub attributes: Option<AttributesRequest>,
    pub tags: Option<TagsRequest>,
    #[serde(rename = "preserveCertOrder")]
    pub preserve_cert_order: Option<bool>,
}

/// `CertificateUpdateParameters`.
#[derive(Debug, Default, Deserialize)]
pub struct CertificateUpdateRequest {
    pub attributes: Option<AttributesRequest>,
    pub tags: Option<TagsRequest>,
    pub policy: Option<PolicyRequest>,
}

impl From<CreateCertificateRequest> for CreateInput {
    fn from(body: CreateCertificateRequest) -> Self {
        CreateInput {
            policy: body.policy.map(Into::into),
            enabled: body.attributes.and_then(|a| a.enabled),
            tags: body.tags,
            preserve_cert_order: body.preserve_cert_order,
        }
    }
}

/// `CertificateImportParameters`: `value` and `pwd` beside what a create sends.
#[derive(Debug, Default, Deserialize)]
pub struct CertificateImportRequest {
    pub value: String,
    pub pwd: Option<String>,
    #[serde(flatten)]
    pub fields: CreateCertificateRequest,
}

/// `CertificateMergeParameters`.
#[derive(Debug, Default, Deserialize)]
pub struct MergeRequest {
    pub x5c: Option<Vec<String>>,
    pub attributes: Option<AttributesRequest>,
    pub tags: Option<TagsRequest>,
}

/// `CertificateRestoreParameters`.
#[derive(Debug, Default, Deserialize)]
pub struct CertificateRestoreRequest {
    pub value: String,
}

/// A `CertificateBundle` for a client that called `base_url`; `days` is the retention
/// shown in its recovery attributes.
pub fn certificate_bundle(base_url: &str, view: &CertificateView, days: i64) -> Value {
    let c = &view.certificate;
    let name = &c.name;
    let policy = &c.policy.0;
    let mut out = match &view.version {
        Some(v) => json!({
            "id": format!("{base_url}/certificates/{name}/{}", v.version),
            "kid": format!("{base_url}/keys/{name}/{}", v.version),
            "sid": format!("{base_url}/secrets/{name}/{}", v.version),
            "x5t": v.x5t,
            "cer": v.cer,
            "attributes": attributes(v, days),
            "tags": tags(v),
        }),
        // No version yet: the policy and the pending object only.
        None => json!({
            "id": format!("{base_url}/certificates/{name}"),
            "attributes": versionless_attributes(c, days),
            "tags": {},
        }),
    };
    out["contentType"] = policy.content_type.as_str().into();
    out["policy"] = policy_response(base_url, name, policy, c.policy_created, c.policy_updated);
    if let Some(p) = c.preserve_cert_order {
        out["preserveCertOrder"] = p.into();
    }
    if view.pending {
        out["pending"] = json!({ "id": format!("{base_url}/certificates/{name}/pending") });
    }
    out
}

/// A `CertificateItem` (`id` without version).
pub fn certificate_item(base_url: &str, c: &ListedCertificate, days: i64) -> Value {
    let name = &c.certificate.name;
    let mut out = json!({ "id": format!("{base_url}/certificates/{name}") });
    match &c.version {
        Some(v) => {
            out["x5t"] = v.x5t.clone().into();
            out["attributes"] = attributes(v, days);
            out["tags"] = tags(v);
        }
        // Listed with `includePending`: shown as GetCertificate shows it.
        None => {
            out["attributes"] = versionless_attributes(&c.certificate, days);
            out["tags"] = json!({});
        }
    }
    out
}

/// The attributes of a certificate without a version yet (its first is pending, or its
/// first request was deleted): disabled, dated by its policy.
fn versionless_attributes(c: &CertificateRow, days: i64) -> Value {
    json!({
        "enabled": false,
        "created": c.policy_created,
        "updated": c.policy_updated,
        "recoveryLevel": recovery_level(days),
        "recoverableDays": days,
    })
}

/// A `CertificateItem` of one version (`id` with version).
pub fn version_item(base_url: &str, name: &str, v: &VersionRow, days: i64) -> Value {
    json!({
        "id": format!("{base_url}/certificates/{name}/{}", v.version),
        "x5t": v.x5t,
        "attributes": attributes(v, days),
        "tags": tags(v),
    })
}
