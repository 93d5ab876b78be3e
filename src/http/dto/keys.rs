//! `KeyBundle`, `KeyItem` and `DeletedKeyBundle` of a certificate's managed key (its
//! public part only).

use serde_json::{json, Value};

use super::deleted::{days_of, deleted_dates};
use super::{attributes, object_id, tags};
use crate::projections::certificate_versions::VersionRow;
use crate::projections::certificates::ListedCertificate;
use crate::service::keys::KeyView;

/// A `KeyBundle` of a certificate's managed key.
pub fn key_bundle(base_url: &str, k: &KeyView, days: i64) -> Value {
    let v = &k.version;
    let mut key = k.jwk.clone();
    key["kid"] = format!("{base_url}/keys/{}/{}", k.name, v.version).into();
    key["key_ops"] = json!(k.key_ops);
    json!({
        "key": key,
        "managed": true,
        "attributes": attributes(v, days),
        "tags": tags(v),
    })
}

/// A `KeyItem` (`with_version`: the kid carries the version).
pub fn key_item(
    base_url: &str,
    name: &str,
    v: &VersionRow,
    days: i64,
    with_version: bool,
) -> Value {
    let version = with_version.then_some(v.version.as_str());
    let kid = object_id(base_url, "keys", name, version);
    json!({
        "kid": kid,
        "managed": true,
        "attributes": attributes(v, days),
        "tags": tags(v),
    })
}

/// `recoveryId`, `deletedDate` and `scheduledPurgeDate` of a deleted key.
pub fn deleted_key_fields(out: &mut Value, base_url: &str, c: &ListedCertificate) {
    out["recoveryId"] = format!("{base_url}/deletedkeys/{}", c.certificate.name).into();
    deleted_dates(out, c);
}

/// A `DeletedKeyItem` of a deleted certificate with a version.
pub fn deleted_key_item(base_url: &str, c: &ListedCertificate, default_days: i64) -> Option<Value> {
    let v = c.version.as_ref()?;
    let mut out = key_item(
        base_url,
        &c.certificate.name,
        v,
        days_of(c, default_days),
        true,
    );
    deleted_key_fields(&mut out, base_url, c);
    Some(out)
}

/// A `DeletedKeyBundle`.
pub fn deleted_key_bundle(
    base_url: &str,
    c: &ListedCertificate,
    k: &KeyView,
    default_days: i64,
) -> Value {
    let mut out = key_bundle(base_url, k, days_of(c, default_days));
    deleted_key_fields(&mut out, base_url, c);
    out
}
