//! `POST /api/sql`: one read-only statement through `tvilling-query`, limited in time, memory and rows,
//! answered as JSON, GeoJSON, CSV, Arrow IPC or GeoParquet.
//!
//! Access control happens before planning: the session is built per request and keeps only the datasets
//! the caller may read, and `table_at` / `st_knn` (which open datasets by name) are wrapped so that a hidden
//! dataset is reported exactly like one that does not exist. Every non-open dataset a statement reads is
//! written to the audit log.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tvilling_core::arrow::datatypes::SchemaRef;
use tvilling_core::arrow::record_batch::RecordBatch;
use tvilling_core::datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use tvilling_core::datafusion::common::tree_node::TreeNodeRecursion;
use tvilling_core::datafusion::common::{ScalarValue, plan_err};
use tvilling_core::datafusion::logical_expr::{Expr, LogicalPlan};
use tvilling_core::{Classification, Store};
use tvilling_query::output;
use tvilling_query::{QueryOptions, Session};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

/// Turns a CRS (`EPSG:N`) into its PROJJSON description for GeoParquet metadata. The server does not link
/// GDAL; the binary passes `tvilling-ingest`'s function in. Without one, GeoParquet columns say `"crs": null`.
pub type ProjJson = Arc<dyn Fn(&str) -> Option<serde_json::Value> + Send + Sync>;

/// Result formats of `POST /api/sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A JSON array of row objects (geometries as GeoJSON geometry objects).
    Json,
    /// A GeoJSON FeatureCollection.
    Geojson,
    /// CSV with a header row, geometries as WKT.
    Csv,
    /// An Arrow IPC stream, geometries as WKB with GeoArrow metadata.
    Arrow,
    /// GeoParquet 1.1.
    Parquet,
}

impl Format {
    /// Every format name.
    pub const NAMES: [&'static str; 5] = ["json", "geojson", "csv", "arrow", "parquet"];

    /// Parses a format name.
    pub fn parse(s: &str) -> ApiResult<Format> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "json" => Format::Json,
            "geojson" => Format::Geojson,
            "csv" => Format::Csv,
            "arrow" => Format::Arrow,
            "parquet" | "geoparquet" => Format::Parquet,
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown format '{other}'; use one of {}",
                    Format::NAMES.join(", ")
                )));
            }
        })
    }

    /// The media type of the answer.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Geojson => "application/geo+json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Arrow => "application/vnd.apache.arrow.stream",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }
}

/// Limits of one statement.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Cancel after this long.
    pub timeout: Duration,
    /// DataFusion memory pool cap (bytes).
    pub memory_limit: Option<usize>,
    /// Most rows returned.
    pub row_limit: usize,
}

/// An encoded answer.
#[derive(Debug)]
pub struct Answer {
    /// The encoded rows.
    pub body: Vec<u8>,
    /// Rows in the answer.
    pub rows: usize,
    /// Whether rows were cut off at the row limit.
    pub truncated: bool,
}

