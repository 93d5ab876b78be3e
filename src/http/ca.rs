//! The built-in CA's certificates (a certbroker extension).

use actix_web::HttpResponse;

use super::extract::Call;

/// `GET /ca/certificates`: the CA chain as PEM, signing certificate first.
pub async fn get_ca_certificates(call: Call) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(call.state.ca_chain_pem.as_str().to_owned())
}
