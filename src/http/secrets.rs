//! Handlers of the certificate-backed secrets: `GetSecrets`, `GetSecretVersions`,
//! `GetSecret`, `GetDeletedSecrets`, `GetDeletedSecret`.

use actix_web::HttpResponse;

use super::dto::secrets::{deleted_secret, secret_bundle, secret_item};
use super::extract::{Call, SecretName, Version};
use super::paging::{certificates_page, versions_page, Listing};
use super::Reply;
use crate::service::secrets::secret_not_found;

/// `GetSecrets`: the secrets behind certificates.
pub async fn get_secrets(call: Call) -> Reply {
    certificates_page(&call, "/secrets", Listing::Live, |r, days| {
        let ct = r.policy().content_type.as_str();
        let v = r.version.as_ref()?;
        let name = &r.certificate.name;
        Some(secret_item(call.base_url(), name, v, ct, days, false))
    })
    .await
}

/// `GetSecretVersions` of a certificate-backed secret.
pub async fn get_secret_versions(call: Call, SecretName(name): SecretName) -> Reply {
    versions_page(&call, "/secrets", &name, secret_not_found, |c, v, days| {
        let ct = c.policy().content_type.as_str();
        let name = &c.certificate.name;
        Some(secret_item(call.base_url(), name, v, ct, days, true))
    })
    .await
}

/// `GetSecret` of the current version or of one version.
pub async fn get_secret(
    call: Call,
    SecretName(name): SecretName,
    Version(version): Version,
) -> Reply {
    let secrets = &call.services().secrets;
    let found = secrets.get(call.vault(), &name, version.as_deref()).await?;
    let body = secret_bundle(call.base_url(), &found, call.retention_days());
    Ok(HttpResponse::Ok().json(body))
}

/// `GetDeletedSecrets`: the secrets of soft-deleted certificates.
pub async fn get_deleted_secrets(call: Call) -> Reply {
    certificates_page(&call, "/deletedsecrets", Listing::Deleted, |r, days| {
        deleted_secret(call.base_url(), r, days)
    })
    .await
}

/// `GetDeletedSecret` of a soft-deleted certificate (no value: it is deleted).
pub async fn get_deleted_secret(call: Call, SecretName(name): SecretName) -> Reply {
    let deleted = call
        .services()
        .secrets
        .get_deleted(call.vault(), &name)
        .await?;
    deleted_secret(call.base_url(), &deleted, call.retention_days())
        .map(|b| HttpResponse::Ok().json(b))
        .ok_or_else(|| secret_not_found(name.as_str(), None).into())
}
