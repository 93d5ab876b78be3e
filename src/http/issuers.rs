//! Handlers of `/certificates/issuers[/{name}]`.

use actix_web::{web, HttpResponse};

use super::dto::issuer::{bundle, item, IssuerSetRequest};
use super::dto::ListResponse;
use super::extract::{issuer_name, json, read_body, RequestContext};
use super::AppState;
use crate::error::ApiError;

/// Key Vault's largest page.
const MAX_PAGE: i64 = 25;

/// `GetCertificateIssuer`.
pub async fn get_certificate_issuer(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = issuer_name(&path)?;
    let row = state.issuers.get(&ctx.vault, &name).await?;
    Ok(HttpResponse::Ok().json(bundle(&ctx.base_url, &row)))
}

/// `SetCertificateIssuer` (PUT).
pub async fn set_certificate_issuer(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = issuer_name(&path)?;
    let body: IssuerSetRequest = json(&read_body(payload, state.max_body_bytes).await?)?;
    let row = state
        .issuers
        .set(&ctx.caller(), &name, body.into_changes(), true)
        .await?;
    Ok(HttpResponse::Ok().json(bundle(&ctx.base_url, &row)))
}

/// `UpdateCertificateIssuer` (PATCH).
pub async fn update_certificate_issuer(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = issuer_name(&path)?;
    let body: IssuerSetRequest = json(&read_body(payload, state.max_body_bytes).await?)?;
    let row = state
        .issuers
        .set(&ctx.caller(), &name, body.into_changes(), false)
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
    let row = state.issuers.delete(&ctx.caller(), &name).await?;
    Ok(HttpResponse::Ok().json(bundle(&ctx.base_url, &row)))
}

/// `GetCertificateIssuers`: pages of `maxresults` (1-25) with `nextLink`.
pub async fn get_certificate_issuers(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let limit = match ctx.param("maxresults") {
        None => MAX_PAGE,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(ApiError::bad_parameter(format!(
                    "maxresults must be an integer from 1 to {MAX_PAGE}; got '{v}'."
                )))
            }
        },
    };
    let after = ctx
        .param("skiptoken")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let rows = state.issuers.list(&ctx.vault, &after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let page: Vec<_> = rows.iter().take(limit as usize).collect();
    let next_link = match (more, page.last()) {
        (true, Some(last)) => Some(format!(
            "{}/certificates/issuers?api-version={}&maxresults={limit}&skiptoken={}",
            ctx.base_url, ctx.api_version, last.name_key
        )),
        _ => None,
    };
    Ok(HttpResponse::Ok().json(ListResponse {
        value: page.iter().map(|r| item(&ctx.base_url, r)).collect(),
        next_link,
    }))
}
