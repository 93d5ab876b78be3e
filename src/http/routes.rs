//! Every route in one table: method, path, the Key Vault operation it implements, who may
//! call it, and its handler. Authorization is decided by the route that matched (each
//! route is wrapped by [`super::auth::gate`] with its own entry), never by matching the
//! request path a second time, so no spelling of a path can reach a handler under another
//! route's rule. A path that matches no route is 404; a known path with another method 405.
//!
//! Registration follows the table's order: literal path words (`issuers`, `contacts`,
//! `create`, `pending`, ...) come before `{name}` and `{version}` so they win.

use actix_web::http::Method;
use actix_web::{web, HttpRequest};

use super::roles::Permission;
use super::{
    admin as adm, audit as a, ca, certificates as c, contacts, deleted as d, identity as id,
    issuers as i, keys, operations as p, ops as o, secrets as s, ui as u, Reply,
};
use crate::error::ApiError;

pub use super::access::{Access, RouteDef};

use Access::{ManagedIdentity, Metrics, OAuthClient, Public, ResourceManager, Token};
use Permission::{Administer, Decide, Read, ReadSecrets, Write};

macro_rules! route {
    ($method:ident $path:literal, $op:literal, $access:expr, $handler:path) => {
        RouteDef {
            method: Method::$method,
            path: $path,
            operation: $op,
            access: $access,
            handler: |r| r.to($handler),
        }
    };
}

