//! What unchanged Azure clients need besides Key Vault's paths: the managed-identity
//! endpoints (App Service `GET /msi/token`, IMDS `GET /metadata/identity/oauth2/token`), the
//! OAuth client-credentials endpoints (`/{tenant}/v2.0/.well-known/openid-configuration`,
//! `POST /{tenant}/oauth2/v2.0/token`, the tenant's keys), and the resource-manager reads the
//! az CLI makes (`GET /metadata/endpoints`, `/subscriptions`, `/tenants`).
//!
//! Errors here speak each protocol's own shape (`{"statusCode","message"}` for managed
//! identity, `{"error","error_description"}` for OAuth), not Key Vault's envelope: that is
//! what the credentials parse. Nothing here writes.
//!
//! Why one file of some 600 lines: the three protocols share how a caller is named, how a
//! token is minted for a resource and how a refusal is shaped; split by protocol, each part
//! would import the others' helpers.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::auth::AuthFailure;
use super::extract::query_pairs;
use super::AppState;
use crate::service::identity::{IdentityKind, Subject, TokenIssuer};

/// The api-versions of the App Service protocol and the header each one carries the
/// identity secret in.
const MSI_VERSIONS: &[(&str, &str)] = &[
    ("2019-08-01", "x-identity-header"),
    ("2017-09-01", "secret"),
];

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A managed-identity refusal: `{"statusCode": N, "message": "..."}`.
fn msi_error(status: StatusCode, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "statusCode": status.as_u16(),
        "message": message.into(),
    }))
}

/// The managed-identity refusal of an identity lookup: `unknown` (401) for an identity
/// that is not there, 503 for one that could not be read (it is not known to be wrong).
fn identity_refused(failure: AuthFailure, unknown: impl Into<String>) -> HttpResponse {
    match failure {
        AuthFailure::Unavailable => msi_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "The identity could not be looked up; try again.",
        ),
        AuthFailure::Missing | AuthFailure::Invalid(_) => {
            msi_error(StatusCode::UNAUTHORIZED, unknown)
        }
    }
}

/// An OAuth refusal (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "error": error,
        "error_description": description.into(),
    }))
}

fn issuer_of(state: &AppState) -> Option<&std::sync::Arc<TokenIssuer>> {
    state.auth.issuer()
}

