//! The single integration test binary: the real server over TLS on a loopback port, a real
//! SQLite file, real OpenSSL.
#![allow(clippy::unwrap_used)]

mod acme;
mod audit_chain;
mod audit_property;
mod audit_trail;
mod auth;
mod authz;
mod bad_input;
mod clock;
mod console;
mod fidelity;
mod helpers;
mod identity;
mod issuers;
mod key_pool;
mod kv_backup;
mod kv_certificates;
mod kv_import;
mod kv_soft_delete;
mod kv_vaults;
mod lifetime;
mod limits;
mod migrate_storage;
mod ops;
mod ops_binary;
mod pebble;
mod races;
mod raw;
mod replica_takeover;
mod replicas;
mod restart;
mod scenarios;
mod seed;
mod views;
mod wire;
mod worker;
