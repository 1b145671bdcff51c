//! SMHI's download format for meteorological observations (opendata.smhi.se, "metobs" CSV).
//!
//! A UTF-8 file (often with a BOM), `;`-separated, made of blocks separated by blank lines:
//!
//! ```text
//! Stationsnamn;Klimatnummer;Mäthöjd (meter över marken)          the station: the Thing
//! Falsterbo A;52240;2.0
//!
//! Parameternamn;Beskrivning;Enhet                                 the parameter: ObservedProperty, unit
//! Lufttemperatur;momentanvärde, 1 gång/tim;degree celsius
//!
//! Tidsperiod (fr.o.m);Tidsperiod (t.o.m);Höjd (meter över havet);Latitud (decimalgrader);Longitud (decimalgrader)
//! 2009-07-01 00:00:00;2020-09-01 06:00:00;1.575;55.3837;12.8166   station positions over time: the Location
//!
//! Datum;Tid (UTC);Lufttemperatur;Kvalitet;;Tidsutsnitt:            the readings, UTC; columns 5-6 of the
//! 2009-07-01;06:00:00;19.7;G;;Kvalitetskontrollerade …            first rows carry notes, not data
//! ```
//!
//! Quality codes (`G` checked and approved, `Y` suspect or aggregated) go into `resultQuality`. A station
//! that moved has several position rows; the newest is its Location and all are kept in the Thing's
//! properties.

