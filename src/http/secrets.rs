//! Handlers of the certificate-backed secrets: `GetSecrets`, `GetSecretVersions`,
//! `GetSecret`, `GetDeletedSecrets`, `GetDeletedSecret`.

use actix_web::{web, HttpResponse};

use super::dto::secrets::{deleted_secret, secret_bundle, secret_item};
use super::dto::ListResponse;
use super::extract::{secret_name, RequestContext};
use super::paging::{cut, name_token, next_link, page_size, seq_token};
use super::AppState;
use crate::error::ApiError;
use crate::service::secrets::secret_not_found;

/// `GetSecrets`: the secrets behind certificates.
pub async fn get_secrets(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let size = page_size(&ctx)?;
    let rows = state
        .services
        .secrets
        .list(&ctx.vault, &name_token(&ctx)?, size + 1)
        .await?;
    let (rows, token) = cut(rows, size, |r| r.certificate.name_key.clone());
    let days = state.retention_days();
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows
            .iter()
            .filter_map(|r| {
                let ct = r.policy().content_type.as_str();
                r.version
                    .as_ref()
                    .map(|v| secret_item(&ctx.base_url, &r.certificate.name, v, ct, days, false))
            })
            .collect(),
        next_link: token.map(|t| next_link(&ctx, "/secrets", &t, size, "")),
    }))
}

/// `GetSecretVersions` of a certificate-backed secret.
pub async fn get_secret_versions(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = secret_name(&path)?;
    let size = page_size(&ctx)?;
    let (listed, rows) = state
        .services
        .secrets
        .versions(&ctx.vault, &name, seq_token(&ctx)?, size + 1)
        .await?;
    let stored = &listed.certificate.name;
    let ct = listed.policy().content_type.as_str();
    let (rows, token) = cut(rows, size, |r| r.seq.to_string());
    let days = state.retention_days();
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows
            .iter()
            .map(|v| secret_item(&ctx.base_url, stored, v, ct, days, true))
            .collect(),
        next_link: token
            .map(|t| next_link(&ctx, &format!("/secrets/{stored}/versions"), &t, size, "")),
    }))
}

async fn get(
    state: &AppState,
    ctx: &RequestContext,
    name: &str,
    version: Option<&str>,
) -> Result<HttpResponse, ApiError> {
    let name = secret_name(name)?;
    let s = state
        .services
        .secrets
        .get(&ctx.vault, &name, version)
        .await?;
    Ok(HttpResponse::Ok().json(secret_bundle(&ctx.base_url, &s, state.retention_days())))
}

/// `GetSecret` (current version).
pub async fn get_secret(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    get(&state, &ctx, &path, None).await
}

/// `GetSecret` of one version.
pub async fn get_secret_version(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    get(&state, &ctx, &name, Some(&version)).await
}

/// `GetDeletedSecrets`: the secrets of soft-deleted certificates.
pub async fn get_deleted_secrets(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let size = page_size(&ctx)?;
    let rows = state
        .services
        .secrets
        .list_deleted(&ctx.vault, &name_token(&ctx)?, size + 1)
        .await?;
    let (rows, token) = cut(rows, size, |r| r.certificate.name_key.clone());
    let days = state.retention_days();
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows
            .iter()
            .filter_map(|r| deleted_secret(&ctx.base_url, r, days))
            .collect(),
        next_link: token.map(|t| next_link(&ctx, "/deletedsecrets", &t, size, "")),
    }))
}

/// `GetDeletedSecret` of a soft-deleted certificate (no value: it is deleted).
pub async fn get_deleted_secret(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = secret_name(&path)?;
    let deleted = state
        .services
        .secrets
        .get_deleted(&ctx.vault, &name)
        .await?;
    deleted_secret(&ctx.base_url, &deleted, state.retention_days())
        .map(|b| HttpResponse::Ok().json(b))
        .ok_or_else(|| secret_not_found(name.as_str(), None).into())
}
