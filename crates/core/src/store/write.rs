//! Committing new data to a dataset: append, overwrite or upsert, with provenance and a quality report in
//! the commit, as one atomic Delta commit.
//!
//! Order of work (each step can fail without changing what readers see):
//! 1. take the dataset's writer lock, so tvilling writers on one store run one after another;
//! 2. compare the source fingerprint with the commits since the last overwrite: an identical ingest is a
//!    no-op and says so;
//! 3. check the new schema and CRS against the committed ones (a field that changes type is an error);
//! 4. write Parquet data files (invisible until committed; [`super::parquet`]);
//! 5. commit the log entry: new metadata (schema, properties), the added files and, for an overwrite, the
//!    removed ones, in one atomic step.
//!
//! Rows come as [`Rows::Batches`] (all in memory; sorted here) or, for sources larger than memory such as
//! point clouds (issue 5), as [`Rows::Stream`]: batches already in spatial order, written as they come
//! by one writer per core (files of consecutive rows in turn), so memory holds a few batches and one
//! Parquet row group per writer however large the source is.

use std::collections::HashMap;
use std::sync::Arc;

use deltalake::DeltaTable;
use deltalake::arrow::datatypes::{Field, Schema, SchemaRef};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::datafusion::prelude::{SessionContext, col};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TableReference};
use deltalake::kernel::{Action, MetadataExt, StructType};
use deltalake::protocol::{DeltaOperation, SaveMode};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::Serialize;

use super::history::commit_record;
use super::parquet::write_files;
use super::{At, Store};
use crate::schema::{GEOMETRY, ID};
use crate::{DatasetName, DatasetProperties, Error, Provenance, QualityReport, Result};

/// How new data meets the data already in a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Add the new rows.
    Append,
    /// Replace all rows (and the schema) with the new ones.
    Overwrite,
    /// Replace rows whose `id` matches, add the others, keep the rest.
    Upsert,
}

impl Mode {
    /// The text form used in commits and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Append => "append",
            Mode::Overwrite => "overwrite",
            Mode::Upsert => "upsert",
        }
    }
}

/// Everything a commit needs besides the rows.
#[derive(Debug, Clone)]
pub struct WriteRequest {
    /// The dataset to write.
    pub name: DatasetName,
    /// Properties; for an existing dataset the CRS must match, and classification/owner/licence are kept
    /// unless `set_classification` says otherwise.
    pub properties: DatasetProperties,
    /// Whether the caller asked for a classification explicitly (then it replaces the stored one).
    pub set_classification: bool,
    /// How to combine with existing rows.
    pub mode: Mode,
    /// Where the data came from.
    pub provenance: Provenance,
    /// What the reader found.
    pub quality: QualityReport,
}

/// What a commit did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum CommitOutcome {
    /// A new version was committed.
    Committed {
        /// The new version.
        version: u64,
        /// Rows written by this commit.
        rows: u64,
    },
    /// Nothing was written because the same source was already ingested the same way.
    Unchanged {
        /// The current version, which already holds this source.
        version: u64,
        /// The version that ingested it.
        ingested_in: u64,
    },
}

/// The commit-info key under which tvilling records provenance and quality.
pub const COMMIT_KEY: &str = "tvilling";

/// The rows of a commit.
pub enum Rows {
    /// Every row in memory. A commit of more than one row group is written in Hilbert order.
    Batches(Vec<RecordBatch>),
    /// Rows made one batch at a time by the caller, already in the order to write (the caller sorts them
    /// spatially, since the store cannot without holding them all). An error from the stream fails the
    /// commit and leaves the dataset as it was. Upsert collects the stream in memory.
    Stream(BoxStream<'static, Result<RecordBatch>>),
}

impl std::fmt::Debug for Rows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rows::Batches(b) => write!(f, "Rows::Batches({} batches)", b.len()),
            Rows::Stream(_) => f.write_str("Rows::Stream"),
        }
    }
}

impl Rows {
    async fn collect(self) -> Result<Vec<RecordBatch>> {
        match self {
            Rows::Batches(b) => Ok(b),
            Rows::Stream(s) => s.collect::<Vec<_>>().await.into_iter().collect(),
        }
    }
}

