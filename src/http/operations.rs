//! Handlers of certificate operations (the pending object): `GetCertificateOperation`,
//! `UpdateCertificateOperation` (cancel), `DeleteCertificateOperation`, `MergeCertificate`,
//! and the officer's approve and reject (a certbroker extension).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::dto::certificates::{certificate_bundle, MergeRequest};
use super::dto::operations::{CertificateOperationResponse, RejectRequest, UpdateOperationRequest};
use super::extract::{certificate_name, JsonBody, RequestContext};
use super::AppState;
use crate::domain::certificate::OperationStatus;
use crate::error::ApiError;
use crate::projections::pending_operations::PendingRow;

/// The operation with `status` (and `Retry-After` while it is in progress, for SDK pollers).
pub fn operation_response(
    state: &AppState,
    ctx: &RequestContext,
    row: &PendingRow,
    status: StatusCode,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    if row.status == OperationStatus::InProgress {
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
        .services
        .operations
        .get(&ctx.vault, &name, ctx.param("request_id"))
        .await?;
    Ok(operation_response(&state, &ctx, &row, StatusCode::OK))
}

/// `UpdateCertificateOperation`: request cancellation (scenario S8).
pub async fn update_certificate_operation(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    body: JsonBody<UpdateOperationRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let ops = &state.services.operations;
    let row = match body.0.cancellation_requested {
        Some(true) => ops.cancel(&ctx.caller(), &name, request_id(&ctx)).await?,
        Some(false) => ops.get(&ctx.vault, &name, ctx.param("request_id")).await?,
        None => {
            return Err(ApiError::bad_parameter(
                "The body must set 'cancellation_requested' (a boolean).",
            ))
        }
    };
    Ok(operation_response(&state, &ctx, &row, StatusCode::OK))
}

/// `DeleteCertificateOperation` (scenario S9): 200 with the operation as it was.
pub async fn delete_certificate_operation(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let row = state
        .services
        .operations
        .delete(&ctx.caller(), &name, request_id(&ctx))
        .await?;
    Ok(HttpResponse::Ok().json(CertificateOperationResponse::from_row(&ctx.base_url, &row)))
}

/// `MergeCertificate` (scenarios S7, S11): 201 with the bundle and `Location`.
pub async fn merge_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    body: JsonBody<MergeRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let body = body.0;
    let x5c = body.x5c.ok_or_else(|| {
        ApiError::bad_parameter("The body must carry 'x5c': the certificate chain, leaf first.")
    })?;
    let view = state
        .services
        .operations
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
        .json(certificate_bundle(
            &ctx.base_url,
            &view,
            state.retention_days(),
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
        .services
        .operations
        .approve(&ctx.caller(), &name, request_id(&ctx))
        .await?;
    Ok(operation_response(&state, &ctx, &row, StatusCode::OK))
}

/// Officer: reject a request waiting for approval (it fails with `RequestRejected`).
pub async fn reject_certificate_operation(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    body: JsonBody<RejectRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let reason = body
        .0
        .reason
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| ApiError::bad_parameter("The body must carry a non-empty 'reason'."))?;
    let row = state
        .services
        .operations
        .reject(&ctx.caller(), &name, request_id(&ctx), reason)
        .await?;
    Ok(operation_response(&state, &ctx, &row, StatusCode::OK))
}
