//! One module per subcommand.

pub mod apikey;
pub mod classify;
pub mod config;
pub mod datasets;
pub mod demo;
pub mod derive;
pub mod export;
pub mod info;
pub mod ingest;
pub mod iot;
pub mod log;
pub mod serve;
pub mod sql;
pub mod tile;

use anyhow::Context;
use tvilling_core::{At, DatasetName};

use crate::args::VersionArgs;

/// Parses a dataset name given on the command line.
pub fn dataset_name(s: &str) -> anyhow::Result<DatasetName> {
    Ok(s.parse::<DatasetName>()?)
}

/// The version selected by `--version` / `--as-of`.
pub fn at(v: &VersionArgs) -> anyhow::Result<At> {
    Ok(match (&v.version, &v.as_of) {
        (Some(n), _) => At::Version(*n),
        (None, Some(t)) => At::Timestamp(
            chrono::DateTime::parse_from_rfc3339(t)
                .with_context(|| {
                    format!(
                        "--as-of '{t}' is not an RFC 3339 time; write e.g. 2026-05-01T00:00:00Z"
                    )
                })?
                .to_utc(),
        ),
        (None, None) => At::Latest,
    })
}
