//! Bearer-token authentication, the route's permission and the `api-version` check, in the
//! gate each route runs before its handler and before any body is read (the SDKs'
//! challenge probe relies on it). What wraps every request (the request-id headers, the
//! metrics, the one log line) is `http::stamp`.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError};

use super::access::{Access, RouteDef};
use super::extract::{query_pairs, RequestContext};
use super::roles::Role;
use super::stamp::{client_request_id, RouteInfo};
use crate::crypto;
use crate::error::ApiError;
use crate::es::credentials::Credentials;
use crate::service::identity::{Audience, IdentityKind, TokenIssuer};
use crate::service::Caller;

/// The api-versions the current SDKs send, newest first.
pub const API_VERSIONS: &[&str] = &[
    "2026-04-01",
    "2026-03-01-preview",
    "2025-07-01",
    "7.6",
    "7.5",
    "7.4",
    "7.3",
    "7.2",
    "7.1",
    "7.0",
    "2016-10-01",
];

const MISSING_TOKEN: &str = "Request is missing a Bearer or PoP token.";
const INVALID_TOKEN: &str = "The bearer token is not valid for this vault.";
const REVOKED_IDENTITY: &str = "The identity the access token was issued to no longer exists.";

/// Accepted tokens, by SHA-256, and the challenge to send. Configured tokens (and the dev
/// token) are admins; tokens made with `certbroker token create` are looked up in the
/// database on each request, so creating and revoking them needs no restart. JWTs this
/// server minted (managed identity, OAuth) are accepted beside them: signature, expiry and
/// audience checked, and their identity looked up on each request the same way.
pub struct Auth {
    tokens: HashMap<[u8; 32], String>,
    challenge: String,
    store: Option<crate::es::storage::Storage>,
    /// SHA-256 of the token that may read `GET /metrics` only.
    metrics_token: Option<[u8; 32]>,
    issuer: Option<Arc<TokenIssuer>>,
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The name recorded as the actor.
    pub actor: String,
    pub role: Role,
    pub kind: IdentityKind,
    /// The identity's own name (a token's, a client's).
    pub name: String,
}

impl Auth {
    /// `tokens`: (name, SHA-256 of the token).
    pub fn new(tokens: Vec<(String, [u8; 32])>, authorization_uri: &str, resource: &str) -> Self {
        Auth {
            tokens: tokens.into_iter().map(|(n, h)| (h, n)).collect(),
            challenge: format!(
                "Bearer authorization=\"{authorization_uri}\", resource=\"{resource}\""
            ),
            store: None,
            metrics_token: None,
            issuer: None,
        }
    }

    /// Also accepts, on `GET /metrics` only, the token whose SHA-256 is `hash`.
    pub fn with_metrics_token(mut self, hash: Option<[u8; 32]>) -> Self {
        self.metrics_token = hash;
        self
    }

    /// Also accepts the JWTs `issuer` minted.
    pub fn with_issuer(mut self, issuer: Arc<TokenIssuer>) -> Self {
        self.issuer = Some(issuer);
        self
    }

    /// The token issuer, when JWTs are accepted.
    pub fn issuer(&self) -> Option<&Arc<TokenIssuer>> {
        self.issuer.as_ref()
    }

    /// Whether `header` carries the metrics scraper's token.
    fn is_metrics_token(&self, header: Option<&str>) -> bool {
        let Some(expected) = &self.metrics_token else {
            return false;
        };
        bearer(header)
            .is_some_and(|t| openssl::memcmp::eq(&crypto::seal::sha256(t.as_bytes()), expected))
    }

    /// Also accepts the tokens stored in the database.
    pub fn with_store(mut self, storage: crate::es::storage::Storage) -> Self {
        self.store = Some(storage);
        self
    }

    /// The caller if `header` carries an accepted bearer token: an opaque token, or a JWT
    /// this server minted for `audience`.
    pub async fn authenticate(
        &self,
        header: Option<&str>,
        audience: Audience,
    ) -> Result<Authenticated, AuthFailure> {
        let token = bearer(header).ok_or(AuthFailure::Missing)?;
        match &self.issuer {
            Some(issuer) if token.matches('.').count() == 2 => {
                let b = issuer.verify(token, audience)?;
                self.identity(b.kind, &b.name).await
            }
            _ => self.authenticate_secret(token).await,
        }
    }

