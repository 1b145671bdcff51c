//! Collects the errors GDAL reports through CPLError while tvilling reads or writes, so that a truncated
//! file fails the ingest with GDAL's own words instead of being silently read short (GDAL's default handler
//! only prints to stderr and carries on).

use std::sync::{Mutex, Once};

use gdal::errors::CplErrType;

static MESSAGES: Mutex<Vec<(CplErrType, String)>> = Mutex::new(Vec::new());
static INSTALL: Once = Once::new();

/// Routes GDAL's messages into tvilling's log and the collector. Idempotent.
pub fn install() {
    INSTALL.call_once(|| {
        gdal::config::set_error_handler(|class, code, msg| {
            match class {
                CplErrType::Failure | CplErrType::Fatal => {
                    tracing::debug!(code, "GDAL error: {msg}")
                }
                CplErrType::Warning => tracing::debug!(code, "GDAL warning: {msg}"),
                _ => return,
            }
            if let Ok(mut m) = MESSAGES.lock() {
                // Bounded: a corrupt file can emit one error per feature.
                if m.len() < 1000 {
                    m.push((class, msg.to_string()));
                }
            }
        });
    });
}

/// Takes the messages collected since the last call: (errors, warnings).
pub fn take() -> (Vec<String>, Vec<String>) {
    let drained: Vec<_> = MESSAGES
        .lock()
        .map(|mut m| std::mem::take(&mut *m))
        .unwrap_or_default();
    let mut errors = vec![];
    let mut warnings = vec![];
    for (class, msg) in drained {
        match class {
            CplErrType::Failure | CplErrType::Fatal => errors.push(msg),
            _ => warnings.push(msg),
        }
    }
    (errors, warnings)
}
