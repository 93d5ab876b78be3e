//! Request parsing: the context the gate attaches, the query, names, and the one JSON body
//! extractor. Every failure here is an [`ApiError`] in Key Vault's envelope.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::domain::names::ObjectName;
use crate::error::ApiError;
use crate::service::certificates::CertificateView;
use crate::service::{Caller, Services};

use super::dto::certificates::certificate_bundle;
use super::AppState;

/// Who is calling, which vault, and how ids must be spelled for them.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Who calls, in which vault, from where: what the service layer records.
    pub caller: Caller,
    /// `https://<host the client called>`.
    pub base_url: String,
    pub api_version: String,
    pub query: Vec<(String, String)>,
}

impl RequestContext {
    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl FromRequest for RequestContext {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    /// Takes the context the gate attached (it is read once per request, by the handler's
    /// one extractor that needs it, so it is moved rather than copied).
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions_mut()
                .remove::<RequestContext>()
                .ok_or_else(|| ApiError::internal_message("request context missing")),
        )
    }
}

/// What a Key Vault handler works from: the shared state and the request's context.
pub struct Call {
    pub state: web::Data<AppState>,
    pub ctx: RequestContext,
}

impl Call {
    /// The services.
    pub fn services(&self) -> &Services {
        &self.state.services
    }

    /// The caller for the service layer.
    pub fn caller(&self) -> &Caller {
        &self.ctx.caller
    }

    /// The vault the request's host names.
    pub fn vault(&self) -> &str {
        &self.ctx.caller.vault
    }

    /// `https://<host the client called>`, the prefix of every id in a response.
    pub fn base_url(&self) -> &str {
        &self.ctx.base_url
    }

    /// Days a deleted certificate stays recoverable (shown in recovery attributes).
    pub fn retention_days(&self) -> i64 {
        self.state.retention_days()
    }

    /// 200 with the certificate bundle of `view`.
    pub fn bundle(&self, view: &CertificateView) -> HttpResponse {
        let body = certificate_bundle(self.base_url(), view, self.retention_days());
        HttpResponse::Ok().json(body)
    }
}

impl FromRequest for Call {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| ApiError::internal_message("application state missing"));
        let call = state.and_then(|state| {
            let ctx = RequestContext::from_request(req, payload).into_inner()?;
            Ok(Call { state, ctx })
        });
        ready(call)
    }
}

/// The route's path parameters as `T`, percent-decoded as actix's `web::Path` decodes them.
fn path_params<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, ApiError> {
    web::Path::<T>::extract(req)
        .into_inner()
        .map(web::Path::into_inner)
        .map_err(|e| ApiError::bad_parameter(format!("The request path is malformed: {e}")))
}

#[derive(serde::Deserialize)]
struct NameParam {
    name: String,
}

#[derive(serde::Deserialize)]
struct IssuerParam {
    issuer: String,
}

#[derive(serde::Deserialize)]
struct VersionParam {
    version: Option<String>,
}

/// Declares an extractor of a validated object name: the route parameter `$field` (read
/// through `$params`), parsed as a name of `$noun`, refused with `BadParameter` before the
/// handler runs.
macro_rules! name_extractor {
    ($(#[$doc:meta])* $ty:ident, $params:ident . $field:ident, $noun:literal) => {
        $(#[$doc])*
        pub struct $ty(pub ObjectName);

        impl FromRequest for $ty {
            type Error = ApiError;
            type Future = Ready<Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                ready(path_params::<$params>(req).and_then(|p| {
                    ObjectName::parse($noun, &p.$field)
                        .map($ty)
                        .map_err(ApiError::from)
                }))
            }
        }
    };
}

name_extractor!(
    /// The `{name}` of a certificate route.
    CertificateName, NameParam.name, "certificate"
);
name_extractor!(
    /// The `{name}` of a secret route.
    SecretName, NameParam.name, "secret"
);
name_extractor!(
    /// The `{name}` of a key route.
    KeyName, NameParam.name, "key"
);
name_extractor!(
    /// The `{issuer}` of an issuer route.
    IssuerName, IssuerParam.issuer, "issuer"
);

/// The `{version}` of a route that names one (`/certificates/{name}` and
/// `/certificates/{name}/{version}` take the same handler): `None` for the current one.
pub struct Version(pub Option<String>);

impl FromRequest for Version {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(path_params::<VersionParam>(req).map(|p| Version(p.version)))
    }
}

/// Decoded query pairs (keys and values percent-decoded; `api%2Dversion` is `api-version`).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

/// A validated certificate name (a name read from elsewhere than the route's path).
pub fn certificate_name(s: &str) -> Result<ObjectName, ApiError> {
    ObjectName::parse("certificate", s).map_err(ApiError::from)
}

async fn read_body(mut payload: Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "RequestEntityTooLarge",
            format!("The request body is larger than the limit of {limit} bytes."),
        )
    };
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_parameter(format!("The request body could not be read: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses a JSON body; an empty body is refused.
pub fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_parameter(
            "The request body is empty; a JSON object is required.",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        let what = if e.is_syntax() || e.is_eof() {
            "is not valid JSON"
        } else {
            "does not match the expected shape"
        };
        ApiError::bad_parameter(format!("The request body {what}: {e}."))
    })
}

fn body_limit(req: &HttpRequest) -> usize {
    req.app_data::<web::Data<AppState>>()
        .map_or(1 << 20, |s| s.max_body_bytes)
}

/// A JSON request body, up to `server.max_body_bytes` (413 beyond): an empty or malformed
/// body is a 400 in Key Vault's envelope. With `OPTIONAL`, an empty body is `T::default()`.
pub struct JsonBody<T, const OPTIONAL: bool = false>(pub T);

/// A JSON body that may be empty.
pub type OptionalJsonBody<T> = JsonBody<T, true>;

impl<T: DeserializeOwned + Default + 'static, const OPTIONAL: bool> FromRequest
    for JsonBody<T, OPTIONAL>
{
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = body_limit(req);
        let payload = payload.take();
        Box::pin(async move {
            let body = read_body(payload, limit).await?;
            if OPTIONAL && body.iter().all(u8::is_ascii_whitespace) {
                return Ok(JsonBody(T::default()));
            }
            json(&body).map(JsonBody)
        })
    }
}
