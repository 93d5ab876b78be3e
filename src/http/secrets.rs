//! Handlers of the certificate-backed secrets: `GetSecrets`, `GetSecretVersions`,
//! `GetSecret`, `GetDeletedSecrets`, `GetDeletedSecret`.

use actix_web::{web, HttpResponse};

use super::dto::secrets::{deleted_secret, secret_bundle, secret_item};
use super::extract::{secret_name, NameVersion, RequestContext};
use super::paging::{name_token, page, page_size, seq_token};
use super::AppState;
use crate::error::ApiError;
use crate::projections::certificates::ListedCertificate;
use crate::service::secrets::secret_not_found;

fn name_key(r: &ListedCertificate) -> String {
    r.certificate.name_key.clone()
}

/// `GetSecrets`: the secrets behind certificates.
pub async fn get_secrets(
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
    Ok(page(&ctx, "/secrets", "", size, rows, name_key, |r| {
        let ct = r.policy().content_type.as_str();
        let v = r.version.as_ref()?;
        Some(secret_item(
            &ctx.base_url,
            &r.certificate.name,
            v,
            ct,
            days,
            false,
        ))
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
        .certificates
        .versions(
            &ctx.vault,
            &name,
            seq_token(&ctx)?,
            size + 1,
            secret_not_found,
        )
        .await?;
    let stored = &listed.certificate.name;
    let ct = listed.policy().content_type.as_str();
    let days = state.retention_days();
    let path = format!("/secrets/{stored}/versions");
    Ok(page(
        &ctx,
        &path,
        "",
        size,
        rows,
        |r| r.seq.to_string(),
        |v| Some(secret_item(&ctx.base_url, stored, v, ct, days, true)),
    ))
}

/// `GetSecret` of the current version or of one version.
pub async fn get_secret(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<NameVersion>,
) -> Result<HttpResponse, ApiError> {
    let name = secret_name(&path.name)?;
    let found = state
        .services
        .secrets
        .get(&ctx.vault, &name, path.version.as_deref())
        .await?;
    Ok(HttpResponse::Ok().json(secret_bundle(&ctx.base_url, &found, state.retention_days())))
}

/// `GetDeletedSecrets`: the secrets of soft-deleted certificates.
pub async fn get_deleted_secrets(
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
    Ok(page(
        &ctx,
        "/deletedsecrets",
        "",
        size,
        rows,
        name_key,
        |r| deleted_secret(&ctx.base_url, r, days),
    ))
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
