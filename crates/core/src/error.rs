//! The error type shared by the store and everything built on it.
//!
//! Variants are sorted by cause so that callers (the CLI's exit codes, the web crate's HTTP status mapping)
//! can decide what to do without parsing messages.

use std::path::PathBuf;

/// Result alias used across `tvilling-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the store and the dataset model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller gave something unusable (a bad name, a bad CRS, a source that cannot be read).
    /// The message says what and how to fix it.
    #[error("{0}")]
    BadInput(String),

    /// A dataset that does not exist. `suggestions` holds near-miss names.
    #[error("dataset '{name}' does not exist in store {store}{}", suggest(.suggestions))]
    DatasetNotFound {
        /// The name asked for.
        name: String,
        /// The store root.
        store: String,
        /// Existing datasets with similar names.
        suggestions: Vec<String>,
    },

    /// A version or timestamp that the dataset does not have.
    #[error(
        "dataset '{name}' has no version {what}; run `tvilling log {name}` to list its versions"
    )]
    VersionNotFound {
        /// The dataset.
        name: String,
        /// The version or time asked for.
        what: String,
    },

    /// New data that does not fit the committed schema (for example a field that changes type).
    #[error("{0}")]
    SchemaMismatch(String),

    /// Another writer committed first; nothing of this write is visible.
    #[error(
        "another writer changed dataset '{name}' while this one was writing ({detail}); nothing was committed, run the command again"
    )]
    Conflict {
        /// The dataset.
        name: String,
        /// What the store reported.
        detail: String,
    },

    /// The store root cannot be used (not writable, not a directory, unsupported scheme).
    #[error("store {root} cannot be used: {reason}")]
    Store {
        /// The store root as given.
        root: String,
        /// Why, with the fix.
        reason: String,
    },

    /// Reading or writing a local file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },

    /// A CRS could not be parsed or a transform failed.
    #[error("{0}")]
    Crs(String),

    /// Delta Lake reported an error.
    #[error("Delta Lake: {0}")]
    Delta(#[from] deltalake::DeltaTableError),

    /// Arrow reported an error.
    #[error("Arrow: {0}")]
    Arrow(#[from] deltalake::arrow::error::ArrowError),

    /// DataFusion reported an error while reading a table.
    #[error("DataFusion: {0}")]
    DataFusion(#[from] deltalake::datafusion::error::DataFusionError),

    /// A known gap.
    #[error("not supported: {0}")]
    NotSupported(String),

    /// A broken invariant inside tvilling: a bug.
    #[error("internal error (a bug in tvilling, please report it with the command you ran): {0}")]
    Internal(String),
}

fn suggest(names: &[String]) -> String {
    if names.is_empty() {
        "; run `tvilling datasets` to list the datasets".to_string()
    } else {
        format!(
            "; did you mean {}?",
            names
                .iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(" or ")
        )
    }
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Names from `candidates` within a small edit distance of `wanted`, closest first.
pub fn near_misses<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let wanted_l = wanted.to_lowercase();
    let mut scored: Vec<(usize, String)> = candidates
        .into_iter()
        .filter_map(|c| {
            let d = levenshtein(&wanted_l, &c.to_lowercase());
            let limit = (wanted.chars().count() / 3).max(2);
            (d <= limit || c.to_lowercase().contains(&wanted_l)).then(|| (d, c.to_string()))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_dataset_names() {
        let names = ["byggnader", "vagar", "kommuner"];
        assert_eq!(near_misses("bygnader", names), vec!["byggnader"]);
        assert!(near_misses("zzzzzzzz", names).is_empty());
    }
}
