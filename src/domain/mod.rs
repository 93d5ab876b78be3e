//! The domain: pure, synchronous rules for certificates and issuers.
//!
//! Nothing here touches actix, sqlx, tokio or openssl. Commands are decided against state
//! folded from events; anything random or slow (keys, CSRs, ids, the clock) arrives in the
//! command, prepared by the service beforehand.

pub mod audit;
pub mod certificate;
pub mod contacts;
pub mod error;
pub mod issuer;
pub mod names;
pub mod policy;

pub use error::DomainError;
