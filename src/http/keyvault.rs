//! Handlers of the rest of Key Vault's certificates surface (lists, versions, update,
//! policy, import, soft delete, backup/restore, contacts) and of the certificate-backed
//! secrets and keys.

use actix_web::{web, HttpResponse};

use super::dto::keyvault as dto;
use super::dto::policy::{policy_response, PolicyRequest};
use super::dto::ListResponse;
use super::extract::{certificate_name, json, json_or_default, read_body, RequestContext};
use super::AppState;
use crate::domain::contacts::ContactsCommand;
use crate::domain::names::ObjectName;
use crate::error::ApiError;
use crate::projections::certificate_versions::VersionRow;
use crate::service::keyvault::ImportInput;
use crate::service::ServiceError;

/// Key Vault's largest (and default) page.
const MAX_PAGE: i64 = 25;

/// `maxresults` (1-25, default 25).
fn page_size(ctx: &RequestContext) -> Result<i64, ApiError> {
    match ctx.param("maxresults") {
        None => Ok(MAX_PAGE),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(ApiError::bad_parameter(format!(
                "The value '{s}' of 'maxresults' is invalid; it must be an integer between 1 and {MAX_PAGE}."
            ))),
        },
    }
}

/// `includePending` (`true`/`false`, default false).
fn include_pending(ctx: &RequestContext) -> Result<bool, ApiError> {
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

/// The name key a page starts after (empty: the first page).
fn name_token(ctx: &RequestContext) -> Result<String, ApiError> {
    match ctx.param("$skiptoken") {
        None => Ok(String::new()),
        Some(t) => ObjectName::parse("certificate", t)
            .map(|n| n.key())
            .map_err(|_| bad_skiptoken()),
    }
}

/// The version sequence a page starts after.
fn seq_token(ctx: &RequestContext) -> Result<i64, ApiError> {
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
fn next_link(ctx: &RequestContext, path: &str, token: &str, size: i64, extra: &str) -> String {
    format!(
        "{}{path}?api-version={}&$skiptoken={token}&maxresults={size}{extra}",
        ctx.base_url, ctx.api_version
    )
}

fn days(state: &AppState) -> i64 {
    state.keyvault.retention_days()
}

/// `GetCertificates` (and the shared body of `GetSecrets`/`GetKeys`).
async fn list_live(
    state: &AppState,
    ctx: &RequestContext,
    deleted: bool,
    pending: bool,
) -> Result<
    (
        Vec<crate::projections::certificate_lifecycle::ListedCertificate>,
        Option<String>,
    ),
    ApiError,
> {
    let size = page_size(ctx)?;
    let after = name_token(ctx)?;
    let mut rows = state
        .keyvault
        .list(&ctx.vault, deleted, pending, &after, size + 1)
        .await?;
    let more = rows.len() as i64 > size;
    rows.truncate(size as usize);
    let token = more
        .then(|| rows.last().map(|r| r.certificate.name_key.clone()))
        .flatten();
    Ok((rows, token))
}

/// `GetCertificates`.
pub async fn get_certificates(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let pending = include_pending(&ctx)?;
    let size = page_size(&ctx)?;
    let (rows, token) = list_live(&state, &ctx, false, pending).await?;
    let extra = if pending { "&includePending=true" } else { "" };
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows
            .iter()
            .map(|r| dto::certificate_item(&ctx.base_url, r, days(&state)))
            .collect(),
        next_link: token.map(|t| next_link(&ctx, "/certificates", &t, size, extra)),
    }))
}

/// One page of a certificate's versions as `/{collection}/{name}/versions` lists them
/// (`maxresults`, `$skiptoken` = the last version's sequence number), each rendered by
/// `item(stored name, version)`; `unknown` renders the service's refusal (an unknown name).
async fn versions_page(
    state: &AppState,
    ctx: &RequestContext,
    name: &ObjectName,
    collection: &str,
    unknown: impl FnOnce(ServiceError) -> ApiError,
    item: impl Fn(&str, &VersionRow) -> serde_json::Value,
) -> Result<HttpResponse, ApiError> {
    let size = page_size(ctx)?;
    let after = seq_token(ctx)?;
    let (stored, mut rows) = state
        .keyvault
        .versions(&ctx.vault, name, after, size + 1)
        .await
        .map_err(unknown)?;
    let more = rows.len() as i64 > size;
    rows.truncate(size as usize);
    let next = more
        .then(|| rows.last().map(|r| r.seq.to_string()))
        .flatten()
        .map(|t| {
            next_link(
                ctx,
                &format!("/{collection}/{stored}/versions"),
                &t,
                size,
                "",
            )
        });
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows.iter().map(|v| item(&stored, v)).collect(),
        next_link: next,
    }))
}

