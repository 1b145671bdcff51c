//! Logging to stderr: human lines or JSON objects, filtered by `RUST_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::args::LogFormat;

/// The filter used when `RUST_LOG` is not set: our own crates at info, everything else at warn.
/// `access` and `audit` are the server's access log and audit log targets.
pub const DEFAULT_FILTER: &str = "warn,tvilling=info,tvilling_core=info,tvilling_ingest=info,tvilling_web=info,access=info,audit=info";

/// delta-rs warns on every write that it keeps no min/max statistics for binary columns. WKB geometry has
/// none worth keeping (the bbox columns carry the spatial statistics), so that expected warning is
/// silenced whatever `RUST_LOG` says.
const QUIET: &str = "deltalake_core::writer::stats=error";

/// Installs the global subscriber.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let filter = match QUIET.parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours only for people at a terminal; cron mails and log collectors get plain text.
        .with_ansi(std::io::stderr().is_terminal());
    // A second init (only possible in tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.with_target(false).try_init(),
    };
}
