//! Why a command did not take effect: the one error of the command pipeline, shared by
//! [`super::execute`] (which decides and appends) and [`super::writer`] (which commits).

use std::sync::Arc;

use super::storage::Failure;
use super::store::StoreError;
use crate::domain::DomainError;

/// Why a command did not take effect.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    /// The domain refused it.
    #[error(transparent)]
    Refused(#[from] DomainError),
    /// The stream kept moving under it: decided twice on stale state.
    #[error("the stream {stream} changed concurrently")]
    Conflict { stream: String },
    /// The database failed while the command ran; nothing of it was committed.
    #[error("the event store failed: {0}")]
    Store(#[source] Arc<StoreError>),
    /// The batch's transaction could not begin or commit; nothing of it was committed.
    #[error("the write transaction failed: {message}")]
    Commit { failure: Failure, message: String },
    /// The worker's lease on the job this command belongs to was taken over (it expired
    /// and another replica claimed it): nothing was written.
    #[error("the lease on {job} is no longer held")]
    LeaseLost { job: String },
    /// The writer has stopped (the server is shutting down).
    #[error("the writer is not running")]
    Stopped,
    /// The command panicked; its writes were rolled back.
    #[error("the command panicked")]
    Panicked,
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ExecError {
    fn from(e: StoreError) -> Self {
        ExecError::Store(Arc::new(e))
    }
}

impl From<sqlx::Error> for ExecError {
    fn from(e: sqlx::Error) -> Self {
        ExecError::Store(Arc::new(StoreError::Db(e)))
    }
}
