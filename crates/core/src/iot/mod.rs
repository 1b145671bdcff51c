//! The IoT store model (issue 7), after OGC SensorThings API 1.1 (Part 1: Sensing).
//!
//! An IoT collection `NAME` is two datasets of kind `iot`:
//!
//! ```text
//! NAME_datastreams   one row per Datastream, with its Thing, Location (the row's geometry, WGS 84),
//!                    Sensor and ObservedProperty folded in; ids are small integers given by the store
//! NAME_observations  append-only readings: datastream_id, phenomenon_time, result_time, result,
//!                    result_quality; at most one reading per (datastream_id, phenomenon_time)
//! ```
//!
//! Things, Locations, Sensors, ObservedProperties and FeaturesOfInterest are the distinct values of the
//! datastreams table (a Thing has one Location, which is also the FeatureOfInterest of its readings). A Thing
//! without Datastreams is a row whose `datastream_id` is null. Keeping them in one table with geometry lets
//! them join spatially with buildings in SQL; keeping readings in a table of their own, with the
//! datastream and time as the leading columns, lets Delta's file statistics prune scans by both.
//!
//! Writers ([`Store::ensure_datastreams`], [`Store::append_observations`]) read and write under the
//! dataset's lock, so the same reading committed twice (a retried HTTP batch, an overlapping file) is
//! stored once.
//!
//! # Examples
//!
//! ```
//! use tvilling_core::iot::{IotNames, Observation};
//! let names = IotNames::new(&"iot".parse().unwrap());
//! assert_eq!(names.observations.as_str(), "iot_observations");
//! let now = chrono::Utc::now();
//! let bad = Observation { datastream: 1, phenomenon_time: now, result_time: None, result: f64::NAN,
//!                         result_quality: None };
//! assert!(bad.check(now).is_err());
//! ```

mod latest;
mod rollup;
mod schema;
mod write;

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

pub use latest::Newest;
pub use rollup::{Level, LevelOutcome, Retention, RollupOutcome, rollup_schema};
pub use schema::{
    DATASTREAMS_CRS, datastream_rows, datastreams_from_batch, datastreams_schema,
    observations_batch, observations_schema,
};
pub use write::{AppendOutcome, IotWrite, ObservationVersions};

use crate::{Classification, DatasetName};

/// How many minutes in the future a reading's time may lie (clock skew between devices and the server);
/// later readings are refused as far-future.
pub const MAX_FUTURE_MINUTES: i64 = 10;

/// The two datasets of one IoT collection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IotNames {
    /// The collection name as given.
    pub base: DatasetName,
    /// `<base>_datastreams`.
    pub datastreams: DatasetName,
    /// `<base>_observations`.
    pub observations: DatasetName,
    /// `<base>_restricted_observations`: readings of personal Datastreams and of Things classified above
    /// the collection, in a dataset classified `restricted` so that every path (SQL, OGC API, export,
    /// SensorThings) hides them from callers without that clearance.
    pub restricted_observations: DatasetName,
}

impl IotNames {
    /// The datasets of the collection `base`.
    pub fn new(base: &DatasetName) -> IotNames {
        IotNames {
            base: base.clone(),
            datastreams: DatasetName::sanitize(&format!("{base}_datastreams")),
            observations: DatasetName::sanitize(&format!("{base}_observations")),
            restricted_observations: DatasetName::sanitize(&format!(
                "{base}_restricted_observations"
            )),
        }
    }
}

/// The unit of a Datastream's results (SensorThings `unitOfMeasurement`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    /// Full name, e.g. `degree Celsius`.
    pub name: String,
    /// Symbol, e.g. `°C` (UCUM `Cel` in `definition`).
    pub symbol: String,
    /// A URI defining the unit.
    pub definition: String,
}

/// Where a Thing is: WGS 84 longitude/latitude in degrees, height in metres above the ellipsoid or the
/// source's vertical datum (`description` says which).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LocationSpec {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Longitude, degrees east.
    pub lon: f64,
    /// Latitude, degrees north.
    pub lat: f64,
    /// Height in metres, when known.
    pub height: Option<f64>,
}

/// A Thing: the object carrying sensors (a weather station, an apartment, a lamp post).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ThingSpec {
    /// Natural key that identifies the Thing across ingests (e.g. `smhi:52240`).
    pub key: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Free properties (a JSON object).
    pub properties: serde_json::Value,
    /// Its Location, when known.
    pub location: Option<LocationSpec>,
}

