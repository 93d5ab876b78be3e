//! What a route is: its method, path, operation, who may call it ([`Access`]) and its
//! handler. The table of every route is [`super::routes::ROUTES`]; the gate
//! ([`super::auth::gate`]) reads the entry of the route that matched.

use actix_web::http::Method;

use super::roles::Permission;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token: health checks, the console's files, cloud metadata, the
    /// OpenID configurations and the token signing keys.
    Public,
    /// A token whose role holds this permission.
    Token(Permission),
    /// The metrics scraper's own token (`metrics.token_sha256`) or an admin token; no
    /// `api-version` needed (scrapers send none).
    Metrics,
    /// The managed-identity endpoints: the caller proves its identity with the identity
    /// header (`X-IDENTITY-HEADER`, `secret`), or for IMDS by calling from this host,
    /// checked by the handler; no Authorization.
    ManagedIdentity,
    /// The OAuth token endpoint: the client authenticates in the form (secret or assertion).
    OAuthClient,
    /// Resource-manager routes the az CLI calls at login: any identity's token for a
    /// resource-manager audience (`identity.arm_audiences`), ARM's own api-versions.
    ResourceManager,
}

/// One route.
pub struct RouteDef {
    pub method: Method,
    /// The path pattern as registered (`{name}` matches one non-empty segment).
    pub path: &'static str,
    /// The Key Vault operation name (or certbroker's, for extensions).
    pub operation: &'static str,
    pub access: Access,
    /// Attaches the handler to the route.
    pub handler: fn(actix_web::Route) -> actix_web::Route,
}

impl std::fmt::Debug for RouteDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.method, self.path, self.operation)
    }
}