use chrono::{NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::json;
use tvilling_core::iot::{
    DatastreamSpec, LocationSpec, OM_MEASUREMENT, ObservedPropertySpec, SensorSpec, ThingSpec,
};

use super::{Parsed, Reading, unit_for};
use crate::{Error, Result};

/// The first header of an SMHI file, by which it is recognised.
pub const SIGNATURE: &str = "Stationsnamn;Klimatnummer";

fn bad(path: &str, line: usize, what: &str) -> Error {
    Error::BadInput(format!(
        "{path}:{line}: {what}; this does not look like an SMHI metobs CSV download (expected the blocks \
         Stationsnamn / Parameternamn / Tidsperiod / Datum;Tid (UTC))"
    ))
}

/// Parses an SMHI metobs CSV.
pub fn parse(path: &str, text: &str) -> Result<Parsed> {
    let text = text.trim_start_matches('\u{feff}');
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks: Vec<(usize, Vec<&str>)> = vec![];
    let mut i = 0;
    // The metadata blocks: a header line and its rows, up to a blank line; the data block runs to the end.
    while i < lines.len() {
        while i < lines.len() && lines.get(i).is_some_and(|l| l.trim().is_empty()) {
            i += 1;
        }
        let start = i;
        let is_data = lines.get(i).is_some_and(|l| l.starts_with("Datum;"));
        let mut block = vec![];
        while let Some(l) = lines.get(i) {
            if l.trim().is_empty() && !is_data {
                break;
            }
            block.push(*l);
            i += 1;
        }
        if !block.is_empty() {
            blocks.push((start + 1, block));
        }
    }
    let find = |prefix: &str| {
        blocks
            .iter()
            .find(|(_, b)| b.first().is_some_and(|h| h.starts_with(prefix)))
            .map(|(line, b)| (*line, b))
    };
    let (st_line, station) =
        find("Stationsnamn;").ok_or_else(|| bad(path, 1, "no Stationsnamn block"))?;
    let st: Vec<&str> = station
        .get(1)
        .ok_or_else(|| bad(path, st_line + 1, "the station block has no row"))?
        .split(';')
        .collect();
    let (name, number) = match (st.first(), st.get(1)) {
        (Some(n), Some(k)) if !k.trim().is_empty() => (n.trim(), k.trim()),
        _ => {
            return Err(bad(
                path,
                st_line + 1,
                "the station row lacks name or number",
            ));
        }
    };
    let sensor_height: Option<f64> = st.get(2).and_then(|h| h.trim().parse().ok());
    let (p_line, param) =
        find("Parameternamn;").ok_or_else(|| bad(path, 1, "no Parameternamn block"))?;
    let pr: Vec<&str> = param
        .get(1)
        .ok_or_else(|| bad(path, p_line + 1, "the parameter block has no row"))?
        .split(';')
        .collect();
    let param_name = pr.first().map(|s| s.trim()).unwrap_or_default();
    let param_desc = pr.get(1).map(|s| s.trim()).unwrap_or_default();
    let unit_text = pr.get(2).map(|s| s.trim()).unwrap_or_default();
    let (pos_line, positions) =
        find("Tidsperiod").ok_or_else(|| bad(path, 1, "no Tidsperiod (position) block"))?;
    let mut periods = vec![];
    for (k, row) in positions.iter().enumerate().skip(1) {
        let f: Vec<&str> = row.split(';').map(str::trim).collect();
        let num = |j: usize| f.get(j).and_then(|v| v.parse::<f64>().ok());
        match (num(3), num(4)) {
            (Some(lat), Some(lon)) => periods.push(json!({
                "from": f.first(), "to": f.get(1), "height_m": num(2), "lat": lat, "lon": lon,
            })),
            _ => {
                return Err(bad(
                    path,
                    pos_line + k,
                    "a position row lacks latitude/longitude",
                ));
            }
        }
    }
    let newest = periods
        .iter()
        .max_by(|a, b| a["to"].as_str().cmp(&b["to"].as_str()))
        .ok_or_else(|| bad(path, pos_line, "the position block has no row"))?;
    let (d_line, data) =
        find("Datum;").ok_or_else(|| bad(path, 1, "no Datum;Tid (UTC) data block"))?;
    let (unit_name, unit_symbol, unit_def) = unit_for(unit_text);
    let thing = ThingSpec {
        key: format!("smhi:{number}"),
        name: name.to_string(),
        description: format!("SMHI weather station {name} (klimatnummer {number})"),
        properties: json!({
            "provider": "SMHI", "klimatnummer": number, "sensor_height_m": sensor_height,
            "positions": periods,
        }),
        location: Some(LocationSpec {
            name: name.to_string(),
            description: "station position (WGS 84); height in metres above sea level".into(),
            lon: newest["lon"].as_f64().unwrap_or_default(),
            lat: newest["lat"].as_f64().unwrap_or_default(),
            height: newest["height_m"].as_f64(),
        }),
    };
    let spec = DatastreamSpec {
        key: format!("smhi:{number}:{param_name}"),
        properties: serde_json::Value::Null,
        name: format!("{param_name} {name}"),
        description: format!("{param_name}, {param_desc}"),
        unit: tvilling_core::iot::Unit {
            name: unit_name,
            symbol: unit_symbol,
            definition: unit_def,
        },
        observation_type: OM_MEASUREMENT.into(),
        thing,
        sensor: SensorSpec {
            key: format!("smhi:{param_name}:{param_desc}"),
            name: format!("SMHI {param_name}"),
            description: param_desc.to_string(),
            encoding_type: "text/html".into(),
            metadata: "https://opendata.smhi.se/apidocs/metobs/".into(),
        },
        observed_property: ObservedPropertySpec {
            key: format!("smhi:{param_name}"),
            name: param_name.to_string(),
            definition: "https://opendata.smhi.se/apidocs/metobs/parameter.html".into(),
            description: param_desc.to_string(),
        },
    };
    let mut parsed = Parsed::new(vec![spec]);
    for (k, row) in data.iter().enumerate().skip(1) {
        let line = d_line + k;
        if row.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = row.split(';').collect();
        let (Some(d), Some(t), Some(v)) = (f.first(), f.get(1), f.get(2)) else {
            parsed.reject(
                line,
                format!("expected Datum;Tid;value;Kvalitet, got '{row}'"),
            );
            continue;
        };
        let time = match (
            NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d"),
            NaiveTime::parse_from_str(t.trim(), "%H:%M:%S"),
        ) {
            (Ok(d), Ok(t)) => Utc.from_utc_datetime(&d.and_time(t)),
            _ => {
                parsed.reject(
                    line,
                    format!("'{d};{t}' is not a date and UTC time (YYYY-MM-DD;HH:MM:SS)"),
                );
                continue;
            }
        };
        if v.trim().is_empty() {
            parsed.missing(param_name);
            continue;
        }
        let Ok(result) = v.trim().parse::<f64>() else {
            parsed.reject(line, format!("value '{v}' is not a number"));
            continue;
        };
        let quality = f.get(3).map(|q| q.trim()).filter(|q| !q.is_empty());
        parsed.push(
            line,
            param_name,
            Reading {
                stream: 0,
                time,
                result,
                quality: quality.map(str::to_string),
            },
        );
    }
    parsed.metadata = json!({
        "format": "SMHI metobs CSV", "station": name, "klimatnummer": number, "parameter": param_name,
        "unit": unit_text, "positions": periods,
    });
    Ok(parsed)
}
