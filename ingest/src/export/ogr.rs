//! Exports through GDAL: GeoJSON, GeoPackage and FlatGeobuf. Rows stream from the store to a GDAL writer
//! thread through a bounded channel, so memory stays flat for any dataset size.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, sync_channel};

use futures::StreamExt;
use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::{Dataset, DriverManager};
use tvilling_core::arrow::array::{Array, AsArray};
use tvilling_core::arrow::datatypes::{
    DataType, Date32Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    TimestampMicrosecondType,
};
use tvilling_core::arrow::record_batch::RecordBatch;
use tvilling_core::arrow::util::display::{ArrayFormatter, FormatOptions};
use tvilling_core::store::DatasetInfo;
use tvilling_core::{At, DatasetName, Store, schema};

use super::Format;
use crate::{Error, Result, gdal_errors};

pub async fn write(
    store: &Store,
    name: &DatasetName,
    at: At,
    info: &DatasetInfo,
    format: Format,
    out: &Path,
) -> Result<u64> {
    let (table_schema, mut stream) = store.scan(name, at).await?;
    // The stable id travels as an ordinary attribute; the bbox columns are derived and stay behind.
    let columns: Vec<(String, DataType)> = table_schema
        .fields()
        .iter()
        .filter(|f| f.name() == schema::ID || !schema::is_reserved(f.name()))
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let (tx, rx) = sync_channel::<RecordBatch>(4);
    let path = out.to_path_buf();
    let layer = name.to_string();
    let crs = info.crs.clone();
    let writer =
        tokio::task::spawn_blocking(move || write_gdal(format, &path, &layer, &crs, &columns, rx));
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(tvilling_core::Error::from)?;
        if tx.send(batch).is_err() {
            break; // the writer failed; its error is returned below
        }
    }
    drop(tx);
    writer
        .await
        .map_err(|e| Error::Internal(format!("export task failed: {e}")))?
}

fn driver_name(format: Format) -> &'static str {
    match format {
        Format::GeoJson => "GeoJSON",
        Format::Gpkg => "GPKG",
        Format::Fgb => "FlatGeobuf",
        Format::GeoParquet => "Parquet",
    }
}

fn ogr_type(t: &DataType) -> OGRFieldType::Type {
    match t {
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Boolean => {
            OGRFieldType::OFTInteger
        }
        DataType::Int64 => OGRFieldType::OFTInteger64,
        DataType::Float32 | DataType::Float64 => OGRFieldType::OFTReal,
        DataType::Date32 => OGRFieldType::OFTDate,
        DataType::Timestamp(..) => OGRFieldType::OFTDateTime,
        DataType::List(f) => match f.data_type() {
            DataType::Int32 => OGRFieldType::OFTIntegerList,
            DataType::Int64 => OGRFieldType::OFTInteger64List,
            DataType::Float64 => OGRFieldType::OFTRealList,
            _ => OGRFieldType::OFTStringList,
        },
        _ => OGRFieldType::OFTString,
    }
}

fn gdal_fail(path: &Path, what: &str, e: impl std::fmt::Display) -> Error {
    let (errors, _) = gdal_errors::take();
    let detail = errors.last().map(|m| format!(" ({m})")).unwrap_or_default();
    Error::Gdal {
        context: format!("writing {} ({what})", path.display()),
        message: format!("{e}{detail}"),
    }
}

fn write_gdal(
    format: Format,
    path: &PathBuf,
    layer_name: &str,
    crs: &str,
    columns: &[(String, DataType)],
    rx: Receiver<RecordBatch>,
) -> Result<u64> {
    gdal_errors::install();
    gdal_errors::take();
    let driver = DriverManager::get_driver_by_name(driver_name(format))
        .map_err(|e| gdal_fail(path, "driver", e))?;
    let mut ds = driver
        .create_vector_only(path)
        .map_err(|e| gdal_fail(path, "create", e))?;
    let code: u32 = crs
        .trim_start_matches("EPSG:")
        .parse()
        .map_err(|_| Error::Internal(format!("bad crs {crs}")))?;
    let srs = SpatialRef::from_epsg(code).map_err(|e| gdal_fail(path, "CRS", e))?;
    // GeoPackage commits per feature unless told otherwise; one transaction makes the export fast.
    let rows = if format == Format::Gpkg {
        let mut txn = ds
            .start_transaction()
            .map_err(|e| gdal_fail(path, "transaction", e))?;
        let rows = write_layer(&mut txn, path, layer_name, &srs, columns, rx)?;
        txn.commit().map_err(|e| gdal_fail(path, "commit", e))?;
        rows
    } else {
        write_layer(&mut ds, path, layer_name, &srs, columns, rx)?
    };
    drop(ds);
    let (errors, _) = gdal_errors::take();
    if let Some(e) = errors.first() {
        return Err(Error::Gdal {
            context: format!("writing {}", path.display()),
            message: e.clone(),
        });
    }
    Ok(rows)
}

