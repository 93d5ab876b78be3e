//! A fault-injection point for crash tests, compiled only with the `fault-injection`
//! feature (the test command builds with it): `CERTBROKER_ACME_HALT_AFTER=<event type>`
//! parks the ACME worker right after it recorded that step, so a test can kill the
//! process there and prove the order is resumed, not placed twice.

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

/// Without the feature, nothing halts.
#[cfg(not(feature = "fault-injection"))]
pub(crate) async fn after_step(_step: &str) {}
