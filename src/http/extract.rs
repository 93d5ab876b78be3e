//! Request parsing: the context the gate attaches, the query, names, and the one JSON body
//! extractor. Every failure here is an [`ApiError`] in Key Vault's envelope.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::domain::names::ObjectName;
use crate::error::ApiError;
use crate::service::Caller;

/// Who is calling, which vault, and how ids must be spelled for them.
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub actor: String,
    pub vault: String,
    /// `https://<host the client called>`.
    pub base_url: String,
    pub api_version: String,
    pub client_request_id: Option<String>,
    pub remote_addr: Option<String>,
    pub query: Vec<(String, String)>,
}

impl RequestContext {
    /// The caller for the service layer.
    pub fn caller(&self) -> Caller {
        Caller {
            vault: self.vault.clone(),
            actor: self.actor.clone(),
            client_request_id: self.client_request_id.clone(),
            remote_addr: self.remote_addr.clone(),
        }
    }

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
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<RequestContext>()
                .cloned()
                .ok_or_else(|| ApiError::internal_message("request context missing")),
        )
    }
}

/// The path of an object, with its version when the route names one
/// (`/certificates/{name}` and `/certificates/{name}/{version}` take the same handler).
#[derive(Debug, serde::Deserialize)]
pub struct NameVersion {
    pub name: String,
    pub version: Option<String>,
}

/// Decoded query pairs (keys and values percent-decoded; `api%2Dversion` is `api-version`).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(query).unwrap_or_default()
}

/// A validated certificate name.
pub fn certificate_name(s: &str) -> Result<ObjectName, ApiError> {
    ObjectName::parse("certificate", s).map_err(ApiError::from)
}

/// A validated issuer name.
pub fn issuer_name(s: &str) -> Result<ObjectName, ApiError> {
    ObjectName::parse("issuer", s).map_err(ApiError::from)
}

/// A validated secret name.
pub fn secret_name(s: &str) -> Result<ObjectName, ApiError> {
    ObjectName::parse("secret", s).map_err(ApiError::from)
}

/// A validated key name.
pub fn key_name(s: &str) -> Result<ObjectName, ApiError> {
    ObjectName::parse("key", s).map_err(ApiError::from)
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
    req.app_data::<actix_web::web::Data<super::AppState>>()
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
