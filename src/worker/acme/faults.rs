//! A fault-injection point for crash tests, compiled only with the `fault-injection`
//! feature (the test command builds with it): `CERTBROKER_ACME_HALT_AFTER=<event type>`
//! parks the ACME worker right after it recorded that step, so a test can kill the
//! process there and prove the order is resumed, not placed twice;
//! `CERTBROKER_ACME_LOSE_ANSWER=<word>` loses one answer of the CA.

/// The environment variable naming the step to halt after.
pub const HALT_AFTER_ENV: &str = "CERTBROKER_ACME_HALT_AFTER";

/// Parks forever if the environment asks to halt after `step`.
#[cfg(feature = "fault-injection")]
pub(crate) async fn after_step(step: &str) {
    static HALT: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let halt = HALT.get_or_init(|| std::env::var(HALT_AFTER_ENV).ok().filter(|s| !s.is_empty()));
    if halt.as_deref() == Some(step) {
        tracing::warn!(step, "halting the ACME worker as {HALT_AFTER_ENV} asks");
        std::future::pending::<()>().await;
    }
}

/// The environment variable naming a word of an ACME request URL (`finalize`): the first
/// such request is sent and its answer replaced by a 504, as if lost on the way back.
pub const LOSE_ANSWER_ENV: &str = "CERTBROKER_ACME_LOSE_ANSWER";

/// Whether the answer to the request for `url` is to be lost (once per process).
#[cfg(feature = "fault-injection")]
pub(crate) fn lose_answer(url: &str) -> bool {
    use std::sync::atomic::{AtomicBool, Ordering};
    static WORD: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    static LOST: AtomicBool = AtomicBool::new(false);
    let word = WORD.get_or_init(|| {
        std::env::var(LOSE_ANSWER_ENV)
            .ok()
            .filter(|s| !s.is_empty())
    });
    let hit = word.as_deref().is_some_and(|w| url.contains(w));
    if hit && !LOST.swap(true, Ordering::Relaxed) {
        tracing::warn!(url, "losing the CA's answer as {LOSE_ANSWER_ENV} asks");
        return true;
    }
    false
}

/// Without the feature, no answer is lost.
#[cfg(not(feature = "fault-injection"))]
pub(crate) fn lose_answer(_url: &str) -> bool {
    false
}

/// Without the feature, nothing halts.
#[cfg(not(feature = "fault-injection"))]
pub(crate) async fn after_step(_step: &str) {}
