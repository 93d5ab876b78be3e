//! What the HTTP parser refuses before any route runs (a request line or header it cannot
//! parse, a head over `limits.max_header_bytes` or with more headers than it takes, a
//! first head that never comes) is answered in Key Vault's envelope, on keep-alive and
//! pipelined connections too, after the requests before it are answered as usual.

use crate::helpers::TestApp;
use crate::raw::{exchange, responses};

/// Sends `bytes` on one connection from a blocking thread; the responses, in order.
async fn on_one_connection(app: &TestApp, bytes: Vec<u8>) -> Vec<crate::raw::RawResponse> {
    let address = app.address.clone();
    let out = tokio::task::spawn_blocking(move || exchange(&address, &bytes))
        .await
        .unwrap()
        .unwrap();
    responses(&out)
}

/// A GET of the health route whose head (request line and header lines, each with its
/// CRLF, without the empty line ending it) is exactly `size` bytes.
fn head_of_size(size: usize) -> Vec<u8> {
    let start = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    let pad = size - start.len() - "X-Pad: \r\n".len();
    format!("{start}X-Pad: {}\r\n\r\n", "p".repeat(pad)).into_bytes()
}

#[tokio::test]
async fn a_head_of_exactly_the_limit_is_served_and_one_byte_more_is_431_in_the_envelope() {
    let app = TestApp::spawn().await;
    let limit = 16 * 1024;
    let r = on_one_connection(&app, head_of_size(limit)).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].status, 200, "{}", r[0].head);
    let r = on_one_connection(&app, head_of_size(limit + 1)).await;
    assert_eq!(r.len(), 1, "{r:?}");
    r[0].assert_envelope(431, "RequestHeaderFieldsTooLarge");
}

/// A GET of the health route with `Host` and `n - 1` more headers.
fn with_headers(n: usize) -> Vec<u8> {
    let mut head = String::from("GET /healthz HTTP/1.1\r\nHost: localhost\r\n");
    for i in 1..n - 1 {
        head.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    head.into_bytes()
}

#[tokio::test]
async fn ninety_six_headers_are_served_and_ninety_seven_are_431_in_the_envelope() {
    let app = TestApp::spawn().await;
    let r = on_one_connection(&app, with_headers(96)).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].status, 200, "{}", r[0].head);
    let r = on_one_connection(&app, with_headers(97)).await;
    assert_eq!(r.len(), 1, "{r:?}");
    r[0].assert_envelope(431, "RequestHeaderFieldsTooLarge");
}

#[tokio::test]
async fn a_malformed_header_is_400_in_the_envelope_and_non_ascii_in_a_value_is_opaque() {
    let app = TestApp::spawn().await;
    // A control byte in a value, a space before the colon, a line with no colon: the
    // parser's refusals.
    for bad in [
        &b"X-Note: a\x01b\r\n"[..],
        b"X-Note : ab\r\n",
        b"no colon here\r\n",
    ] {
        let mut req = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n".to_vec();
        req.extend_from_slice(bad);
        req.extend_from_slice(b"Connection: close\r\n\r\n");
        let r = on_one_connection(&app, req).await;
        assert_eq!(r.len(), 1, "{r:?}");
        r[0].assert_envelope(400, "BadParameter");
    }
    // Bytes beyond ASCII in a header value are obs-text (RFC 9110 5.5): accepted as opaque
    // bytes; a header the server reads as text (the token) then does not match.
    let r = on_one_connection(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Note: caf\xc3\xa9\r\nConnection: close\r\n\r\n"
            .to_vec(),
    )
    .await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].status, 200, "{}", r[0].head);
    let r = on_one_connection(
        &app,
        b"GET /certificates?api-version=7.5 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer caf\xe9\r\nConnection: close\r\n\r\n"
            .to_vec(),
    )
    .await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].status, 401, "{}", r[0].head);
    let body: serde_json::Value = serde_json::from_str(&r[0].body).unwrap();
    assert!(body["error"]["code"].is_string(), "{body}");
}

#[tokio::test]
async fn on_a_pipelined_connection_the_requests_before_a_bad_one_are_answered_first() {
    let app = TestApp::spawn().await;
    let mut req = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec();
    req.extend_from_slice(b"GET /readyz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    req.extend_from_slice(b"GET /caf\xc3\xa9 HTTP/1.1\r\nHost: localhost\r\n\r\n");
    req.extend_from_slice(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let r = on_one_connection(&app, req).await;
    // Two answered, the third refused, the connection closed: the fourth never runs.
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(r[0].status, 200, "{}", r[0].head);
    assert_ne!(r[0].header("connection"), Some("close"), "{}", r[0].head);
    assert!(r[1].status == 200 || r[1].status == 503, "{}", r[1].head);
    r[2].assert_envelope(400, "BadParameter");
}

#[tokio::test]
async fn a_chunked_body_is_followed_to_its_end_before_the_next_head_is_judged() {
    let app = TestApp::spawn().await;
    // The chunk's data holds what would be a bad head: it is data, not a request.
    let data = b"GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n";
    let mut req =
        b"POST /certificates/chunky/create?api-version=7.5 HTTP/1.1\r\nHost: localhost\r\n\
Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    req.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    req.extend_from_slice(data);
    req.extend_from_slice(b"\r\n0\r\n\r\n");
    req.extend_from_slice(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n");
    req.extend_from_slice(b"GET /x HTTP/1.1\r\nHost: localhost\r\nX-Bad\x01: 1\r\n\r\n");
    let r = on_one_connection(&app, req).await;
    assert_eq!(r.len(), 3, "{r:?}");
    // No token: the application's own 401, then the next request served, then the refusal.
    assert_eq!(r[0].status, 401, "{}", r[0].head);
    assert_eq!(r[1].status, 200, "{}", r[1].head);
    r[2].assert_envelope(400, "BadParameter");
}

#[tokio::test]
async fn a_first_head_that_never_comes_is_408_in_the_envelope() {
    let app = TestApp::spawn_with(|s| s.limits.client_request_timeout_ms = 300).await;
    // Half a head, then nothing: the server gives up on it and says so.
    let r = on_one_connection(&app, b"GET /healthz HTTP/1.1\r\nHo".to_vec()).await;
    assert_eq!(r.len(), 1, "{r:?}");
    r[0].assert_envelope(408, "RequestTimeout");
}
