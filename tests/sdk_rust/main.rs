//! Acceptance by the official Azure SDK for Rust (`azure_security_keyvault_certificates`,
//! `azure_security_keyvault_secrets`): each test starts the real server over TLS on a
//! loopback port with its own SQLite file (or, with `CERTBROKER_TEST_STORAGE_URL` set, its
//! own PostgreSQL database), and drives it only through the SDK clients.
#![allow(clippy::unwrap_used)]

mod certificates;
mod helpers;
mod identity;
mod issuers;
mod lifecycle;
mod vaults;
