//! Compaction: many small data files of a dataset rewritten as a few large ones, rows unchanged.
//!
//! An append-all-day dataset (the IoT observations, one file per flush of the server's log) would
//! otherwise collect thousands of small files, and every scan pays per file (its statistics, an open, a
//! read). Delta's bin-packing `OPTIMIZE` writes the new files and removes the old ones in one commit, so
//! readers see the same rows before and after, and older versions stay readable (time travel) until the
//! removed files are vacuumed.

use std::num::NonZeroU64;

use deltalake::kernel::transaction::CommitProperties;

use super::write::{WriteRequest, commit_metadata, conflict_or};
use super::{At, Store};
use crate::Result;

/// Files are packed up to this size (Delta's default is 100 MiB; smaller keeps each rewrite short).
const TARGET_BYTES: u64 = 64 * 1024 * 1024;

/// What [`Store::compact_locked`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compaction {
    /// The dataset's version afterwards.
    pub version: Option<u64>,
    /// Small files rewritten.
    pub files_removed: u64,
    /// Files written in their place.
    pub files_added: u64,
}

impl Store {
    /// Packs the dataset's small files into large ones in one commit whose provenance comes from `req`
    /// (mode `compact`, no rows written). Nothing is committed when there is nothing to pack. The caller
    /// holds the dataset's lock ([`Store::lock`]).
    pub async fn compact_locked(&self, req: &WriteRequest) -> Result<Compaction> {
        let table = self.table(&req.name, At::Latest).await?;
        let before = table.version();
        let mut req = req.clone();
        req.provenance.mode = "compact".into();
        req.provenance.rows_written = 0;
        let (table, metrics) = table
            .optimize()
            .with_target_size(NonZeroU64::new(TARGET_BYTES).unwrap_or(NonZeroU64::MIN))
            .with_commit_properties(
                CommitProperties::default().with_metadata(commit_metadata(&req)?),
            )
            .await
            .map_err(|e| conflict_or(&req.name, e))?;
        let version = table.version().or(before);
        if metrics.num_files_removed > 0 {
            tracing::info!(dataset = %req.name, ?version, removed = metrics.num_files_removed,
                           added = metrics.num_files_added, "compacted");
        }
        Ok(Compaction {
            version,
            files_removed: metrics.num_files_removed,
            files_added: metrics.num_files_added,
        })
    }
}
