//! The Arrow layouts of the two IoT datasets and the conversions between rows and model types.

use std::sync::Arc;

use deltalake::arrow::array::AsArray;
use deltalake::arrow::array::{
    Array, ArrayRef, BinaryArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use deltalake::arrow::datatypes::{
    DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit,
};
use deltalake::arrow::record_batch::RecordBatch;

use super::{
    Datastream, DatastreamSpec, LocationSpec, Observation, ObservedPropertySpec, SensorSpec,
    ThingSpec, Unit,
};
use crate::schema::dataset_schema;
use crate::{Error, Result};

/// The CRS of Thing locations: WGS 84 longitude/latitude (SensorThings encodes locations as GeoJSON).
pub const DATASTREAMS_CRS: &str = "EPSG:4326";

const TEXT: [&str; 22] = [
    "datastream_key",
    "name",
    "description",
    "unit_name",
    "unit_symbol",
    "unit_definition",
    "observation_type",
    "thing_key",
    "thing_name",
    "thing_description",
    "thing_properties",
    "location_name",
    "location_description",
    "sensor_key",
    "sensor_name",
    "sensor_description",
    "sensor_encoding_type",
    "sensor_metadata",
    "property_key",
    "property_name",
    "property_definition",
    "property_description",
];

/// The Datastream's own `properties` (JSON text), e.g. `{"personal": true}`.
const PROPERTIES: &str = "datastream_properties";

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The datastreams dataset: the store's leading columns (id = the datastream id as text, or
/// `thing-<id>` for a Thing without Datastreams; the geometry is the Location point), then the ids and
/// the SensorThings properties as flat columns.
pub fn datastreams_schema() -> SchemaRef {
    let mut fields = vec![
        Field::new("datastream_id", DataType::Int64, true),
        Field::new("thing_id", DataType::Int64, false),
        Field::new("sensor_id", DataType::Int64, true),
        Field::new("property_id", DataType::Int64, true),
    ];
    fields.extend(TEXT.iter().map(|n| Field::new(*n, DataType::Utf8, true)));
    fields.extend(
        ["location_lon", "location_lat", "location_height"]
            .map(|n| Field::new(n, DataType::Float64, true)),
    );
    // Added after the first release of the layout: read back as optional.
    fields.push(Field::new(PROPERTIES, DataType::Utf8, true));
    dataset_schema(DATASTREAMS_CRS, fields)
}

/// The observations dataset. Datastream and time lead, so Delta's per-file min/max statistics prune a
/// scan for one datastream or one time window.
pub fn observations_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("datastream_id", DataType::Int64, false),
        Field::new("phenomenon_time", utc_micros(), false),
        Field::new("result_time", utc_micros(), true),
        Field::new("result", DataType::Float64, false),
        Field::new("result_quality", DataType::Utf8, true),
    ]))
}

/// ISO WKB of a point, little endian, with Z as type 1001 when there is a height.
fn point_wkb(lon: f64, lat: f64, z: Option<f64>) -> Vec<u8> {
    let mut w = vec![1u8];
    w.extend_from_slice(&(if z.is_some() { 1001u32 } else { 1u32 }).to_le_bytes());
    w.extend_from_slice(&lon.to_le_bytes());
    w.extend_from_slice(&lat.to_le_bytes());
    if let Some(z) = z {
        w.extend_from_slice(&z.to_le_bytes());
    }
    w
}

fn texts(d: &Datastream) -> Vec<Option<String>> {
    let s = &d.spec;
    let t = &s.thing;
    let loc = t.location.as_ref();
    vec![
        d.id.map(|_| s.key.clone()),
        d.id.map(|_| s.name.clone()),
        d.id.map(|_| s.description.clone()),
        d.id.map(|_| s.unit.name.clone()),
        d.id.map(|_| s.unit.symbol.clone()),
        d.id.map(|_| s.unit.definition.clone()),
        d.id.map(|_| s.observation_type.clone()),
        Some(t.key.clone()),
        Some(t.name.clone()),
        Some(t.description.clone()),
        Some(t.properties.to_string()),
        loc.map(|l| l.name.clone()),
        loc.map(|l| l.description.clone()),
        d.sensor_id.map(|_| s.sensor.key.clone()),
        d.sensor_id.map(|_| s.sensor.name.clone()),
        d.sensor_id.map(|_| s.sensor.description.clone()),
        d.sensor_id.map(|_| s.sensor.encoding_type.clone()),
        d.sensor_id.map(|_| s.sensor.metadata.clone()),
        d.property_id.map(|_| s.observed_property.key.clone()),
        d.property_id.map(|_| s.observed_property.name.clone()),
        d.property_id
            .map(|_| s.observed_property.definition.clone()),
        d.property_id
            .map(|_| s.observed_property.description.clone()),
    ]
}

