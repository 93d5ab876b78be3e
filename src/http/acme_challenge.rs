//! The plain-HTTP listener for ACME HTTP-01 (RFC 8555 §8.3): answers
//! `/.well-known/acme-challenge/{token}` with the key authorization the ACME worker
//! of any replica published (they are in the database). It serves nothing else and needs
//! no token: the CA calls it.

use actix_web::{web, HttpResponse};

use crate::service::challenges::ChallengeStore;

async fn http01_answer(store: web::Data<ChallengeStore>, token: web::Path<String>) -> HttpResponse {
    match store.get(&token).await {
        Ok(Some(key_authorization)) => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .body(key_authorization),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read an HTTP-01 answer");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

/// Registers the challenge route (on the HTTP-01 listener only).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/acme-challenge/{token}",
        web::get().to(http01_answer),
    );
}