/// `GetCertificateVersions`.
pub async fn get_certificate_versions(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let days = days(&state);
    versions_page(
        &state,
        &ctx,
        &name,
        "certificates",
        ApiError::from,
        |stored, v| dto::version_item(&ctx.base_url, stored, v, days),
    )
    .await
}

async fn update(
    state: &AppState,
    ctx: &RequestContext,
    name: &str,
    version: Option<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(name)?;
    let body: dto::CertificateUpdateRequest =
        json_or_default(&read_body(payload, state.max_body_bytes).await?)?;
    let policy = body.policy.map(|p| {
        Box::new(move |base: &crate::domain::policy::Policy| p.into_policy(Some(base)))
            as crate::service::keyvault::PolicyMerge
    });
    let view = state
        .keyvault
        .update_version(
            &ctx.caller(),
            &name,
            version,
            body.attributes.and_then(|a| a.enabled),
            body.tags,
            policy,
        )
        .await?;
    Ok(HttpResponse::Ok().json(dto::certificate_bundle(&ctx.base_url, &view, days(state))))
}

/// `UpdateCertificate` of the current version (`/certificates/{name}/`).
pub async fn update_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    update(&state, &ctx, &path, None, payload).await
}

/// `UpdateCertificate` of one version.
pub async fn update_certificate_version(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    update(&state, &ctx, &name, Some(version), payload).await
}

/// `GetCertificatePolicy`.
pub async fn get_certificate_policy(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let (stored, policy, created, updated) = state.keyvault.policy(&ctx.vault, &name).await?;
    Ok(HttpResponse::Ok().json(policy_response(
        &ctx.base_url,
        &stored,
        &policy,
        created,
        updated,
    )))
}

/// `UpdateCertificatePolicy`: fields sent replace, fields absent are kept.
pub async fn update_certificate_policy(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let body: PolicyRequest = json(&read_body(payload, state.max_body_bytes).await?)?;
    let (stored, policy, created, updated) = state
        .keyvault
        .update_policy(
            &ctx.caller(),
            &name,
            Box::new(move |base| body.into_policy(Some(base))),
        )
        .await?;
    Ok(HttpResponse::Ok().json(policy_response(
        &ctx.base_url,
        &stored,
        &policy,
        created,
        updated,
    )))
}

/// `ImportCertificate`: 200 with the bundle.
pub async fn import_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let body: dto::CertificateImportRequest =
        json(&read_body(payload, state.max_body_bytes).await?)?;
    let policy = body.policy.map(|p| {
        Box::new(move |base: &crate::domain::policy::Policy| p.into_policy(Some(base)))
            as crate::service::keyvault::PolicyMerge
    });
    let view = state
        .keyvault
        .import(
            &ctx.caller(),
            &name,
            ImportInput {
                value: body.value.into_bytes(),
                password: body.pwd,
                policy,
                enabled: body.attributes.and_then(|a| a.enabled),
                tags: body.tags,
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(dto::certificate_bundle(&ctx.base_url, &view, days(&state))))
}

/// `DeleteCertificate`: 200 with the `DeletedCertificateBundle`.
pub async fn delete_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let deleted = state.keyvault.delete(&ctx.caller(), &name).await?;
    Ok(HttpResponse::Ok().json(dto::deleted_bundle(&ctx.base_url, &deleted, days(&state))))
}

/// `GetDeletedCertificates`.
pub async fn get_deleted_certificates(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let pending = include_pending(&ctx)?;
    let size = page_size(&ctx)?;
    let (rows, token) = list_live(&state, &ctx, true, true).await?;
    let extra = if pending { "&includePending=true" } else { "" };
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows
            .iter()
            .map(|r| dto::deleted_item(&ctx.base_url, r, days(&state)))
            .collect(),
        next_link: token.map(|t| next_link(&ctx, "/deletedcertificates", &t, size, extra)),
    }))
}

/// `GetDeletedCertificate`.
pub async fn get_deleted_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let deleted = state.keyvault.get_deleted(&ctx.vault, &name).await?;
    Ok(HttpResponse::Ok().json(dto::deleted_bundle(&ctx.base_url, &deleted, days(&state))))
}

/// `PurgeDeletedCertificate`: 204.
pub async fn purge_deleted_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    state
        .keyvault
        .purge(&ctx.caller(), name.as_str(), None)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `RecoverDeletedCertificate`: 200 with the certificate.
