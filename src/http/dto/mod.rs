//! Wire types: Key Vault's JSON field names and casing, rendered from view rows. Request
//! types end in `Request`; responses are built by one function per Key Vault type, named
//! after it. One module per resource, as in `service/` and `http/`.

pub mod certificates;
pub mod contacts;
pub mod deleted;
pub mod issuers;
pub mod keys;
pub mod operations;
pub mod policy;
pub mod secrets;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::projections::certificate_versions::VersionRow;

/// `{"value": [...], "nextLink": ...}`.
#[derive(Debug, Serialize)]
pub struct ListResponse<T: Serialize> {
    pub value: Vec<T>,
    #[serde(rename = "nextLink")]
    pub next_link: Option<String>,
}

/// `attributes.enabled` as sent (Key Vault `CertificateAttributes`; the times in it are
/// read from the certificate and ignored when sent).
#[derive(Debug, Default, Deserialize)]
pub struct AttributesRequest {
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

/// Key Vault's recovery level for a retention of `days` (purge protection is off here).
pub fn recovery_level(days: i64) -> &'static str {
    if days >= 90 {
        "Recoverable+Purgeable"
    } else {
        "CustomizedRecoverable+Purgeable"
    }
}

/// `attributes` of a version: `enabled`, `nbf`, `exp`, `created`, `updated`, recovery.
pub fn attributes(v: &VersionRow, days: i64) -> Value {
    json!({
        "enabled": v.enabled,
        "nbf": v.nbf,
        "exp": v.exp,
        "created": v.created,
        "updated": v.updated,
        "recoveryLevel": recovery_level(days),
        "recoverableDays": days,
    })
}

/// `{base_url}/{collection}/{name}`, then `/{version}` when `version` is given.
pub fn object_id(base_url: &str, collection: &str, name: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("{base_url}/{collection}/{name}/{v}"),
        None => format!("{base_url}/{collection}/{name}"),
    }
}

/// A version's tags.
pub fn tags(v: &VersionRow) -> Value {
    json!(&v.tags.0)
}

/// Tags as sent.
pub type TagsRequest = BTreeMap<String, String>;
