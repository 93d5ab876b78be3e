//! `CertificateBundle` on the wire.

use std::collections::BTreeMap;

use crate::domain::policy::Policy;
use crate::projections::certificate_versions::VersionRow;
use crate::service::certificates::CertificateView;

/// Key Vault's recovery level and retention days shown in attributes.
pub const RECOVERY_LEVEL: &str = "Recoverable+Purgeable";
/// Soft-delete retention in days.
pub const RECOVERABLE_DAYS: i64 = 90;

fn attributes(v: &VersionRow) -> serde_json::Value {
    serde_json::json!({
        "enabled": v.enabled,
        "nbf": v.nbf,
        "exp": v.exp,
        "created": v.created,
        "updated": v.updated,
        "recoveryLevel": RECOVERY_LEVEL,
        "recoverableDays": RECOVERABLE_DAYS,
    })
}

fn tags(v: &VersionRow) -> serde_json::Value {
    serde_json::from_str::<BTreeMap<String, String>>(&v.tags)
        .map(|t| serde_json::json!(t))
        .unwrap_or_else(|_| serde_json::json!({}))
}

/// A full `CertificateBundle` for a client that called `base_url`.
pub fn bundle(base_url: &str, view: &CertificateView) -> serde_json::Value {
    let c = &view.certificate;
    let v = &view.version;
    let name = &c.name;
    let policy: Option<Policy> = serde_json::from_str(&c.policy).ok();
    let mut out = serde_json::json!({
        "id": format!("{base_url}/certificates/{name}/{}", v.version),
        "kid": format!("{base_url}/keys/{name}/{}", v.version),
        "sid": format!("{base_url}/secrets/{name}/{}", v.version),
        "x5t": v.x5t,
        "cer": v.cer,
        "attributes": attributes(v),
        "tags": tags(v),
    });
    if let Some(p) = &policy {
        out["contentType"] = p.content_type.as_str().into();
        out["policy"] =
            super::policy::policy_response(base_url, name, p, c.policy_created, c.policy_updated);
    }
    if view.pending.is_some() {
        out["pending"] =
            serde_json::json!({ "id": format!("{base_url}/certificates/{name}/pending") });
    }
    out
}