/// A Sensor: the instrument or procedure.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SensorSpec {
    /// Natural key (e.g. `sensor.community:SDS011`).
    pub key: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Encoding of `metadata` (e.g. `application/pdf`, `text/html`).
    pub encoding_type: String,
    /// Metadata or a link to it.
    pub metadata: String,
}

/// An ObservedProperty: the phenomenon (air temperature, PM10).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObservedPropertySpec {
    /// Natural key (usually the definition URI).
    pub key: String,
    /// Name.
    pub name: String,
    /// A URI defining the property.
    pub definition: String,
    /// Description.
    pub description: String,
}

/// A Datastream to create or find: everything but the ids, which the store gives.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DatastreamSpec {
    /// Natural key that identifies the Datastream across ingests (e.g. `smhi:52240:Lufttemperatur`).
    pub key: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Unit of the results.
    pub unit: Unit,
    /// The O&M observation type URI (`…/OM_Measurement` for numbers).
    pub observation_type: String,
    /// SensorThings `properties` of the Datastream (JSON); `{"personal": true}` marks readings about
    /// people (apartment meters), which only cleared callers see unaggregated.
    pub properties: serde_json::Value,
    /// The Thing it belongs to.
    pub thing: ThingSpec,
    /// The Sensor.
    pub sensor: SensorSpec,
    /// The ObservedProperty.
    pub observed_property: ObservedPropertySpec,
}

/// The O&M type of numeric results, the only result type stored today.
pub const OM_MEASUREMENT: &str =
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement";

/// A stored Datastream row: the spec with the ids the store gave.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Datastream {
    /// The Datastream's `@iot.id`; `None` for a Thing without Datastreams.
    pub id: Option<i64>,
    /// The Thing's `@iot.id` (also its Location's and FeatureOfInterest's).
    pub thing_id: i64,
    /// The Sensor's `@iot.id`.
    pub sensor_id: Option<i64>,
    /// The ObservedProperty's `@iot.id`.
    pub property_id: Option<i64>,
    /// What it is.
    pub spec: DatastreamSpec,
}

impl Datastream {
    /// The Thing's own classification (`properties.classification` of the Thing), when it has one.
    pub fn thing_classification(&self) -> Option<Classification> {
        self.spec
            .thing
            .properties
            .get("classification")
            .and_then(serde_json::Value::as_str)
            .and_then(|c| c.parse().ok())
    }

    /// Whether the Datastream's readings are about people (`properties.personal = true`).
    pub fn personal(&self) -> bool {
        self.spec.properties.get("personal") == Some(&serde_json::Value::Bool(true))
    }

    /// Whether its readings belong in the restricted observations dataset of a collection classified
    /// `collection`: personal, or its Thing is classified above the collection.
    pub fn protected(&self, collection: Classification) -> bool {
        self.personal()
            || self
                .thing_classification()
                .is_some_and(|c| c.above(collection))
    }
}

/// The ids of the protected Datastreams among `streams` (see [`Datastream::protected`]).
pub fn protected_ids(streams: &[Datastream], collection: Classification) -> HashSet<i64> {
    streams
        .iter()
        .filter(|d| d.protected(collection))
        .filter_map(|d| d.id)
        .collect()
}

/// One reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// The Datastream's id.
    pub datastream: i64,
    /// When the phenomenon was observed (SensorThings `phenomenonTime`), UTC, microsecond precision.
    pub phenomenon_time: DateTime<Utc>,
    /// When the result was produced (`resultTime`), when known.
    pub result_time: Option<DateTime<Utc>>,
    /// The numeric result.
    pub result: f64,
    /// The source's quality code (e.g. SMHI `G` / `Y`), when it has one.
    pub result_quality: Option<String>,
}

impl Observation {
    /// Why this reading cannot be stored, if it cannot: a result that is not a finite number, or a time
    /// more than [`MAX_FUTURE_MINUTES`] after `now`.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), String> {
        if !self.result.is_finite() {
            return Err(format!(
                "result {} is not a finite number (NaN and infinities are not readings); leave the reading out \
                 or send null-free data",
                self.result
            ));
        }
        if self.phenomenon_time > now + Duration::minutes(MAX_FUTURE_MINUTES) {
            return Err(format!(
                "time {} lies in the future (more than {} minutes after the server's clock, {}); check the \
                 device's clock and time zone",
                self.phenomenon_time.to_rfc3339(),
                MAX_FUTURE_MINUTES,
                now.to_rfc3339()
            ));
        }
        Ok(())
    }
}