fn query(req: &HttpRequest, key: &str) -> Option<String> {
    query_pairs(req.query_string())
        .into_iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// App Service managed identity: `GET /msi/token?api-version=2019-08-01&resource=R` with
/// `X-IDENTITY-HEADER: <token>` (or `api-version=2017-09-01` with `secret: <token>`). The
/// identity is the opaque certbroker token's name and role.
pub async fn get_msi_token(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let version = query(&req, "api-version").unwrap_or_default();
    let Some((_, secret_header)) = MSI_VERSIONS.iter().find(|(v, _)| *v == version) else {
        return msi_error(
            StatusCode::BAD_REQUEST,
            format!("api-version '{version}' is not supported: use 2019-08-01 or 2017-09-01."),
        );
    };
    let secret = header(&req, secret_header).unwrap_or_default().trim();
    if secret.is_empty() {
        return msi_error(
            StatusCode::UNAUTHORIZED,
            format!("The {secret_header} header is missing."),
        );
    }
    let who = match state.auth.authenticate_secret(secret).await {
        Ok(a) => a,
        Err(failure) => {
            let unknown =
                format!("The {secret_header} header does not name an identity of this server.");
            return identity_refused(failure, unknown);
        }
    };
    let body = mint_for_identity(&state, &req, who.kind, &who.name);
    match body {
        Ok(b) => HttpResponse::Ok().json(strip_private(b)),
        Err((status, message)) => msi_error(status, message),
    }
}

/// IMDS: `GET /metadata/identity/oauth2/token?api-version=...&resource=R` with `Metadata:
/// true`. The request carries no secret: from a loopback address it gets the identity
/// `identity.imds_identity` names, unless it carries an App Service identity header, whose
/// identity wins.
pub async fn get_imds_token(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if !header(&req, "metadata").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return msi_error(
            StatusCode::BAD_REQUEST,
            "Required metadata header not specified",
        );
    }
    if query(&req, "api-version").is_none_or(|v| v.is_empty()) {
        return msi_error(
            StatusCode::BAD_REQUEST,
            "Required query variable 'api-version' is missing",
        );
    }
    let Some(issuer) = issuer_of(&state) else {
        return msi_error(StatusCode::SERVICE_UNAVAILABLE, "No token issuer.");
    };
    let who = match header(&req, "x-identity-header") {
        Some(secret) => state.auth.authenticate_secret(secret.trim()).await,
        // A request without a secret gets an identity only from this host, like the
        // link-local IMDS address it stands in for.
        None if !req.peer_addr().is_some_and(|a| a.ip().is_loopback()) => {
            return msi_error(
                StatusCode::UNAUTHORIZED,
                "IMDS requests without an identity header are answered from this host only.",
            )
        }
        None if !issuer.imds_identity().is_empty() => {
            let name = issuer.imds_identity();
            match state.auth.identity(IdentityKind::Config, name).await {
                Ok(a) => Ok(a),
                Err(_) => state.auth.identity(IdentityKind::Token, name).await,
            }
        }
        None => {
            return msi_error(
                StatusCode::UNAUTHORIZED,
                "No identity is assigned to IMDS requests (identity.imds_identity).",
            )
        }
    };
    let who = match who {
        Ok(a) => a,
        Err(failure) => {
            let unknown = "The identity of this request does not exist on this server.";
            return identity_refused(failure, unknown);
        }
    };
    match mint_for_identity(&state, &req, who.kind, &who.name) {
        Ok(mut body) => {
            // IMDS answers every number as a string.
            if let Some(obj) = body.as_object_mut() {
                let on: i64 = obj["expires_on"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_default();
                let expires_in = obj.get("_expires_in").cloned().unwrap_or_default();
                obj.insert("expires_in".into(), expires_in.clone());
                obj.insert("ext_expires_in".into(), expires_in);
                obj.insert(
                    "not_before".into(),
                    json!((on - issuer.lifetime()).to_string()),
                );
            }
            HttpResponse::Ok().json(strip_private(body))
        }
        Err((status, message)) => msi_error(status, message),
    }
}

/// Removes the helper fields (`_...`) of a token body.
fn strip_private(mut body: Value) -> Value {
    if let Some(obj) = body.as_object_mut() {
        obj.retain(|k, _| !k.starts_with('_'));
    }
    body
}

/// The managed-identity answer for `kind`/`name`, after checking the optional
/// user-assigned selectors (`client_id`, `object_id`, `mi_res_id`) name that identity.
fn mint_for_identity(
    state: &AppState,
    req: &HttpRequest,
    kind: IdentityKind,
    name: &str,
) -> Result<Value, (StatusCode, String)> {
    let Some(issuer) = issuer_of(state) else {
        return Err((StatusCode::SERVICE_UNAVAILABLE, "No token issuer.".into()));
    };
    let resource = query(req, "resource").unwrap_or_default();
    if resource.trim().is_empty() {
        return Err((
            StatusCode::BAD_REQUEST,
            "Required query variable 'resource' is missing".into(),
        ));
    }
    let client_id = issuer.guid_for(kind, name);
    for selector in [
        "client_id",
        "object_id",
        "principal_id",
        "mi_res_id",
        "msi_res_id",
    ] {
        if let Some(v) = query(req, selector) {
            if !v.eq_ignore_ascii_case(&client_id) && v != name {
                return Err((
                    StatusCode::BAD_REQUEST,
                    format!(
                        "No managed identity with {selector} '{v}' is assigned to this caller."
                    ),
                ));
            }
        }
    }
    let subject = Subject {
        kind,
        name: name.to_owned(),
        client_id: client_id.clone(),
    };
    let iss = format!("https://sts.windows.net/{}/", issuer.tenant_id());
    let minted = issuer.mint(&subject, &resource, &iss).map_err(|_| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not sign a token.".to_owned(),
        )
    })?;
    Ok(json!({
        "access_token": minted.access_token,
        "expires_on": minted.expires_on.to_string(),
        "resource": resource,
        "token_type": "Bearer",
        "client_id": client_id,
        "_expires_in": minted.expires_in.to_string(),
    }))
}

/// The tenant a path names, when this server serves it: `adfs` or the tenant id.
fn served_tenant<'a>(issuer: &TokenIssuer, tenant: &'a str) -> Option<&'a str> {
    (tenant.eq_ignore_ascii_case("adfs") || tenant.eq_ignore_ascii_case(issuer.tenant_id()))
        .then_some(tenant)
}

fn base_url(req: &HttpRequest) -> String {
    format!("https://{}", req.connection_info().host())
}

/// The OpenID configuration of `tenant` (`adfs` or the tenant id), for MSAL-based clients.
fn openid_configuration(req: &HttpRequest, issuer: &TokenIssuer, tenant: &str) -> HttpResponse {
    let Some(tenant) = served_tenant(issuer, tenant) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            format!(
                "AADSTS90002: Tenant '{tenant}' not found. This server serves 'adfs' and '{}'.",
                issuer.tenant_id()
            ),
        );
    };
    let base = base_url(req);
    let adfs = tenant.eq_ignore_ascii_case("adfs");
    let iss = if adfs {
        format!("{base}/adfs")
    } else {
        format!("{base}/{tenant}/v2.0")
    };
    HttpResponse::Ok().json(json!({
        "issuer": iss,
        "authorization_endpoint": format!("{base}/{tenant}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/{tenant}/oauth2/v2.0/token"),
        "jwks_uri": format!("{base}/{tenant}/discovery/v2.0/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "scopes_supported": [".default"],
        "tenant_region_scope": Value::Null,
    }))
}

/// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
pub async fn get_openid_configuration(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    match issuer_of(&state) {
        Some(i) => openid_configuration(&req, i, &path),
        None => oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "No token issuer.",
        ),
    }
}

/// `GET /adfs/.well-known/openid-configuration`.
pub async fn get_adfs_openid_configuration(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> HttpResponse {
    match issuer_of(&state) {
        Some(i) => openid_configuration(&req, i, "adfs"),
        None => oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "No token issuer.",
        ),
    }
}

/// `GET /{tenant}/discovery/v2.0/keys`: the public key tokens are signed with (JWKS).
pub async fn get_signing_keys(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let Some(issuer) = issuer_of(&state) else {
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "No token issuer.",
        );
    };
    if served_tenant(issuer, &path).is_none() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            format!("AADSTS90002: Tenant '{path}' not found."),
        );
    }
    match issuer.jwks() {
        Ok(keys) => HttpResponse::Ok().json(keys),
        Err(_) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Could not encode the key.",
        ),
    }
}

/// The resource a client-credentials `scope` asks for: the `.default` scope's resource.
fn scope_resource(scope: &str) -> Option<String> {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let chosen = scopes
        .iter()
        .find(|s| s.ends_with("/.default"))
        .or_else(|| {
            scopes
                .iter()
                .find(|s| !matches!(**s, "openid" | "profile" | "offline_access"))
        })?;
    let resource = chosen.strip_suffix("/.default").unwrap_or(chosen);
    (!resource.is_empty()).then(|| resource.to_owned())
}

/// `POST /{tenant}/oauth2/v2.0/token` with `grant_type=client_credentials`: a client made
/// with `certbroker client create` and its secret, or a configured workload identity's
/// client assertion.
pub async fn request_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let Some(issuer) = issuer_of(&state) else {
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "No token issuer.",
        );
    };
    let Some(tenant) = served_tenant(issuer, &path) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            format!("AADSTS90002: Tenant '{path}' not found."),
        );
    };
    let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must be application/x-www-form-urlencoded.",
        );
    };
    let field = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    };
    if field("grant_type") != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!(
                "AADSTS70003: grant_type '{}' is not supported; use client_credentials.",
                field("grant_type")
            ),
        );
    }
    let client_id = field("client_id");
    if client_id.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must contain the parameter 'client_id'.",
        );
    }
    let Some(resource) = scope_resource(field("scope")) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "AADSTS1002012: The scope must name a resource, e.g. https://vault.azure.net/.default.",
        );
    };
    let (kind, name) = if !field("client_secret").is_empty() {
        let found = state.services.clients.by_client_id(client_id).await;
        match found {
            Ok(Some(c)) => {
                let given = crate::crypto::seal::sha256(field("client_secret").as_bytes());
                let stored = hex::decode(&c.secret_sha256).unwrap_or_default();
                if stored.len() != given.len() || !openssl::memcmp::eq(&given, &stored) {
                    return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", format!("AADSTS7000215: Invalid client secret provided for client '{client_id}'."));
                }
                (IdentityKind::Client, c.name)
            }
            Ok(None) => {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    format!(
                        "AADSTS700016: Application with identifier '{client_id}' was not found."
                    ),
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "could not look up an OAuth client");
                return oauth_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "server_error",
                    "The client could not be looked up.",
                );
            }
        }
    } else if !field("client_assertion").is_empty() {
        if field("client_assertion_type") != ASSERTION_TYPE {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                format!("AADSTS700023: client_assertion_type must be '{ASSERTION_TYPE}'."),
            );
        }
        match issuer.check_assertion(client_id, field("client_assertion")) {
            Ok(f) => (IdentityKind::Federated, f.name.clone()),
            Err(why) => {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    format!("AADSTS700211: {why}"),
                );
            }
        }
    } else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000218: The request body must contain 'client_secret' or 'client_assertion'.",
        );
    };
    let subject = Subject {
        kind,
        name,
        client_id: client_id.to_owned(),
    };
    let base = base_url(&req);
    let iss = if tenant.eq_ignore_ascii_case("adfs") {
        format!("{base}/adfs")
    } else {
        format!("{base}/{}/v2.0", issuer.tenant_id())
    };
    match issuer.mint(&subject, &resource, &iss) {
        Ok(m) => HttpResponse::Ok().json(json!({
            "token_type": "Bearer",
            "expires_in": m.expires_in,
            "ext_expires_in": m.expires_in,
            "access_token": m.access_token,
        })),
        Err(_) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Could not sign a token.",
        ),
    }
}

