//! Reading datasets: summary information, row streams at any version, and classification changes.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::datatypes::{DataType, Field, Schema};
use deltalake::arrow::datatypes::{Float64Type, Int64Type, SchemaRef};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::datafusion::execution::SendableRecordBatchStream;
use deltalake::datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use deltalake::datafusion::prelude::SessionContext;
use deltalake::kernel::transaction::CommitProperties;
use futures::StreamExt;
use serde::Serialize;

use super::history::commits;
use super::{At, Store};
use crate::{
    Classification, DatasetName, DatasetProperties, Error, Provenance, QualityReport, Result,
};

/// What `tvilling info` shows about a dataset.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetInfo {
    /// The dataset name.
    pub name: String,
    /// The kind of data.
    pub kind: String,
    /// The version described.
    pub version: u64,
    /// Rows in that version.
    pub rows: u64,
    /// Horizontal CRS (`EPSG:N`).
    pub crs: String,
    /// Vertical CRS, when known.
    pub vertical_crs: Option<String>,
    /// `[xmin, ymin, xmax, ymax]` in the dataset CRS.
    pub extent: Option<[f64; 4]>,
    /// `[zmin, zmax]` when the geometries have Z.
    pub z_range: Option<[f64; 2]>,
    /// Access classification.
    pub classification: Classification,
    /// Owner, licence and source from the table properties.
    pub owner: Option<String>,
    /// Licence.
    pub licence: Option<String>,
    /// Last source.
    pub source: Option<String>,
    /// Geometry type of the geometry column.
    pub geometry_type: Option<String>,
    /// Columns with their Arrow types.
    pub columns: Vec<ColumnInfo>,
    /// Active data files and their total size in bytes.
    pub files: usize,
    /// Total size of the data files.
    pub bytes: u64,
    /// When the described version was committed.
    pub committed: Option<DateTime<Utc>>,
    /// Provenance of the newest ingest up to this version.
    pub last_provenance: Option<Provenance>,
    /// Quality report of the newest ingest up to this version.
    pub last_quality: Option<QualityReport>,
}

/// A column of a dataset.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Arrow data type.
    pub data_type: String,
    /// Whether nulls are allowed.
    pub nullable: bool,
}

impl Store {
    /// The dataset's table properties at its newest version.
    pub async fn properties(&self, name: &DatasetName) -> Result<DatasetProperties> {
        let table = self.table(name, At::Latest).await?;
        DatasetProperties::from_configuration(table.snapshot()?.metadata().configuration())
    }

    /// Summary information about a dataset at a version.
    pub async fn info(&self, name: &DatasetName, at: At) -> Result<DatasetInfo> {
        let table = self.table(name, at).await?;
        let snapshot = table.snapshot()?;
        let props = DatasetProperties::from_configuration(snapshot.metadata().configuration())?;
        let schema: SchemaRef = snapshot.snapshot().arrow_schema();
        let (files, bytes) = snapshot
            .log_data()
            .iter()
            .fold((0usize, 0u64), |(n, b), f| {
                (n + 1, b + f.size().max(0) as u64)
            });
        let version = table.version().unwrap_or(0);
        let history = commits(&table).await?;
        let last = history.iter().find(|c| c.provenance.is_some());
        let committed = history.first().and_then(|c| c.timestamp);

        let ctx = SessionContext::new();
        ctx.register_table("t", table.table_provider().await?)?;
        // Tables without geometry (IoT readings) have no envelope columns: only the count.
        let sql = if schema.field_with_name("bbox_xmin").is_ok() {
            "SELECT count(*), min(bbox_xmin), min(bbox_ymin), max(bbox_xmax), max(bbox_ymax), min(bbox_zmin), max(bbox_zmax) FROM t"
        } else {
            "SELECT count(*), CAST(NULL AS DOUBLE) AS a, CAST(NULL AS DOUBLE) AS b, CAST(NULL AS DOUBLE) AS c, \
             CAST(NULL AS DOUBLE) AS d, CAST(NULL AS DOUBLE) AS e, CAST(NULL AS DOUBLE) AS f FROM t"
        };
        let batches = ctx.sql(sql).await?.collect().await?;
        let b = batches
            .first()
            .ok_or_else(|| Error::Internal("count query returned no batch".into()))?;
        let f = |i: usize| {
            let a = b.column(i).as_primitive::<Float64Type>();
            (!a.is_null(0)).then(|| a.value(0))
        };
        let rows = b.column(0).as_primitive::<Int64Type>().value(0).max(0) as u64;
        let extent = match (f(1), f(2), f(3), f(4)) {
            (Some(a), Some(b), Some(c), Some(d)) => Some([a, b, c, d]),
            _ => None,
        };
        let z_range = f(5).zip(f(6)).map(|(a, b)| [a, b]);

        Ok(DatasetInfo {
            name: name.to_string(),
            kind: props.kind.to_string(),
            version,
            rows,
            crs: props.crs,
            vertical_crs: props.vertical_crs,
            extent,
            z_range,
            classification: props.classification,
            owner: props.owner,
            licence: props.licence,
            source: props.source,
            geometry_type: props.geometry_type,
            columns: schema
                .fields()
                .iter()
                .map(|f| ColumnInfo {
                    name: f.name().clone(),
                    data_type: f.data_type().to_string(),
                    nullable: f.is_nullable(),
                })
                .collect(),
            files,
            bytes,
            committed,
            last_provenance: last.and_then(|c| c.provenance.clone()),
            last_quality: last.and_then(|c| c.quality.clone()),
        })
    }

