//! The single integration test binary: the real server over TLS on a loopback port, a real
//! SQLite file, real OpenSSL.
#![allow(clippy::unwrap_used)]

mod acme;
mod auth;
mod bad_input;
mod helpers;
mod issuers;
mod lifetime;
mod pebble;
mod races;
mod restart;
mod scenarios;
mod views;
mod worker;