/// The route table, in registration order.
pub static ROUTES: &[RouteDef] = &[
    route!(GET "/healthz", "Health", Public, o::healthz),
    route!(GET "/readyz", "Ready", Public, o::readyz),
    route!(GET "/metrics", "GetMetrics", Metrics, o::get_metrics),
    // The operator console: static files, public; the page calls the API with the user's token.
    route!(GET "/ui", "GetConsole", Public, u::index),
    route!(GET "/ui/", "GetConsole", Public, u::index),
    route!(GET "/ui/app.js", "GetConsole", Public, u::script),
    route!(GET "/ui/app.css", "GetConsole", Public, u::stylesheet),
    route!(GET "/ops/whoami", "GetCaller", Token(Read), o::get_caller),
    route!(GET "/ops/pending", "GetPendingOperations", Token(Read), o::get_pending_operations),
    route!(GET "/ops/certificates", "GetCertificateOverview", Token(Read), o::get_certificate_overview),
    route!(GET "/audit/events", "GetAuditEvents", Token(Administer), a::get_audit_events),
    route!(GET "/audit/head", "GetAuditHead", Token(Administer), a::get_audit_head),
    route!(POST "/audit/verify", "VerifyAuditChain", Token(Administer), o::verify_audit_chain),
    route!(GET "/admin/clock", "GetClock", Token(Administer), adm::get_clock),
    route!(POST "/admin/clock/advance", "AdvanceClock", Token(Administer), adm::advance_clock),
    route!(GET "/ca/certificates", "GetCaCertificates", Token(Read), ca::get_ca_certificates),
    route!(GET "/certificates", "GetCertificates", Token(Read), c::get_certificates),
    route!(GET "/certificates/issuers", "GetCertificateIssuers", Token(Read), i::get_certificate_issuers),
    route!(GET "/certificates/issuers/{issuer}", "GetCertificateIssuer", Token(Read), i::get_certificate_issuer),
    route!(PUT "/certificates/issuers/{issuer}", "SetCertificateIssuer", Token(Administer), i::set_certificate_issuer),
    route!(PATCH "/certificates/issuers/{issuer}", "UpdateCertificateIssuer", Token(Administer), i::set_certificate_issuer),
    route!(DELETE "/certificates/issuers/{issuer}", "DeleteCertificateIssuer", Token(Administer), i::delete_certificate_issuer),
    route!(GET "/certificates/contacts", "GetCertificateContacts", Token(Read), contacts::get_certificate_contacts),
    route!(PUT "/certificates/contacts", "SetCertificateContacts", Token(Administer), contacts::set_certificate_contacts),
    route!(DELETE "/certificates/contacts", "DeleteCertificateContacts", Token(Administer), contacts::delete_certificate_contacts),
    route!(POST "/certificates/restore", "RestoreCertificate", Token(Write), c::restore_certificate),
    route!(POST "/certificates/{name}/create", "CreateCertificate", Token(Write), c::create_certificate),
    route!(POST "/certificates/{name}/import", "ImportCertificate", Token(Write), c::import_certificate),
    route!(POST "/certificates/{name}/backup", "BackupCertificate", Token(Write), c::backup_certificate),
    route!(GET "/certificates/{name}/versions", "GetCertificateVersions", Token(Read), c::get_certificate_versions),
    route!(GET "/certificates/{name}/policy", "GetCertificatePolicy", Token(Read), c::get_certificate_policy),
    route!(PATCH "/certificates/{name}/policy", "UpdateCertificatePolicy", Token(Write), c::update_certificate_policy),
    route!(GET "/certificates/{name}/history", "GetCertificateHistory", Token(Administer), a::get_certificate_history),
    route!(GET "/certificates/{name}/pending", "GetCertificateOperation", Token(Read), p::get_certificate_operation),
    route!(PATCH "/certificates/{name}/pending", "UpdateCertificateOperation", Token(Write), p::update_certificate_operation),
    route!(DELETE "/certificates/{name}/pending", "DeleteCertificateOperation", Token(Write), p::delete_certificate_operation),
    route!(POST "/certificates/{name}/pending/merge", "MergeCertificate", Token(Write), p::merge_certificate),
    route!(POST "/certificates/{name}/pending/approve", "ApproveCertificateOperation", Token(Decide), p::approve_certificate_operation),
    route!(POST "/certificates/{name}/pending/reject", "RejectCertificateOperation", Token(Decide), p::reject_certificate_operation),
    route!(GET "/certificates/{name}", "GetCertificate", Token(Read), c::get_certificate),
    route!(PATCH "/certificates/{name}", "UpdateCertificate", Token(Write), c::update_certificate),
    route!(DELETE "/certificates/{name}", "DeleteCertificate", Token(Write), c::delete_certificate),
    route!(GET "/certificates/{name}/", "GetCertificate", Token(Read), c::get_certificate),
    route!(PATCH "/certificates/{name}/", "UpdateCertificate", Token(Write), c::update_certificate),
    route!(GET "/certificates/{name}/{version}", "GetCertificate", Token(Read), c::get_certificate),
    route!(PATCH "/certificates/{name}/{version}", "UpdateCertificate", Token(Write), c::update_certificate),
    route!(GET "/deletedcertificates", "GetDeletedCertificates", Token(Read), d::get_deleted_certificates),
    route!(GET "/deletedcertificates/{name}", "GetDeletedCertificate", Token(Read), d::get_deleted_certificate),
    route!(DELETE "/deletedcertificates/{name}", "PurgeDeletedCertificate", Token(Administer), d::purge_deleted_certificate),
    route!(POST "/deletedcertificates/{name}/recover", "RecoverDeletedCertificate", Token(Write), d::recover_deleted_certificate),
    // A certificate-backed secret carries the private key when it is exportable: reading
    // it takes more than the reader role.
    route!(GET "/secrets", "GetSecrets", Token(ReadSecrets), s::get_secrets),
    route!(GET "/secrets/{name}/versions", "GetSecretVersions", Token(ReadSecrets), s::get_secret_versions),
    route!(GET "/secrets/{name}", "GetSecret", Token(ReadSecrets), s::get_secret),
    route!(GET "/secrets/{name}/", "GetSecret", Token(ReadSecrets), s::get_secret),
    route!(GET "/secrets/{name}/{version}", "GetSecret", Token(ReadSecrets), s::get_secret),
    route!(GET "/deletedsecrets", "GetDeletedSecrets", Token(ReadSecrets), s::get_deleted_secrets),
    route!(GET "/deletedsecrets/{name}", "GetDeletedSecret", Token(ReadSecrets), s::get_deleted_secret),
    route!(GET "/keys", "GetKeys", Token(Read), keys::get_keys),
    route!(GET "/keys/{name}/versions", "GetKeyVersions", Token(Read), keys::get_key_versions),
    route!(GET "/keys/{name}", "GetKey", Token(Read), keys::get_key),
    route!(GET "/keys/{name}/", "GetKey", Token(Read), keys::get_key),
    route!(GET "/keys/{name}/{version}", "GetKey", Token(Read), keys::get_key),
    route!(GET "/deletedkeys", "GetDeletedKeys", Token(Read), keys::get_deleted_keys),
    route!(GET "/deletedkeys/{name}", "GetDeletedKey", Token(Read), keys::get_deleted_key),
    // Unchanged Azure clients: managed identity (also on identity.http_listen), OAuth client
    // credentials, and the resource-manager reads of az login.
    route!(GET "/msi/token", "GetManagedIdentityToken", ManagedIdentity, id::get_msi_token),
    route!(GET "/metadata/identity/oauth2/token", "GetImdsToken", ManagedIdentity, id::get_imds_token),
    route!(GET "/metadata/identity/oauth2/token/", "GetImdsToken", ManagedIdentity, id::get_imds_token),
    route!(GET "/metadata/endpoints", "GetCloudMetadata", Public, id::get_cloud_metadata),
    route!(GET "/adfs/.well-known/openid-configuration", "GetOpenIdConfiguration", Public, id::get_adfs_openid_configuration),
    route!(GET "/subscriptions", "ListSubscriptions", ResourceManager, id::list_subscriptions),
    route!(GET "/tenants", "ListTenants", ResourceManager, id::list_tenants),
    route!(GET "/{tenant}/v2.0/.well-known/openid-configuration", "GetOpenIdConfiguration", Public, id::get_openid_configuration),
    route!(GET "/{tenant}/discovery/v2.0/keys", "GetSigningKeys", Public, id::get_signing_keys),
    route!(POST "/{tenant}/oauth2/v2.0/token", "RequestToken", OAuthClient, id::request_token),
];