fn write_layer(
    ds: &mut Dataset,
    path: &Path,
    layer_name: &str,
    srs: &SpatialRef,
    columns: &[(String, DataType)],
    rx: Receiver<RecordBatch>,
) -> Result<u64> {
    let layer = ds
        .create_layer(LayerOptions {
            name: layer_name,
            srs: Some(srs),
            ty: OGRwkbGeometryType::wkbUnknown,
            options: None,
        })
        .map_err(|e| gdal_fail(path, "layer", e))?;
    let defs: Vec<(&str, OGRFieldType::Type)> = columns
        .iter()
        .map(|(n, t)| (n.as_str(), ogr_type(t)))
        .collect();
    layer
        .create_defn_fields(&defs)
        .map_err(|e| gdal_fail(path, "fields", e))?;
    let mut rows = 0u64;
    let fmt = FormatOptions::default();
    for batch in rx {
        let geometry = match batch.column_by_name(schema::GEOMETRY) {
            Some(c) => Some(
                c.as_binary_opt::<i32>()
                    .ok_or_else(|| {
                        Error::Internal(format!("geometry column is {}, not Binary", c.data_type()))
                    })?
                    .clone(),
            ),
            None => None,
        };
        let cols: Vec<_> = columns
            .iter()
            .map(|(n, _)| batch.column_by_name(n).cloned())
            .collect();
        for row in 0..batch.num_rows() {
            let mut feature =
                Feature::new(layer.defn()).map_err(|e| gdal_fail(path, "feature", e))?;
            if let Some(g) = &geometry
                && !g.is_null(row)
            {
                let geom =
                    Geometry::from_wkb(g.value(row)).map_err(|e| gdal_fail(path, "geometry", e))?;
                feature
                    .set_geometry(geom)
                    .map_err(|e| gdal_fail(path, "geometry", e))?;
            }
            for (idx, col) in cols.iter().enumerate() {
                let Some(col) = col else { continue };
                if col.is_null(row) {
                    continue;
                }
                set_field(&mut feature, idx, col.as_ref(), row, &fmt)
                    .map_err(|e| gdal_fail(path, "attribute", e))?;
            }
            feature
                .create(&layer)
                .map_err(|e| gdal_fail(path, "feature", e))?;
            rows += 1;
        }
    }
    Ok(rows)
}

fn set_field(
    f: &mut Feature<'_>,
    idx: usize,
    col: &dyn Array,
    row: usize,
    fmt: &FormatOptions<'_>,
) -> gdal::errors::Result<()> {
    match col.data_type() {
        DataType::Int16 => {
            f.set_field_integer(idx, i32::from(col.as_primitive::<Int16Type>().value(row)))
        }
        DataType::Int32 => f.set_field_integer(idx, col.as_primitive::<Int32Type>().value(row)),
        DataType::Boolean => f.set_field_integer(idx, i32::from(col.as_boolean().value(row))),
        DataType::Int64 => f.set_field_integer64(idx, col.as_primitive::<Int64Type>().value(row)),
        DataType::Float64 => f.set_field_double(idx, col.as_primitive::<Float64Type>().value(row)),
        DataType::Float32 => {
            f.set_field_double(idx, f64::from(col.as_primitive::<Float32Type>().value(row)))
        }
        DataType::Date32 => {
            let days = col.as_primitive::<Date32Type>().value(row);
            let d =
                chrono::DateTime::from_timestamp(i64::from(days) * 86_400, 0).unwrap_or_default();
            f.set_field_datetime(idx, d.fixed_offset())
        }
        DataType::Timestamp(..) => {
            let us = col.as_primitive::<TimestampMicrosecondType>().value(row);
            f.set_field_datetime(
                idx,
                chrono::DateTime::from_timestamp_micros(us)
                    .unwrap_or_default()
                    .fixed_offset(),
            )
        }
        DataType::List(inner) => {
            let list = col.as_list::<i32>().value(row);
            match inner.data_type() {
                DataType::Int32 => {
                    f.set_field_integer_list(idx, list.as_primitive::<Int32Type>().values())
                }
                DataType::Int64 => {
                    f.set_field_integer64_list(idx, list.as_primitive::<Int64Type>().values())
                }
                DataType::Float64 => {
                    f.set_field_double_list(idx, list.as_primitive::<Float64Type>().values())
                }
                _ => {
                    let formatter = ArrayFormatter::try_new(list.as_ref(), fmt)
                        .map_err(|e| gdal::errors::GdalError::BadArgument(e.to_string()))?;
                    let items: Vec<String> = (0..list.len())
                        .map(|i| formatter.value(i).to_string())
                        .collect();
                    let refs: Vec<&str> = items.iter().map(String::as_str).collect();
                    f.set_field_string_list(idx, &refs)
                }
            }
        }
        DataType::Utf8 => f.set_field_string(idx, col.as_string::<i32>().value(row)),
        _ => {
            let formatter = ArrayFormatter::try_new(col, fmt)
                .map_err(|e| gdal::errors::GdalError::BadArgument(e.to_string()))?;
            f.set_field_string(idx, &formatter.value(row).to_string())
        }
    }
}
