//! The one retry policy for ACME calls: transient failures (badNonce, 5xx, unreachable)
//! are retried with doubling backoff up to `acme.retry_attempts`; anything else is final.
//!
//! A [`Retrier`] judges each failure of one call ([`Retrier::failed`]); [`with_retry!`]
//! repeats the call while it says so. (A loop at the call site rather than a closure:
//! the calls borrow the order mutably, and the worker's futures must stay `Send`.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::problem::{classify, Failure, Kind};
use crate::config::AcmeSettings;

/// The retry state of one call.
pub(crate) struct Retrier<'a> {
    settings: &'a AcmeSettings,
    retries: &'a AtomicU64,
    dir: &'a str,
    attempt: u32,
}

impl<'a> Retrier<'a> {
    /// A fresh call to the CA at `dir`; retries are counted in `retries`.
    pub(crate) fn new(settings: &'a AcmeSettings, retries: &'a AtomicU64, dir: &'a str) -> Self {
        Retrier {
            settings,
            retries,
            dir,
            attempt: 0,
        }
    }

    /// Judges a failure: waits and returns `Ok` when the call is worth another try, else
    /// the final failure.
    pub(crate) async fn failed(&mut self, e: instant_acme::Error) -> Result<(), Failure> {
        let (attempt, dir) = (self.attempt, self.dir);
        match classify(e) {
            Kind::Transient(m) if attempt + 1 < self.settings.retry_attempts.max(1) => {
                tracing::info!(error = %m, attempt, "transient ACME failure; retrying");
                self.retries.fetch_add(1, Ordering::Relaxed);
                let backoff = self
                    .settings
                    .retry_base_ms
                    .saturating_mul(1u64 << attempt.min(10));
                tokio::time::sleep(Duration::from_millis(backoff)).await;
                self.attempt += 1;
                Ok(())
            }
            Kind::Transient(m) => Err(Failure::Permanent(format!(
                "The ACME CA at {dir} could not be used after {} attempts: {m}",
                attempt + 1
            ))),
            Kind::Permanent(m) => Err(Failure::Permanent(format!(
                "The ACME CA at {dir} refused the request: {m}"
            ))),
        }
    }
}

/// Awaits `$call` (an expression making a future), again while `$retrier` says so.
macro_rules! with_retry {
    ($retrier:expr, $call:expr) => {{
        let mut retrier = $retrier;
        loop {
            match $call.await {
                Ok(v) => break Ok(v),
                Err(e) => {
                    if let Err(f) = retrier.failed(e).await {
                        break Err(f);
                    }
                }
            }
        }
    }};
}
pub(crate) use with_retry;
