//! The REST layer: Key Vault's certificates paths over HTTPS. One route table
//! ([`routes`]); a gate per route that authenticates and authorizes ([`auth`]); one
//! handler module per resource, the same names as `service/` and `dto/`. Handlers parse
//! and validate input, call a service, and render rows; they never write SQL.

pub mod access;
pub mod acme_challenge;
pub mod admin;
pub mod audit;
pub mod auth;
pub mod ca;
pub mod certificates;
pub mod contacts;
pub mod deleted;
pub mod dto;
pub mod extract;
pub mod identity;
pub mod issuers;
pub mod keys;
pub mod operations;
pub mod ops;
pub mod paging;
pub mod refusals;
pub mod roles;
pub mod routes;
pub mod secrets;
pub mod stamp;
pub mod ui;
pub mod vaults;
pub mod wire;

use std::sync::Arc;

use crate::service::Services;

/// What a handler returns: a response, or a refusal in Key Vault's envelope.
pub type Reply = Result<actix_web::HttpResponse, crate::error::ApiError>;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub auth: Arc<auth::Auth>,
    pub max_body_bytes: usize,
    pub retry_after_seconds: u32,
    pub ca_chain_pem: Arc<String>,
    pub vaults: Arc<crate::config::VaultSettings>,
    /// What readiness knows about the background parts.
    pub health: Arc<ops::Health>,
    /// The rate limit on requests without a valid token, and refusals awaiting their record.
    pub refusals: Arc<refusals::Refusals>,
    /// Largest request head accepted (`limits.max_header_bytes`).
    pub max_header_bytes: usize,
}

impl AppState {
    /// Days a deleted certificate stays recoverable (shown in recovery attributes).
    pub fn retention_days(&self) -> i64 {
        self.services.core.retention_days
    }
}
