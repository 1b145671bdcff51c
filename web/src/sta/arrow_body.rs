//! Readings as an Arrow IPC stream (`Content-Type: application/vnd.apache.arrow.stream`), the bulk form
//! of `POST /api/iot/observations`: no text to parse, so loaders that already hold columns (pandas,
//! polars, DuckDB, another Arrow pipeline) send millions of readings per request cheaply.
//!
//! Columns, by name: `datastream` (any integer type), `time` (a timestamp of any unit; no zone or UTC), `result`
//! (any number type), optional `resultQuality` (text). Other columns are refused so that a typo does not
//! silently drop data.

use chrono::DateTime;
use tvilling_core::arrow::array::{Array, AsArray, RecordBatch};
use tvilling_core::arrow::compute::cast;
use tvilling_core::arrow::datatypes::{
    DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType,
};
use tvilling_core::arrow::ipc::reader::StreamReader;
use tvilling_core::iot::Observation;

/// The media type of the Arrow IPC stream format.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

const COLUMNS: [&str; 4] = ["datastream", "time", "result", "resultQuality"];

/// Parses an Arrow IPC stream of readings; errors name the batch, row and column.
pub fn parse_arrow(body: &[u8]) -> Result<Vec<Observation>, String> {
    let reader = StreamReader::try_new(body, None)
        .map_err(|e| format!("the body is not an Arrow IPC stream ({ARROW_STREAM}): {e}"))?;
    let schema = reader.schema();
    for f in schema.fields() {
        if !COLUMNS.contains(&f.name().as_str()) {
            return Err(format!(
                "column '{}' is not a reading column; send only {}",
                f.name(),
                COLUMNS.join(", ")
            ));
        }
    }
    let mut out = vec![];
    for (b, batch) in reader.enumerate() {
        let batch = batch.map_err(|e| format!("Arrow batch {b}: {e}"))?;
        read_batch(&batch, out.len(), &mut out).map_err(|why| format!("Arrow batch {b}: {why}"))?;
    }
    Ok(out)
}

fn column(
    batch: &RecordBatch,
    name: &str,
    to: &DataType,
) -> Result<std::sync::Arc<dyn Array>, String> {
    let c = batch
        .column_by_name(name)
        .ok_or_else(|| format!("needs a '{name}' column"))?;
    cast(c, to).map_err(|e| {
        format!(
            "column '{name}' ({}) cannot be read as {to}: {e}",
            c.data_type()
        )
    })
}

fn read_batch(batch: &RecordBatch, first: usize, out: &mut Vec<Observation>) -> Result<(), String> {
    let ds = column(batch, "datastream", &DataType::Int64)?;
    let time_type = batch
        .column_by_name("time")
        .map(|c| c.data_type().clone())
        .ok_or("needs a 'time' column")?;
    match &time_type {
        DataType::Timestamp(_, None) => {}
        DataType::Timestamp(_, Some(tz)) if matches!(tz.as_ref(), "UTC" | "+00:00" | "Z") => {}
        other => {
            return Err(format!(
                "column 'time' is {other}; send a timestamp without a zone (UTC) or with zone UTC"
            ));
        }
    }
    let time = column(
        batch,
        "time",
        &DataType::Timestamp(TimeUnit::Microsecond, None),
    )?;
    let result = column(batch, "result", &DataType::Float64)?;
    let quality = match batch.column_by_name("resultQuality") {
        Some(_) => Some(column(batch, "resultQuality", &DataType::Utf8)?),
        None => None,
    };
    let ds = ds.as_primitive::<Int64Type>();
    let time = time.as_primitive::<TimestampMicrosecondType>();
    let result = result.as_primitive::<Float64Type>();
    let quality = quality.as_ref().map(|q| q.as_string::<i32>());
    out.reserve(batch.num_rows());
    for i in 0..batch.num_rows() {
        let at = |what: &str| format!("reading {}: '{what}' is null", first + i);
        if ds.is_null(i) {
            return Err(at("datastream"));
        }
        if time.is_null(i) {
            return Err(at("time"));
        }
        if result.is_null(i) {
            return Err(at("result"));
        }
        let t = DateTime::from_timestamp_micros(time.value(i))
            .ok_or_else(|| format!("reading {}: time out of range", first + i))?;
        out.push(Observation {
            datastream: ds.value(i),
            phenomenon_time: t,
            result_time: None,
            result: result.value(i),
            result_quality: quality
                .filter(|q| !q.is_null(i))
                .map(|q| q.value(i).to_string()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tvilling_core::arrow::array::{
        Float32Array, Int32Array, StringArray, TimestampMillisecondArray,
    };
    use tvilling_core::arrow::datatypes::{Field, Schema};
    use tvilling_core::arrow::ipc::writer::StreamWriter;

    fn stream(batch: &RecordBatch) -> Vec<u8> {
        let mut buf = vec![];
        let mut w = StreamWriter::try_new(&mut buf, &batch.schema()).unwrap();
        w.write(batch).unwrap();
        w.finish().unwrap();
        drop(w);
        buf
    }

    #[test]
    fn reads_narrow_types_and_refuses_nulls_and_strangers() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("datastream", DataType::Int32, true),
            Field::new(
                "time",
                DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
                false,
            ),
            Field::new("result", DataType::Float32, true),
            Field::new("resultQuality", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int32Array::from(vec![Some(1), Some(2)])),
                Arc::new(
                    TimestampMillisecondArray::from(vec![1_780_000_000_000, 1_780_000_000_500])
                        .with_timezone("UTC"),
                ),
                Arc::new(Float32Array::from(vec![Some(1.5), Some(-2.0)])),
                Arc::new(StringArray::from(vec![Some("G"), None])),
            ],
        )
        .unwrap();
        let obs = parse_arrow(&stream(&batch)).unwrap();
        assert_eq!(obs.len(), 2);
        assert_eq!(obs[1].datastream, 2);
        assert_eq!(
            obs[1].phenomenon_time.timestamp_micros(),
            1_780_000_000_500_000
        );
        assert_eq!(obs[0].result, 1.5);
        assert_eq!(obs[0].result_quality.as_deref(), Some("G"));
        assert_eq!(obs[1].result_quality, None);

        let nulls = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int32Array::from(vec![Some(1), None])),
                Arc::new(TimestampMillisecondArray::from(vec![0, 1]).with_timezone("UTC")),
                Arc::new(Float32Array::from(vec![Some(1.0), Some(1.0)])),
                Arc::new(StringArray::from(vec![Some("G"), None])),
            ],
        )
        .unwrap();
        let err = parse_arrow(&stream(&nulls)).unwrap_err();
        assert!(err.contains("reading 1: 'datastream' is null"), "{err}");

        let odd = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "value",
                DataType::Int32,
                true,
            )])),
            vec![Arc::new(Int32Array::from(vec![Some(1)]))],
        )
        .unwrap();
        let err = parse_arrow(&stream(&odd)).unwrap_err();
        assert!(
            err.contains("column 'value' is not a reading column"),
            "{err}"
        );
        assert!(
            parse_arrow(b"[1,2]")
                .unwrap_err()
                .contains("not an Arrow IPC stream")
        );
    }
}
