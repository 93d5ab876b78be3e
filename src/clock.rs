//! The time source. The server uses the system clock; tests (and, later, operators with an
//! adjustable clock) move it.

use chrono::{DateTime, Utc};

/// The time source.
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
