//! Tracing setup, once per process: text or JSON lines on stderr, filtered by
//! `log.level` (or `RUST_LOG` when set). Every HTTP request logs one line (target
//! `certbroker::http`) with its request id, vault, operation, status, latency and actor.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber. Later calls are ignored (tests call it many times).
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match settings.format {
        // One flat JSON object per line: the event's fields beside timestamp, level, target.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
}
