//! The adjustable clock (`clock.adjustable`): an admin moves it forward; each move is an
//! audit record, and the worker wakes to act on what became due. At start the server takes
//! up the offset its recorded moves add up to, so the clock never goes back.

use std::sync::Arc;

use super::{Caller, Core, Result, ServiceError};
use crate::domain::audit::AuditEvent;
use crate::domain::DomainError;
use crate::es::storage::Storage;
use crate::es::store;

/// The clock after a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    /// Unix seconds by the server's clock.
    pub now: i64,
    /// Seconds ahead of the system clock.
    pub offset_seconds: i64,
}

/// The clock service.
#[derive(Clone)]
pub struct ClockService(pub(crate) Arc<Core>);

impl ClockService {
    /// Whether the clock may be moved on this server.
    pub fn adjustable(&self) -> bool {
        self.0.adjustable_clock.is_some()
    }

    /// The server's clock now.
    pub fn reading(&self) -> ClockReading {
        ClockReading {
            now: self.0.clock.now().timestamp(),
            offset_seconds: self
                .0
                .adjustable_clock
                .as_ref()
                .map_or(0, |c| c.offset_seconds()),
        }
    }

    /// Moves the clock forward by `by_seconds`: records the move, then moves it and wakes
    /// the worker. Refused when the clock is not adjustable.
    pub async fn advance(&self, caller: &Caller, by_seconds: i64) -> Result<ClockReading> {
        let clock = self.0.adjustable_clock.as_ref().ok_or_else(|| {
            DomainError::BadParameter("The clock is not adjustable on this server.".into())
        })?;
        let by_seconds = by_seconds.max(1);
        let event = AuditEvent::ClockAdvanced {
            by_seconds,
            offset_seconds: clock.offset_seconds() + by_seconds,
        };
        self.0.record_audit(caller, None, event, vec![]).await?;
        clock.advance(by_seconds);
        self.0.wake.notify_one();
        Ok(self.reading())
    }
}

/// The offset the recorded clock moves add up to (the last one's `offset_seconds`).
pub async fn recorded_offset(storage: &Storage) -> Result<i64> {
    let mut pooled = storage.acquire().await?;
    let Some(last) = store::last_of_type(&mut pooled.conn(), "ClockAdvanced").await? else {
        return Ok(0);
    };
    // A clock that never goes back must not read a record it cannot parse as no move.
    last["offset_seconds"].as_i64().ok_or_else(|| {
        ServiceError::Internal("a ClockAdvanced record has no offset_seconds".into())
    })
}
