//! Handlers of issuer objects: `GetCertificateIssuers`, `GetCertificateIssuer`,
//! `SetCertificateIssuer`, `UpdateCertificateIssuer`, `DeleteCertificateIssuer`.

use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};

use super::dto::issuers::{bundle, item, IssuerSetRequest};
use super::dto::ListResponse;
use super::extract::{issuer_name, JsonBody, RequestContext};
use super::paging::MAX_PAGE;
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
    let rows = state
        .services
        .issuers
        .list(&ctx.vault, &after, limit + 1)
        .await?;
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
