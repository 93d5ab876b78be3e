//! The event store: append and load streams, upcast old events, and the single writer that
//! owns the write connection. SQL for events lives here and in `projections` only.

pub mod audit;
pub mod chain;
pub mod envelope;
pub mod store;
pub mod tokens;
pub mod upcast;
pub mod writer;

pub use envelope::{DomainEvent, EventMeta, StoredEvent, StreamId};
pub use store::StoreError;
pub use writer::Writer;
