//! Errors of the readers and exporters.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why reading a source or writing an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source cannot be used as given; the message names the file and the fix.
    #[error("{0}")]
    BadInput(String),

    /// The source needs a CRS that it does not declare.
    #[error(
        "{path}: {why}; pass the CRS the coordinates are in with --crs (Swedish national data is usually \
         --crs EPSG:3006, SWEREF 99 TM; local zones are EPSG:3007–3018)"
    )]
    MissingCrs {
        /// The source.
        path: PathBuf,
        /// What is missing or wrong.
        why: String,
    },

    /// A layer asked for with `--layer` is not in the source.
    #[error("{path} has no layer '{layer}'; its layers are: {}", .available.join(", "))]
    NoSuchLayer {
        /// The source.
        path: PathBuf,
        /// The layer asked for.
        layer: String,
        /// The layers it has.
        available: Vec<String>,
    },

    /// GDAL failed; the message carries GDAL's own words.
    #[error("{context}: {message}")]
    Gdal {
        /// What tvilling was doing.
        context: String,
        /// GDAL's error text.
        message: String,
    },

    /// Reading or writing a local file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },

    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] tvilling_core::Error),

    /// Arrow failed while building batches.
    #[error("Arrow: {0}")]
    Arrow(#[from] tvilling_core::arrow::error::ArrowError),

    /// Parquet failed while writing an export.
    #[error("Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),

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

    /// Whether the error is the caller's input (exit code 2 with the store untouched either way).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            Error::BadInput(_)
                | Error::MissingCrs { .. }
                | Error::NoSuchLayer { .. }
                | Error::Gdal { .. }
        )
    }
}
