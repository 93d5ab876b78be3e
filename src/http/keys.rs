//! Handlers of the certificate-backed keys: `GetKeys`, `GetKeyVersions`, `GetKey`,
//! `GetDeletedKeys`, `GetDeletedKey`.

use actix_web::{web, HttpResponse};

use super::dto::keys::{deleted_key_bundle, deleted_key_item, key_bundle, key_item};
use super::extract::{key_name, NameVersion, RequestContext};
use super::paging::{certificates_page, versions_page, Listing};
use super::AppState;
use crate::error::ApiError;
use crate::service::keys::key_not_found;

/// `GetKeys`: the keys behind certificates.
pub async fn get_keys(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    certificates_page(&state, &ctx, "/keys", Listing::Live, |r, days| {
        let v = r.version.as_ref()?;
        Some(key_item(&ctx.base_url, &r.certificate.name, v, days, false))
    })
    .await
}

/// `GetKeyVersions` of a certificate-backed key.
pub async fn get_key_versions(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = key_name(&path)?;
    versions_page(&state, &ctx, "/keys", &name, key_not_found, |c, v, days| {
        Some(key_item(&ctx.base_url, &c.certificate.name, v, days, true))
    })
    .await
}

/// `GetKey` of the current version or of one version.
pub async fn get_key(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<NameVersion>,
) -> Result<HttpResponse, ApiError> {
    let name = key_name(&path.name)?;
    let found = state
        .services
        .keys
        .get(&ctx.vault, &name, path.version.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(key_bundle(&ctx.base_url, &found, state.retention_days())))
}

/// `GetDeletedKeys`: the keys of soft-deleted certificates.
pub async fn get_deleted_keys(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    certificates_page(&state, &ctx, "/deletedkeys", Listing::Deleted, |r, days| {
        deleted_key_item(&ctx.base_url, r, days)
    })
    .await
}

/// `GetDeletedKey` of a soft-deleted certificate: its public key.
pub async fn get_deleted_key(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = key_name(&path)?;
    let (listed, key) = state.services.keys.get_deleted(&ctx.vault, &name).await?;
    Ok(HttpResponse::Ok().json(deleted_key_bundle(
        &ctx.base_url,
        &listed,
        &key,
        state.retention_days(),
    )))
}
