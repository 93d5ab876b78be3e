//! Wire shapes of the rest of the surface: certificate items (lists), deleted certificates,
//! contacts, and the managed secret and key of a certificate.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use super::certificate::bundle;
use super::policy::PolicyRequest;
use crate::domain::contacts::Contact;
use crate::projections::certificate_lifecycle::ListedCertificate;
use crate::projections::certificate_versions::VersionRow;
use crate::service::certificates::CertificateView;
use crate::service::keyvault::{KeyView, SecretView};

/// Key Vault's recovery level for a retention of `days` (purge protection is off here).
pub fn recovery_level(days: i64) -> &'static str {
    if days >= 90 {
        "Recoverable+Purgeable"
    } else {
        "CustomizedRecoverable+Purgeable"
    }
}

/// `attributes` with `enabled`, `nbf`, `exp`, `created`, `updated`, recovery fields.
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

fn tags(v: &VersionRow) -> Value {
    serde_json::from_str::<BTreeMap<String, String>>(&v.tags)
        .map(|t| json!(t))
        .unwrap_or_else(|_| json!({}))
}

/// A `CertificateBundle` with the configured recovery fields.
pub fn certificate_bundle(base_url: &str, view: &CertificateView, days: i64) -> Value {
    let mut out = bundle(base_url, view);
    out["attributes"]["recoveryLevel"] = recovery_level(days).into();
    out["attributes"]["recoverableDays"] = days.into();
    out
}

/// A `CertificateItem` (`id` without version).
pub fn certificate_item(base_url: &str, c: &ListedCertificate, days: i64) -> Value {
    let name = &c.certificate.name;
    let mut out = json!({ "id": format!("{base_url}/certificates/{name}") });
    if let Some(v) = &c.version {
        out["x5t"] = v.x5t.clone().into();
        out["attributes"] = attributes(v, days);
        out["tags"] = tags(v);
    }
    out
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

fn deleted_fields(out: &mut Value, base_url: &str, c: &ListedCertificate) {
    let name = &c.certificate.name;
    out["recoveryId"] = format!("{base_url}/deletedcertificates/{name}").into();
    if let Some(d) = c.deleted.deleted_date {
        out["deletedDate"] = d.into();
    }
    if let Some(d) = c.deleted.scheduled_purge_date {
        out["scheduledPurgeDate"] = d.into();
    }
}

fn days_of(c: &ListedCertificate, default: i64) -> i64 {
    c.deleted.recoverable_days.unwrap_or(default)
}

/// A `DeletedCertificateItem`.
pub fn deleted_item(base_url: &str, c: &ListedCertificate, default_days: i64) -> Value {
    let mut out = certificate_item(base_url, c, days_of(c, default_days));
    deleted_fields(&mut out, base_url, c);
    out
}

/// A `DeletedCertificateBundle`.
pub fn deleted_bundle(base_url: &str, c: &ListedCertificate, default_days: i64) -> Value {
    let days = days_of(c, default_days);
    let mut out = match &c.version {
        Some(v) => certificate_bundle(
            base_url,
            &CertificateView {
                certificate: c.certificate.clone(),
                version: v.clone(),
                pending: None,
            },
            days,
        ),
        None => json!({ "id": format!("{base_url}/certificates/{}", c.certificate.name) }),
    };
    deleted_fields(&mut out, base_url, c);
    out
}

/// `Contacts`.
pub fn contacts(base_url: &str, list: &[Contact]) -> Value {
    json!({
        "id": format!("{base_url}/certificates/contacts"),
        "contacts": list,
    })
}

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
    let id = if with_version {
        format!("{base_url}/secrets/{name}/{}", v.version)
    } else {
        format!("{base_url}/secrets/{name}")
    };
    json!({
        "id": id,
        "contentType": content_type,
        "managed": true,
        "attributes": attributes(v, days),
        "tags": tags(v),
    })
}

/// A `KeyBundle` of a certificate's managed key (public part only).
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

/// A `KeyItem`.
pub fn key_item(
    base_url: &str,
    name: &str,
    v: &VersionRow,
    days: i64,
    with_version: bool,
) -> Value {
    let kid = if with_version {
        format!("{base_url}/keys/{name}/{}", v.version)
    } else {
        format!("{base_url}/keys/{name}")
    };
    json!({
        "kid": kid,
        "managed": true,
        "attributes": attributes(v, days),
        "tags": tags(v),
    })
}

fn deleted_dates(out: &mut Value, c: &ListedCertificate) {
    if let Some(d) = c.deleted.deleted_date {
        out["deletedDate"] = d.into();
    }
    if let Some(d) = c.deleted.scheduled_purge_date {
        out["scheduledPurgeDate"] = d.into();
    }
}

/// A `DeletedSecretItem`/`DeletedSecretBundle` (no value) of a deleted certificate with a
/// version.
pub fn deleted_secret(
    base_url: &str,
    c: &ListedCertificate,
    content_type: &str,
    default_days: i64,
) -> Option<Value> {
    let v = c.version.as_ref()?;
    let name = &c.certificate.name;
    let days = days_of(c, default_days);
    let mut out = secret_item(base_url, name, v, content_type, days, true);
    out["kid"] = format!("{base_url}/keys/{name}/{}", v.version).into();
    out["recoveryId"] = format!("{base_url}/deletedsecrets/{name}").into();
    deleted_dates(&mut out, c);
    Some(out)
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

/// Adds `recoveryId`, `deletedDate` and `scheduledPurgeDate` of a deleted key.
pub fn deleted_key_fields(out: &mut Value, base_url: &str, c: &ListedCertificate) {
    out["recoveryId"] = format!("{base_url}/deletedkeys/{}", c.certificate.name).into();
    deleted_dates(out, c);
}

/// `CertificateAttributes` as sent (times are read from the certificate and ignored).
#[derive(Debug, Default, Deserialize)]
pub struct AttributesRequest {
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

/// `CertificateUpdateParameters`.
#[derive(Debug, Default, Deserialize)]
pub struct CertificateUpdateRequest {
    pub attributes: Option<AttributesRequest>,
    pub tags: Option<BTreeMap<String, String>>,
    pub policy: Option<PolicyRequest>,
}

/// `CertificateImportParameters`.
#[derive(Debug, Deserialize)]
pub struct CertificateImportRequest {
    pub value: String,
    pub pwd: Option<String>,
    pub policy: Option<PolicyRequest>,
    pub attributes: Option<AttributesRequest>,
    pub tags: Option<BTreeMap<String, String>>,
    #[serde(rename = "preserveCertOrder")]
    pub preserve_cert_order: Option<bool>,
}

/// `CertificateRestoreParameters`.
#[derive(Debug, Deserialize)]
pub struct CertificateRestoreRequest {
    pub value: String,
}

/// `Contacts` as sent.
#[derive(Debug, Deserialize)]
pub struct ContactsRequest {
    pub contacts: Vec<Contact>,
}