impl Store {
    /// Commits `batches` (all with `schema`, built with [`crate::schema::dataset_schema`]) to a dataset.
    pub async fn commit(
        &self,
        req: WriteRequest,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<CommitOutcome> {
        self.commit_rows(req, schema, Rows::Batches(batches)).await
    }

    /// Commits `rows` (all with `schema`) to a dataset; [`Rows::Stream`] writes sources larger than memory.
    pub async fn commit_rows(
        &self,
        req: WriteRequest,
        schema: SchemaRef,
        rows: Rows,
    ) -> Result<CommitOutcome> {
        let _lock = self.lock(&req.name)?;
        self.commit_rows_locked(req, schema, rows, true).await
    }

    /// [`Store::commit_rows`] for a caller that already holds the dataset's lock ([`Store::lock`]), so that
    /// it can read the table and decide what to write under the same lock: the IoT observations store
    /// drops readings it already holds (issue 7). `check_source` off skips the source-fingerprint look-up,
    /// which walks the whole history and is pointless for rows the caller has already de-duplicated.
    pub(crate) async fn commit_rows_locked(
        &self,
        req: WriteRequest,
        schema: SchemaRef,
        rows: Rows,
        check_source: bool,
    ) -> Result<CommitOutcome> {
        let existing = if self.exists(&req.name).await {
            Some(self.table(&req.name, At::Latest).await?)
        } else {
            None
        };
        if let Some(table) = &existing
            && check_source
            && let Some(outcome) = already_ingested(table, &req.provenance).await?
        {
            return Ok(outcome);
        }
        let app_metadata = commit_metadata(&req)?;
        let (outcome, rows) = match existing {
            None => self.create(&req, schema, rows, app_metadata).await?,
            Some(table) => {
                let old = DatasetProperties::from_configuration(
                    table.snapshot()?.metadata().configuration(),
                )?;
                let props = merged_properties(&req, &old)?;
                match req.mode {
                    Mode::Upsert => {
                        let batches = rows.collect().await?;
                        let n = batches.iter().map(|b| b.num_rows() as u64).sum();
                        (
                            upsert(&req.name, table, schema, batches, app_metadata).await?,
                            n,
                        )
                    }
                    _ => {
                        write_files_and_commit(&req, table, schema, rows, app_metadata, &props)
                            .await?
                    }
                }
            }
        };
        tracing::info!(dataset = %req.name, version = outcome, rows, mode = req.mode.as_str(), "committed");
        Ok(CommitOutcome::Committed {
            version: outcome,
            rows,
        })
    }

    /// Deletes the rows that match `predicate` in one commit whose provenance and quality come from
    /// `req` (retention, issue 7). Returns how many rows went; when none match, nothing is committed. The
    /// caller holds the dataset's lock ([`Store::lock`]).
    pub(crate) async fn delete_rows_locked(
        &self,
        req: &WriteRequest,
        predicate: deltalake::datafusion::logical_expr::Expr,
    ) -> Result<u64> {
        let table = self.table(&req.name, At::Latest).await?;
        let matching = SessionContext::new()
            .read_table(table.table_provider().await?)?
            .filter(predicate.clone())?
            .count()
            .await? as u64;
        if matching == 0 {
            return Ok(0);
        }
        let mut req = req.clone();
        req.provenance.mode = "delete".into();
        req.provenance.rows_written = 0;
        let (table, _) = table
            .delete()
            .with_predicate(predicate)
            .with_commit_properties(
                CommitProperties::default().with_metadata(commit_metadata(&req)?),
            )
            .await
            .map_err(|e| conflict_or(&req.name, e))?;
        tracing::info!(dataset = %req.name, version = table.version(), rows = matching, "deleted");
        Ok(matching)
    }

    async fn create(
        &self,
        req: &WriteRequest,
        schema: SchemaRef,
        rows: Rows,
        app_metadata: HashMap<String, serde_json::Value>,
    ) -> Result<(u64, u64)> {
        let url = self.table_url(&req.name)?;
        let (adds, rows) =
            write_files(url.as_str(), schema.clone(), rows, req.properties.kind).await?;
        let kernel: StructType = schema
            .as_ref()
            .try_into_kernel()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let table = deltalake::operations::create::CreateBuilder::new()
            .with_location(url.to_string())
            .with_table_name(req.name.as_str())
            .with_columns(kernel.fields().cloned())
            .with_configuration(
                req.properties
                    .to_configuration()
                    .into_iter()
                    .map(|(k, v)| (k, Some(v))),
            )
            // tvilling.* keys are ours; Delta only validates the delta.* ones it knows.
            .with_raise_if_key_not_exists(false)
            .with_actions(adds.into_iter().map(Action::Add))
            .with_commit_properties(CommitProperties::default().with_metadata(app_metadata))
            .await
            .map_err(|e| conflict_or(&req.name, e))?;
        Ok((table.version().unwrap_or(0), rows))
    }
}

async fn write_files_and_commit(
    req: &WriteRequest,
    table: DeltaTable,
    schema: SchemaRef,
    rows: Rows,
    app_metadata: HashMap<String, serde_json::Value>,
    props: &DatasetProperties,
) -> Result<(u64, u64)> {
    let snapshot = table.snapshot()?;
    let committed: SchemaRef = snapshot.snapshot().arrow_schema();
    let new_schema = match req.mode {
        Mode::Overwrite => schema.clone(),
        _ => merge_schemas(&req.name, &committed, &schema)?,
    };
    let (adds, rows) = write_files(table.table_url().as_str(), schema, rows, props.kind).await?;
    let kernel: StructType = new_schema
        .as_ref()
        .try_into_kernel()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let mut metadata = snapshot
        .metadata()
        .clone()
        .with_schema(&kernel)
        .map_err(deltalake::DeltaTableError::from)?;
    for (k, v) in props.to_configuration() {
        metadata = metadata
            .add_config_key(k, v)
            .map_err(deltalake::DeltaTableError::from)?;
    }
    let mut actions = vec![Action::Metadata(metadata)];
    if req.mode == Mode::Overwrite {
        actions.extend(
            snapshot
                .log_data()
                .iter()
                .map(|f| Action::Remove(f.remove_action(true))),
        );
    }
    actions.extend(adds.into_iter().map(Action::Add));
    let mode = if req.mode == Mode::Overwrite {
        SaveMode::Overwrite
    } else {
        SaveMode::Append
    };
    // Delta's own write operations checkpoint every `delta.checkpointInterval` (100) commits; a bare
    // CommitBuilder does not unless asked, and without checkpoints every open of the table replays its
    // whole log (the IoT store commits all day).
    let done = CommitBuilder::from(CommitProperties::default())
        .with_actions(actions)
        .with_app_metadata(app_metadata)
        .build(
            Some(snapshot as &dyn TableReference),
            table.log_store(),
            DeltaOperation::Write {
                mode,
                partition_by: None,
                predicate: None,
            },
        )
        .await
        .map_err(|e| conflict_or(&req.name, e))?;
    Ok((done.version(), rows))
}

async fn upsert(
    name: &DatasetName,
    table: DeltaTable,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    app_metadata: HashMap<String, serde_json::Value>,
) -> Result<u64> {
    let committed: SchemaRef = table.snapshot()?.snapshot().arrow_schema();
    merge_schemas(name, &committed, &schema)?;
    let ctx = SessionContext::new();
    let source = ctx.read_batches(batches)?;
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let quoted = |prefix: &str, c: &str| col(format!("{prefix}.\"{}\"", c.replace('"', "\"\"")));
    let cols_update = columns.clone();
    let (table, _metrics) = table
        .merge(source, quoted("target", ID).eq(quoted("source", ID)))
        .with_source_alias("source")
        .with_target_alias("target")
        .with_merge_schema(true)
        .with_commit_properties(CommitProperties::default().with_metadata(app_metadata))
        .when_matched_update(|u| {
            cols_update
                .iter()
                .fold(u, |u, c| u.update(c.as_str(), quoted("source", c)))
        })?
        .when_not_matched_insert(|i| {
            columns
                .iter()
                .fold(i, |i, c| i.set(c.as_str(), quoted("source", c)))
        })?
        .await
        .map_err(|e| conflict_or(name, e))?;
    // One commit per ingest: upsert keeps the dataset's properties (the source is in the commit's
    // provenance), so nothing else is written.
    Ok(table.version().unwrap_or(0))
}

/// The committed schema extended by the new data's new columns; a column whose type changes is an error.
fn merge_schemas(name: &DatasetName, committed: &Schema, new: &Schema) -> Result<SchemaRef> {
    let mut fields: Vec<Field> = committed
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    for f in new.fields() {
        match committed.field_with_name(f.name()) {
            Ok(old) if old.data_type() != f.data_type() && f.name() != GEOMETRY => {
                return Err(Error::SchemaMismatch(format!(
                    "field '{}' is {} in dataset '{name}' but {} in the new data; convert it in the source, \
                     ingest into a new dataset, or use --mode overwrite to replace the schema",
                    f.name(),
                    old.data_type(),
                    f.data_type()
                )));
            }
            Ok(_) => {}
            Err(_) => fields.push(f.as_ref().clone().with_nullable(true)),
        }
    }
    Ok(Arc::new(Schema::new(fields)))
}

fn merged_properties(req: &WriteRequest, old: &DatasetProperties) -> Result<DatasetProperties> {
    let new = &req.properties;
    if req.mode != Mode::Overwrite && old.crs != new.crs {
        return Err(Error::SchemaMismatch(format!(
            "dataset '{}' is stored in {} but the new data is in {}; add --to-crs {} to reproject it, \
             or use --mode overwrite to replace the dataset",
            req.name, old.crs, new.crs, old.crs
        )));
    }
    if req.mode != Mode::Overwrite && old.kind != new.kind {
        return Err(Error::SchemaMismatch(format!(
            "dataset '{}' holds {} data but the new data is {}; ingest it into another dataset",
            req.name, old.kind, new.kind
        )));
    }
    let mut merged = new.clone();
    if !req.set_classification {
        merged.classification = old.classification;
    }
    merged.owner = new.owner.clone().or_else(|| old.owner.clone());
    merged.licence = new.licence.clone().or_else(|| old.licence.clone());
    if req.mode != Mode::Overwrite && old.geometry_type != new.geometry_type {
        merged.geometry_type = Some("Geometry".into());
    }
    Ok(merged)
}

pub(super) fn commit_metadata(req: &WriteRequest) -> Result<HashMap<String, serde_json::Value>> {
    let record = serde_json::json!({ "provenance": req.provenance, "quality": req.quality });
    Ok(HashMap::from([(COMMIT_KEY.to_string(), record)]))
}

/// If a commit since the last overwrite ingested the same source the same way, the outcome to report.
async fn already_ingested(table: &DeltaTable, prov: &Provenance) -> Result<Option<CommitOutcome>> {
    let fingerprint = prov.fingerprint();
    let current = table.version().unwrap_or(0);
    for info in super::history::commits(table).await? {
        let Some(rec) = commit_record(&info.raw) else {
            continue;
        };
        if rec.provenance.fingerprint() == fingerprint {
            return Ok(Some(CommitOutcome::Unchanged {
                version: current,
                ingested_in: info.version,
            }));
        }
        // Older commits were replaced by this overwrite, so an identical source before it no longer counts.
        if info.operation.contains("WRITE") && rec.provenance.mode == "overwrite"
            || info.operation.contains("CREATE")
        {
            break;
        }
    }
    Ok(None)
}

pub(super) fn conflict_or(name: &DatasetName, e: deltalake::DeltaTableError) -> Error {
    let msg = e.to_string();
    if msg.contains("already exists") || msg.contains("onflict") || msg.contains("concurrent") {
        Error::Conflict {
            name: name.to_string(),
            detail: msg,
        }
    } else {
        Error::Delta(e)
    }
}