/// The port of a `host[:port]` (443 when none is given).
fn host_port(host: &str) -> u16 {
    host.rsplit_once(':')
        .filter(|(h, _)| !h.ends_with(']') || host.starts_with('['))
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(443)
}

/// The cloud that `az cloud register --endpoint-resource-manager https://host:port` reads:
/// this server is the resource manager, the login endpoint and, under `vault.localhost`
/// with the port the client called, every vault.
fn cloud(req: &HttpRequest, issuer: &TokenIssuer) -> Value {
    let host = req.connection_info().host().to_owned();
    let base = format!("https://{host}/");
    let port = host_port(&host);
    let vault_dns = if port == 443 {
        "vault.localhost".to_owned()
    } else {
        format!("vault.localhost:{port}")
    };
    json!({
        "name": "certbroker",
        "portal": base,
        "resourceManager": base,
        "authentication": {
            "loginEndpoint": base,
            "audiences": issuer.arm_audiences_as_configured(),
            "tenant": issuer.tenant_id(),
            "identityProvider": "AAD",
        },
        "graph": base,
        "graphAudience": base,
        "microsoftGraphResourceId": base,
        "media": base,
        "batch": base,
        "gallery": base,
        "sqlManagement": base,
        "activeDirectoryDataLake": base,
        "vmImageAliasDoc": format!("{base}vmImageAliasDoc"),
        "suffixes": {
            "keyVaultDns": vault_dns,
            "mhsmDns": format!("managedhsm.{vault_dns}"),
            "storage": "core.windows.net",
            "sqlServerHostname": "database.windows.net",
            "acrLoginServer": "azurecr.io",
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
        },
    })
}

/// `GET /metadata/endpoints`: the cloud object (`api-version=2022-09-01` and later), or
/// the list of clouds (`api-version=2019-05-01`, what `ARM_CLOUD_METADATA_URL` reads).
pub async fn get_cloud_metadata(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let Some(issuer) = issuer_of(&state) else {
        return msi_error(StatusCode::SERVICE_UNAVAILABLE, "No token issuer.");
    };
    let c = cloud(&req, issuer);
    match query(&req, "api-version").as_deref() {
        Some("2019-05-01") | Some("2018-01-01") => HttpResponse::Ok().json(json!([c])),
        _ => HttpResponse::Ok().json(c),
    }
}

/// A resource-manager list of the one item `item` renders (503 without a token issuer).
fn arm_list(state: &AppState, item: impl FnOnce(&TokenIssuer) -> Value) -> HttpResponse {
    let Some(issuer) = issuer_of(state) else {
        return msi_error(StatusCode::SERVICE_UNAVAILABLE, "No token issuer.");
    };
    HttpResponse::Ok().json(json!({
        "value": [item(issuer)],
        "count": {"type": "Total", "value": 1},
    }))
}

/// `GET /subscriptions`: one synthetic subscription in the tenant (az login needs one).
pub async fn list_subscriptions(state: web::Data<AppState>) -> HttpResponse {
    arm_list(&state, |issuer| {
        let id = issuer.subscription_id();
        json!({
            "id": format!("/subscriptions/{id}"),
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": id,
            "tenantId": issuer.tenant_id(),
            "displayName": "certbroker",
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "Internal_2014-09-01",
                "spendingLimit": "Off",
            },
        })
    })
}

/// `GET /tenants`: the one tenant.
pub async fn list_tenants(state: web::Data<AppState>) -> HttpResponse {
    arm_list(&state, |issuer| {
        let tid = issuer.tenant_id();
        json!({
            "id": format!("/tenants/{tid}"),
            "tenantId": tid,
            "tenantCategory": "Home",
            "displayName": "certbroker",
            "defaultDomain": "certbroker.localhost",
            "domains": ["certbroker.localhost"],
            "tenantType": "AAD",
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_name_their_resource() {
        assert_eq!(
            scope_resource("https://vault.azure.net/.default").as_deref(),
            Some("https://vault.azure.net")
        );
        assert_eq!(
            scope_resource("openid https://management.core.windows.net//.default offline_access")
                .as_deref(),
            Some("https://management.core.windows.net/")
        );
        assert_eq!(scope_resource("openid profile"), None);
        assert_eq!(scope_resource(""), None);
    }

    #[test]
    fn ports_come_from_the_host() {
        assert_eq!(host_port("localhost:8443"), 8443);
        assert_eq!(host_port("localhost"), 443);
        assert_eq!(host_port("[::1]:9000"), 9000);
        assert_eq!(host_port("[::1]"), 443);
    }
}
