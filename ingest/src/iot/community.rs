//! sensor.community (formerly Luftdaten) archive files: one CSV per sensor and day, `;`-separated,
//!
//! ```text
//! sensor_id;sensor_type;location;lat;lon;timestamp;P1;durP1;ratioP1;P2;durP2;ratioP2
//! 5331;SDS011;3121;57.138;-2.077;2018-05-02T00:00:57;15.83;;;2.60;;
//! ```
//!
//! or the same records as a JSON array of objects whose values are strings. Timestamps are UTC. Every
//! column after `timestamp` that holds a value somewhere is a measured quantity: one Datastream per
//! (location, sensor, column). The location id is the Thing (co-located sensors share it), the sensor id
//! and type the Sensor, the column the ObservedProperty (`P1` is PM10, `P2` PM2.5, both µg/m³).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Value, json};
use tvilling_core::iot::{
    DatastreamSpec, LocationSpec, OM_MEASUREMENT, ObservedPropertySpec, SensorSpec, ThingSpec, Unit,
};

use super::{Parsed, Reading, unit_for};
use crate::{Error, Result};

/// The header a sensor.community archive CSV starts with.
pub const CSV_SIGNATURE: &str = "sensor_id;sensor_type;location;lat;lon;timestamp";

const KEYS: [&str; 6] = [
    "sensor_id",
    "sensor_type",
    "location",
    "lat",
    "lon",
    "timestamp",
];
const API_DOC: &str = "https://github.com/opendata-stuttgart/meta/wiki/EN-APIs";

/// Name, description and unit of a sensor.community value type.
fn quantity(column: &str) -> (&'static str, &'static str, &'static str) {
    match column {
        "P1" => ("PM10", "particulate matter up to 10 µm", "µg/m³"),
        "P2" => ("PM2.5", "particulate matter up to 2.5 µm", "µg/m³"),
        "P0" => ("PM1", "particulate matter up to 1 µm", "µg/m³"),
        "temperature" => ("Air temperature", "air temperature", "degree celsius"),
        "humidity" => ("Relative humidity", "relative humidity", "%"),
        "pressure" => ("Air pressure", "air pressure", "Pa"),
        "pressure_sealevel" => (
            "Air pressure at sea level",
            "air pressure reduced to sea level",
            "Pa",
        ),
        _ => ("", "", ""),
    }
}

fn time(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                .iter()
                .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
                .map(|n| n.and_utc())
        })
}

struct Builder {
    parsed: Parsed,
    streams: HashMap<(String, String, String), usize>,
}

impl Builder {
    fn new() -> Builder {
        Builder {
            parsed: Parsed::new(vec![]),
            streams: HashMap::new(),
        }
    }

    /// One record: `get` returns a field's text (empty when absent); `columns` are the measured ones.
    fn record(&mut self, line: usize, get: &dyn Fn(&str) -> Option<String>, columns: &[String]) {
        let field = |k: &str| get(k).unwrap_or_default();
        let (sensor, location) = (field("sensor_id"), field("location"));
        if sensor.trim().is_empty() {
            self.parsed.reject(line, "sensor_id is empty".into());
            return;
        }
        let Some(t) = time(&field("timestamp")) else {
            self.parsed.reject(
                line,
                format!(
                    "timestamp '{}' is not a date-time like 2018-05-02T00:00:57 (UTC)",
                    field("timestamp")
                ),
            );
            return;
        };
        for c in columns {
            let value = field(c);
            if value.trim().is_empty() {
                self.parsed.missing(c);
                continue;
            }
            let Ok(result) = value.trim().parse::<f64>() else {
                self.parsed.cells.entry(c.clone()).or_default().0 += 1;
                self.parsed
                    .reject(line, format!("{c}: '{value}' is not a number"));
                continue;
            };
            let key = (location.clone(), sensor.clone(), c.clone());
            let stream = match self.streams.get(&key) {
                Some(s) => *s,
                None => {
                    let spec = spec(
                        &location,
                        &sensor,
                        &field("sensor_type"),
                        c,
                        &field("lat"),
                        &field("lon"),
                    );
                    self.parsed.specs.push(spec);
                    let s = self.parsed.specs.len() - 1;
                    self.streams.insert(key, s);
                    s
                }
            };
            self.parsed.push(
                line,
                c,
                Reading {
                    stream,
                    time: t,
                    result,
                    quality: None,
                },
            );
        }
    }

    fn finish(mut self, format: &str) -> Parsed {
        let streams: Vec<&str> = self.parsed.specs.iter().map(|s| s.key.as_str()).collect();
        self.parsed.metadata = json!({ "format": format, "datastreams": streams });
        self.parsed
    }
}

