//! What every commit records about where its data came from and how good it is.
//!
//! Both travel in the Delta commit info under the key `tvilling` (see `docs/architecture.md`), so any
//! Delta reader can audit a dataset's history without tvilling.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a commit's data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The source as given (absolute `file://` URI for local files).
    pub source_uri: String,
    /// SHA-256 of the source bytes (all files of a multi-file source such as a Shapefile, in name order).
    pub sha256: String,
    /// Size of the source in bytes.
    pub bytes: u64,
    /// The layer read, when the source has layers.
    pub layer: Option<String>,
    /// The tool and version that wrote the commit.
    pub tool: String,
    /// The operating-system user that ran the command.
    pub user: String,
    /// The host the command ran on.
    pub host: String,
    /// When the ingest started.
    pub started: DateTime<Utc>,
    /// Write mode (`append`, `overwrite`, `upsert`).
    pub mode: String,
    /// Features read from the source.
    pub rows_read: u64,
    /// Rows written in this commit.
    pub rows_written: u64,
    /// Features rejected (listed in the quality report).
    pub rows_rejected: u64,
    /// The options that shape the result (CRS override, reprojection, repair, key): together with `sha256`
    /// they make the fingerprint that makes re-ingesting an identical source a no-op.
    pub options: BTreeMap<String, String>,
    /// What the source says about itself (driver, layer metadata, declared CRS, feature count).
    pub source_metadata: serde_json::Value,
}

impl Provenance {
    /// The identity of "this source, read this way": equal fingerprints produce equal data.
    pub fn fingerprint(&self) -> String {
        let opts: Vec<String> = self
            .options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "{}|{}|{}|{}",
            self.sha256,
            self.layer.as_deref().unwrap_or(""),
            self.mode,
            opts.join(",")
        )
    }
}

/// A data-quality report with the ISO 19157 / HMK headings, made while reading and stored with the commit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QualityReport {
    /// Completeness: what was read, written and left out.
    pub completeness: Completeness,
    /// Logical consistency: geometry validity and id uniqueness.
    pub logical_consistency: LogicalConsistency,
    /// Positional accuracy: CRS checks and extent.
    pub positional: Positional,
    /// Items rejected from the commit, with location and reason (at most [`QualityReport::MAX_EXAMPLES`]).
    pub rejected: Vec<Issue>,
    /// Kind-specific findings without an ISO 19157 heading of their own, by name: a point cloud's header
    /// metadata and classification histogram (issue 5). Empty, and left out of the JSON, for other kinds.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub content: BTreeMap<String, serde_json::Value>,
}

impl QualityReport {
    /// How many examples of each kind of problem are listed; all are counted.
    pub const MAX_EXAMPLES: usize = 100;

    /// Records an example issue in `list` if there is room.
    pub fn example(list: &mut Vec<Issue>, issue: Issue) {
        if list.len() < Self::MAX_EXAMPLES {
            list.push(issue);
        }
    }
}

/// One problem with one feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    /// The feature's position in the source (OGR FID or 0-based index).
    pub feature: Option<i64>,
    /// The feature's id in the store, when it got one.
    pub id: Option<String>,
    /// What is wrong.
    pub reason: String,
}

/// Completeness (ISO 19157 §7.3.2): commission and omission.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Completeness {
    /// Features the source holds by its own count, when it knows.
    pub source_count: Option<u64>,
    /// Features read.
    pub features_read: u64,
    /// Rows written.
    pub rows_written: u64,
    /// Features rejected.
    pub rejected: u64,
    /// Features without a geometry.
    pub null_geometries: u64,
    /// Features with an empty geometry.
    pub empty_geometries: u64,
    /// Per attribute: how many values are null, and the fill rate (0–1).
    pub attributes: BTreeMap<String, AttributeFill>,
}

/// How completely one attribute is filled.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttributeFill {
    /// Null values.
    pub nulls: u64,
    /// Share of non-null values.
    pub fill_rate: f64,
}

/// Logical consistency (ISO 19157 §7.3.3): topology and domain checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogicalConsistency {
    /// Geometries that are not valid by OGC simple-feature rules (kept unless repaired).
    pub invalid_geometries: u64,
    /// Examples of invalid geometries with the reason.
    pub invalid_examples: Vec<Issue>,
    /// Geometries repaired by `--make-valid`.
    pub repaired_geometries: u64,
    /// Features whose source id was empty (they got a content-hash id).
    pub empty_ids: u64,
    /// Ids that occur more than once.
    pub duplicate_ids: u64,
    /// Examples of duplicate ids.
    pub duplicate_examples: Vec<Issue>,
    /// Where the ids came from (`column NAME` or `content hash`).
    pub id_source: String,
    /// Source attribute names changed to fit the store, `from -> to`.
    pub renamed_columns: Vec<String>,
    /// The geometry types found, with counts.
    pub geometry_types: BTreeMap<String, u64>,
}

/// Positional accuracy (ISO 19157 §7.3.4) as far as a machine can check it: the CRS and the extent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Positional {
    /// The stored CRS.
    pub crs: String,
    /// Where the CRS came from (`source`, `--crs`, `--to-crs from EPSG:N`).
    pub crs_source: String,
    /// Extent in the stored CRS: `[xmin, ymin, xmax, ymax]`.
    pub extent: Option<[f64; 4]>,
    /// Height range when the data has Z: `[zmin, zmax]`.
    pub z_range: Option<[f64; 2]>,
    /// Whether the extent lies within the CRS's area of use (`None` when PROJ knows no area).
    pub within_crs_area_of_use: Option<bool>,
    /// Free-text findings (declared vs given CRS, reprojection applied, …).
    pub notes: Vec<String>,
}