/// Rows of the datastreams dataset.
pub fn datastream_rows(rows: &[Datastream]) -> Result<RecordBatch> {
    let schema = datastreams_schema();
    let ids: StringArray = rows
        .iter()
        .map(|d| {
            Some(match d.id {
                Some(id) => id.to_string(),
                None => format!("thing-{}", d.thing_id),
            })
        })
        .collect();
    let loc = |f: fn(&LocationSpec) -> f64| -> Float64Array {
        rows.iter()
            .map(|d| d.spec.thing.location.as_ref().map(f))
            .collect()
    };
    let lon = loc(|l| l.lon);
    let lat = loc(|l| l.lat);
    let mut cols: Vec<ArrayRef> = vec![Arc::new(ids)];
    for c in [&lon, &lat, &lon, &lat] {
        cols.push(Arc::new(c.clone()));
    }
    cols.push(Arc::new(Float64Array::from(vec![None::<f64>; rows.len()])));
    cols.push(Arc::new(Float64Array::from(vec![None::<f64>; rows.len()])));
    let geoms: BinaryArray = rows
        .iter()
        .map(|d| {
            d.spec
                .thing
                .location
                .as_ref()
                .map(|l| point_wkb(l.lon, l.lat, l.height))
        })
        .collect();
    cols.push(Arc::new(geoms));
    cols.push(Arc::new(rows.iter().map(|d| d.id).collect::<Int64Array>()));
    cols.push(Arc::new(
        rows.iter()
            .map(|d| Some(d.thing_id))
            .collect::<Int64Array>(),
    ));
    cols.push(Arc::new(
        rows.iter().map(|d| d.sensor_id).collect::<Int64Array>(),
    ));
    cols.push(Arc::new(
        rows.iter().map(|d| d.property_id).collect::<Int64Array>(),
    ));
    let all: Vec<Vec<Option<String>>> = rows.iter().map(texts).collect();
    for i in 0..TEXT.len() {
        let col: StringArray = all.iter().map(|r| r.get(i).cloned().flatten()).collect();
        cols.push(Arc::new(col));
    }
    cols.push(Arc::new(loc(|l| l.lon)));
    cols.push(Arc::new(loc(|l| l.lat)));
    cols.push(Arc::new(
        rows.iter()
            .map(|d| d.spec.thing.location.as_ref().and_then(|l| l.height))
            .collect::<Float64Array>(),
    ));
    cols.push(Arc::new(
        rows.iter()
            .map(|d| {
                (d.id.is_some() && !d.spec.properties.is_null())
                    .then(|| d.spec.properties.to_string())
            })
            .collect::<StringArray>(),
    ));
    Ok(RecordBatch::try_new(schema, cols)?)
}

fn text_col<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    b.column_by_name(name)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| {
            Error::BadInput(format!(
                "column '{name}' is missing or not text: this is not a tvilling IoT datastreams dataset"
            ))
        })
}

fn num_col<'a, T: deltalake::arrow::datatypes::ArrowPrimitiveType>(
    b: &'a RecordBatch,
    name: &str,
) -> Result<&'a deltalake::arrow::array::PrimitiveArray<T>> {
    b.column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<T>())
        .ok_or_else(|| {
            Error::BadInput(format!(
                "column '{name}' is missing or has the wrong type: this is not a tvilling IoT dataset"
            ))
        })
}

