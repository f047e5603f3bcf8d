//! Logging: `tracing` to stderr, human-readable or JSON lines.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use berth_server::config::LogFormat;

/// Installs the global subscriber. `level` was validated by [`crate::config`].
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal; log files and pipes get plain text.
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (tests, embedding) keeps the first subscriber.
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}
