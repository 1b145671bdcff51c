//! GeoParquet 1.1: WKB geometry, the CRS as PROJJSON, and a `bbox` struct column declared as the
//! geometry's covering so that readers (DuckDB, GDAL ≥ 3.9, GeoPandas, Sedona) prune row groups spatially.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use tvilling_core::arrow::array::{Array, ArrayRef, StructArray};
use tvilling_core::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef};
use tvilling_core::arrow::record_batch::RecordBatch;
use tvilling_core::store::DatasetInfo;
use tvilling_core::{At, DatasetName, Store, schema};

use crate::{Error, Result};

pub async fn write(
    store: &Store,
    name: &DatasetName,
    at: At,
    info: &DatasetInfo,
    out: &Path,
) -> Result<u64> {
    let (table_schema, mut stream) = store.scan(name, at).await?;
    let out_schema = output_schema(&table_schema, info)?;
    let file = std::fs::File::create(out).map_err(|e| Error::io(out, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_max_row_group_row_count(Some(64 * 1024))
        .build();
    let mut writer = ArrowWriter::try_new(file, out_schema.clone(), Some(props))?;
    let mut rows = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(tvilling_core::Error::from)?;
        rows += batch.num_rows() as u64;
        writer.write(&convert(&batch, &out_schema)?)?;
    }
    // GeoParquet readers look for `geo` in the Parquet footer's key-value metadata, which ArrowWriter
    // does not fill from the Arrow schema metadata by itself.
    if let Some(geo) = out_schema.metadata().get("geo") {
        writer.append_key_value_metadata(KeyValue::new("geo".to_string(), geo.clone()));
    }
    writer.close()?;
    Ok(rows)
}

fn bbox_fields() -> Fields {
    Fields::from(
        ["xmin", "ymin", "xmax", "ymax"]
            .map(|n| Field::new(n, DataType::Float64, true))
            .to_vec(),
    )
}

/// `id`, attributes, `geometry`, `bbox` — with the `geo` file metadata.
fn output_schema(table: &Schema, info: &DatasetInfo) -> Result<SchemaRef> {
    let mut fields: Vec<Field> = vec![];
    for f in table.fields() {
        if schema::BBOX.contains(&f.name().as_str()) {
            continue;
        }
        fields.push(f.as_ref().clone());
    }
    fields.push(Field::new("bbox", DataType::Struct(bbox_fields()), true));
    let crs = projjson(&info.crs)?;
    let geometry_types: Vec<String> = match info.geometry_type.as_deref() {
        Some(t) if t != "Geometry" => vec![t.to_string()],
        _ => vec![],
    };
    let mut column = serde_json::json!({
        "encoding": "WKB",
        "geometry_types": geometry_types,
        "crs": crs,
        "covering": { "bbox": {
            "xmin": ["bbox", "xmin"], "ymin": ["bbox", "ymin"], "xmax": ["bbox", "xmax"], "ymax": ["bbox", "ymax"]
        }},
    });
    if let Some(e) = info.extent {
        column["bbox"] = serde_json::json!(e);
    }
    let geo = serde_json::json!({ "version": "1.1.0", "primary_column": schema::GEOMETRY, "columns": { schema::GEOMETRY: column } });
    Ok(Arc::new(Schema::new(fields).with_metadata(HashMap::from(
        [("geo".to_string(), geo.to_string())],
    ))))
}

/// The PROJJSON description of `EPSG:N`, as GeoParquet wants the CRS.
pub fn projjson(crs: &str) -> Result<serde_json::Value> {
    let code: u32 = crs
        .trim_start_matches("EPSG:")
        .parse()
        .map_err(|_| Error::Internal(format!("bad crs {crs}")))?;
    let projjson = gdal::spatial_ref::SpatialRef::from_epsg(code)
        .and_then(|s| s.to_projjson())
        .map_err(|e| Error::Gdal {
            context: format!("describing {crs} as PROJJSON"),
            message: e.to_string(),
        })?;
    serde_json::from_str(&projjson).map_err(|e| Error::Internal(e.to_string()))
}

fn convert(batch: &RecordBatch, out: &SchemaRef) -> Result<RecordBatch> {
    let get = |n: &str| batch.column_by_name(n).cloned();
    let mut cols: Vec<ArrayRef> = vec![];
    for f in out.fields() {
        if f.name() == "bbox" {
            let parts: Vec<ArrayRef> = schema::BBOX[..4]
                .iter()
                .map(|n| get(n).ok_or_else(|| Error::Internal(format!("column {n} missing"))))
                .collect::<Result<_>>()?;
            let nulls = parts[0].logical_nulls();
            cols.push(Arc::new(StructArray::try_new(bbox_fields(), parts, nulls)?));
        } else {
            cols.push(
                get(f.name())
                    .ok_or_else(|| Error::Internal(format!("column {} missing", f.name())))?,
            );
        }
    }
    Ok(RecordBatch::try_new(out.clone(), cols)?)
}