pub async fn recover_deleted_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let view = state.keyvault.recover(&ctx.caller(), &name).await?;
    Ok(HttpResponse::Ok().json(dto::certificate_bundle(&ctx.base_url, &view, days(&state))))
}

/// `BackupCertificate`: `{"value": <base64url blob>}`.
pub async fn backup_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = certificate_name(&path)?;
    let blob = state.keyvault.backup(&ctx.vault, &name).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "value": blob })))
}

/// `RestoreCertificate`: 200 with the restored certificate.
pub async fn restore_certificate(
    state: web::Data<AppState>,
    ctx: RequestContext,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: dto::CertificateRestoreRequest =
        json(&read_body(payload, state.max_body_bytes).await?)?;
    let view = state.keyvault.restore(&ctx.caller(), &body.value).await?;
    Ok(HttpResponse::Ok().json(dto::certificate_bundle(&ctx.base_url, &view, days(&state))))
}

/// `GetCertificateContacts`.
pub async fn get_certificate_contacts(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let list = state.keyvault.contacts(&ctx.vault).await?;
    Ok(HttpResponse::Ok().json(dto::contacts(&ctx.base_url, &list)))
}

/// `SetCertificateContacts`.
pub async fn set_certificate_contacts(
    state: web::Data<AppState>,
    ctx: RequestContext,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: dto::ContactsRequest = json(&read_body(payload, state.max_body_bytes).await?)?;
    let list = state
        .keyvault
        .contacts_command(&ctx.caller(), ContactsCommand::Set(body.contacts))
        .await?;
    Ok(HttpResponse::Ok().json(dto::contacts(&ctx.base_url, &list)))
}

/// `DeleteCertificateContacts`: 200 with the contacts as they were.
pub async fn delete_certificate_contacts(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let list = state
        .keyvault
        .contacts_command(&ctx.caller(), ContactsCommand::Delete)
        .await?;
    Ok(HttpResponse::Ok().json(dto::contacts(&ctx.base_url, &list)))
}

fn secret_name(s: &str) -> Result<ObjectName, ApiError> {
    ObjectName::parse("secret", s).map_err(ApiError::from)
}

fn key_name(s: &str) -> Result<ObjectName, ApiError> {
    ObjectName::parse("key", s).map_err(ApiError::from)
}

fn content_type_of(r: &crate::projections::certificate_lifecycle::ListedCertificate) -> String {
    serde_json::from_str::<crate::domain::policy::Policy>(&r.certificate.policy)
        .map(|p| p.content_type.as_str().to_owned())
        .unwrap_or_else(|_| "application/x-pkcs12".into())
}

/// `GetSecrets`: the secrets behind certificates.
pub async fn get_secrets(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let size = page_size(&ctx)?;
    let (rows, token) = list_live(&state, &ctx, false, false).await?;
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows
            .iter()
            .filter_map(|r| {
                r.version.as_ref().map(|v| {
                    dto::secret_item(
                        &ctx.base_url,
                        &r.certificate.name,
                        v,
                        &content_type_of(r),
                        days(&state),
                        false,
                    )
                })
            })
            .collect(),
        next_link: token.map(|t| next_link(&ctx, "/secrets", &t, size, "")),
    }))
}

/// `GetSecretVersions` of a certificate-backed secret.
pub async fn get_secret_versions(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = secret_name(&path)?;
    let not_found = || crate::domain::DomainError::SecretNotFound {
        name: name.to_string(),
    };
    let content_type = match state.keyvault.policy(&ctx.vault, &name).await {
        Ok((_, p, _, _)) => p.content_type.as_str().to_owned(),
        Err(_) => return Err(not_found().into()),
    };
    let days = days(&state);
    versions_page(
        &state,
        &ctx,
        &name,
        "secrets",
        ApiError::from,
        |stored, v| dto::secret_item(&ctx.base_url, stored, v, &content_type, days, true),
    )
    .await
}

/// `GetSecret` (current version).
pub async fn get_secret(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = secret_name(&path)?;
    let s = state.keyvault.secret(&ctx.vault, &name, None).await?;
    Ok(HttpResponse::Ok().json(dto::secret_bundle(&ctx.base_url, &s, days(&state))))
}

/// `GetSecret` of one version.
pub async fn get_secret_version(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let name = secret_name(&name)?;
    let s = state
        .keyvault
        .secret(&ctx.vault, &name, Some(&version))
        .await?;
    Ok(HttpResponse::Ok().json(dto::secret_bundle(&ctx.base_url, &s, days(&state))))
}

