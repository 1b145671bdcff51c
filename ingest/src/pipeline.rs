//! From a source path to committed dataset versions.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use tvilling_core::arrow::record_batch::RecordBatch;
use tvilling_core::progress::Progress;
use tvilling_core::store::{Rows, WriteRequest, hostname, whoami};
use tvilling_core::{
    Classification, CommitOutcome, DatasetName, DatasetProperties, Mode, Provenance, QualityReport,
    Store, TOOL_VERSION,
};

use crate::reader::{Batches, ReadOptions, readers};
use crate::{Error, Result, source};

/// What `tvilling ingest` was asked to do.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The dataset to write; a source with several layers (and no `--layer`) writes `<dataset>_<layer>`.
    pub dataset: DatasetName,
    /// How to read the source.
    pub read: ReadOptions,
    /// Append, overwrite or upsert.
    pub mode: Mode,
    /// The key attribute for upsert; it becomes the feature `id`.
    pub key: Option<String>,
    /// Classification for a new dataset, or a change for an existing one. New datasets default to
    /// `internal`: publishing as open data is a decision someone makes explicitly.
    pub classification: Option<Classification>,
    /// The responsible owner.
    pub owner: Option<String>,
    /// The licence.
    pub licence: Option<String>,
}

/// What happened to one layer.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// The dataset written.
    pub dataset: String,
    /// The layer read.
    pub layer: Option<String>,
    /// Committed or unchanged.
    #[serde(flatten)]
    pub outcome: CommitOutcome,
    /// The quality report of the read.
    pub quality: QualityReport,
}

impl IngestReport {
    /// Features the reader rejected (exit code 1 when any).
    pub fn rejected(&self) -> u64 {
        self.quality.completeness.rejected
    }
}

