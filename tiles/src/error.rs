//! Errors of the tiler.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why tiling failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The dataset or the options cannot be tiled as asked; the message says why and what to do.
    #[error("{0}")]
    BadInput(String),

    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] tvilling_core::Error),

    /// Reading or writing a tile file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// A broken invariant: a bug in tvilling.
    #[error("internal error (a bug in tvilling, please report it with the command you ran): {0}")]
    Internal(String),
}

impl Error {
    /// Wraps an I/O error with its path.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
