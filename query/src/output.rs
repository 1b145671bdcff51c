//! Query results for people and scripts: a table, CSV (header row, WKT geometries), JSON (one array of row
//! objects, geometries as GeoJSON geometry objects), GeoJSON (a FeatureCollection) and GeoParquet 1.1. The
//! PROJJSON that GeoParquet wants for each CRS comes from the caller (GDAL lives in `tvilling-ingest`).

use std::io::Write;

use deltalake::arrow::array::{Array, ArrayRef, AsArray, BinaryArray};
use deltalake::arrow::datatypes::{DataType, Field, SchemaRef};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::Value;

use crate::geom::{crs_of, is_geometry, wkb_array};
use crate::shape::Geom;
use crate::text::{number, to_geojson, to_wkt};

/// An output error.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Writing failed.
    #[error("cannot write the result: {0}")]
    Io(#[from] std::io::Error),
    /// A value could not be converted.
    #[error("{0}")]
    Value(String),
}

type Result<T> = std::result::Result<T, OutputError>;

fn value_err(e: impl std::fmt::Display) -> OutputError {
    OutputError::Value(e.to_string())
}

/// A result column prepared for writing: geometry columns are read once as WKB.
enum Col<'a> {
    Geometry(BinaryArray),
    Other(&'a ArrayRef, ArrayFormatter<'a>),
}

fn columns<'a>(
    batch: &'a RecordBatch,
    schema: &SchemaRef,
    options: &'a FormatOptions<'a>,
) -> Result<Vec<Col<'a>>> {
    batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(a, f)| {
            if is_geometry(f) {
                Ok(Col::Geometry(wkb_array(a, f).map_err(value_err)?))
            } else {
                Ok(Col::Other(
                    a,
                    ArrayFormatter::try_new(a.as_ref(), options).map_err(value_err)?,
                ))
            }
        })
        .collect()
}

fn geometry(wkb: &BinaryArray, row: usize) -> Result<Option<Geom>> {
    if wkb.is_null(row) {
        return Ok(None);
    }
    Geom::from_wkb(wkb.value(row)).map(Some).map_err(value_err)
}

/// A cell as text (`None` for NULL); geometries as WKT.
fn text_cell(col: &Col<'_>, row: usize) -> Result<Option<String>> {
    match col {
        Col::Geometry(w) => Ok(geometry(w, row)?.map(|g| to_wkt(&g))),
        Col::Other(a, f) => Ok((!a.is_null(row)).then(|| f.value(row).to_string())),
    }
}

/// A cell as JSON text: numbers and booleans bare, geometries as GeoJSON geometry objects, the rest as strings.
fn json_cell(col: &Col<'_>, row: usize) -> Result<String> {
    match col {
        Col::Geometry(w) => {
            Ok(geometry(w, row)?.map_or("null".into(), |g| to_geojson(&g, 9, None)))
        }
        Col::Other(a, f) => {
            if a.is_null(row) {
                return Ok("null".into());
            }
            Ok(match a.data_type() {
                DataType::Float16 | DataType::Float32 | DataType::Float64 => {
                    let v = deltalake::arrow::compute::cast(&a.slice(row, 1), &DataType::Float64)
                        .map_err(value_err)?;
                    let v = v
                        .as_primitive::<deltalake::arrow::datatypes::Float64Type>()
                        .value(0);
                    if v.is_finite() {
                        number(v, 15)
                    } else {
                        Value::String(v.to_string()).to_string()
                    }
                }
                t if t.is_integer()
                    || t.is_floating()
                    || matches!(t, DataType::Boolean | DataType::Decimal128(_, _)) =>
                {
                    f.value(row).to_string()
                }
                _ => Value::String(f.value(row).to_string()).to_string(),
            })
        }
    }
}

fn format_options() -> FormatOptions<'static> {
    FormatOptions::default().with_display_error(true)
}

/// Column names as JSON string literals (quoted and escaped), for the JSON and GeoJSON writers.
fn json_names(schema: &SchemaRef) -> Vec<String> {
    schema
        .fields()
        .iter()
        .map(|f| Value::String(f.name().clone()).to_string())
        .collect()
}

/// Writes a result as a JSON array of row objects (columns in SELECT order).
pub fn write_json(out: &mut dyn Write, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let options = format_options();
    let names = json_names(schema);
    out.write_all(b"[")?;
    let mut first = true;
    for batch in batches {
        let cols = columns(batch, schema, &options)?;
        for row in 0..batch.num_rows() {
            out.write_all(if first { b"\n  {" } else { b",\n  {" })?;
            first = false;
            for (i, (name, col)) in names.iter().zip(&cols).enumerate() {
                if i > 0 {
                    out.write_all(b", ")?;
                }
                write!(out, "{name}: {}", json_cell(col, row)?)?;
            }
            out.write_all(b"}")?;
        }
    }
    out.write_all(if first { b"]\n" } else { b"\n]\n" })?;
    Ok(())
}

/// Writes a result as CSV with a header row; geometries as WKT, NULL as an empty field.
pub fn write_csv(out: &mut dyn Write, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(schema.fields().iter().map(|f| f.name().as_str()))
        .map_err(value_err)?;
    let options = format_options();
    for batch in batches {
        let cols = columns(batch, schema, &options)?;
        for row in 0..batch.num_rows() {
            let record = cols
                .iter()
                .map(|c| text_cell(c, row).map(Option::unwrap_or_default))
                .collect::<Result<Vec<_>>>()?;
            w.write_record(&record).map_err(value_err)?;
        }
    }
    w.flush()?;
    Ok(())
}