/// Reads datastream rows back (from [`crate::Store::scan`] of a datastreams dataset).
pub fn datastreams_from_batch(b: &RecordBatch) -> Result<Vec<Datastream>> {
    let ds = num_col::<Int64Type>(b, "datastream_id")?;
    let thing = num_col::<Int64Type>(b, "thing_id")?;
    let sensor = num_col::<Int64Type>(b, "sensor_id")?;
    let prop = num_col::<Int64Type>(b, "property_id")?;
    let lon = num_col::<Float64Type>(b, "location_lon")?;
    let lat = num_col::<Float64Type>(b, "location_lat")?;
    let h = num_col::<Float64Type>(b, "location_height")?;
    let t: Vec<&StringArray> = TEXT.iter().map(|n| text_col(b, n)).collect::<Result<_>>()?;
    let props = b
        .column_by_name(PROPERTIES)
        .and_then(|c| c.as_string_opt::<i32>());
    let opt_i = |a: &Int64Array, i: usize| (!a.is_null(i)).then(|| a.value(i));
    let opt_f = |a: &Float64Array, i: usize| (!a.is_null(i)).then(|| a.value(i));
    let mut out = Vec::with_capacity(b.num_rows());
    for i in 0..b.num_rows() {
        let s = |k: usize| {
            t.get(k)
                .filter(|a| !a.is_null(i))
                .map(|a| a.value(i).to_string())
                .unwrap_or_default()
        };
        let location = match (opt_f(lon, i), opt_f(lat, i)) {
            (Some(lon), Some(lat)) => Some(LocationSpec {
                name: s(11),
                description: s(12),
                lon,
                lat,
                height: opt_f(h, i),
            }),
            _ => None,
        };
        let Some(thing_id) = opt_i(thing, i) else {
            return Err(Error::BadInput(format!(
                "datastreams row {i} has no thing_id: the dataset was not written by tvilling"
            )));
        };
        out.push(Datastream {
            id: opt_i(ds, i),
            thing_id,
            sensor_id: opt_i(sensor, i),
            property_id: opt_i(prop, i),
            spec: DatastreamSpec {
                key: s(0),
                name: s(1),
                description: s(2),
                unit: Unit {
                    name: s(3),
                    symbol: s(4),
                    definition: s(5),
                },
                observation_type: s(6),
                properties: props
                    .filter(|a| !a.is_null(i))
                    .and_then(|a| serde_json::from_str(a.value(i)).ok())
                    .unwrap_or(serde_json::Value::Null),
                thing: ThingSpec {
                    key: s(7),
                    name: s(8),
                    description: s(9),
                    properties: serde_json::from_str(&s(10)).unwrap_or(serde_json::Value::Null),
                    location,
                },
                sensor: SensorSpec {
                    key: s(13),
                    name: s(14),
                    description: s(15),
                    encoding_type: s(16),
                    metadata: s(17),
                },
                observed_property: ObservedPropertySpec {
                    key: s(18),
                    name: s(19),
                    definition: s(20),
                    description: s(21),
                },
            },
        });
    }
    Ok(out)
}

/// Readings as one batch of the observations dataset.
pub fn observations_batch(obs: &[Observation]) -> Result<RecordBatch> {
    let ds: Int64Array = obs.iter().map(|o| Some(o.datastream)).collect();
    let pt = TimestampMicrosecondArray::from(
        obs.iter()
            .map(|o| o.phenomenon_time.timestamp_micros())
            .collect::<Vec<_>>(),
    )
    .with_timezone("UTC");
    let rt = TimestampMicrosecondArray::from(
        obs.iter()
            .map(|o| o.result_time.map(|t| t.timestamp_micros()))
            .collect::<Vec<_>>(),
    )
    .with_timezone("UTC");
    let res: Float64Array = obs.iter().map(|o| Some(o.result)).collect();
    let q: StringArray = obs.iter().map(|o| o.result_quality.clone()).collect();
    Ok(RecordBatch::try_new(
        observations_schema(),
        vec![
            Arc::new(ds),
            Arc::new(pt),
            Arc::new(rt),
            Arc::new(res),
            Arc::new(q),
        ],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datastream_rows_round_trip() {
        let d = Datastream {
            id: Some(3),
            thing_id: 1,
            sensor_id: Some(2),
            property_id: Some(4),
            spec: DatastreamSpec {
                key: "k".into(),
                name: "Temperatur".into(),
                unit: Unit {
                    name: "degree Celsius".into(),
                    symbol: "°C".into(),
                    definition: "ucum:Cel".into(),
                },
                thing: ThingSpec {
                    key: "t".into(),
                    properties: serde_json::json!({"a": 1}),
                    location: Some(LocationSpec {
                        lon: 12.8,
                        lat: 55.4,
                        height: Some(1.5),
                        ..LocationSpec::default()
                    }),
                    ..ThingSpec::default()
                },
                sensor: SensorSpec {
                    key: "s".into(),
                    ..SensorSpec::default()
                },
                observed_property: ObservedPropertySpec {
                    key: "p".into(),
                    ..ObservedPropertySpec::default()
                },
                ..DatastreamSpec::default()
            },
        };
        let batch = datastream_rows(std::slice::from_ref(&d)).unwrap();
        assert_eq!(datastreams_from_batch(&batch).unwrap(), vec![d]);
    }

    #[test]
    fn point_wkb_is_iso_little_endian() {
        let w = point_wkb(1.0, 2.0, None);
        assert_eq!(w.len(), 21);
        assert_eq!(&w[..5], &[1, 1, 0, 0, 0]);
        assert_eq!(point_wkb(1.0, 2.0, Some(3.0))[1..5], 1001u32.to_le_bytes());
    }
}
