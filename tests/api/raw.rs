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
    let tcp = TcpStream::connect(hostport)?;
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    tcp.set_nodelay(true)?;
    let mut tls = connector()?
        .connect("localhost", tcp)
        .map_err(std::io::Error::other)?;
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
    tls.write_all(&req)?;
    let mut out = Vec::new();
    // The server closes the connection after answering (Connection: close); a TLS close
    // without close_notify is an error we can ignore once bytes arrived.
    let mut buf = [0u8; 16 * 1024];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) if !out.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok(RawResponse {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    })
}
