//! The built-in CA's certificates (a certbroker extension).

use actix_web::{web, HttpResponse};

use super::extract::RequestContext;
use super::AppState;

/// `GET /ca/certificates`: the CA chain as PEM, signing certificate first.
pub async fn get_ca_certificates(state: web::Data<AppState>, _ctx: RequestContext) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/x-pem-file")
        .body(state.ca_chain_pem.as_str().to_owned())
}
