//! Handlers of `/certificates/{name}[/...]`: create (S1, S10) and get.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use serde::Deserialize;

use super::dto::policy::PolicyRequest;
use super::extract::{certificate_name, json, read_body, RequestContext};
use super::pending::operation_response;
use super::AppState;
use crate::error::ApiError;
use crate::service::certificates::CreateInput;

#[derive(Deserialize, Default)]
struct AttributesRequest {
    enabled: Option<bool>,
}

#[derive(Deserialize)]
struct CreateCertificateRequest {
    policy: Option<PolicyRequest>,
    attributes: Option<AttributesRequest>,
    tags: Option<BTreeMap<String, String>>,
}

/// `CreateCertificate`: 202 with the pending object and its `Location`.
pub async fn create_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let body: CreateCertificateRequest = json(&read_body(payload, state.max_body_bytes).await?)?;
    let policy = body.policy.map(|p| p.into_policy(None)).transpose()?;
    let row = state
        .certificates
        .create(
            &ctx.caller(),
            &name,
            CreateInput {
                policy,
                enabled: body.attributes.and_then(|a| a.enabled),
                tags: body.tags,
            },
        )
        .await?;
    let mut resp = operation_response(&state, &ctx, &row, actix_web::http::StatusCode::ACCEPTED);
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&format!(
        "{}/certificates/{}/pending?api-version={}&request_id={}",
        ctx.base_url, row.name, ctx.api_version, row.request_id
    )) {
        resp.headers_mut()
            .insert(actix_web::http::header::LOCATION, v);
    }
    Ok(resp)
}

/// `GetCertificate` of the current version (`/certificates/{name}` and `/certificates/{name}/`).
pub async fn get_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let view = state.certificates.get(&ctx.vault, &name, None).await?;
    Ok(
        HttpResponse::Ok().json(super::dto::keyvault::certificate_bundle(
            &ctx.base_url,
            &view,
            state.keyvault.retention_days(),
        )),
    )
}

/// `GetCertificate` of one version.
pub async fn get_certificate_version(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let name = certificate_name(&name)?;
    let view = state
        .certificates
        .get(&ctx.vault, &name, Some(&version))
        .await?;
    Ok(
        HttpResponse::Ok().json(super::dto::keyvault::certificate_bundle(
            &ctx.base_url,
            &view,
            state.keyvault.retention_days(),
        )),
    )
}

/// The built-in CA's certificates (PEM, signing certificate first): a certbroker extension.
pub async fn get_ca_certificates(state: web::Data<AppState>, _ctx: RequestContext) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(state.ca_chain_pem.as_str().to_owned())
}