    /// The identity an opaque token (a configured one or one made with `certbroker token
    /// create`) stands for.
    pub async fn authenticate_secret(&self, token: &str) -> Result<Authenticated, AuthFailure> {
        let hash = crypto::seal::sha256(token.as_bytes());
        if let Some(name) = self.tokens.get(&hash) {
            return Ok(Authenticated {
                actor: name.clone(),
                role: Role::Admin,
                kind: IdentityKind::Config,
                name: name.clone(),
            });
        }
        let hash = hex::encode(hash);
        let Some(mut reader) = self.reader().await? else {
            return Err(INVALID_TOKEN.into());
        };
        let found = crate::es::tokens::lookup(&mut reader.conn(), &hash)
            .await
            .map_err(db_failure)?;
        let (name, role) = found.ok_or(INVALID_TOKEN)?;
        let role = role.parse().map_err(|_| INVALID_TOKEN)?;
        Ok(Authenticated {
            actor: name.clone(),
            role,
            kind: IdentityKind::Token,
            name,
        })
    }

    /// The identity `kind`/`name` if it still exists, with its current role.
    pub async fn identity(
        &self,
        kind: IdentityKind,
        name: &str,
    ) -> Result<Authenticated, AuthFailure> {
        let role: Option<String> = match kind {
            IdentityKind::Config => self
                .tokens
                .values()
                .any(|n| n == name)
                .then(|| Role::Admin.as_str().to_owned()),
            IdentityKind::Token | IdentityKind::Client => {
                let table = if kind == IdentityKind::Token {
                    Credentials::Tokens
                } else {
                    Credentials::Clients
                };
                match self.reader().await? {
                    Some(mut r) => crate::es::credentials::active_role(&mut r.conn(), table, name)
                        .await
                        .map_err(db_failure)?,
                    None => None,
                }
            }
            IdentityKind::Federated => self
                .issuer
                .as_ref()
                .and_then(|i| i.federated_role(name))
                .map(str::to_owned),
        };
        let role = role.ok_or(REVOKED_IDENTITY)?;
        Ok(Authenticated {
            actor: kind.actor(name),
            role: role.parse().map_err(|_| INVALID_TOKEN)?,
            kind,
            name: name.to_owned(),
        })
    }

    /// A pooled reader (None without a store).
    async fn reader(&self) -> Result<Option<crate::es::storage::Pooled>, AuthFailure> {
        let Some(storage) = &self.store else {
            return Ok(None);
        };
        storage.acquire().await.map(Some).map_err(db_failure)
    }

