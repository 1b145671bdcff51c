//! Progress reporting without printing: libraries report, the binary decides how to show it
//! (an indicatif bar on a terminal, periodic log lines when piped).

/// Receives progress from long-running work. Implementations must be cheap: `inc` is called often.
pub trait Progress: Send + Sync {
    /// The total amount of work, when known.
    fn set_length(&self, _len: u64) {}
    /// A short description of the current stage.
    fn set_message(&self, _msg: &str) {}
    /// `n` more units done.
    fn inc(&self, _n: u64) {}
    /// The work is done.
    fn finish(&self) {}
}

/// Progress that goes nowhere, for tests and library callers that do not care.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
