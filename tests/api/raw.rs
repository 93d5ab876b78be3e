//! A raw HTTP/1.1 client over TLS: sends the request line exactly as given (no URL
//! normalisation, no percent-encoding), so tests can try every spelling of a path.

use std::io::{Read, Write};
use std::net::TcpStream;

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};

/// One connector for every request (building one reads the system's CA store).
fn connector() -> std::io::Result<&'static SslConnector> {
    static CONNECTOR: std::sync::OnceLock<SslConnector> = std::sync::OnceLock::new();
    if let Some(c) = CONNECTOR.get() {
        return Ok(c);
    }
    let mut builder = SslConnector::builder(SslMethod::tls()).map_err(std::io::Error::other)?;
    builder.set_verify(SslVerifyMode::NONE);
    Ok(CONNECTOR.get_or_init(|| builder.build()))
}

/// What came back: the status and the body as text.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// Sends one request on a new connection and reads the whole answer. `target` is the
/// request target as it goes on the wire (path and query); `headers` are extra header lines.
pub fn send(
    address: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<RawResponse> {
    let hostport = address.trim_start_matches("https://");
    let mut req = Vec::new();
    req.extend_from_slice(format!("{method} {target} HTTP/1.1\r\nHost: {hostport}\r\n").as_bytes());
    for (k, v) in headers {
        req.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    req.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    req.extend_from_slice(body);
    let out = exchange(address, &req)?;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = status_of(head);
    Ok(RawResponse {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    })
}

/// Writes `bytes` as they are on one new connection (any number of requests, well-formed
/// or not) and reads everything until the server closes it.
pub fn exchange(address: &str, bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let hostport = address.trim_start_matches("https://");
    let tcp = TcpStream::connect(hostport)?;
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    tcp.set_nodelay(true)?;
    let mut tls = connector()?
        .connect("localhost", tcp)
        .map_err(std::io::Error::other)?;
    tls.write_all(bytes)?;
    let mut out = Vec::new();
    // The server closes the connection after answering; a TLS close without close_notify
    // is an error we can ignore once bytes arrived.
    let mut buf = [0u8; 16 * 1024];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) if !out.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Splits what [`exchange`] read into responses (each framed by its content-length).
pub fn responses(mut out: &[u8]) -> Vec<RawResponse> {
    let mut all = Vec::new();
    while let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&out[..end]).into_owned();
        let length = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let body_end = (end + 4 + length).min(out.len());
        all.push(RawResponse {
            status: status_of(&head),
            body: String::from_utf8_lossy(&out[end + 4..body_end]).into_owned(),
            head,
        });
        out = &out[body_end..];
    }
    all
}

fn status_of(head: &str) -> u16 {
    head.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

impl RawResponse {
    /// The value of header `name` (first of them), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// Asserts that this is one of the server's refusals in Key Vault's envelope, with
    /// `status` and `code`, and that the server closes the connection after it.
    pub fn assert_envelope(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}\n{}", self.head, self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/json; charset=utf-8"),
            "{}",
            self.head
        );
        assert_eq!(self.header("connection"), Some("close"), "{}", self.head);
        let body: serde_json::Value = serde_json::from_str(&self.body).unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
        assert!(body["error"]["message"].is_string(), "{body}");
    }
}
