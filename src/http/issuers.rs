//! Handlers of issuer objects: `GetCertificateIssuers`, `GetCertificateIssuer`,
//! `SetCertificateIssuer`, `UpdateCertificateIssuer`, `DeleteCertificateIssuer`.

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse};

use super::dto::issuers::{bundle, item, IssuerSetRequest};
use super::extract::{Call, IssuerName, JsonBody};
use super::paging::{page, page_size};
use super::Reply;
use crate::projections::issuers::IssuerRow;

/// 200 with the issuer bundle of `row`.
fn issuer_response(call: &Call, row: &IssuerRow) -> HttpResponse {
    HttpResponse::Ok().json(bundle(call.base_url(), row))
}

/// `GetCertificateIssuer`.
pub async fn get_certificate_issuer(call: Call, IssuerName(name): IssuerName) -> Reply {
    let row = call.services().issuers.get(call.vault(), &name).await?;
    Ok(issuer_response(&call, &row))
}

/// `SetCertificateIssuer` (PUT: the issuer as sent) and `UpdateCertificateIssuer`
/// (PATCH: the fields sent change, the others stay).
pub async fn set_certificate_issuer(
    call: Call,
    req: HttpRequest,
    IssuerName(name): IssuerName,
    body: JsonBody<IssuerSetRequest>,
) -> Reply {
    let replace = req.method() == Method::PUT;
    let changes = body.0.into_changes();
    let issuers = &call.services().issuers;
    let row = issuers.set(call.caller(), &name, changes, replace).await?;
    Ok(issuer_response(&call, &row))
}

/// `DeleteCertificateIssuer`: 200 with the issuer as it was.
pub async fn delete_certificate_issuer(call: Call, IssuerName(name): IssuerName) -> Reply {
    let row = call.services().issuers.delete(call.caller(), &name).await?;
    Ok(issuer_response(&call, &row))
}

/// `GetCertificateIssuers`: pages of `maxresults` (1-25) with `nextLink`.
pub async fn get_certificate_issuers(call: Call) -> Reply {
    let ctx = &call.ctx;
    let size = page_size(ctx)?;
    // `skiptoken` is what the nextLinks of earlier releases carried.
    let after = ctx.param("$skiptoken").or_else(|| ctx.param("skiptoken"));
    let after = after.unwrap_or_default().to_ascii_lowercase();
    let rows = call
        .services()
        .issuers
        .list(call.vault(), &after, size + 1)
        .await?;
    let path = "/certificates/issuers";
    let token = |r: &IssuerRow| r.name_key.clone();
    Ok(page(ctx, path, "", size, rows, token, |r| {
        Some(item(call.base_url(), r))
    }))
}
