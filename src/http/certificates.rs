//! Handlers of certificates: `CreateCertificate`, `GetCertificate`, `GetCertificates`,
//! `GetCertificateVersions`, `UpdateCertificate`, `GetCertificatePolicy`,
//! `UpdateCertificatePolicy`, `ImportCertificate`, `DeleteCertificate`,
//! `BackupCertificate`, `RestoreCertificate`.

use actix_web::http::header::{HeaderValue, LOCATION};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use super::dto::certificates::{
    certificate_item, version_item, CertificateImportRequest, CertificateRestoreRequest,
    CertificateUpdateRequest, CreateCertificateRequest,
};
use super::dto::deleted::deleted_bundle;
use super::dto::policy::{certificate_policy, PolicyRequest};
use super::extract::{Call, CertificateName, JsonBody, OptionalJsonBody, Version};
use super::operations::operation_response;
use super::paging::{certificates_page, versions_page, Listing};
use super::Reply;
use crate::service::certificate_not_found;
use crate::service::certificates::ImportInput;

/// `CreateCertificate`: 202 with the pending object and its `Location`.
pub async fn create_certificate(
    call: Call,
    CertificateName(name): CertificateName,
    body: JsonBody<CreateCertificateRequest>,
) -> Reply {
    let certificates = &call.services().certificates;
    let row = certificates
        .create(call.caller(), &name, body.0.into())
        .await?;
    let mut resp = operation_response(&call, &row, StatusCode::ACCEPTED);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{}/certificates/{}/pending?api-version={}&request_id={}",
        call.ctx.base_url, row.name, call.ctx.api_version, row.request_id
    )) {
        resp.headers_mut().insert(LOCATION, v);
    }
    Ok(resp)
}

/// `GetCertificate` of the current version (`/certificates/{name}` and
/// `/certificates/{name}/`) or of one version.
pub async fn get_certificate(
    call: Call,
    CertificateName(name): CertificateName,
    Version(version): Version,
) -> Reply {
    let certificates = &call.services().certificates;
    let view = certificates
        .get(call.vault(), &name, version.as_deref())
        .await?;
    Ok(call.bundle(&view))
}

/// `GetCertificates`.
pub async fn get_certificates(call: Call) -> Reply {
    certificates_page(&call, "/certificates", Listing::Certificates, |r, days| {
        Some(certificate_item(call.base_url(), r, days))
    })
    .await
}

/// `GetCertificateVersions`.
pub async fn get_certificate_versions(call: Call, CertificateName(name): CertificateName) -> Reply {
    versions_page(
        &call,
        "/certificates",
        &name,
        certificate_not_found,
        |c, v, days| Some(version_item(call.base_url(), &c.certificate.name, v, days)),
    )
    .await
}

/// `UpdateCertificate` of the current version (`/certificates/{name}` and
/// `/certificates/{name}/`) or of one version.
pub async fn update_certificate(
    call: Call,
    CertificateName(name): CertificateName,
    Version(version): Version,
    body: OptionalJsonBody<CertificateUpdateRequest>,
) -> Reply {
    let body = body.0;
    let enabled = body.attributes.and_then(|a| a.enabled);
    let policy = body.policy.map(Into::into);
    let certificates = &call.services().certificates;
    let view = certificates
        .update(call.caller(), &name, version, enabled, body.tags, policy)
        .await?;
    Ok(call.bundle(&view))
}

/// `GetCertificatePolicy`.
pub async fn get_certificate_policy(call: Call, CertificateName(name): CertificateName) -> Reply {
    let c = call
        .services()
        .certificates
        .policy(call.vault(), &name)
        .await?;
    Ok(HttpResponse::Ok().json(certificate_policy(call.base_url(), &c)))
}

/// `UpdateCertificatePolicy`: fields sent replace, fields absent are kept.
pub async fn update_certificate_policy(
    call: Call,
    CertificateName(name): CertificateName,
    body: JsonBody<PolicyRequest>,
) -> Reply {
    let certificates = &call.services().certificates;
    let c = certificates
        .update_policy(call.caller(), &name, body.0.into())
        .await?;
    Ok(HttpResponse::Ok().json(certificate_policy(call.base_url(), &c)))
}

/// `ImportCertificate`: 200 with the bundle.
pub async fn import_certificate(
    call: Call,
    CertificateName(name): CertificateName,
    body: JsonBody<CertificateImportRequest>,
) -> Reply {
    let body = body.0;
    let input = ImportInput {
        value: body.value.into_bytes(),
        password: body.pwd,
        fields: body.fields.into(),
    };
    let certificates = &call.services().certificates;
    let view = certificates.import(call.caller(), &name, input).await?;
    Ok(call.bundle(&view))
}

/// `DeleteCertificate`: 200 with the `DeletedCertificateBundle`.
pub async fn delete_certificate(call: Call, CertificateName(name): CertificateName) -> Reply {
    let certificates = &call.services().certificates;
    let deleted = certificates.delete(call.caller(), &name).await?;
    let body = deleted_bundle(call.base_url(), &deleted, call.retention_days());
    Ok(HttpResponse::Ok().json(body))
}

/// `BackupCertificate`: `{"value": <base64url blob>}`.
pub async fn backup_certificate(call: Call, CertificateName(name): CertificateName) -> Reply {
    let blob = call
        .services()
        .certificates
        .backup(call.vault(), &name)
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "value": blob })))
}

/// `RestoreCertificate`: 200 with the restored certificate.
pub async fn restore_certificate(call: Call, body: JsonBody<CertificateRestoreRequest>) -> Reply {
    let certificates = &call.services().certificates;
    let view = certificates.restore(call.caller(), &body.0.value).await?;
    Ok(call.bundle(&view))
}