/// Runs `sql` for `caller` over the datasets it may read (`visible`: name → classification).
pub async fn run(
    store: &Store,
    caller: &Caller,
    visible: &BTreeMap<String, Classification>,
    sql: &str,
    format: Format,
    limits: Limits,
    projjson: Option<ProjJson>,
) -> ApiResult<Answer> {
    let options = QueryOptions {
        timeout: Some(limits.timeout),
        memory_limit: limits.memory_limit,
        ..QueryOptions::default()
    };
    let work = async {
        let (session, reads) = session_for(store, visible, options).await?;
        let plan = session.plan(sql).await?;
        let mut scanned = BTreeSet::new();
        plan.apply_with_subqueries(|node| {
            if let LogicalPlan::TableScan(scan) = node {
                scanned.insert(scan.table_name.table().to_string());
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .map_err(|e| ApiError::Internal(format!("walking the plan: {e}")))?;
        let by_name = reads.lock().map(|r| r.clone()).unwrap_or_default();
        for name in scanned.iter().chain(by_name.iter()) {
            if let Some(c) = visible.get(name) {
                caller.audit(name, *c, "sql");
            }
        }
        let mut stream = session.stream(sql).await?;
        let schema = stream.schema();
        let mut batches = Vec::new();
        let mut rows = 0usize;
        let mut truncated = false;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(tvilling_query::Error::from)?;
            let room = limits.row_limit - rows;
            if batch.num_rows() > room {
                batches.push(batch.slice(0, room));
                rows += room;
                truncated = true;
                break;
            }
            rows += batch.num_rows();
            batches.push(batch);
            if rows == limits.row_limit {
                // One more row would not fit: look ahead only to say whether the answer is complete.
                truncated = stream.next().await.is_some();
                break;
            }
        }
        Ok::<_, ApiError>((schema, batches, rows, truncated))
    };
    let (schema, batches, rows, truncated) = tokio::time::timeout(limits.timeout, work)
        .await
        .map_err(|_| ApiError::Timeout(limits.timeout))??;
    let body = encode(&schema, &batches, format, projjson.as_ref())?;
    Ok(Answer {
        body,
        rows,
        truncated,
    })
}

/// A session holding only the visible datasets, and the names `table_at`/`st_knn` were asked for.
async fn session_for(
    store: &Store,
    visible: &BTreeMap<String, Classification>,
    options: QueryOptions,
) -> ApiResult<(Session, Arc<Mutex<BTreeSet<String>>>)> {
    let session = Session::open(store, options).await?;
    let ctx = session.context();
    for name in store.datasets().await? {
        if !visible.contains_key(name.as_str()) {
            ctx.deregister_table(name.as_str())
                .map_err(|e| ApiError::Internal(format!("hiding dataset {name}: {e}")))?;
        }
    }
    let names: Arc<HashSet<String>> = Arc::new(visible.keys().cloned().collect());
    let reads = Arc::new(Mutex::new(BTreeSet::new()));
    let guard = |name: &'static str, args: usize, inner: Arc<dyn TableFunctionImpl>| {
        Arc::new(OnlyVisible {
            name,
            args,
            inner,
            visible: names.clone(),
            reads: reads.clone(),
        })
    };
    ctx.register_udtf(
        "table_at",
        guard(
            "table_at",
            1,
            Arc::new(tvilling_query::table_at::TableAt::new(store.clone())),
        ),
    );
    ctx.register_udtf(
        "st_knn",
        guard(
            "st_knn",
            2,
            Arc::new(tvilling_query::knn::StKnn::new(store.clone())),
        ),
    );
    Ok((session, reads))
}

/// A table function that opens datasets by name, limited to the visible ones: its first `args` arguments
/// must be quoted names of visible datasets.
#[derive(Debug)]
struct OnlyVisible {
    name: &'static str,
    args: usize,
    inner: Arc<dyn TableFunctionImpl>,
    visible: Arc<HashSet<String>>,
    reads: Arc<Mutex<BTreeSet<String>>>,
}

impl TableFunctionImpl for OnlyVisible {
    fn call_with_args(
        &self,
        args: TableFunctionArgs,
    ) -> tvilling_core::datafusion::common::Result<Arc<dyn TableProvider>> {
        for e in args.exprs().iter().take(self.args) {
            let Expr::Literal(
                ScalarValue::Utf8(Some(s))
                | ScalarValue::Utf8View(Some(s))
                | ScalarValue::LargeUtf8(Some(s)),
                _,
            ) = e
            else {
                // Only a quoted name can be checked before the dataset is opened.
                return plan_err!(
                    "{}: dataset names must be given in quotes, e.g. 'byggnader'",
                    self.name
                );
            };
            if !self.visible.contains(s) {
                // The same words the store uses for a missing dataset: hidden and absent look alike.
                return plan_err!("{}('{s}', …): dataset '{s}' does not exist", self.name);
            }
            if let Ok(mut r) = self.reads.lock() {
                r.insert(s.clone());
            }
        }
        self.inner.call_with_args(args)
    }
}

fn encode(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    projjson: Option<&ProjJson>,
) -> ApiResult<Vec<u8>> {
    let out_err = |e: output::OutputError| ApiError::Internal(format!("encoding the result: {e}"));
    let mut out = Vec::new();
    match format {
        Format::Json => output::write_json(&mut out, schema, batches).map_err(out_err)?,
        Format::Geojson => output::write_geojson(&mut out, schema, batches).map_err(out_err)?,
        Format::Csv => output::write_csv(&mut out, schema, batches).map_err(out_err)?,
        Format::Arrow => {
            let (schema, batches) = output::wkb_batches(schema, batches).map_err(out_err)?;
            let ipc_err = |e: tvilling_core::arrow::error::ArrowError| {
                ApiError::Internal(format!("writing Arrow IPC: {e}"))
            };
            let mut w = tvilling_core::arrow::ipc::writer::StreamWriter::try_new(&mut out, &schema)
                .map_err(ipc_err)?;
            for b in &batches {
                w.write(b).map_err(ipc_err)?;
            }
            w.finish().map_err(ipc_err)?;
        }
        Format::Parquet => out = geoparquet(schema, batches, projjson)?,
    }
    Ok(out)
}

/// GeoParquet 1.1 (see [`output::write_geoparquet`]).
fn geoparquet(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    projjson: Option<&ProjJson>,
) -> ApiResult<Vec<u8>> {
    let mut out = Vec::new();
    output::write_geoparquet(&mut out, schema, batches, &|crs| {
        projjson.and_then(|p| p(crs))
    })
    .map_err(|e| ApiError::Internal(format!("writing Parquet: {e}")))?;
    Ok(out)
}
