//! The operator console at `/ui`: three static files embedded in the binary (no build step,
//! nothing fetched at run time). The page signs in with a token kept in `sessionStorage`
//! and calls the API with it in the `Authorization` header only, so it has exactly the
//! caller's role and no cookie to forge (CSRF-safe by construction). Every response carries
//! a strict Content-Security-Policy: scripts and styles from this origin only, no inline
//! code, no framing.

use actix_web::HttpResponse;

const INDEX_HTML: &str = include_str!("ui/index.html");
const APP_JS: &str = include_str!("ui/app.js");
const APP_CSS: &str = include_str!("ui/app.css");

/// The policy on every console response.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn asset(content_type: &str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cross-Origin-Opener-Policy", "same-origin"))
        .insert_header(("Cache-Control", "no-cache"))
        .body(body)
}

/// `GET /ui`, `GET /ui/`: the page.
pub async fn index() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /ui/app.js`.
pub async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /ui/app.css`.
pub async fn stylesheet() -> HttpResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}