async fn not_found(req: HttpRequest) -> Reply {
    Err(ApiError::not_found_route(req.path()))
}

async fn method_not_allowed(req: HttpRequest) -> Reply {
    Err(ApiError::method_not_allowed(
        req.method().as_str(),
        req.path(),
    ))
}

/// Registers the routes of `routes` that `keep` selects, each behind the gate of its own
/// entry. Consecutive paths that share a parameterised prefix (`/certificates/{name}/...`)
/// register as one scope: actix then matches the prefix once, instead of trying each of a
/// dozen patterns in turn, which a profile of GET pending showed as its largest cost.
pub fn register(
    cfg: &mut web::ServiceConfig,
    routes: &'static [RouteDef],
    keep: fn(&RouteDef) -> bool,
) {
    let mut paths: Vec<&'static str> = Vec::new();
    for r in routes.iter().filter(|r| keep(r)) {
        if !paths.contains(&r.path) {
            paths.push(r.path);
        }
    }
    let mut rest = paths.as_slice();
    while let Some(first) = rest.first() {
        let prefix = scope_split(first).map(|(p, _)| p);
        let run = rest
            .iter()
            .take_while(|p| prefix.is_some() && scope_split(p).map(|(q, _)| q) == prefix)
            .count();
        match prefix {
            Some(prefix) if run > 1 => {
                let mut scope = web::scope(prefix).default_service(web::to(not_found));
                for path in &rest[..run] {
                    let tail = scope_split(path).map_or("", |(_, t)| t);
                    scope = scope.service(resource(tail, path, routes, keep));
                }
                cfg.service(scope);
                rest = &rest[run..];
            }
            _ => {
                cfg.service(resource(first, first, routes, keep));
                rest = &rest[1..];
            }
        }
    }
    cfg.default_service(web::to(not_found));
}

