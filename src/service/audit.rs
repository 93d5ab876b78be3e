//! The audit trail: recording refused requests (through the writer, so they are chained
//! like every event) and reading events for auditors.

use super::{ServiceError, Shared};
use crate::domain::audit::AuditEvent;
use crate::es::audit::{self, AuditEntry, EventFilter};
use crate::es::chain::{self, Head};
use crate::es::EventMeta;

/// Audit records and queries.
#[derive(Clone)]
pub struct AuditService {
    shared: Shared,
}

/// A page of events and where the next one starts.
pub struct Page {
    pub entries: Vec<AuditEntry>,
    /// The last position of this page when more events match.
    pub next_after: Option<i64>,
}

impl AuditService {
    /// An audit service on the shared writer and pool.
    pub fn new(shared: Shared) -> Self {
        AuditService { shared }
    }

    /// Records a refusal in the audit stream of `certificate` (or of the vault).
    pub async fn record(
        &self,
        vault: &str,
        certificate: Option<&str>,
        event: AuditEvent,
        mut meta: EventMeta,
    ) -> Result<(), ServiceError> {
        meta.at = self.shared.clock.now();
        let vault = vault.to_owned();
        let certificate = certificate.map(str::to_owned);
        super::flatten(
            self.shared
                .writer
                .submit(move |conn| {
                    Box::pin(async move {
                        audit::append(conn, &vault, certificate.as_deref(), event, &meta)
                            .await
                            .map(|_| ())
                            .map_err(ServiceError::from)
                    })
                })
                .await,
        )
    }

    /// One page of events matching `filter`, at most `limit`.
    pub async fn events(&self, filter: &EventFilter, limit: i64) -> Result<Page, ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        let mut entries = audit::query(&mut conn, filter, limit + 1).await?;
        let more = entries.len() as i64 > limit;
        entries.truncate(limit.max(0) as usize);
        let next_after = if more {
            entries.last().map(|e| e.position)
        } else {
            None
        };
        Ok(Page {
            entries,
            next_after,
        })
    }

    /// The chain's head: the last sealed row.
    pub async fn head(&self) -> Result<Option<Head>, ServiceError> {
        let mut conn = self.shared.pool.acquire().await?;
        Ok(chain::head(&mut conn).await?)
    }
}
