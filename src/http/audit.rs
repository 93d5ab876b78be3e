//! The audit extension beside the Key Vault API: `GET /audit/events`, `GET /audit/head`,
//! `GET /certificates/{name}/history`, and recording refused requests as audit records
//! through the audit service (each read first writes the refusals still being counted).

use actix_web::HttpResponse;
use chrono::{DateTime, Utc};

use super::dto::ListResponse;
use super::extract::{certificate_name, Call, CertificateName, RequestContext};
use super::roles::Role;
use super::{AppState, Reply};
use crate::domain::audit::{AuditEvent, RefusalError};
use crate::error::ApiError;
use crate::es::audit::EventFilter;
use crate::service::Caller;

/// Largest page of `GET /audit/events` (`maxresults`).
pub const MAX_PAGE: i64 = 1000;
/// The page size without `maxresults`.
pub const DEFAULT_PAGE: i64 = 100;

/// What an audit record keeps of a refused request.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// The vault the request's host names.
    pub vault: String,
    pub method: String,
    pub path: String,
    /// The certificate the route is about (case-folded), if any.
    pub certificate: Option<String>,
    pub client_request_id: Option<String>,
    pub remote_addr: Option<String>,
}

/// Records a refused request in the audit stream. A failure to record is logged; the
/// refusal is answered either way.
pub async fn record_refusal(
    state: &AppState,
    req: &RequestInfo,
    caller: Option<(&str, Role)>,
    error: &ApiError,
) {
    let event = AuditEvent::AccessRefused {
        method: req.method.clone(),
        path: req
            .path
            .chars()
            .take(state.refusals.limits().refusal_path_chars)
            .collect(),
        status: error.status.as_u16(),
        error: RefusalError {
            code: error.code.to_owned(),
            message: error.message.clone(),
        },
        role: caller.map(|(_, role)| role.as_str().to_owned()),
        count: 1,
        since: None,
    };
    let who = Caller {
        vault: req.vault.clone(),
        actor: caller.map_or("anonymous", |(a, _)| a).to_owned(),
        client_request_id: req.client_request_id.as_deref().map(|c| {
            c.chars()
                .take(state.refusals.limits().refusal_request_id_chars)
                .collect()
        }),
        remote_addr: req.remote_addr.clone(),
    };
    if let Err(e) = state
        .services
        .audit
        .record(&who, req.certificate.as_deref(), event)
        .await
    {
        tracing::error!(error = %e, "could not record a refused request in the audit trail");
    }
}

fn time_param(ctx: &RequestContext, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    ctx.param(name)
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    ApiError::bad_parameter(format!(
                        "{name} must be an RFC 3339 time such as 2026-01-31T12:00:00Z; got '{v}'."
                    ))
                })
        })
        .transpose()
}

fn position_param(ctx: &RequestContext, name: &str) -> Result<i64, ApiError> {
    match ctx.param(name) {
        None => Ok(0),
        Some(v) => v.parse::<i64>().ok().filter(|p| *p >= 0).ok_or_else(|| {
            ApiError::bad_parameter(format!(
                "{name} must be a non-negative event position; got '{v}'."
            ))
        }),
    }
}

fn page_size(ctx: &RequestContext) -> Result<i64, ApiError> {
    super::paging::bounded_page_size(ctx, DEFAULT_PAGE, MAX_PAGE)
}

/// The filter from a request's query (the certificate from the path for history).
fn filter(ctx: &RequestContext, certificate: Option<String>) -> Result<EventFilter, ApiError> {
    let certificate = match certificate {
        Some(c) => Some(c),
        None => ctx
            .param("name")
            .map(|n| certificate_name(n).map(|n| n.key()))
            .transpose()?,
    };
    let after = position_param(ctx, "after")?.max(position_param(ctx, "skiptoken")?);
    Ok(EventFilter {
        vault: ctx.caller.vault.clone(),
        certificate,
        event_type: ctx.param("eventType").map(str::to_owned),
        actor: ctx.param("actor").map(str::to_owned),
        from: time_param(ctx, "from")?,
        to: time_param(ctx, "to")?,
        after,
    })
}

/// One page of audit entries at `path` matching `filter`, once the refusals still being
/// counted are written.
async fn page(call: &Call, path: &str, filter: EventFilter) -> Reply {
    let ctx = &call.ctx;
    let limit = page_size(ctx)?;
    let services = call.services();
    call.state.refusals.flush(services, true).await;
    let page = services.audit.events(&filter, limit).await?;
    let next_link = page.next_after.map(|after| {
        // Every filter the client sent, then where the next page starts.
        let mut query: Vec<(String, String)> = ctx
            .query
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "skiptoken" | "maxresults" | "api-version"))
            .cloned()
            .collect();
        query.insert(0, ("api-version".into(), ctx.api_version.clone()));
        query.push(("maxresults".into(), limit.to_string()));
        query.push(("skiptoken".into(), after.to_string()));
        serde_urlencoded::to_string(&query).map(|q| format!("{}{path}?{q}", ctx.base_url))
    });
    let next_link = next_link
        .transpose()
        .map_err(|e| ApiError::internal_message(format!("rendering nextLink: {e}")))?;
    Ok(HttpResponse::Ok().json(ListResponse {
        value: page.entries,
        next_link,
    }))
}

/// `GET /audit/events`: events and audit records in position order, filtered by `name`
/// (certificate), `eventType`, `actor`, `from`/`to` (RFC 3339), `after` (a position);
/// pages of `maxresults` with `nextLink`.
pub async fn get_audit_events(call: Call) -> Reply {
    let filter = filter(&call.ctx, None)?;
    page(&call, "/audit/events", filter).await
}

/// `GET /certificates/{name}/history`: every event and audit record of one certificate,
/// oldest first (the same filters and paging as `/audit/events`).
pub async fn get_certificate_history(call: Call, CertificateName(name): CertificateName) -> Reply {
    let filter = filter(&call.ctx, Some(name.key()))?;
    let path = format!("/certificates/{}/history", name.as_str());
    page(&call, &path, filter).await
}

/// `GET /audit/head`: the last sealed event's position and hash (keep it elsewhere and
/// pass it to `certbroker verify --expect-head` to detect truncation).
pub async fn get_audit_head(call: Call) -> Reply {
    let services = call.services();
    call.state.refusals.flush(services, true).await;
    let head = services.audit.head().await?;
    Ok(HttpResponse::Ok().json(match head {
        Some(h) => serde_json::json!({"position": h.position, "hash": h.hash}),
        None => serde_json::json!({"position": 0, "hash": null}),
    }))
}
