//! Handlers of the certificate-backed keys: `GetKeys`, `GetKeyVersions`, `GetKey`,
//! `GetDeletedKeys`, `GetDeletedKey`.

use actix_web::{web, HttpResponse};

use super::dto::keys::{deleted_key_bundle, deleted_key_item, key_bundle, key_item};
use super::dto::ListResponse;
use super::extract::{key_name, RequestContext};
use super::paging::{cut, name_token, next_link, page_size, seq_token};
use super::AppState;
use crate::error::ApiError;

/// `GetKeys`: the keys behind certificates.
pub async fn get_keys(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let size = page_size(&ctx)?;
    let rows = state
        .services
        .keys
        .list(&ctx.vault, &name_token(&ctx)?, size + 1)
        .await?;
    let (rows, token) = cut(rows, size, |r| r.certificate.name_key.clone());
    let days = state.retention_days();
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows
            .iter()
            .filter_map(|r| {
                r.version
                    .as_ref()
                    .map(|v| key_item(&ctx.base_url, &r.certificate.name, v, days, false))
            })
            .collect(),
        next_link: token.map(|t| next_link(&ctx, "/keys", &t, size, "")),
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
        .keys
        .versions(&ctx.vault, &name, seq_token(&ctx)?, size + 1)
        .await?;
    let stored = &listed.certificate.name;
    let (rows, token) = cut(rows, size, |r| r.seq.to_string());
    let days = state.retention_days();
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows
            .iter()
            .map(|v| key_item(&ctx.base_url, stored, v, days, true))
            .collect(),
        next_link: token
            .map(|t| next_link(&ctx, &format!("/keys/{stored}/versions"), &t, size, "")),
    }))
}

async fn get(
    state: &AppState,
    ctx: &RequestContext,
    name: &str,
    version: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let name = key_name(name)?;
    let k = state.services.keys.get(&ctx.vault, &name, version).await?;
    Ok(HttpResponse::Ok().json(key_bundle(&ctx.base_url, &k, state.retention_days())))
}

/// `GetKey` (current version).
pub async fn get_key(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    get(&state, &ctx, &path, None).await
}

/// `GetKey` of one version.
pub async fn get_key_version(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    get(&state, &ctx, &name, Some(&version)).await
}

/// `GetDeletedKeys`: the keys of soft-deleted certificates.
pub async fn get_deleted_keys(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let size = page_size(&ctx)?;
    let rows = state
        .services
        .keys
        .list_deleted(&ctx.vault, &name_token(&ctx)?, size + 1)
        .await?;
    let (rows, token) = cut(rows, size, |r| r.certificate.name_key.clone());
    let days = state.retention_days();
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows
            .iter()
            .filter_map(|r| deleted_key_item(&ctx.base_url, r, days))
            .collect(),
        next_link: token.map(|t| next_link(&ctx, "/deletedkeys", &t, size, "")),
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
