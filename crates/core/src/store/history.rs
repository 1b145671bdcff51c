//! A dataset's versions with the provenance and quality recorded in each commit.

use chrono::{DateTime, Utc};
use deltalake::DeltaTable;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::write::COMMIT_KEY;
use super::{At, Store};
use crate::{DatasetName, Provenance, QualityReport, Result};

/// One committed version of a dataset.
#[derive(Debug, Clone, Serialize)]
pub struct VersionInfo {
    /// The version number (0 is the creating commit).
    pub version: u64,
    /// When it was committed.
    pub timestamp: Option<DateTime<Utc>>,
    /// The Delta operation (`CREATE TABLE`, `WRITE`, `MERGE`, `SET TBLPROPERTIES`, …).
    pub operation: String,
    /// The Delta operation parameters (mode, predicate, properties).
    pub parameters: serde_json::Value,
    /// Provenance recorded by tvilling, when this commit ingested data.
    pub provenance: Option<Provenance>,
    /// The quality report recorded with the ingest.
    pub quality: Option<QualityReport>,
    /// Other tvilling commit notes (for example a classification change).
    pub note: Option<serde_json::Value>,
    #[serde(skip)]
    pub(crate) raw: serde_json::Value,
}

#[derive(Debug, Deserialize)]
pub(crate) struct CommitRecord {
    pub provenance: Provenance,
    #[allow(dead_code)] // read by tests and kept for symmetry with what is written
    pub quality: Option<QualityReport>,
}

pub(crate) fn commit_record(raw: &serde_json::Value) -> Option<CommitRecord> {
    serde_json::from_value(raw.get(COMMIT_KEY)?.clone()).ok()
}

/// The commits of `table` up to its loaded version, newest first.
pub(crate) async fn commits(table: &DeltaTable) -> Result<Vec<VersionInfo>> {
    let current = table.version().unwrap_or(0);
    let infos: Vec<_> = table.history(None).try_collect().await?;
    // history() yields one commit info per log file, newest first, from the loaded version down.
    Ok(infos
        .into_iter()
        .enumerate()
        .filter_map(|(i, info)| {
            let raw = serde_json::to_value(&info).ok()?;
            let rec = raw.get(COMMIT_KEY).cloned();
            let (provenance, quality, note) = match rec {
                Some(v) => match commit_record(&raw) {
                    Some(r) => (Some(r.provenance), r.quality, None),
                    None => (None, None, Some(v)),
                },
                None => (None, None, None),
            };
            Some(VersionInfo {
                version: current.checked_sub(i as u64)?,
                timestamp: info.timestamp.and_then(DateTime::from_timestamp_millis),
                operation: info.operation.clone().unwrap_or_default(),
                parameters: serde_json::to_value(&info.operation_parameters).unwrap_or_default(),
                provenance,
                quality,
                note,
                raw,
            })
        })
        .collect())
}

impl Store {
    /// The versions of a dataset, newest first.
    pub async fn log(&self, name: &DatasetName) -> Result<Vec<VersionInfo>> {
        let table = self.table(name, At::Latest).await?;
        commits(&table).await
    }
}