/// `GetKeys`: the keys behind certificates.
pub async fn get_keys(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let size = page_size(&ctx)?;
    let (rows, token) = list_live(&state, &ctx, false, false).await?;
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows
            .iter()
            .filter_map(|r| {
                r.version.as_ref().map(|v| {
                    dto::key_item(&ctx.base_url, &r.certificate.name, v, days(&state), false)
                })
            })
            .collect(),
        next_link: token.map(|t| next_link(&ctx, "/keys", &t, size, "")),
    }))
}

/// `GetKeyVersions` of a certificate-backed key.
pub async fn get_key_versions(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = key_name(&path)?;
    let days = days(&state);
    let unknown = |_| {
        ApiError::from(crate::domain::DomainError::KeyNotFound {
            name: name.to_string(),
        })
    };
    versions_page(&state, &ctx, &name, "keys", unknown, |stored, v| {
        dto::key_item(&ctx.base_url, stored, v, days, true)
    })
    .await
}

/// `GetKey` (current version).
pub async fn get_key(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = key_name(&path)?;
    let k = state.keyvault.key(&ctx.vault, &name, None).await?;
    Ok(HttpResponse::Ok().json(dto::key_bundle(&ctx.base_url, &k, days(&state))))
}

/// `GetKey` of one version.
pub async fn get_key_version(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (name, version) = path.into_inner();
    let name = key_name(&name)?;
    let k = state
        .keyvault
        .key(&ctx.vault, &name, Some(&version))
        .await?;
    Ok(HttpResponse::Ok().json(dto::key_bundle(&ctx.base_url, &k, days(&state))))
}

/// `GetDeletedSecrets`: the secrets of soft-deleted certificates.
pub async fn get_deleted_secrets(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let size = page_size(&ctx)?;
    let (rows, token) = list_live(&state, &ctx, true, true).await?;
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows
            .iter()
            .filter_map(|r| {
                dto::deleted_secret(&ctx.base_url, r, &content_type_of(r), days(&state))
            })
            .collect(),
        next_link: token.map(|t| next_link(&ctx, "/deletedsecrets", &t, size, "")),
    }))
}

/// `GetDeletedSecret` of a soft-deleted certificate (no value: it is deleted).
pub async fn get_deleted_secret(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = secret_name(&path)?;
    let not_found = || {
        ApiError::from(crate::domain::DomainError::SecretNotFound {
            name: name.to_string(),
        })
    };
    let deleted = state
        .keyvault
        .get_deleted(&ctx.vault, &name)
        .await
        .map_err(|_| not_found())?;
    dto::deleted_secret(
        &ctx.base_url,
        &deleted,
        &content_type_of(&deleted),
        days(&state),
    )
    .map(|b| HttpResponse::Ok().json(b))
    .ok_or_else(not_found)
}

/// `GetDeletedKeys`: the keys of soft-deleted certificates.
pub async fn get_deleted_keys(
    state: web::Data<AppState>,
    ctx: RequestContext,
) -> Result<HttpResponse, ApiError> {
    let size = page_size(&ctx)?;
    let (rows, token) = list_live(&state, &ctx, true, true).await?;
    Ok(HttpResponse::Ok().json(ListResponse {
        value: rows
            .iter()
            .filter_map(|r| dto::deleted_key_item(&ctx.base_url, r, days(&state)))
            .collect(),
        next_link: token.map(|t| next_link(&ctx, "/deletedkeys", &t, size, "")),
    }))
}

/// `GetDeletedKey` of a soft-deleted certificate: its public key.
pub async fn get_deleted_key(
    state: web::Data<AppState>,
    ctx: RequestContext,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = key_name(&path)?;
    let not_found = || {
        ApiError::from(crate::domain::DomainError::KeyNotFound {
            name: name.to_string(),
        })
    };
    let deleted = state
        .keyvault
        .get_deleted(&ctx.vault, &name)
        .await
        .map_err(|_| not_found())?;
    let version = deleted.version.as_ref().ok_or_else(not_found)?;
    let jwk = state.keyvault.public_jwk(version)?;
    let policy = serde_json::from_str(&deleted.certificate.policy).ok();
    let view = crate::service::keyvault::KeyView {
        name: deleted.certificate.name.clone(),
        version: version.clone(),
        jwk,
        key_ops: crate::service::keyvault::key_ops(policy.as_ref()),
    };
    let mut body = dto::key_bundle(&ctx.base_url, &view, days(&state));
    dto::deleted_key_fields(&mut body, &ctx.base_url, &deleted);
    Ok(HttpResponse::Ok().json(body))
}