/// Reads `source` and commits every layer it yields. A failure leaves every dataset at its last committed
/// version.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> tvilling_ingest::Result<()> {
/// use std::sync::Arc;
/// use tvilling_core::{Mode, Store, progress::NoProgress};
/// use tvilling_ingest::{IngestOptions, ReadOptions, ingest};
/// let store = Store::open("./tvilling-data")?;
/// let opts = IngestOptions {
///     dataset: "byggnader".parse()?,
///     read: ReadOptions::default(),
///     mode: Mode::Append,
///     key: None,
///     classification: None,
///     owner: Some("Stadsbyggnadsförvaltningen".into()),
///     licence: Some("CC0-1.0".into()),
/// };
/// let reports = ingest(&store, "byggnader.gpkg".as_ref(), &opts, Arc::new(NoProgress)).await?;
/// println!("{} layer(s) written", reports.len());
/// # Ok(()) }
/// ```
pub async fn ingest(
    store: &Store,
    path: &Path,
    opts: &IngestOptions,
    progress: Arc<dyn Progress>,
) -> Result<Vec<IngestReport>> {
    // Fail on an unusable store before spending minutes reading the source.
    store.ensure_writable()?;
    if opts.mode == Mode::Upsert && opts.key.is_none() {
        return Err(Error::BadInput(
            "--mode upsert needs --key COL: the attribute that identifies a feature".into(),
        ));
    }
    let started = chrono::Utc::now();
    let id = source::identify(path)?;
    let reader = readers()
        .into_iter()
        .find(|r| r.accepts(path))
        .ok_or_else(|| Error::BadInput(format!("no reader accepts {}", path.display())))?;
    let kind = reader.kind();
    let reader_name = reader.name();
    let mut read_opts = opts.read.clone();
    if opts.key.is_some() {
        read_opts.id_column = opts.key.clone();
    }
    let owned_path = path.to_path_buf();
    let ro = read_opts.clone();
    let outputs =
        tokio::task::spawn_blocking(move || reader.read(&owned_path, &ro, progress.as_ref()))
            .await
            .map_err(|e| Error::Internal(format!("reader task failed: {e}")))??;
    if kind == tvilling_core::Kind::Iot {
        // Two linked datasets, written by natural key and without duplicate readings (issue 7).
        return crate::iot::commit(store, opts, &id, started, reader_name, outputs).await;
    }

    let many = outputs.len() > 1;
    let mut reports = vec![];
    for out in outputs {
        let layer = out.layer.clone();
        let name = match (&layer, many) {
            (Some(l), true) => DatasetName::sanitize(&format!("{}_{l}", opts.dataset)),
            _ => opts.dataset.clone(),
        };
        if opts.mode == Mode::Upsert && out.quality.logical_consistency.duplicate_ids > 0 {
            let ex = out
                .quality
                .logical_consistency
                .duplicate_examples
                .first()
                .and_then(|e| e.id.clone())
                .unwrap_or_default();
            return Err(Error::BadInput(format!(
                "{}: key '{}' is not unique ({} duplicate values, e.g. '{ex}'); upsert needs a key that \
                 identifies one feature",
                path.display(),
                opts.key.as_deref().unwrap_or_default(),
                out.quality.logical_consistency.duplicate_ids
            )));
        }
        let mut options = BTreeMap::new();
        options.insert("reader".to_string(), reader_name.to_string());
        if let Some(c) = read_opts.crs {
            options.insert("crs".into(), c.to_string());
        }
        if let Some(c) = read_opts.to_crs {
            options.insert("to_crs".into(), c.to_string());
        }
        if read_opts.make_valid {
            options.insert("make_valid".into(), "true".into());
        }
        if let Some(k) = &read_opts.id_column {
            options.insert("id_column".into(), k.clone());
        }
        if let Some(p) = &read_opts.place {
            // Part of the fingerprint: the same IFC file placed elsewhere is a new version.
            options.insert(
                "place".into(),
                format!("{},{},{},{}", p.lon, p.lat, p.height, p.rotation),
            );
        }
        let rows: u64 = out.batches.rows();
        let provenance = Provenance {
            source_uri: id.uri.clone(),
            sha256: id.sha256.clone(),
            bytes: id.bytes,
            layer: layer.clone(),
            tool: TOOL_VERSION.to_string(),
            user: whoami(),
            host: hostname(),
            started,
            mode: opts.mode.as_str().to_string(),
            rows_read: out.quality.completeness.features_read,
            rows_written: rows,
            rows_rejected: out.quality.completeness.rejected,
            options,
            source_metadata: out.source_metadata,
        };
        let properties = DatasetProperties {
            kind,
            crs: out.crs.horizontal(),
            vertical_crs: out.crs.vertical(),
            classification: opts.classification.unwrap_or(Classification::Internal),
            owner: opts.owner.clone(),
            licence: opts.licence.clone(),
            source: Some(id.uri.clone()),
            geometry_type: out.geometry_type,
        };
        let request = WriteRequest {
            name: name.clone(),
            properties,
            set_classification: opts.classification.is_some(),
            mode: opts.mode,
            provenance,
            quality: out.quality.clone(),
        };
        tracing::info!(dataset = %name, rows, "writing Parquet files and committing");
        let outcome = match out.batches {
            Batches::InMemory(batches) => store.commit(request, out.schema, batches).await?,
            Batches::Streamed { batches, .. } => {
                store
                    .commit_rows(request, out.schema, Rows::Stream(stream_blocking(batches)))
                    .await?
            }
        };
        reports.push(IngestReport {
            dataset: name.to_string(),
            layer,
            outcome,
            quality: out.quality,
        });
    }
    Ok(reports)
}

/// Batches of a streamed reader: pulled on a blocking thread (decoding and sorting are CPU and disk work
/// that must stay off the async runtime) into a channel of two, so the reader runs at most two batches
/// ahead of the Parquet writer and memory stays bounded. If the commit stops early, the channel closes and
/// the thread stops at its next send.
fn stream_blocking(
    batches: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
) -> futures::stream::BoxStream<'static, tvilling_core::Result<RecordBatch>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<tvilling_core::Result<RecordBatch>>(2);
    tokio::task::spawn_blocking(move || {
        for batch in batches {
            let failed = batch.is_err();
            let batch = batch.map_err(|e| match e {
                Error::Store(e) => e,
                Error::Arrow(e) => tvilling_core::Error::Arrow(e),
                e if e.is_bad_input() => tvilling_core::Error::BadInput(e.to_string()),
                e => tvilling_core::Error::Internal(e.to_string()),
            });
            if tx.blocking_send(batch).is_err() || failed {
                break;
            }
        }
    });
    Box::pin(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (b, rx))
    }))
}
