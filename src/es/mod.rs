//! The event store: streams of events in one `events` table, the one command pipeline
//! ([`execute`]), the single writer with group commit ([`writer`]), the hash chain
//! ([`chain`]), upcasting ([`upcast`]) and the storage engines ([`storage`]). SQL for
//! events, keys and tokens lives here; SQL for views lives in `projections`.

pub mod aggregate;
pub mod audit;
pub mod cache;
pub mod chain;
pub mod clients;
pub mod credentials;
pub mod envelope;
pub mod error;
pub mod execute;
pub mod keys;
pub mod leases;
pub mod storage;
pub mod store;
pub mod tokens;
pub mod upcast;
pub mod writer;

pub use aggregate::{Aggregate, Change, StateRef, Synced, Views};
pub use envelope::{DomainEvent, EventMeta, StoredEvent, StreamId};
pub use error::ExecError;
pub use execute::{Command, Effect, EventStore, Executed, Loaded};
pub use store::StoreError;
pub use writer::Writer;
