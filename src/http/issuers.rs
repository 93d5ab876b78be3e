//! Handlers of issuer objects: `GetCertificateIssuers`, `GetCertificateIssuer`,
//! `SetCertificateIssuer`, `UpdateCertificateIssuer`, `DeleteCertificateIssuer`.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::issuers::{bundle, item, IssuerSetRequest};
use super::extract::{issuer_name, JsonBody, RequestContext};
use super::paging::{page, page_size};
use super::AppState;
use crate::error::ApiError;

/// `GetCertificateIssuer`.
pub async fn get_certificate_issuer(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = issuer_name(&path)?;
    let row = state.services.issuers.get(&ctx.vault, &name).await?;
    Ok(HttpResponse::Ok().json(bundle(&ctx.base_url, &row)))
}

/// `SetCertificateIssuer` (PUT: the issuer as sent) and `UpdateCertificateIssuer`
/// (PATCH: the fields sent change, the others stay).
pub async fn set_certificate_issuer(
    state: web::Data<AppState>,
    ctx: RequestContext,
    req: HttpRequest,
    path: web::Path<String>,
    body: JsonBody<IssuerSetRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = issuer_name(&path)?;
    let replace = req.method() == Method::PUT;
    let row = state
        .services
        .issuers
        .set(&ctx.caller(), &name, body.0.into_changes(), replace)
        .await?;
    Ok(HttpResponse::Ok().json(bundle(&ctx.base_url, &row)))
}

/// `DeleteCertificateIssuer`: 200 with the issuer as it was.
pub async fn delete_certificate_issuer(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = issuer_name(&path)?;
    let row = state.services.issuers.delete(&ctx.caller(), &name).await?;
    Ok(HttpResponse::Ok().json(bundle(&ctx.base_url, &row)))
}

/// `GetCertificateIssuers`: pages of `maxresults` (1-25) with `nextLink`.
pub async fn get_certificate_issuers(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let size = page_size(&ctx)?;
    // `skiptoken` is what the nextLinks of earlier releases carried.
    let after = ctx.param("$skiptoken").or_else(|| ctx.param("skiptoken"));
    let after = after.unwrap_or_default().to_ascii_lowercase();
    let issuers = &state.services.issuers;
    let rows = issuers.list(&ctx.vault, &after, size + 1).await?;
    let path = "/certificates/issuers";
    Ok(page(
        &ctx,
        path,
        "",
        size,
        rows,
        |r| r.name_key.clone(),
        |r| Some(item(&ctx.base_url, r)),
    ))
}
