//! Command handlers: the only writers. Each prepares slow work (keys, CSRs, signatures)
//! first, then submits one closure to the writer that loads the stream, decides, appends
//! and projects in one transaction.

pub mod audit;
pub mod certificates;
pub mod issuance_policy;
pub mod issuers;
pub mod keys;
pub mod keyvault;
pub mod local_ca;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use sqlx::{SqliteConnection, SqlitePool};

use crate::crypto::CryptoError;
use crate::domain::certificate::{decide, CertificateCommand, CertificateEvent, CertificateState};
use crate::domain::DomainError;
use crate::error::ApiError;
use crate::es::store::{self, StoreError};
use crate::es::writer::WriterError;
use crate::es::{DomainEvent, EventMeta, StreamId, Writer};
use crate::projections;

/// Why a service call failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Writer(#[from] WriterError),
    #[error("crypto: {0}")]
    Crypto(#[from] CryptoError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Internal(String),
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Domain(d) => ApiError::from_domain(d),
            ServiceError::Crypto(CryptoError::Invalid(m)) => ApiError::bad_parameter(m),
            other => ApiError::internal(&other),
        }
    }
}

/// The time source. Tests may move it; the server uses the system clock.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// What every service needs.
#[derive(Clone)]
pub struct Shared {
    pub writer: Writer,
    pub pool: SqlitePool,
    pub keys: Arc<keys::KeyStore>,
    pub clock: Arc<dyn Clock>,
    /// Wakes the worker when a request may need it.
    pub wake: Arc<tokio::sync::Notify>,
}

/// A fresh 32-hex id (Key Vault versions and request ids).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The result of a certificate command: state before and after, and the new events.
pub struct Applied {
    pub before: CertificateState,
    pub after: CertificateState,
    pub events: Vec<CertificateEvent>,
}

/// Loads a certificate stream, decides `command`, appends and projects. Runs inside the
/// writer's transaction.
pub async fn apply_certificate_command(
    conn: &mut SqliteConnection,
    vault: &str,
    name: &str,
    meta: &EventMeta,
    command: CertificateCommand,
) -> Result<Applied, ServiceError> {
    let stream = StreamId::certificate(vault, name);
    let loaded = store::load::<CertificateEvent>(conn, &stream).await?;
    let before = CertificateState::from_events(&loaded.events);
    let events = decide(&before, name, command)?;
    let stored = store::append(conn, &stream, loaded.version, &events, meta, |e| {
        DomainEvent::Certificate(e.clone())
    })
    .await?;
    for s in &stored {
        projections::apply(conn, s).await?;
    }
    let mut after = before.clone();
    for e in &events {
        after.apply(e);
    }
    Ok(Applied {
        before,
        after,
        events,
    })
}

/// Loads a certificate's state outside the writer (for preparing a command).
pub async fn load_certificate(
    pool: &SqlitePool,
    vault: &str,
    name: &str,
) -> Result<CertificateState, ServiceError> {
    let mut conn = pool.acquire().await?;
    let loaded =
        store::load::<CertificateEvent>(&mut conn, &StreamId::certificate(vault, name)).await?;
    Ok(CertificateState::from_events(&loaded.events))
}

/// Flattens a writer submission.
pub fn flatten<T>(r: Result<Result<T, ServiceError>, WriterError>) -> Result<T, ServiceError> {
    r?
}
