//! Around every request, routed or not: an `x-ms-request-id` of our own, the client's
//! `x-ms-client-request-id` echoed back, the request head's size limit (431 in the
//! envelope), the request's metrics and one log line. What the gate learnt (operation,
//! vault, caller) reaches it as a [`RouteInfo`] in the request's extensions.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError};

use crate::error::ApiError;

/// What the gate learnt about a routed request, for its metrics and its log line.
#[derive(Debug, Clone)]
pub struct RouteInfo {
    /// The route table's operation name.
    pub operation: &'static str,
    /// The vault the request's host names.
    pub vault: String,
    /// The authenticated caller (token name), once known.
    pub actor: Option<String>,
}

/// The label for requests whose vault is not attributed: unauthenticated or public ones,
/// whose `Host` header anyone may choose (so it must not mint label values).
const UNATTRIBUTED: &str = "-";

/// Around every request (routed or not): an `x-ms-request-id` of our own, the client's
/// `x-ms-client-request-id` echoed back, the request's metrics, and one log line with the
/// request id, vault, operation, status, latency and actor (never a header or a body).
pub async fn stamp(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let started = std::time::Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let client = client_request_id(&req);
    let method = req.method().clone();
    let path = req.path().chars().take(512).collect::<String>();
    let remote = req.peer_addr().map(|a| a.to_string());
    let max_head = req
        .app_data::<actix_web::web::Data<super::AppState>>()
        .map_or(usize::MAX, |s| s.max_header_bytes);
    let mut res = if head_size(&req) > max_head {
        let error = ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "RequestHeaderFieldsTooLarge",
            format!("The request line and headers exceed {max_head} bytes."),
        );
        req.into_response(error.error_response())
            .map_into_right_body()
    } else {
        next.call(req).await?.map_into_left_body()
    };
    let status = res.status().as_u16();
    let info = res.request().extensions().get::<RouteInfo>().cloned();
    let (operation, vault, actor) = match &info {
        Some(i) => (
            i.operation,
            match i.actor {
                Some(_) => i.vault.as_str(),
                None => UNATTRIBUTED,
            },
            i.actor.as_deref(),
        ),
        None if status == 405 => ("MethodNotAllowed", UNATTRIBUTED, None),
        None => ("NotFound", UNATTRIBUTED, None),
    };
    let seconds = started.elapsed().as_secs_f64();
    crate::metrics::http_request(operation, status, vault, seconds);
    tracing::info!(
        target: "certbroker::http",
        request_id = %request_id,
        client_request_id = client.as_deref().unwrap_or("-"),
        method = %method,
        path = %path,
        operation,
        vault,
        status,
        latency_ms = (seconds * 1e6).round() / 1e3,
        actor = actor.unwrap_or("-"),
        remote_addr = remote.as_deref().unwrap_or("-"),
        "request"
    );
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert(HeaderName::from_static("x-ms-request-id"), v);
    }
    if let Some(v) = client.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(HeaderName::from_static("x-ms-client-request-id"), v);
    }
    Ok(res)
}

/// The size of a request's head as sent: the request line and every header line.
fn head_size(req: &ServiceRequest) -> usize {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len());
    // "METHOD target HTTP/1.1\r\n", then "name: value\r\n" per header.
    let line = req.method().as_str().len() + 1 + target + " HTTP/1.1\r\n".len();
    req.headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum::<usize>()
        + line
}

/// The client's `x-ms-client-request-id`, as much of it as an audit record keeps.
pub(crate) fn client_request_id(req: &ServiceRequest) -> Option<String> {
    req.headers()
        .get("x-ms-client-request-id")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(128).collect::<String>())
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    #[test]
    fn the_head_size_is_the_bytes_of_the_request_line_and_headers_as_sent() {
        let req = TestRequest::get()
            .uri("/certificates?api-version=7.5")
            .insert_header(("authorization", "Bearer x"))
            .to_srv_request();
        let sent = "GET /certificates?api-version=7.5 HTTP/1.1\r\nauthorization: Bearer x\r\n";
        assert_eq!(super::head_size(&req), sent.len());
    }
}
