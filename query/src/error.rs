//! Errors of the SQL layer.

use std::time::Duration;

/// What went wrong with a query.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] tvilling_core::Error),
    /// DataFusion refused or failed the statement (bad SQL, unknown column, a function's error…).
    #[error("{0}")]
    DataFusion(Box<deltalake::datafusion::common::DataFusionError>),
    /// The statement would write, read files or change settings.
    #[error("SQL is read-only: {0}")]
    ReadOnly(String),
    /// The statement ran past the configured limit.
    #[error(
        "the query was cancelled after {0:?} (the statement timeout); raise it with --timeout or query.timeout"
    )]
    Timeout(Duration),
}

/// Result of the SQL layer.
pub type Result<T> = std::result::Result<T, Error>;
