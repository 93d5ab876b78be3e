//! Handlers of certificates: `CreateCertificate`, `GetCertificate`, `GetCertificates`,
//! `GetCertificateVersions`, `UpdateCertificate`, `GetCertificatePolicy`,
//! `UpdateCertificatePolicy`, `ImportCertificate`, `DeleteCertificate`,
//! `BackupCertificate`, `RestoreCertificate`.

use actix_web::http::header::{HeaderValue, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::dto::certificates::{
    certificate_item, version_item, CertificateImportRequest, CertificateRestoreRequest,
    CertificateUpdateRequest, CreateCertificateRequest,
};
use super::dto::deleted::deleted_bundle;
use super::dto::policy::{certificate_policy, PolicyRequest};
use super::extract::{certificate_name, JsonBody, NameVersion, OptionalJsonBody, RequestContext};
use super::operations::operation_response;
use super::paging::{certificates_page, versions_page, Listing};
use super::AppState;
use crate::error::ApiError;
use crate::service::certificate_not_found;
use crate::service::certificates::ImportInput;

/// `CreateCertificate`: 202 with the pending object and its `Location`.
pub async fn create_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    body: JsonBody<CreateCertificateRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let input = body.0.into();
    let row = state
        .services
        .certificates
        .create(&ctx.caller(), &name, input)
        .await?;
    let mut resp = operation_response(&state, &ctx, &row, StatusCode::ACCEPTED);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}/certificates/{}/pending?api-version={}&request_id={}",
        ctx.base_url, row.name, ctx.api_version, row.request_id
    )) {
        resp.headers_mut().insert(LOCATION, v);
    }
    Ok(resp)
}

/// `GetCertificate` of the current version (`/certificates/{name}` and
/// `/certificates/{name}/`) or of one version.
pub async fn get_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<NameVersion>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path.name)?;
    let view = state
        .services
        .certificates
        .get(&ctx.vault, &name, path.version.as_deref())
        .await?;
    Ok(state.bundle(&ctx, &view))
}

/// `GetCertificates`.
pub async fn get_certificates(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    certificates_page(
        &state,
        &ctx,
        "/certificates",
        Listing::Certificates,
        |r, days| Some(certificate_item(&ctx.base_url, r, days)),
    )
    .await
}

/// `GetCertificateVersions`.
pub async fn get_certificate_versions(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let not_found = certificate_not_found;
    versions_page(
        &state,
        &ctx,
        "/certificates",
        &name,
        not_found,
        |c, v, days| Some(version_item(&ctx.base_url, &c.certificate.name, v, days)),
    )
    .await
}

/// `UpdateCertificate` of the current version (`/certificates/{name}/`) or of one version.
pub async fn update_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<NameVersion>,
    body: OptionalJsonBody<CertificateUpdateRequest>,
) -> Result<HttpResponse, ApiError> {
    let NameVersion { name, version } = path.into_inner();
    let name = certificate_name(&name)?;
    let body = body.0;
    let view = state
        .services
        .certificates
        .update(
            &ctx.caller(),
            &name,
            version,
            body.attributes.and_then(|a| a.enabled),
            body.tags,
            body.policy.map(Into::into),
        )
        .await?;
    Ok(state.bundle(&ctx, &view))
}

/// `GetCertificatePolicy`.
pub async fn get_certificate_policy(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let c = state
        .services
        .certificates
        .policy(&ctx.vault, &name)
        .await?;
    Ok(HttpResponse::Ok().json(certificate_policy(&ctx.base_url, &c)))
}

/// `UpdateCertificatePolicy`: fields sent replace, fields absent are kept.
pub async fn update_certificate_policy(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    body: JsonBody<PolicyRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let c = state
        .services
        .certificates
        .update_policy(&ctx.caller(), &name, body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(certificate_policy(&ctx.base_url, &c)))
}

/// `ImportCertificate`: 200 with the bundle.
pub async fn import_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    body: JsonBody<CertificateImportRequest>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let body = body.0;
    let view = state
        .services
        .certificates
        .import(
            &ctx.caller(),
            &name,
            ImportInput {
                value: body.value.into_bytes(),
                password: body.pwd,
                fields: body.fields.into(),
            },
        )
        .await?;
    Ok(state.bundle(&ctx, &view))
}

/// `DeleteCertificate`: 200 with the `DeletedCertificateBundle`.
pub async fn delete_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let deleted = state
        .services
        .certificates
        .delete(&ctx.caller(), &name)
        .await?;
    Ok(HttpResponse::Ok().json(deleted_bundle(
        &ctx.base_url,
        &deleted,
        state.retention_days(),
    )))
}

/// `BackupCertificate`: `{"value": <base64url blob>}`.
pub async fn backup_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let blob = state
        .services
        .certificates
        .backup(&ctx.vault, &name)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "value": blob })))
}

/// `RestoreCertificate`: 200 with the restored certificate.
pub async fn restore_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    body: JsonBody<CertificateRestoreRequest>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .services
        .certificates
        .restore(&ctx.caller(), &body.0.value)
        .await?;
    Ok(state.bundle(&ctx, &view))
}
