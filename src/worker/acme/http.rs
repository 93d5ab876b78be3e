//! instant-acme's HTTP through our reqwest on OpenSSL, so only one TLS stack is linked.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use instant_acme::{BodyWrapper, BytesResponse, HttpClient};

use super::problem::Failure;
use crate::config::ProviderSettings;

/// instant-acme's HTTP client over reqwest.
pub(crate) struct ReqwestHttp(pub(crate) reqwest::Client);

impl HttpClient for ReqwestHttp {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn std::future::Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>>
    {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let url = parts.uri.to_string();
            let lose = super::faults::lose_answer(&url);
            let rsp = client
                .request(parts.method, url)
                .headers(parts.headers)
                .body(body)
                .send()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let mut out = http::Response::builder().status(rsp.status());
            for (k, v) in rsp.headers() {
                out = out.header(k, v);
            }
            let bytes = rsp
                .bytes()
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            if lose {
                return Ok(BytesResponse::from(lost_answer()?));
            }
            let rsp = out.body(Full::new(bytes))?;
            Ok(BytesResponse::from(rsp))
        })
    }
}

/// What a gateway answers when the CA's own answer did not come back in time.
fn lost_answer() -> Result<http::Response<Full<Bytes>>, http::Error> {
    let problem = r#"{"type":"urn:ietf:params:acme:error:serverInternal","detail":"the answer was lost","status":504}"#;
    http::Response::builder()
        .status(504)
        .header("content-type", "application/problem+json")
        .body(Full::new(Bytes::from_static(problem.as_bytes())))
}

/// An instant-acme HTTP client trusting the system roots and the PEM certificates in
/// `extra_ca_pem` (for tools and tests that talk to a CA directly).
pub fn http_client(extra_ca_pem: Option<&[u8]>) -> anyhow::Result<Box<dyn HttpClient>> {
    let mut b = reqwest::Client::builder();
    if let Some(pem) = extra_ca_pem {
        for c in reqwest::Certificate::from_pem_bundle(pem)? {
            b = b.add_root_certificate(c);
        }
    }
    Ok(Box::new(ReqwestHttp(b.build()?)))
}

/// The client for one provider: bounded timeouts, and its `ca_file` trusted.
pub(crate) fn provider_client(p: &ProviderSettings) -> Result<ReqwestHttp, Failure> {
    let mut b = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10));
    if !p.ca_file.is_empty() {
        let pem = std::fs::read(&p.ca_file).map_err(|e| {
            Failure::Permanent(format!(
                "The ACME provider's ca_file {} cannot be read: {e}",
                p.ca_file
            ))
        })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            Failure::Permanent(format!(
                "The ACME provider's ca_file {} is not PEM: {e}",
                p.ca_file
            ))
        })?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build()
        .map(ReqwestHttp)
        .map_err(|e| Failure::Internal(e.into()))
}
