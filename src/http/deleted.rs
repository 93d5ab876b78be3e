//! Handlers of deleted certificates: `GetDeletedCertificates`, `GetDeletedCertificate`,
//! `RecoverDeletedCertificate`, `PurgeDeletedCertificate`.

use actix_web::{web, HttpResponse};

use super::dto::deleted::{deleted_bundle, deleted_item};
use super::extract::{certificate_name, RequestContext};
use super::paging::{certificates_page, Listing};
use super::AppState;
use crate::error::ApiError;

/// `GetDeletedCertificates`.
pub async fn get_deleted_certificates(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let listing = Listing::DeletedCertificates;
    certificates_page(&state, &ctx, "/deletedcertificates", listing, |r, days| {
        Some(deleted_item(&ctx.base_url, r, days))
    })
    .await
}

/// `GetDeletedCertificate`.
pub async fn get_deleted_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let deleted = state.services.deleted.get(&ctx.vault, &name).await?;
    Ok(HttpResponse::Ok().json(deleted_bundle(
        &ctx.base_url,
        &deleted,
        state.retention_days(),
    )))
}

/// `PurgeDeletedCertificate`: 204.
pub async fn purge_deleted_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    state
        .services
        .deleted
        .purge(&ctx.caller(), &name, None)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `RecoverDeletedCertificate`: 200 with the certificate.
pub async fn recover_deleted_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let view = state.services.deleted.recover(&ctx.caller(), &name).await?;
    Ok(state.bundle(&ctx, &view))
}
