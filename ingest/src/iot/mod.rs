//! Sensor time series (issue 7): SMHI metobs CSV downloads and sensor.community (Luftdaten) archive CSV and
//! JSON, read into the IoT store model of `tvilling_core::iot`.
//!
//! The reader recognises a file by its header, never by its extension alone, because the GDAL reader after
//! it also opens CSV: an unrecognised CSV stays GDAL's. It yields two layers, `datastreams` (the
//! Datastreams with their Thing, Location, Sensor and ObservedProperty, numbered 0, 1, … in the file) and
//! `observations` (readings whose `datastream_id` is that number); [`commit`] then finds or creates the
//! Datastreams in the store by natural key and appends the readings without duplicates, into
//! `<dataset>_datastreams` and `<dataset>_observations`.
//!
//! A reading is one value of one row. Rows that cannot be read (wrong field count, bad time, text where a
//! number belongs), non-finite values and far-future times are rejected, counted and listed with their line
//! (JSON: array index) in the quality report; empty cells are missing values, counted per column.

mod commit;
mod community;
mod smhi;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use chrono::{DateTime, Utc};
use tvilling_core::crs::Crs;
use tvilling_core::iot::{
    Datastream, DatastreamSpec, Observation, datastream_rows, observations_batch,
};
use tvilling_core::progress::Progress;
use tvilling_core::provenance::{AttributeFill, Issue};
use tvilling_core::{Kind, QualityReport};

pub(crate) use commit::commit;

use crate::reader::{ReadOptions, ReadOutput, SourceReader};
use crate::{Error, Result};

/// One reading of a parsed file; `stream` indexes [`Parsed::specs`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// Index of the datastream in the file.
    pub stream: usize,
    /// Phenomenon time, UTC.
    pub time: DateTime<Utc>,
    /// The value.
    pub result: f64,
    /// The source's quality code.
    pub quality: Option<String>,
}

/// What a file holds: its datastreams and readings, and what was wrong with it.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The datastreams, in order of first appearance.
    pub specs: Vec<DatastreamSpec>,
    /// Valid readings.
    pub readings: Vec<Reading>,
    /// Counts and rejected items.
    pub quality: QualityReport,
    /// What the file says about itself.
    pub metadata: serde_json::Value,
    now: DateTime<Utc>,
    /// Per column: (cells, empty cells).
    cells: BTreeMap<String, (u64, u64)>,
}

impl Parsed {
    fn new(specs: Vec<DatastreamSpec>) -> Parsed {
        Parsed {
            specs,
            readings: vec![],
            quality: QualityReport::default(),
            metadata: serde_json::Value::Null,
            now: Utc::now(),
            cells: BTreeMap::new(),
        }
    }

    /// Records a rejected row or value at `line` (1-based; JSON: 0-based array index).
    fn reject(&mut self, line: usize, reason: String) {
        self.quality.completeness.features_read += 1;
        self.quality.completeness.rejected += 1;
        QualityReport::example(
            &mut self.quality.rejected,
            Issue {
                feature: Some(line as i64),
                id: None,
                reason,
            },
        );
    }

    /// Records an empty cell of `column`.
    fn missing(&mut self, column: &str) {
        let c = self.cells.entry(column.to_string()).or_default();
        c.0 += 1;
        c.1 += 1;
    }

    /// Adds a reading of `column` found at `line`, unless it is not finite or lies in the future.
    fn push(&mut self, line: usize, column: &str, r: Reading) {
        self.cells.entry(column.to_string()).or_default().0 += 1;
        let check = Observation {
            datastream: 0,
            phenomenon_time: r.time,
            result_time: None,
            result: r.result,
            result_quality: None,
        }
        .check(self.now);
        match check {
            Ok(()) => {
                self.quality.completeness.features_read += 1;
                self.readings.push(r);
            }
            Err(why) => self.reject(line, format!("{column}: {why}")),
        }
    }

    /// Fills the per-column fill rates.
    fn finish(&mut self) {
        for (name, (cells, empty)) in &self.cells {
            self.quality.completeness.attributes.insert(
                name.clone(),
                AttributeFill {
                    nulls: *empty,
                    fill_rate: if *cells == 0 {
                        0.0
                    } else {
                        (cells - empty) as f64 / *cells as f64
                    },
                },
            );
        }
        self.quality.logical_consistency.id_source =
            "(datastream, phenomenonTime); datastreams by natural key".into();
    }
}