fn spec(
    location: &str,
    sensor: &str,
    sensor_type: &str,
    column: &str,
    lat: &str,
    lon: &str,
) -> DatastreamSpec {
    let (qname, qdesc, unit) = quantity(column);
    let qname = if qname.is_empty() { column } else { qname };
    let (unit_name, symbol, definition) = unit_for(unit);
    let position = match (lat.trim().parse::<f64>(), lon.trim().parse::<f64>()) {
        (Ok(lat), Ok(lon)) => Some(LocationSpec {
            name: format!("sensor.community location {location}"),
            description: "position reported by the sensor.community archive (WGS 84)".into(),
            lon,
            lat,
            height: None,
        }),
        _ => None,
    };
    DatastreamSpec {
        key: format!("sensor.community:{location}:{sensor}:{column}"),
        properties: serde_json::Value::Null,
        name: format!("{qname} {sensor_type} {sensor}"),
        description: format!(
            "{qname} measured by {sensor_type} sensor {sensor} at location {location}"
        ),
        unit: Unit {
            name: unit_name,
            symbol,
            definition,
        },
        observation_type: OM_MEASUREMENT.into(),
        thing: ThingSpec {
            key: format!("sensor.community:location:{location}"),
            name: format!("sensor.community location {location}"),
            description: format!("sensor.community measuring site {location}"),
            properties: json!({ "provider": "sensor.community", "location_id": location }),
            location: position,
        },
        sensor: SensorSpec {
            key: format!("sensor.community:sensor:{sensor}"),
            name: format!("{sensor_type} {sensor}"),
            description: format!("{sensor_type} sensor, sensor.community id {sensor}"),
            encoding_type: "text/html".into(),
            metadata: API_DOC.into(),
        },
        observed_property: ObservedPropertySpec {
            key: format!("sensor.community:{column}"),
            name: qname.to_string(),
            definition: API_DOC.into(),
            description: if qdesc.is_empty() {
                column.to_string()
            } else {
                qdesc.to_string()
            },
        },
    }
}

/// Parses a sensor.community archive CSV.
pub fn parse_csv(path: &str, text: &str) -> Result<Parsed> {
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split(';')
        .map(|h| h.trim().to_string())
        .collect();
    for k in KEYS {
        if !header.iter().any(|h| h == k) {
            return Err(Error::BadInput(format!(
                "{path}:1: the header lacks '{k}'; a sensor.community archive CSV starts with {CSV_SIGNATURE}"
            )));
        }
    }
    let columns: Vec<String> = header
        .iter()
        .filter(|h| !KEYS.contains(&h.as_str()))
        .cloned()
        .collect();
    let rows: Vec<(usize, Vec<&str>)> = lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| (i + 2, l.split(';').collect()))
        .collect();
    // Columns empty in every row (durP1, ratioP1, … in SDS011 files) are not quantities of this sensor.
    let measured: Vec<String> = columns
        .iter()
        .filter(|c| {
            let j = header.iter().position(|h| h == *c);
            rows.iter().any(|(_, f)| {
                j.and_then(|j| f.get(j))
                    .is_some_and(|v| !v.trim().is_empty())
            })
        })
        .cloned()
        .collect();
    let mut b = Builder::new();
    for (line, fields) in &rows {
        if fields.len() != header.len() {
            b.parsed.reject(
                *line,
                format!(
                    "{} fields where the header has {}",
                    fields.len(),
                    header.len()
                ),
            );
            continue;
        }
        let get = |k: &str| {
            header
                .iter()
                .position(|h| h == k)
                .and_then(|j| fields.get(j))
                .map(|v| v.to_string())
        };
        b.record(*line, &get, &measured);
    }
    Ok(b.finish("sensor.community archive CSV"))
}

/// Parses a sensor.community JSON array.
pub fn parse_json(path: &str, text: &str) -> Result<Parsed> {
    let records: Vec<Value> = serde_json::from_str(text).map_err(|e| {
        Error::BadInput(format!(
            "{path}: not a JSON array of sensor.community records: {e} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let mut columns: Vec<String> = vec![];
    for r in &records {
        if let Some(o) = r.as_object() {
            for (k, v) in o {
                let filled = match v {
                    Value::String(s) => !s.trim().is_empty(),
                    Value::Null => false,
                    _ => true,
                };
                if filled && !KEYS.contains(&k.as_str()) && !columns.contains(k) {
                    columns.push(k.clone());
                }
            }
        }
    }
    let mut b = Builder::new();
    for (i, r) in records.iter().enumerate() {
        let Some(o) = r.as_object() else {
            b.parsed.reject(i, "not a JSON object".into());
            continue;
        };
        let get = |k: &str| {
            o.get(k).map(|v| match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            })
        };
        b.record(i, &get, &columns);
    }
    Ok(b.finish("sensor.community JSON"))
}
