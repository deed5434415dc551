//! Diagnostics (startup, warnings, errors) as JSON lines on stderr. Audit events (one per request)
//! go to stdout through their own writer; keeping the streams apart means a long audit line can
//! never interleave with a diagnostic one.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

/// Installs the JSON diagnostic subscriber. Pingora's own `log` records are bridged in; its
/// per-connection chatter (client resets, timeouts) stays at `warn` and above because each such
/// request already has an access event.
pub fn init() {
    let filter = Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("pingora_core", LevelFilter::ERROR)
        .with_target("pingora_proxy", LevelFilter::ERROR)
        .with_target("pingora", LevelFilter::ERROR);
    let fmt = tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(std::io::stderr);
    // A second init (tests, or a re-exec) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .try_init();
}
