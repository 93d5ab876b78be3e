//! The single integration test binary: the real server over TLS on a loopback port, a real
//! SQLite file, real OpenSSL.
#![allow(clippy::unwrap_used)]

mod audit_chain;
mod audit_property;
mod audit_trail;
mod auth;
mod bad_input;
mod helpers;
mod issuers;
mod races;
mod restart;
mod scenarios;
mod views;
mod worker;
