//! The audit trail: recording audit records (refused requests) through the pipeline, so
//! they are chained like every event, and reading events for auditors.

use std::sync::Arc;

use super::{Caller, Core, Result};
use crate::domain::audit::AuditEvent;
use crate::es::audit::{self, AuditEntry, EventFilter};
use crate::es::chain::{self, Head};

/// The audit service.
#[derive(Clone)]
pub struct AuditService(pub(crate) Arc<Core>);

/// A page of events and where the next one starts.
pub struct Page {
    pub entries: Vec<AuditEntry>,
    /// The last position of this page when more events match.
    pub next_after: Option<i64>,
}

impl AuditService {
    /// Records `event` in the audit stream of `certificate` (or of the vault).
    pub async fn record(
        &self,
        caller: &Caller,
        certificate: Option<&str>,
        event: AuditEvent,
    ) -> Result<()> {
        self.0
            .record_audit(caller, certificate, event, vec![])
            .await
    }

    /// One page of events matching `filter`, at most `limit`.
    pub async fn events(&self, filter: &EventFilter, limit: i64) -> Result<Page> {
        let mut reader = self.0.reader().await?;
        let mut entries = audit::query(&mut reader.conn(), filter, limit + 1).await?;
        let more = entries.len() as i64 > limit;
        entries.truncate(limit.max(0) as usize);
        let next_after = if more {
            entries.last().map(|e| e.row.position)
        } else {
            None
        };
        Ok(Page {
            entries,
            next_after,
        })
    }

    /// The chain's head: the last sealed row.
    pub async fn head(&self) -> Result<Option<Head>> {
        let mut reader = self.0.reader().await?;
        Ok(chain::head(&mut reader.conn()).await?)
    }
}
