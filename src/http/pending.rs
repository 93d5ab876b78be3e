//! Handlers of `/certificates/{name}/pending[...]`: the pending object (S2-S9, S11) and the
//! officer's approve/reject (a certbroker extension).

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::dto::operation::CertificateOperationResponse;
use super::extract::{certificate_name, json, read_body, RequestContext};
use super::AppState;
use crate::error::ApiError;
use crate::projections::pending_operations::PendingRow;

/// 200 with the operation (and `Retry-After` while it is in progress, for SDK pollers).
pub fn operation_response(
    state: &AppState,
    ctx: &RequestContext,
    row: &PendingRow,
    status: actix_web::http::StatusCode,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    if row.status == "inProgress" {
        resp.insert_header(("Retry-After", state.retry_after_seconds.to_string()));
    }
    resp.json(CertificateOperationResponse::from_row(&ctx.base_url, row))
}

fn request_id(ctx: &RequestContext) -> Option<String> {
    ctx.param("request_id").map(str::to_owned)
}

/// `GetCertificateOperation`.
pub async fn get_certificate_operation(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let row = state
        .certificates
        .get_pending(&ctx.vault, &name, ctx.param("request_id"))
        .await?;
    Ok(operation_response(
        &state,
        &ctx,
        &row,
        actix_web::http::StatusCode::OK,
    ))
}

#[derive(Deserialize)]
struct UpdateOperationRequest {
    cancellation_requested: Option<bool>,
}

/// `UpdateCertificateOperation`: request cancellation (S8).
pub async fn update_certificate_operation(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let body: UpdateOperationRequest = json(&read_body(payload, state.max_body_bytes).await?)?;
    let row = match body.cancellation_requested {
        Some(true) => {
            state
                .certificates
                .request_cancellation(&ctx.caller(), &name, request_id(&ctx))
                .await?
        }
        Some(false) => {
            state
                .certificates
                .get_pending(&ctx.vault, &name, ctx.param("request_id"))
                .await?
        }
        None => {
            return Err(ApiError::bad_parameter(
                "The body must set 'cancellation_requested' (a boolean).",
            ))
        }
    };
    Ok(operation_response(
        &state,
        &ctx,
        &row,
        actix_web::http::StatusCode::OK,
    ))
}

/// `DeleteCertificateOperation` (S9): 200 with the operation as it was.
pub async fn delete_certificate_operation(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let row = state
        .certificates
        .delete_pending(&ctx.caller(), &name, request_id(&ctx))
        .await?;
    Ok(HttpResponse::Ok().json(CertificateOperationResponse::from_row(&ctx.base_url, &row)))
}

#[derive(Deserialize)]
struct MergeAttributes {
    enabled: Option<bool>,
}

#[derive(Deserialize)]
struct MergeRequest {
    x5c: Option<Vec<String>>,
    attributes: Option<MergeAttributes>,
    tags: Option<BTreeMap<String, String>>,
}

/// `MergeCertificate` (S7, S11): 201 with the bundle and `Location`.
pub async fn merge_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let body: MergeRequest = json(&read_body(payload, state.max_body_bytes).await?)?;
    let x5c = body.x5c.ok_or_else(|| {
        ApiError::bad_parameter("The body must carry 'x5c': the certificate chain, leaf first.")
    })?;
    let view = state
        .certificates
        .merge(
            &ctx.caller(),
            &name,
            x5c,
            body.attributes.and_then(|a| a.enabled),
            body.tags,
        )
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((
            "Location",
            format!(
                "{}/certificates/{}?api-version={}",
                ctx.base_url, view.certificate.name, ctx.api_version
            ),
        ))
        .json(super::dto::keyvault::certificate_bundle(
            &ctx.base_url,
            &view,
            state.keyvault.retention_days(),
        )))
}

/// Officer: approve a request waiting for approval.
pub async fn approve_certificate_operation(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let row = state
        .certificates
        .approve(&ctx.caller(), &name, request_id(&ctx))
        .await?;
    Ok(operation_response(
        &state,
        &ctx,
        &row,
        actix_web::http::StatusCode::OK,
    ))
}

#[derive(Deserialize)]
struct RejectRequest {
    reason: Option<String>,
}

/// Officer: reject a request waiting for approval (it fails with `RequestRejected`).
pub async fn reject_certificate_operation(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let body: RejectRequest = json(&read_body(payload, state.max_body_bytes).await?)?;
    let reason = body
        .reason
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| ApiError::bad_parameter("The body must carry a non-empty 'reason'."))?;
    let row = state
        .certificates
        .reject(&ctx.caller(), &name, request_id(&ctx), reason)
        .await?;
    Ok(operation_response(
        &state,
        &ctx,
        &row,
        actix_web::http::StatusCode::OK,
    ))
}