    /// Streams the rows of a dataset at a version, with the table's Arrow schema.
    ///
    /// The scan may produce Arrow view types (`Utf8View`, `BinaryView`); they are cast to `Utf8` and
    /// `Binary`, the types the table was written with, so consumers see one stable schema.
    pub async fn scan(
        &self,
        name: &DatasetName,
        at: At,
    ) -> Result<(SchemaRef, SendableRecordBatchStream)> {
        self.scan_columns(name, at, None).await
    }

    /// [`Store::scan`] of some columns only (those of `columns` the table has, in table order; every
    /// column when `None`). Parquet decodes only what is read: a point tiler needing 8 of 36 columns
    /// skips the WKB, ids and bbox columns that make up most of the bytes.
    pub async fn scan_columns(
        &self,
        name: &DatasetName,
        at: At,
        columns: Option<&[&str]>,
    ) -> Result<(SchemaRef, SendableRecordBatchStream)> {
        let table = self.table(name, at).await?;
        let ctx = SessionContext::new();
        let mut df = ctx.read_table(table.table_provider().await?)?;
        if let Some(wanted) = columns {
            let present: Vec<String> = df
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .filter(|n| wanted.contains(&n.as_str()))
                .collect();
            let refs: Vec<&str> = present.iter().map(String::as_str).collect();
            df = df.select_columns(&refs)?;
        }
        let target = plain_schema(df.schema().as_arrow());
        let stream = df.execute_stream().await?;
        let cast_to = target.clone();
        let mapped =
            stream.map(move |b| b.and_then(|b| plain_batch(&b, &cast_to).map_err(Into::into)));
        Ok((
            target.clone(),
            Box::pin(RecordBatchStreamAdapter::new(target, mapped)),
        ))
    }

    /// Changes a dataset's classification in a new version; returns that version (or the current one if
    /// the classification was already `to`).
    pub async fn set_classification(&self, name: &DatasetName, to: Classification) -> Result<u64> {
        let _lock = self.lock(name)?;
        let table = self.table(name, At::Latest).await?;
        let props =
            DatasetProperties::from_configuration(table.snapshot()?.metadata().configuration())?;
        if props.classification == to {
            return Ok(table.version().unwrap_or(0));
        }
        let note = serde_json::json!({
            "classification": { "from": props.classification, "to": to },
            "user": crate::store::whoami(),
        });
        let table = table
            .set_tbl_properties()
            .with_properties(HashMap::from([(
                "tvilling.classification".to_string(),
                to.to_string(),
            )]))
            .with_raise_if_not_exists(false)
            .with_commit_properties(
                CommitProperties::default().with_metadata([("tvilling".to_string(), note)]),
            )
            .await?;
        Ok(table.version().unwrap_or(0))
    }
}

fn plain_type(t: &DataType) -> DataType {
    match t {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary => DataType::Binary,
        other => other.clone(),
    }
}

fn plain_schema(s: &Schema) -> SchemaRef {
    let fields: Vec<Field> = s
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(plain_type(f.data_type())))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, s.metadata().clone()))
}

fn plain_batch(
    b: &RecordBatch,
    target: &SchemaRef,
) -> std::result::Result<RecordBatch, deltalake::arrow::error::ArrowError> {
    let cols = b
        .columns()
        .iter()
        .zip(target.fields())
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                deltalake::arrow::compute::cast(c, f.data_type())
            }
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    RecordBatch::try_new(target.clone(), cols)
}
