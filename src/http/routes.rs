//! Every route, in one table. Literal path words (`issuers`, `create`, `pending`, ...) are
//! registered before `{name}/{version}` so they win.

use actix_web::{web, HttpRequest, HttpResponse};

use super::{certificates as c, issuers as i, keyvault as k, pending as p};
use crate::error::ApiError;

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found_route(req.path()))
}

async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed(
        req.method().as_str(),
        req.path(),
    ))
}

fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/healthz").route(web::get().to(healthz)))
        .configure(super::audit::configure)
        .service(resource("/ca/certificates").route(web::get().to(c::get_ca_certificates)))
        .service(resource("/certificates/issuers").route(web::get().to(i::get_certificate_issuers)))
        .service(
            resource("/certificates/issuers/{issuer}")
                .route(web::get().to(i::get_certificate_issuer))
                .route(web::put().to(i::set_certificate_issuer))
                .route(web::patch().to(i::update_certificate_issuer))
                .route(web::delete().to(i::delete_certificate_issuer)),
        )
        .configure(k::configure)
        .service(
            resource("/certificates/{name}/create").route(web::post().to(c::create_certificate)),
        )
        .service(
            resource("/certificates/{name}/pending")
                .route(web::get().to(p::get_certificate_operation))
                .route(web::patch().to(p::update_certificate_operation))
                .route(web::delete().to(p::delete_certificate_operation)),
        )
        .service(
            resource("/certificates/{name}/pending/merge")
                .route(web::post().to(p::merge_certificate)),
        )
        .service(
            resource("/certificates/{name}/pending/approve")
                .route(web::post().to(p::approve_certificate_operation)),
        )
        .service(
            resource("/certificates/{name}/pending/reject")
                .route(web::post().to(p::reject_certificate_operation)),
        )
        .service(
            resource("/certificates/{name}")
                .route(web::get().to(c::get_certificate))
                .route(web::patch().to(k::update_certificate))
                .route(web::delete().to(k::delete_certificate)),
        )
        .service(
            resource("/certificates/{name}/")
                .route(web::get().to(c::get_certificate))
                .route(web::patch().to(k::update_certificate)),
        )
        .service(
            resource("/certificates/{name}/{version}")
                .route(web::get().to(c::get_certificate_version))
                .route(web::patch().to(k::update_certificate_version)),
        )
        .default_service(web::to(not_found));
}