/// Writes a result as a GeoJSON FeatureCollection: the first geometry column is each feature's geometry, the
/// other columns its properties. A CRS other than WGS 84 is named in the `crs` member GDAL and QGIS read.
pub fn write_geojson(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<()> {
    let geom_index = schema.fields().iter().position(|f| is_geometry(f)).ok_or_else(|| {
        OutputError::Value(
            "--format geojson needs a geometry column in the result; select one (e.g. geometry) or use --format json"
                .into(),
        )
    })?;
    let crs = crs_of(schema.field(geom_index));
    out.write_all(b"{\"type\":\"FeatureCollection\"")?;
    if let Some(c) = crs.as_deref().filter(|c| *c != "EPSG:4326") {
        let urn = c.strip_prefix("EPSG:").map_or(c.to_string(), |code| {
            format!("urn:ogc:def:crs:EPSG::{code}")
        });
        write!(
            out,
            ",\"crs\":{{\"type\":\"name\",\"properties\":{{\"name\":{}}}}}",
            Value::String(urn)
        )?;
    }
    out.write_all(b",\"features\":[")?;
    let options = format_options();
    let names = json_names(schema);
    let mut first = true;
    for batch in batches {
        let cols = columns(batch, schema, &options)?;
        for row in 0..batch.num_rows() {
            out.write_all(if first { b"\n{" } else { b",\n{" })?;
            first = false;
            out.write_all(b"\"type\":\"Feature\",\"geometry\":")?;
            out.write_all(json_cell(&cols[geom_index], row)?.as_bytes())?;
            out.write_all(b",\"properties\":{")?;
            let mut sep = false;
            for (i, (name, col)) in names.iter().zip(&cols).enumerate() {
                if i == geom_index {
                    continue;
                }
                if sep {
                    out.write_all(b",")?;
                }
                sep = true;
                write!(out, "{name}:{}", json_cell(col, row)?)?;
            }
            out.write_all(b"}}")?;
        }
    }
    out.write_all(b"\n]}\n")?;
    Ok(())
}

/// Writes a result as a table for people; long geometries are shortened to `max_width` characters.
pub fn write_table(
    out: &mut dyn Write,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    max_width: usize,
) -> Result<()> {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(schema.fields().iter().map(|f| f.name().clone()));
    let options = format_options();
    let mut rows = 0usize;
    for batch in batches {
        let cols = columns(batch, schema, &options)?;
        for row in 0..batch.num_rows() {
            let cells = cols
                .iter()
                .map(|c| {
                    text_cell(c, row).map(|v| {
                        let v = v.unwrap_or_else(|| "NULL".into());
                        if v.chars().count() > max_width {
                            format!(
                                "{}…",
                                v.chars()
                                    .take(max_width.saturating_sub(1))
                                    .collect::<String>()
                            )
                        } else {
                            v
                        }
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            table.add_row(cells);
            rows += 1;
        }
    }
    writeln!(out, "{table}")?;
    writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
    Ok(())
}

/// The result with every geometry column as ISO WKB `Binary` (GeoArrow metadata kept), for Parquet output.
pub fn wkb_batches(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if is_geometry(f) {
                crate::geom::wkb_field(f.name(), crs_of(f).as_deref(), true)
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let out_schema = std::sync::Arc::new(deltalake::arrow::datatypes::Schema::new(fields));
    let converted = batches
        .iter()
        .map(|b| {
            let cols = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(a, f)| {
                    if is_geometry(f) {
                        wkb_array(a, f)
                            .map(|w| std::sync::Arc::new(w) as ArrayRef)
                            .map_err(value_err)
                    } else {
                        Ok(a.clone())
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            RecordBatch::try_new(out_schema.clone(), cols).map_err(value_err)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((out_schema, converted))
}

/// Writes GeoParquet 1.1 to `out`: geometry columns as WKB, each described in the `geo` footer metadata
/// with its CRS as PROJJSON from `projjson`, or `null` (unknown) when it gives none — an absent `crs`
/// would claim OGC:CRS84, which is wrong for SWEREF 99 data. Returns the number of rows written.
///
/// # Errors
///
/// When a geometry column cannot be read as WKB or writing fails.
pub fn write_geoparquet<W: Write + Send>(
    out: W,
    schema: &SchemaRef,
    batches: &[RecordBatch],
    projjson: &dyn Fn(&str) -> Option<Value>,
) -> Result<usize> {
    use parquet::arrow::ArrowWriter;
    use parquet::file::metadata::KeyValue;
    let (schema, batches) = wkb_batches(schema, batches)?;
    let mut columns = serde_json::Map::new();
    for f in schema.fields().iter().filter(|f| is_geometry(f)) {
        let mut column = serde_json::json!({ "encoding": "WKB", "geometry_types": [] });
        column["crs"] = crs_of(f)
            .and_then(|crs| projjson(&crs))
            .unwrap_or(Value::Null);
        columns.insert(f.name().clone(), column);
    }
    let mut writer = ArrowWriter::try_new(out, schema.clone(), None).map_err(value_err)?;
    for b in &batches {
        writer.write(b).map_err(value_err)?;
    }
    if let Some(primary) = columns.keys().next().cloned() {
        let geo = serde_json::json!({ "version": "1.1.0", "primary_column": primary, "columns": columns });
        writer.append_key_value_metadata(KeyValue::new("geo".into(), geo.to_string()));
    }
    writer.close().map_err(value_err)?;
    Ok(batches.iter().map(|b| b.num_rows()).sum())
}
