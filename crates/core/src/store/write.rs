//! Committing new data to a dataset: append, overwrite or upsert, with provenance and a quality report in
//! the commit, as one atomic Delta commit.
//!
//! Order of work (each step can fail without changing what readers see):
//! 1. take the dataset's writer lock, so tvilling writers on one store run one after another;
//! 2. compare the source fingerprint with the commits since the last overwrite: an identical ingest is a
//!    no-op and says so;
//! 3. check the new schema and CRS against the committed ones (a field that changes type is an error);
//! 4. write Parquet data files (invisible until committed);
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
use deltalake::arrow::compute::interleave_record_batch;
use deltalake::arrow::datatypes::{Field, Schema, SchemaRef};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::datafusion::prelude::{SessionContext, col};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties, TableReference};
use deltalake::kernel::{Action, MetadataExt, StructType};
use deltalake::parquet::basic::{Compression, Encoding};
use deltalake::parquet::file::properties::WriterProperties;
use deltalake::parquet::schema::types::ColumnPath;
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::Serialize;

use super::history::commit_record;
use super::order::hilbert_order;
use super::{At, Store};
use crate::schema::{BBOX, GEOMETRY, ID};
use crate::{DatasetName, DatasetProperties, Error, Kind, Provenance, QualityReport, Result};

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

/// Rows per Parquet row group. The row group is the unit that a scan splits over cores and that bbox
/// statistics prune, so a million-row file in one group would be read by one core and never pruned
/// (parquet's default is 1 048 576 rows); 64 Ki rows keep both working while the per-group overhead stays small.
const ROWS_PER_GROUP: usize = 64 * 1024;

/// Columns whose values (nearly) never repeat, written without a dictionary. Parquet's writer would
/// otherwise hash every value into a dictionary that only falls back to plain encoding once it passes
/// 1 MiB, so a 64 Ki-row group of 8-byte floats never falls back: for laser points that interning was
/// the largest cost of the ingest after LAZ decoding, for no gain in size. Each comes with whether it
/// holds floats.
fn unique_columns(schema: &Schema, kind: Kind) -> Vec<(String, bool)> {
    schema
        .fields()
        .iter()
        .filter(|f| {
            let n = f.name().as_str();
            n == ID
                || n == GEOMETRY
                || BBOX.contains(&n)
                || (kind == Kind::Pointcloud && matches!(n, "x" | "y" | "z" | "gps_time"))
        })
        .map(|f| (f.name().clone(), f.data_type().is_floating()))
        .collect()
}

/// Writes the Parquet files of `rows`; returns their add actions and the number of rows.
async fn write_files(
    url: &str,
    schema: SchemaRef,
    rows: Rows,
    kind: Kind,
) -> Result<(Vec<deltalake::kernel::Add>, u64)> {
    let mut properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP));
    for (column, float) in unique_columns(&schema, kind) {
        let path = ColumnPath::from(column);
        properties = properties.set_column_dictionary_enabled(path.clone(), false);
        if float {
            // Byte stream split puts each byte position of the floats together: the sign, exponent
            // and top mantissa bytes of nearby coordinates repeat, so Snappy shrinks them quickly
            // instead of crawling over plain floats it cannot compress.
            properties = properties.set_column_encoding(path, Encoding::BYTE_STREAM_SPLIT);
        }
    }
    let properties = properties.build();
    let batches = match rows {
        Rows::Batches(b) => b,
        Rows::Stream(stream) => {
            return write_stream(url, schema, properties, stream, ROWS_PER_STREAMED_FILE).await;
        }
    };
    let mut writer =
        RecordBatchWriter::try_new(url, schema, None, None)?.with_writer_properties(properties);
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    match (rows > ROWS_PER_GROUP)
        .then(|| hilbert_order(&batches))
        .flatten()
    {
        Some(order) => {
            // One row group at a time, so the sorted copy never holds more than a group.
            let sources: Vec<&RecordBatch> = batches.iter().collect();
            for picks in order.chunks(ROWS_PER_GROUP) {
                writer
                    .write(interleave_record_batch(&sources, picks)?)
                    .await?;
            }
        }
        None => {
            for batch in batches {
                writer.write(batch).await?;
            }
        }
    }
    Ok((writer.flush().await?, rows as u64))
}

/// Rows per Parquet file of a streamed commit.
const ROWS_PER_STREAMED_FILE: usize = 16 * ROWS_PER_GROUP;

