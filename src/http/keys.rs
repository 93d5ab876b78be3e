//! Handlers of the certificate-backed keys: `GetKeys`, `GetKeyVersions`, `GetKey`,
//! `GetDeletedKeys`, `GetDeletedKey`.

use actix_web::HttpResponse;

use super::dto::keys::{deleted_key_bundle, deleted_key_item, key_bundle, key_item};
use super::extract::{Call, KeyName, Version};
use super::paging::{certificates_page, versions_page, Listing};
use super::Reply;
use crate::service::keys::key_not_found;

/// `GetKeys`: the keys behind certificates.
pub async fn get_keys(call: Call) -> Reply {
    certificates_page(&call, "/keys", Listing::Live, |r, days| {
        let v = r.version.as_ref()?;
        Some(key_item(
            call.base_url(),
            &r.certificate.name,
            v,
            days,
            false,
        ))
    })
    .await
}

/// `GetKeyVersions` of a certificate-backed key.
pub async fn get_key_versions(call: Call, KeyName(name): KeyName) -> Reply {
    versions_page(&call, "/keys", &name, key_not_found, |c, v, days| {
        Some(key_item(
            call.base_url(),
            &c.certificate.name,
            v,
            days,
            true,
        ))
    })
    .await
}

/// `GetKey` of the current version or of one version.
pub async fn get_key(call: Call, KeyName(name): KeyName, Version(version): Version) -> Reply {
    let keys = &call.services().keys;
    let found = keys.get(call.vault(), &name, version.as_deref()).await?;
    let body = key_bundle(call.base_url(), &found, call.retention_days());
    Ok(HttpResponse::Ok().json(body))
}

/// `GetDeletedKeys`: the keys of soft-deleted certificates.
pub async fn get_deleted_keys(call: Call) -> Reply {
    certificates_page(&call, "/deletedkeys", Listing::Deleted, |r, days| {
        deleted_key_item(call.base_url(), r, days)
    })
    .await
}

/// `GetDeletedKey` of a soft-deleted certificate: its public key.
pub async fn get_deleted_key(call: Call, KeyName(name): KeyName) -> Reply {
    let (listed, key) = call
        .services()
        .keys
        .get_deleted(call.vault(), &name)
        .await?;
    let body = deleted_key_bundle(call.base_url(), &listed, &key, call.retention_days());
    Ok(HttpResponse::Ok().json(body))
}
