//! Handlers of the certificate-backed secrets: `GetSecrets`, `GetSecretVersions`,
//! `GetSecret`, `GetDeletedSecrets`, `GetDeletedSecret`.

use actix_web::{web, HttpResponse};

use super::dto::secrets::{deleted_secret, secret_bundle, secret_item};
use super::extract::{secret_name, NameVersion, RequestContext};
use super::paging::{certificates_page, versions_page, Listing};
use super::AppState;
use crate::error::ApiError;
use crate::service::secrets::secret_not_found;

/// `GetSecrets`: the secrets behind certificates.
pub async fn get_secrets(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    certificates_page(&state, &ctx, "/secrets", Listing::Live, |r, days| {
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
    })
    .await
}

/// `GetSecretVersions` of a certificate-backed secret.
pub async fn get_secret_versions(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = secret_name(&path)?;
    versions_page(
        &state,
        &ctx,
        "/secrets",
        &name,
        secret_not_found,
        |c, v, days| {
            let ct = c.policy().content_type.as_str();
            Some(secret_item(
                &ctx.base_url,
                &c.certificate.name,
                v,
                ct,
                days,
                true,
            ))
        },
    )
    .await
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
    certificates_page(
        &state,
        &ctx,
        "/deletedsecrets",
        Listing::Deleted,
        |r, days| deleted_secret(&ctx.base_url, r, days),
    )
    .await
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
