//! `DeletedCertificateBundle` and `DeletedCertificateItem` on the wire.

use serde_json::{json, Value};

use super::certificates::{certificate_bundle, certificate_item};
use crate::projections::certificates::ListedCertificate;
use crate::service::certificates::CertificateView;

/// The retention of a deleted certificate (as recorded when it was deleted).
pub fn days_of(c: &ListedCertificate, default: i64) -> i64 {
    c.certificate.recoverable_days.unwrap_or(default)
}

/// `deletedDate` and `scheduledPurgeDate`.
pub fn deleted_dates(out: &mut Value, c: &ListedCertificate) {
    if let Some(d) = c.certificate.deleted_date {
        out["deletedDate"] = d.into();
    }
    if let Some(d) = c.certificate.scheduled_purge_date {
        out["scheduledPurgeDate"] = d.into();
    }
}

fn deleted_fields(out: &mut Value, base_url: &str, c: &ListedCertificate) {
    out["recoveryId"] = format!("{base_url}/deletedcertificates/{}", c.certificate.name).into();
    deleted_dates(out, c);
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
                version: Some(v.clone()),
                pending: false,
            },
            days,
        ),
        None => json!({ "id": format!("{base_url}/certificates/{}", c.certificate.name) }),
    };
    deleted_fields(&mut out, base_url, c);
    out
}