    fn unauthorized(&self, error: &ApiError) -> actix_web::HttpResponse {
        let mut resp = error.error_response();
        if let Ok(v) = HeaderValue::from_str(&self.challenge) {
            resp.headers_mut()
                .insert(actix_web::http::header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

/// Logs a failed identity lookup: an identity that cannot be looked up is not known to be
/// wrong, so the caller gets a 503, not a 401.
fn db_failure(e: sqlx::Error) -> AuthFailure {
    tracing::error!(error = %e, "could not look up a stored identity");
    AuthFailure::Unavailable
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No bearer token.
    Missing,
    /// A token that is not accepted, and why (the 401's message).
    Invalid(&'static str),
    /// The stored identities could not be read.
    Unavailable,
}

impl From<&'static str> for AuthFailure {
    fn from(message: &'static str) -> Self {
        AuthFailure::Invalid(message)
    }
}

/// The token of a `Bearer` authorization header.
fn bearer(header: Option<&str>) -> Option<&str> {
    let mut parts = header?.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default();
    let token = parts.next().unwrap_or_default().trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Checks the API version of a request's query.
pub fn check_api_version(pairs: &[(String, String)]) -> Result<String, ApiError> {
    let versions: Vec<&String> = pairs
        .iter()
        .filter(|(k, _)| k == "api-version")
        .map(|(_, v)| v)
        .collect();
    match versions.as_slice() {
        [] => Err(ApiError::bad_parameter(format!(
            "The 'api-version' query parameter is required. Supported versions: {}.",
            API_VERSIONS.join(", ")
        ))),
        [v] if API_VERSIONS.contains(&v.as_str()) => Ok((*v).clone()),
        [v] => Err(ApiError::bad_parameter(format!(
            "The specified version ({v}) is not recognized. Consider using the latest supported version ({}).",
            API_VERSIONS[0]
        ))),
        _ => Err(ApiError::bad_parameter(
            "The 'api-version' query parameter was given more than once.",
        )),
    }
}

/// The caller's role on an authenticated request (handlers that show it read it).
#[derive(Debug, Clone, Copy)]
pub struct CallerRole(pub Role);

/// The gate of one route, run after routing chose it: authentication (before any body is
/// read), the route's permission, the `api-version`, and the request context handlers
/// read. Refusals are recorded: the gate's own (401, 403, 429) coalesced per window by
/// [`super::refusals`], those the handler answers (403, 409) one record each.
pub async fn gate(
    route: &'static RouteDef,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .cloned()
    else {
        let resp = ApiError::internal_message("application state missing").error_response();
        return Ok(req.into_response(resp).map_into_right_body());
    };
    let host = req.connection_info().host().to_owned();
    let vault = super::vaults::vault_for_host(&host, &state.vaults);
    req.extensions_mut().insert(RouteInfo {
        operation: route.operation,
        vault: vault.clone(),
        actor: None,
    });
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let (needed, audience) = match route.access {
        // The managed-identity and OAuth routes authenticate their callers themselves
        // (an identity header, a client secret or assertion in the form).
        Access::Public | Access::ManagedIdentity | Access::OAuthClient => {
            return Ok(next.call(req).await?.map_into_left_body())
        }
        Access::Token(p) => (p, Audience::Vault),
        Access::ResourceManager => (super::roles::Permission::Read, Audience::ResourceManager),
        Access::Metrics if state.auth.is_metrics_token(header) => {
            set_actor(&req, "metrics");
            return Ok(next.call(req).await?.map_into_left_body());
        }
        Access::Metrics => (super::roles::Permission::Administer, Audience::Vault),
    };
    let client_request_id = client_request_id(&req);
    let limits = state.refusals.limits();
    let info = super::audit::RequestInfo {
        vault: vault.clone(),
        method: req.method().as_str().to_owned(),
        path: req.path().chars().take(limits.refusal_path_chars).collect(),
        certificate: route_certificate(route, &req),
        client_request_id: client_request_id.clone(),
        remote_addr: req.peer_addr().map(|a| a.to_string()),
    };
    let now = state.services.core.clock.now();
    let (actor, role) = match state.auth.authenticate(header, audience).await {
        Ok(found) => (found.actor, found.role),
        Err(AuthFailure::Unavailable) => {
            let error = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "The token could not be checked; try again.",
            );
            return Ok(req
                .into_response(error.error_response())
                .map_into_right_body());
        }
        Err(failure) => {
            if let Err(wait) = state
                .refusals
                .admit_unauthenticated(info.remote_addr.as_deref())
            {
                crate::metrics::refused("throttled");
                let error = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Throttled",
                    format!(
                        "Too many requests without a valid token from this address; retry after {wait} seconds."
                    ),
                );
                refuse(&state, &info, None, &error, now).await;
                let mut resp = error.error_response();
                resp.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    HeaderValue::from(wait),
                );
                return Ok(req.into_response(resp).map_into_right_body());
            }
            let message = match failure {
                AuthFailure::Invalid(message) => {
                    crate::metrics::refused("invalid_token");
                    message
                }
                _ => {
                    crate::metrics::refused("missing_token");
                    MISSING_TOKEN
                }
            };
            let error = ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", message);
            refuse(&state, &info, None, &error, now).await;
            let resp = state.auth.unauthorized(&error);
            return Ok(req.into_response(resp).map_into_right_body());
        }
    };
    set_actor(&req, &actor);
    if !role.allows(needed) {
        crate::metrics::refused("forbidden");
        let error = ApiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!(
                "The token '{actor}' has the role {role}; {} {} needs the role {}.",
                info.method,
                info.path,
                needed.least_role()
            ),
        );
        refuse(&state, &info, Some((&actor, role)), &error, now).await;
        return Ok(req
            .into_response(error.error_response())
            .map_into_right_body());
    }
    req.extensions_mut().insert(CallerRole(role));
    // Neither the scraper nor the resource-manager routes speak Key Vault's api-versions.
    if matches!(route.access, Access::Metrics | Access::ResourceManager) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let pairs = query_pairs(req.query_string());
    let api_version = match check_api_version(&pairs) {
        Ok(v) => v,
        Err(e) => return Ok(req.into_response(e.error_response()).map_into_right_body()),
    };
    req.extensions_mut().insert(RequestContext {
        caller: Caller {
            vault,
            actor: actor.clone(),
            client_request_id,
            remote_addr: info.remote_addr.clone(),
        },
        base_url: format!("https://{host}"),
        api_version,
        query: pairs,
    });
    let res = next.call(req).await?;
    // Refusals by the handlers (a conflict, a forbidden merge) are recorded too.
    if matches!(res.status().as_u16(), 401 | 403 | 409) {
        crate::metrics::refused(match res.status().as_u16() {
            409 => "conflict",
            403 => "forbidden",
            _ => "invalid_token",
        });
        let fallback;
        let error = match res
            .response()
            .error()
            .and_then(|e| e.as_error::<ApiError>())
        {
            Some(e) => e,
            None => {
                fallback = ApiError::new(res.status(), "Conflict", "The request was refused.");
                &fallback
            }
        };
        super::audit::record_refusal(&state, &info, Some((&actor, role)), error).await;
    }
    Ok(res.map_into_left_body())
}

/// Records a refusal at the gate: counted for its window's record, or recorded at once
/// when `limits.refusal_window_seconds` is 0.
async fn refuse(
    state: &super::AppState,
    info: &super::audit::RequestInfo,
    caller: Option<(&str, Role)>,
    error: &ApiError,
    now: chrono::DateTime<chrono::Utc>,
) {
    if state.refusals.limits().refusal_window_seconds == 0 {
        super::audit::record_refusal(state, info, caller, error).await;
    } else {
        state.refusals.note(info, caller, error, now);
    }
}

/// Records the authenticated caller for the request's log line and metrics.
fn set_actor(req: &ServiceRequest, actor: &str) {
    if let Some(info) = req.extensions_mut().get_mut::<RouteInfo>() {
        info.actor = Some(actor.to_owned());
    }
}

/// The certificate a routed request is about: the `{name}` of a `/certificates/...` or
/// `/deletedcertificates/...` route, case-folded.
fn route_certificate(route: &RouteDef, req: &ServiceRequest) -> Option<String> {
    let about_certificate = route.path.starts_with("/certificates/{name}")
        || route.path.starts_with("/deletedcertificates/{name}");
    if !about_certificate {
        return None;
    }
    req.match_info()
        .get("name")
        .and_then(|n| super::extract::certificate_name(n).ok())
        .map(|n| n.key())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tokens_are_checked_by_hash_and_scheme() {
        let auth = Auth::new(
            vec![("ci".into(), crypto::seal::sha256(b"s3cret"))],
            "https://login.example/t",
            "https://vault.azure.net",
        );
        // What the gate does with an Authorization header.
        let check = |header: Option<&'static str>| {
            let auth = &auth;
            async move {
                let who = auth.authenticate(header, Audience::Vault).await;
                who.map(|a| a.name).map_err(|_| ())
            }
        };
        assert_eq!(check(Some("Bearer s3cret")).await, Ok("ci".into()));
        assert_eq!(check(Some("bearer s3cret")).await, Ok("ci".into()));
        assert!(check(Some("Bearer wrong")).await.is_err());
        assert!(check(Some("Basic s3cret")).await.is_err());
        assert!(check(None).await.is_err());
    }

    #[test]
    fn api_version_is_required_and_must_be_known() {
        let q = |s: &str| query_pairs(s);
        assert!(check_api_version(&q("api-version=7.5")).is_ok());
        assert!(check_api_version(&q("api%2Dversion=2025-07-01")).is_ok());
        assert!(check_api_version(&q("")).is_err());
        assert!(check_api_version(&q("api-version=9.9")).is_err());
    }
}