/// Name, symbol and UCUM definition of a unit written as a source writes it.
pub(crate) fn unit_for(text: &str) -> (String, String, String) {
    let ucum = |code: &str| format!("http://unitsofmeasure.org/ucum.html#{code}");
    let t = text.trim();
    match t.to_lowercase().as_str() {
        "degree celsius" | "celsius" | "°c" | "c" | "cel" => {
            ("degree Celsius".into(), "°C".into(), ucum("Cel"))
        }
        "µg/m³" | "ug/m3" | "µg/m3" => (
            "microgram per cubic metre".into(),
            "µg/m³".into(),
            ucum("ug/m3"),
        ),
        "%" | "percent" => ("percent".into(), "%".into(), ucum("%")),
        "pa" => ("pascal".into(), "Pa".into(), ucum("Pa")),
        "hpa" => ("hectopascal".into(), "hPa".into(), ucum("hPa")),
        _ => (t.to_string(), t.to_string(), String::new()),
    }
}

/// The formats this reader knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SMHI metobs CSV.
    Smhi,
    /// sensor.community archive CSV (`sensor_id;sensor_type;location;lat;lon;timestamp;…`).
    CommunityCsv,
    /// sensor.community JSON (an array of objects with `sensor_id`, `lat`, `lon`, `timestamp`, …).
    CommunityJson,
}

/// The format of `path` by its first bytes, if it is one of ours.
pub fn recognise(path: &Path) -> Option<Format> {
    let mut head = vec![0u8; 2048];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .ok()?;
    let head = String::from_utf8_lossy(head.get(..n)?);
    let head = head.trim_start_matches('\u{feff}').trim_start();
    if head.starts_with(smhi::SIGNATURE) {
        Some(Format::Smhi)
    } else if head.starts_with(community::CSV_SIGNATURE) {
        Some(Format::CommunityCsv)
    } else if head.starts_with('[')
        && head.contains("\"sensor_id\"")
        && head.contains("\"timestamp\"")
    {
        Some(Format::CommunityJson)
    } else {
        None
    }
}

/// Parses `path` as `format`.
pub fn parse(path: &Path, format: Format) -> Result<Parsed> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let shown = path.display().to_string();
    let mut parsed = match format {
        Format::Smhi => smhi::parse(&shown, &text)?,
        Format::CommunityCsv => community::parse_csv(&shown, &text)?,
        Format::CommunityJson => community::parse_json(&shown, &text)?,
    };
    parsed.finish();
    Ok(parsed)
}

/// The reader of sensor time series files.
#[derive(Debug, Default, Clone, Copy)]
pub struct IotReader;

impl SourceReader for IotReader {
    fn name(&self) -> &'static str {
        "iot-series"
    }

    fn kind(&self) -> Kind {
        Kind::Iot
    }

    fn accepts(&self, path: &Path) -> bool {
        recognise(path).is_some()
    }

    fn read(&self, path: &Path, _: &ReadOptions, _: &dyn Progress) -> Result<Vec<ReadOutput>> {
        let format = recognise(path).ok_or_else(|| {
            Error::BadInput(format!(
                "{}: not an SMHI metobs CSV or sensor.community CSV/JSON file",
                path.display()
            ))
        })?;
        let parsed = parse(path, format)?;
        let crs = Crs::epsg(4326, None);
        let rows: Vec<Datastream> = parsed
            .specs
            .iter()
            .enumerate()
            .map(|(i, s)| Datastream {
                id: Some(i as i64),
                thing_id: 0,
                sensor_id: Some(0),
                property_id: Some(0),
                spec: s.clone(),
            })
            .collect();
        let obs: Vec<Observation> = parsed
            .readings
            .iter()
            .map(|r| Observation {
                datastream: r.stream as i64,
                phenomenon_time: r.time,
                result_time: None,
                result: r.result,
                result_quality: r.quality.clone(),
            })
            .collect();
        let ds_batch = datastream_rows(&rows)?;
        let obs_batch = observations_batch(&obs)?;
        Ok(vec![
            ReadOutput {
                layer: Some("datastreams".into()),
                schema: ds_batch.schema(),
                batches: vec![ds_batch].into(),
                crs,
                geometry_type: Some("Point".into()),
                quality: QualityReport::default(),
                source_metadata: parsed.metadata.clone(),
            },
            ReadOutput {
                layer: Some("observations".into()),
                schema: obs_batch.schema(),
                batches: vec![obs_batch].into(),
                crs,
                geometry_type: None,
                quality: parsed.quality,
                source_metadata: parsed.metadata,
            },
        ])
    }
}
