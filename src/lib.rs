//! certbroker: a self-hosted certificate broker that speaks Azure Key Vault's certificates
//! REST API, event-sourced on SQLite.

pub mod clock;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod es;
pub mod http;
pub mod metrics;
pub mod projections;
pub mod seed;
pub mod service;
pub mod startup;
pub mod telemetry;
pub mod worker;

/// The vault that answers when the request's host names no other.
pub const DEFAULT_VAULT: &str = "default";