/// Writes a stream of batches as files of `rows_per_file` consecutive rows (a little more: files end
/// between batches), encoded by one writer task per core in turn. Parquet encoding and compression are
/// the bulk of a large commit's work, and a single writer kept one core busy while the others idled.
/// Each file holds consecutive rows, so the caller's spatial order still makes compact files, and the
/// add actions come back in row order.
async fn write_stream(
    url: &str,
    schema: SchemaRef,
    properties: WriterProperties,
    mut stream: BoxStream<'static, Result<RecordBatch>>,
    rows_per_file: usize,
) -> Result<(Vec<deltalake::kernel::Add>, u64)> {
    let writers = std::thread::available_parallelism().map_or(1, usize::from);
    let mut senders = Vec::with_capacity(writers);
    let mut tasks = Vec::with_capacity(writers);
    for _ in 0..writers {
        // `None` ends a file.
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Option<RecordBatch>>(2);
        let mut writer = RecordBatchWriter::try_new(url, schema.clone(), None, None)?
            .with_writer_properties(properties.clone());
        tasks.push(tokio::spawn(async move {
            let mut files = vec![];
            while let Some(next) = rx.recv().await {
                match next {
                    Some(batch) => writer.write(batch).await?,
                    None => files.push(writer.flush().await?),
                }
            }
            Ok::<_, Error>(files)
        }));
        senders.push(tx);
    }
    let (mut rows, mut in_file, mut file) = (0u64, 0usize, 0usize);
    let mut failed = None;
    while let Some(batch) = stream.next().await {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                failed = Some(e);
                break;
            }
        };
        rows += batch.num_rows() as u64;
        in_file += batch.num_rows();
        let tx = &senders[file % writers];
        // A closed channel means that writer failed; its error is collected below.
        if tx.send(Some(batch)).await.is_err() {
            break;
        }
        if in_file >= rows_per_file {
            if tx.send(None).await.is_err() {
                break;
            }
            (file, in_file) = (file + 1, 0);
        }
    }
    if in_file > 0 {
        // The last file's writer may have failed; its error is collected below.
        let _ = senders[file % writers].send(None).await;
    }
    drop(senders);
    // Writer w wrote files w, w + writers, w + 2 × writers, …: interleaved back into row order.
    // The stream's own error (bad input) says more than a writer stopped by it.
    let mut error = failed;
    let mut per_writer = vec![];
    for task in tasks {
        match task.await {
            Ok(Ok(files)) => per_writer.push(files),
            Ok(Err(e)) => {
                error.get_or_insert(e);
            }
            Err(e) => {
                error.get_or_insert(Error::Internal(format!(
                    "a Parquet writer task failed: {e}"
                )));
            }
        }
    }
    if let Some(e) = error {
        // Files that no commit will name: left behind they would only wait for a vacuum.
        remove_unlogged(url, per_writer.iter().flatten().flatten());
        return Err(e);
    }
    let mut per_writer: Vec<_> = per_writer.into_iter().map(Vec::into_iter).collect();
    let mut adds = vec![];
    for f in 0..per_writer.iter().map(ExactSizeIterator::len).sum::<usize>() {
        adds.extend(per_writer[f % writers].next().into_iter().flatten());
    }
    Ok((adds, rows))
}

/// Removes the finished files of a write that will not be committed. Best effort: the error that stopped
/// the write is the one to report, and a file that stays is harmless (no version names it).
fn remove_unlogged<'a>(url: &str, files: impl Iterator<Item = &'a deltalake::kernel::Add>) {
    let Ok(table) = url::Url::parse(url) else {
        return;
    };
    for add in files {
        if let Some(path) = table
            .join(&add.path)
            .ok()
            .and_then(|u| u.to_file_path().ok())
        {
            let _ = std::fs::remove_file(path);
        }
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

#[cfg(test)]
mod tests {
    use deltalake::arrow::array::{AsArray, Int64Array};
    use deltalake::arrow::datatypes::{DataType, Int64Type};
    use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use url::Url;

    use super::*;

    /// A folder to write into, its URL and a one-column schema.
    fn table_dir() -> (tempfile::TempDir, Url, SchemaRef) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = Url::from_directory_path(dir.path()).expect("url");
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        (dir, url, schema)
    }

    fn numbers(range: std::ops::Range<i64>, schema: &SchemaRef) -> Result<RecordBatch> {
        let column = Arc::new(Int64Array::from_iter_values(range));
        Ok(RecordBatch::try_new(schema.clone(), vec![column])?)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_is_written_by_several_writers_as_files_in_row_order() {
        let (dir, url, schema) = table_dir();
        let batches: Vec<Result<RecordBatch>> = (0..25)
            .map(|b| numbers(b * 7..(b + 1) * 7, &schema))
            .collect();
        let stream = futures::stream::iter(batches).boxed();
        let (adds, rows) = write_stream(
            url.as_str(),
            schema,
            WriterProperties::default(),
            stream,
            20,
        )
        .await
        .expect("written");
        assert_eq!(rows, 175);
        // 21 rows a file (three batches), the last one 7.
        assert_eq!(adds.len(), 9, "{adds:?}");
        let mut read = vec![];
        for add in &adds {
            let file = std::fs::File::open(dir.path().join(&add.path)).expect("file");
            for batch in ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| b.build())
                .expect("reader")
            {
                let batch = batch.expect("batch");
                read.extend(
                    batch
                        .column(0)
                        .as_primitive::<Int64Type>()
                        .values()
                        .iter()
                        .copied(),
                );
            }
        }
        assert_eq!(read, (0..175).collect::<Vec<i64>>());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stream_error_fails_the_write_with_that_error_and_leaves_no_file() {
        let (dir, url, schema) = table_dir();
        let mut batches: Vec<Result<RecordBatch>> = (0..5)
            .map(|b| numbers(b * 7..(b + 1) * 7, &schema))
            .collect();
        batches.push(Err(Error::BadInput("point 42 has no x".into())));
        batches.push(numbers(0..7, &schema));
        let stream = futures::stream::iter(batches).boxed();
        let err = write_stream(
            url.as_str(),
            schema,
            WriterProperties::default(),
            stream,
            10,
        )
        .await
        .expect_err("the stream failed");
        assert!(err.to_string().contains("point 42 has no x"), "{err}");
        // Three files were finished (two of 14 rows, and the rows before the error); none is left.
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .expect("table folder")
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}
