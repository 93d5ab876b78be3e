//! Handlers of deleted certificates: `GetDeletedCertificates`, `GetDeletedCertificate`,
//! `RecoverDeletedCertificate`, `PurgeDeletedCertificate`.

use actix_web::HttpResponse;

use super::dto::deleted::{deleted_bundle, deleted_item};
use super::extract::{Call, CertificateName};
use super::paging::{certificates_page, Listing};
use super::Reply;

/// `GetDeletedCertificates`.
pub async fn get_deleted_certificates(call: Call) -> Reply {
    let listing = Listing::DeletedCertificates;
    certificates_page(&call, "/deletedcertificates", listing, |r, days| {
        Some(deleted_item(call.base_url(), r, days))
    })
    .await
}

/// `GetDeletedCertificate`.
pub async fn get_deleted_certificate(call: Call, CertificateName(name): CertificateName) -> Reply {
    let deleted = call.services().deleted.get(call.vault(), &name).await?;
    let body = deleted_bundle(call.base_url(), &deleted, call.retention_days());
    Ok(HttpResponse::Ok().json(body))
}

/// `PurgeDeletedCertificate`: 204.
pub async fn purge_deleted_certificate(
    call: Call,
    CertificateName(name): CertificateName,
) -> Reply {
    let deleted = &call.services().deleted;
    deleted.purge(call.caller(), &name, None).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `RecoverDeletedCertificate`: 200 with the certificate.
pub async fn recover_deleted_certificate(
    call: Call,
    CertificateName(name): CertificateName,
) -> Reply {
    let view = call
        .services()
        .deleted
        .recover(call.caller(), &name)
        .await?;
    Ok(call.bundle(&view))
}
