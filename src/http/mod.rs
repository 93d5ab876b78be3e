//! The REST layer: Key Vault's certificates paths over HTTPS. Handlers parse and validate
//! input, call a service, and render views; they never write SQL.

pub mod acme_challenge;
pub mod audit;
pub mod auth;
pub mod certificates;
pub mod dto;
pub mod extract;
pub mod issuers;
pub mod keyvault;
pub mod pending;
pub mod roles;
pub mod routes;
pub mod vaults;

use std::sync::Arc;

use crate::service::certificates::CertificateService;
use crate::service::issuers::IssuerService;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub certificates: CertificateService,
    pub issuers: IssuerService,
    pub auth: Arc<auth::Auth>,
    pub max_body_bytes: usize,
    pub retry_after_seconds: u32,
    pub ca_chain_pem: Arc<String>,
    // --- Key Vault surface ---
    pub keyvault: crate::service::keyvault::KeyVaultService,
    pub vaults: Arc<crate::config::VaultSettings>,
}
