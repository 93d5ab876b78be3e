//! `SecretBundle`, `SecretItem` and `DeletedSecretBundle` of a certificate's managed secret.

use serde_json::{json, Value};

use super::deleted::{days_of, deleted_dates};
use super::{attributes, object_id, tags};
use crate::projections::certificate_versions::VersionRow;
use crate::projections::certificates::ListedCertificate;
use crate::service::secrets::SecretView;

/// A `SecretBundle` of a certificate's managed secret.
pub fn secret_bundle(base_url: &str, s: &SecretView, days: i64) -> Value {
    let v = &s.version;
    json!({
        "value": s.value,
        "contentType": s.content_type.as_str(),
        "id": format!("{base_url}/secrets/{}/{}", s.name, v.version),
        "kid": format!("{base_url}/keys/{}/{}", s.name, v.version),
        "managed": true,
        "attributes": attributes(v, days),
        "tags": tags(v),
    })
}

/// A `SecretItem` (`with_version`: the id carries the version).
pub fn secret_item(
    base_url: &str,
    name: &str,
    v: &VersionRow,
    content_type: &str,
    days: i64,
    with_version: bool,
) -> Value {
    let version = with_version.then_some(v.version.as_str());
    let id = object_id(base_url, "secrets", name, version);
    json!({
        "id": id,
        "contentType": content_type,
        "managed": true,
        "attributes": attributes(v, days),
        "tags": tags(v),
    })
}

/// A `DeletedSecretItem`/`DeletedSecretBundle` (no value) of a deleted certificate with a
/// version.
pub fn deleted_secret(base_url: &str, c: &ListedCertificate, default_days: i64) -> Option<Value> {
    let v = c.version.as_ref()?;
    let name = &c.certificate.name;
    let content_type = c.policy().content_type.as_str();
    let mut out = secret_item(
        base_url,
        name,
        v,
        content_type,
        days_of(c, default_days),
        true,
    );
    out["kid"] = format!("{base_url}/keys/{name}/{}", v.version).into();
    out["recoveryId"] = format!("{base_url}/deletedsecrets/{name}").into();
    deleted_dates(&mut out, c);
    Some(out)
}
