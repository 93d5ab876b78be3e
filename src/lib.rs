//! certbroker: a self-hosted certificate broker that speaks Azure Key Vault's certificates
//! REST API, event-sourced on SQLite or PostgreSQL.

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

/// The memory allocator of every binary built with certbroker (the server, its tests and
/// benchmarks). mimalloc's thread-local free lists replace glibc's arenas, whose
/// bookkeeping (`malloc_consolidate`, `_int_free`, `unlink_chunk`) took about a tenth of a
/// rebuild in profiles: a rebuild allocates and frees many short-lived strings and rows of a
/// kilobyte or so, which glibc keeps sorting between its bins. Best of 30 rebuilds of the
/// same 10k events: 23-25k events/s on glibc, 30-34k on mimalloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
