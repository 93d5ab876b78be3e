//! Handlers of certificate operations (the pending object): `GetCertificateOperation`,
//! `UpdateCertificateOperation` (cancel), `DeleteCertificateOperation`, `MergeCertificate`,
//! and the officer's approve and reject (a certbroker extension).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use super::dto::certificates::{certificate_bundle, MergeRequest};
use super::dto::operations::{CertificateOperationResponse, RejectRequest, UpdateOperationRequest};
use super::extract::{Call, CertificateName, JsonBody};
use super::Reply;
use crate::domain::certificate::OperationStatus;
use crate::error::ApiError;
use crate::projections::pending_operations::PendingRow;

/// The operation with `status` (and `Retry-After` while it is in progress, for SDK pollers).
pub fn operation_response(call: &Call, row: &PendingRow, status: StatusCode) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    if row.status == OperationStatus::InProgress {
        let seconds = call.state.retry_after_seconds;
        resp.insert_header(("Retry-After", seconds.to_string()));
    }
    resp.json(CertificateOperationResponse::from_row(call.base_url(), row))
}

/// The `request_id` query parameter: which request a command is meant for.
fn request_id(call: &Call) -> Option<String> {
    call.ctx.param("request_id").map(str::to_owned)
}

/// `GetCertificateOperation`.
pub async fn get_certificate_operation(
    call: Call,
    CertificateName(name): CertificateName,
) -> Reply {
    let ops = &call.services().operations;
    let row = ops
        .get(call.vault(), &name, call.ctx.param("request_id"))
        .await?;
    Ok(operation_response(&call, &row, StatusCode::OK))
}

/// `UpdateCertificateOperation`: request cancellation (README, scenario S8).
pub async fn update_certificate_operation(
    call: Call,
    CertificateName(name): CertificateName,
    body: JsonBody<UpdateOperationRequest>,
) -> Reply {
    let ops = &call.services().operations;
    let row = match body.0.cancellation_requested {
        Some(true) => ops.cancel(call.caller(), &name, request_id(&call)).await?,
        Some(false) => {
            ops.get(call.vault(), &name, call.ctx.param("request_id"))
                .await?
        }
        None => {
            return Err(ApiError::bad_parameter(
                "The body must set 'cancellation_requested' (a boolean).",
            ))
        }
    };
    Ok(operation_response(&call, &row, StatusCode::OK))
}

/// `DeleteCertificateOperation` (README, scenario S9): 200 with the operation as it was.
pub async fn delete_certificate_operation(
    call: Call,
    CertificateName(name): CertificateName,
) -> Reply {
    let ops = &call.services().operations;
    let row = ops.delete(call.caller(), &name, request_id(&call)).await?;
    let body = CertificateOperationResponse::from_row(call.base_url(), &row);
    Ok(HttpResponse::Ok().json(body))
}

/// `MergeCertificate` (README, scenarios S7, S11): 201 with the bundle and `Location`.
pub async fn merge_certificate(
    call: Call,
    CertificateName(name): CertificateName,
    body: JsonBody<MergeRequest>,
) -> Reply {
    let body = body.0;
    let x5c = body.x5c.ok_or_else(|| {
        ApiError::bad_parameter("The body must carry 'x5c': the certificate chain, leaf first.")
    })?;
    let enabled = body.attributes.and_then(|a| a.enabled);
    let ops = &call.services().operations;
    let view = ops
        .merge(call.caller(), &name, x5c, enabled, body.tags)
        .await?;
    let location = format!(
        "{}/certificates/{}?api-version={}",
        call.ctx.base_url, view.certificate.name, call.ctx.api_version
    );
    let body = certificate_bundle(call.base_url(), &view, call.retention_days());
    Ok(HttpResponse::Created()
        .insert_header(("Location", location))
        .json(body))
}

/// Officer: approve a request waiting for approval.
pub async fn approve_certificate_operation(
    call: Call,
    CertificateName(name): CertificateName,
) -> Reply {
    let ops = &call.services().operations;
    let row = ops.approve(call.caller(), &name, request_id(&call)).await?;
    Ok(operation_response(&call, &row, StatusCode::OK))
}

/// Officer: reject a request waiting for approval (it fails with `RequestRejected`).
pub async fn reject_certificate_operation(
    call: Call,
    CertificateName(name): CertificateName,
    body: JsonBody<RejectRequest>,
) -> Reply {
    let reason = body
        .0
        .reason
        .filter(|r| !r.trim().is_empty())
        .ok_or_else(|| ApiError::bad_parameter("The body must carry a non-empty 'reason'."))?;
    let ops = &call.services().operations;
    let row = ops
        .reject(call.caller(), &name, request_id(&call), reason)
        .await?;
    Ok(operation_response(&call, &row, StatusCode::OK))
}