/// The resource at `pattern` (relative to its scope) with every kept route of `path`.
fn resource(
    pattern: &'static str,
    path: &'static str,
    routes: &'static [RouteDef],
    keep: fn(&RouteDef) -> bool,
) -> actix_web::Resource {
    let mut resource = web::resource(pattern).default_service(web::to(method_not_allowed));
    for def in routes.iter().filter(|r| r.path == path && keep(r)) {
        let route = (def.handler)(web::method(def.method.clone())).wrap(
            actix_web::middleware::from_fn(move |req, next| super::auth::gate(def, req, next)),
        );
        resource = resource.route(route);
    }
    resource
}

/// A path's scope prefix (up to and including its first parameter) and the rest, when it
/// has a parameter: `/certificates/{name}/pending` → (`/certificates/{name}`, `/pending`).
fn scope_split(path: &'static str) -> Option<(&'static str, &'static str)> {
    let start = path.find('{')?;
    let end = start + path[start..].find('}')? + 1;
    Some(path.split_at(end))
}

/// Registers the whole table (the HTTPS listener).
pub fn configure(cfg: &mut web::ServiceConfig) {
    register(cfg, ROUTES, |_| true);
}

/// Registers the managed-identity routes only (the plain-HTTP `identity.http_listen`).
pub fn configure_identity(cfg: &mut web::ServiceConfig) {
    register(cfg, ROUTES, |r| r.access == ManagedIdentity);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_listed_once_and_literal_words_come_before_parameters() {
        for (n, r) in ROUTES.iter().enumerate() {
            assert!(
                !ROUTES[..n]
                    .iter()
                    .any(|o| o.method == r.method && o.path == r.path),
                "{r:?} is listed twice"
            );
            // A route listed after a parameterised route of the same shape would never be
            // reached: `{x}` would take its literal segment.
            let segs: Vec<&str> = r.path.split('/').collect();
            for earlier in &ROUTES[..n] {
                let e: Vec<&str> = earlier.path.split('/').collect();
                let shadows = e.len() == segs.len()
                    && e.iter()
                        .zip(&segs)
                        .all(|(a, b)| a == b || (a.starts_with('{') && !b.starts_with('{')))
                    && e != segs;
                assert!(!shadows, "{earlier:?} shadows {r:?}");
            }
        }
    }

    #[test]
    fn no_route_after_a_scope_falls_within_its_prefix() {
        // A scope takes every path under its prefix: a route of that shape registered after
        // the scope's run of paths would never be reached.
        for (n, r) in ROUTES.iter().enumerate() {
            let Some((prefix, _)) = scope_split(r.path) else {
                continue;
            };
            let depth = prefix.split('/').count();
            let after = ROUTES[n + 1..]
                .iter()
                .skip_while(|o| scope_split(o.path).map(|(p, _)| p) == Some(prefix));
            for later in after {
                let segs: Vec<&str> = later.path.split('/').collect();
                let within = segs.len() >= depth
                    && prefix
                        .split('/')
                        .zip(&segs)
                        .all(|(a, b)| a == *b || a.starts_with('{'));
                assert!(!within, "{later:?} is registered after the scope {prefix}");
            }
        }
    }

    #[test]
    fn only_health_and_the_consoles_static_files_are_public() {
        let public: Vec<_> = ROUTES
            .iter()
            .filter(|r| r.access == Public)
            .map(|r| (r.method.as_str(), r.path))
            .collect();
        assert_eq!(
            public,
            [
                ("GET", "/healthz"),
                ("GET", "/readyz"),
                ("GET", "/ui"),
                ("GET", "/ui/"),
                ("GET", "/ui/app.js"),
                ("GET", "/ui/app.css"),
                ("GET", "/metadata/endpoints"),
                ("GET", "/adfs/.well-known/openid-configuration"),
                ("GET", "/{tenant}/v2.0/.well-known/openid-configuration"),
                ("GET", "/{tenant}/discovery/v2.0/keys"),
            ]
        );
        let metrics: Vec<_> = ROUTES.iter().filter(|r| r.access == Metrics).collect();
        assert_eq!(metrics.len(), 1);
        assert_eq!(metrics[0].path, "/metrics");
    }
}
