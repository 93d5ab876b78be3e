//! Handlers of the certificate-backed keys: `GetKeys`, `GetKeyVersions`, `GetKey`,
//! `GetDeletedKeys`, `GetDeletedKey`.

use actix_web::{web, HttpResponse};

use super::dto::keys::{deleted_key_bundle, deleted_key_item, key_bundle, key_item};
use super::extract::{key_name, NameVersion, RequestContext};
use super::paging::{name_token, page, page_size, seq_token};
use super::AppState;
use crate::error::ApiError;
use crate::projections::certificates::ListedCertificate;
use crate::service::keys::key_not_found;

fn name_key(r: &ListedCertificate) -> String {
    r.certificate.name_key.clone()
}

/// `GetKeys`: the keys behind certificates.
pub async fn get_keys(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let size = page_size(&ctx)?;
    let rows = state
        .services
        .certificates
        .list(&ctx.vault, false, &name_token(&ctx)?, size + 1)
        .await?;
    let days = state.retention_days();
    Ok(page(&ctx, "/keys", "", size, rows, name_key, |r| {
        let v = r.version.as_ref()?;
        Some(key_item(&ctx.base_url, &r.certificate.name, v, days, false))
    }))
}

/// `GetKeyVersions` of a certificate-backed key.
pub async fn get_key_versions(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = key_name(&path)?;
    let size = page_size(&ctx)?;
    let (listed, rows) = state
        .services
        .certificates
        .versions(&ctx.vault, &name, seq_token(&ctx)?, size + 1, key_not_found)
        .await?;
    let stored = &listed.certificate.name;
    let days = state.retention_days();
    let path = format!("/keys/{stored}/versions");
    Ok(page(
        &ctx,
        &path,
        "",
        size,
        rows,
        |r| r.seq.to_string(),
        |v| Some(key_item(&ctx.base_url, stored, v, days, true)),
    ))
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
    let size = page_size(&ctx)?;
    let rows = state
        .services
        .deleted
        .list(&ctx.vault, &name_token(&ctx)?, size + 1)
        .await?;
    let days = state.retention_days();
    Ok(page(&ctx, "/deletedkeys", "", size, rows, name_key, |r| {
        deleted_key_item(&ctx.base_url, r, days)
    }))
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
