//! Key Vault's list paging: `maxresults` (1-25, default 25), `$skiptoken` (where the
//! next page starts) and `nextLink` (the absolute URL of the next page).

use actix_web::HttpResponse;
use serde_json::Value;

use super::dto::ListResponse;
use super::extract::{Call, RequestContext};
use super::Reply;
use crate::domain::names::ObjectName;
use crate::error::ApiError;
use crate::projections::certificate_versions::VersionRow;
use crate::projections::certificates::ListedCertificate;
use crate::service::ServiceError;

/// Key Vault's largest (and default) page.
pub const MAX_PAGE: i64 = 25;

/// `maxresults` (1-25, default 25).
pub fn page_size(ctx: &RequestContext) -> Result<i64, ApiError> {
    bounded_page_size(ctx, MAX_PAGE, MAX_PAGE)
}

/// `maxresults` from 1 to `max`, `default` when absent (the audit routes page further).
pub fn bounded_page_size(ctx: &RequestContext, default: i64, max: i64) -> Result<i64, ApiError> {
    match ctx.param("maxresults") {
        None => Ok(default),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_parameter(format!(
                "The value '{s}' of 'maxresults' is invalid: maxresults must be an integer from 1 to {max}."
            ))),
        },
    }
}

/// `includePending` (`true`/`false`, default false).
pub fn include_pending(ctx: &RequestContext) -> Result<bool, ApiError> {
    match ctx.param("includePending") {
        None => Ok(false),
        Some(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(s) => Err(ApiError::bad_parameter(format!(
            "The value '{s}' of 'includePending' is invalid; it must be true or false."
        ))),
    }
}

fn bad_skiptoken() -> ApiError {
    ApiError::bad_parameter("The '$skiptoken' query parameter is invalid.")
}

/// The name key a page of certificates starts after (empty: the first page).
pub fn name_token(ctx: &RequestContext) -> Result<String, ApiError> {
    match ctx.param("$skiptoken") {
        None => Ok(String::new()),
        Some(t) => ObjectName::parse("certificate", t)
            .map(|n| n.key())
            .map_err(|_| bad_skiptoken()),
    }
}

/// The version sequence a page of versions starts after.
pub fn seq_token(ctx: &RequestContext) -> Result<i64, ApiError> {
    match ctx.param("$skiptoken") {
        None => Ok(0),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(bad_skiptoken),
    }
}

/// The `nextLink` of a page that has more after `token`.
pub fn next_link(ctx: &RequestContext, path: &str, token: &str, size: i64, extra: &str) -> String {
    format!(
        "{}{path}?api-version={}&$skiptoken={token}&maxresults={size}{extra}",
        ctx.base_url, ctx.api_version
    )
}

/// A page of a list at `path`: `rows` was fetched one longer than the page (`size`), so
/// when it is longer there is a next page, starting after `token(last row shown)`; each
/// row renders as `render(row)` (none: left out). `extra` is added to the `nextLink`.
pub fn page<T>(
    ctx: &RequestContext,
    path: &str,
    extra: &str,
    size: i64,
    mut rows: Vec<T>,
    token: impl Fn(&T) -> String,
    render: impl FnMut(&T) -> Option<Value>,
) -> HttpResponse {
    let more = rows.len() as i64 > size;
    rows.truncate(size as usize);
    let next = more.then(|| rows.last().map(&token)).flatten();
    HttpResponse::Ok().json(ListResponse {
        value: rows.iter().filter_map(render).collect(),
        next_link: next.map(|t| next_link(ctx, path, &t, size, extra)),
    })
}

/// Which certificates a list of certificates shows.
#[derive(Clone, Copy)]
pub enum Listing {
    /// `GetCertificates`: live ones; with `includePending`, also those with no version yet.
    Certificates,
    /// `GetSecrets`, `GetKeys`: live ones with a version.
    Live,
    /// `GetDeletedCertificates` (which takes `includePending`, as Key Vault's does).
    DeletedCertificates,
    /// `GetDeletedSecrets`, `GetDeletedKeys`.
    Deleted,
}

/// One page of certificates at `path` (Key Vault's list of certificates, secrets or
/// keys, live or deleted), each row rendered as `render(row, retention days)`.
pub async fn certificates_page(
    call: &Call,
    path: &str,
    listing: Listing,
    mut render: impl FnMut(&ListedCertificate, i64) -> Option<Value>,
) -> Reply {
    let ctx = &call.ctx;
    let pending = match listing {
        Listing::Certificates | Listing::DeletedCertificates => include_pending(ctx)?,
        Listing::Live | Listing::Deleted => false,
    };
    let size = page_size(ctx)?;
    let after = name_token(ctx)?;
    let services = call.services();
    let vault = &ctx.caller.vault;
    let rows = match listing {
        Listing::Deleted | Listing::DeletedCertificates => {
            let d = &services.deleted;
            d.list(vault, pending, &after, size + 1).await?
        }
        Listing::Certificates | Listing::Live => {
            let c = &services.certificates;
            c.list(vault, pending, &after, size + 1).await?
        }
    };
    let extra = if pending { "&includePending=true" } else { "" };
    let days = call.retention_days();
    Ok(page(
        ctx,
        path,
        extra,
        size,
        rows,
        |r| r.certificate.name_key.clone(),
        |r| render(r, days),
    ))
}

/// One page of a live certificate's versions at `{prefix}/{name}/versions`, each
/// rendered as `render(certificate, version, retention days)`; an unknown name is
/// refused with `not_found` (the certificate's, the secret's or the key's).
pub async fn versions_page(
    call: &Call,
    prefix: &str,
    name: &ObjectName,
    not_found: fn(&str, Option<&str>) -> ServiceError,
    mut render: impl FnMut(&ListedCertificate, &VersionRow, i64) -> Option<Value>,
) -> Reply {
    let ctx = &call.ctx;
    let size = page_size(ctx)?;
    let certificates = &call.services().certificates;
    let (listed, rows) = certificates
        .versions(
            &ctx.caller.vault,
            name,
            seq_token(ctx)?,
            size + 1,
            not_found,
        )
        .await?;
    let days = call.retention_days();
    let path = format!("{prefix}/{}/versions", listed.certificate.name);
    Ok(page(
        ctx,
        &path,
        "",
        size,
        rows,
        |r| r.seq.to_string(),
        |v| render(&listed, v, days),
    ))
}
