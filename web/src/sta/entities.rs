//! The SensorThings entity sets as SQL views over the two IoT datasets, their properties (for `$filter`,
//! `$orderby`, `$select`), their navigation links, and their JSON form.

use serde_json::{Map, Value, json};

use super::filter::Columns;

/// An entity set of SensorThings 1.1 Part 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Set {
    /// Things.
    Things,
    /// Locations.
    Locations,
    /// Sensors.
    Sensors,
    /// ObservedProperties.
    ObservedProperties,
    /// Datastreams.
    Datastreams,
    /// Observations.
    Observations,
    /// FeaturesOfInterest (the Location of the Thing that made the reading).
    FeaturesOfInterest,
}

/// Every set, in the order of the service root.
pub const SETS: [Set; 7] = [
    Set::Things,
    Set::Locations,
    Set::Sensors,
    Set::ObservedProperties,
    Set::Datastreams,
    Set::Observations,
    Set::FeaturesOfInterest,
];

/// An entity id from the URL, parsed (never pasted into SQL as text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Id {
    /// Every set but Observations.
    Int(i64),
    /// An Observation: datastream id and phenomenon time in µs since 1970.
    Obs(i64, i64),
}

impl Id {
    /// Parses `1`, `'1'`, or for Observations `'3-1525219257000000'`.
    pub fn parse(set: Set, text: &str) -> Option<Id> {
        let t = text.trim().trim_matches('\'');
        if set == Set::Observations {
            let (a, b) = t.rsplit_once('-')?;
            Some(Id::Obs(a.parse().ok()?, b.parse().ok()?))
        } else {
            t.parse().ok().map(Id::Int)
        }
    }

    /// As SQL literal of the set's `id` column.
    pub fn sql(self) -> String {
        match self {
            Id::Int(i) => i.to_string(),
            Id::Obs(d, t) => format!("'{d}-{t}'"),
        }
    }

    /// As written in URLs.
    pub fn url(self) -> String {
        match self {
            Id::Int(i) => i.to_string(),
            Id::Obs(d, t) => format!("'{d}-{t}'"),
        }
    }
}

impl Set {
    /// Parses a set name.
    pub fn parse(s: &str) -> Option<Set> {
        SETS.into_iter().find(|x| x.name() == s)
    }

    /// The set's name in URLs.
    pub fn name(self) -> &'static str {
        match self {
            Set::Things => "Things",
            Set::Locations => "Locations",
            Set::Sensors => "Sensors",
            Set::ObservedProperties => "ObservedProperties",
            Set::Datastreams => "Datastreams",
            Set::Observations => "Observations",
            Set::FeaturesOfInterest => "FeaturesOfInterest",
        }
    }

    /// The SQL of the set, over the datastreams table `ds` and the observations table `obs` (quoted names).
    pub fn view(self, ds: &str, obs: &str) -> String {
        match self {
            Set::Things => format!(
                "SELECT DISTINCT thing_id AS id, thing_name AS name, thing_description AS description, \
                 thing_properties AS properties FROM {ds}"
            ),
            Set::Locations | Set::FeaturesOfInterest => format!(
                "SELECT DISTINCT thing_id AS id, location_name AS name, location_description AS description, \
                 location_lon AS lon, location_lat AS lat, location_height AS height FROM {ds} \
                 WHERE location_lon IS NOT NULL"
            ),
            Set::Sensors => format!(
                "SELECT DISTINCT sensor_id AS id, sensor_name AS name, sensor_description AS description, \
                 sensor_encoding_type AS \"encodingType\", sensor_metadata AS metadata FROM {ds} \
                 WHERE sensor_id IS NOT NULL"
            ),
            Set::ObservedProperties => format!(
                "SELECT DISTINCT property_id AS id, property_name AS name, property_definition AS definition, \
                 property_description AS description FROM {ds} WHERE property_id IS NOT NULL"
            ),
            Set::Datastreams => format!(
                "SELECT datastream_id AS id, name, description, observation_type AS \"observationType\", \
                 unit_name, unit_symbol, unit_definition, thing_id, sensor_id, property_id, \
                 datastream_properties AS properties FROM {ds} \
                 WHERE datastream_id IS NOT NULL"
            ),
            Set::Observations => format!(
                "SELECT concat(CAST(datastream_id AS VARCHAR), '-', \
                 CAST(CAST(phenomenon_time AS BIGINT) AS VARCHAR)) AS id, datastream_id, \
                 phenomenon_time AS \"phenomenonTime\", result_time AS \"resultTime\", result, \
                 result_quality AS \"resultQuality\" FROM {obs}"
            ),
        }
    }

    /// Filterable properties: (path in `$filter`, column of the view).
    pub fn properties(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Set::Things => &[
                ("id", "id"),
                ("name", "name"),
                ("description", "description"),
            ],
            Set::Locations | Set::FeaturesOfInterest => &[
                ("id", "id"),
                ("name", "name"),
                ("description", "description"),
            ],
            Set::Sensors => &[
                ("id", "id"),
                ("name", "name"),
                ("description", "description"),
                ("encodingType", "encodingType"),
                ("metadata", "metadata"),
            ],
            Set::ObservedProperties => &[
                ("id", "id"),
                ("name", "name"),
                ("definition", "definition"),
                ("description", "description"),
            ],
            Set::Datastreams => &[
                ("id", "id"),
                ("name", "name"),
                ("description", "description"),
                ("observationType", "observationType"),
                ("unitOfMeasurement/name", "unit_name"),
                ("unitOfMeasurement/symbol", "unit_symbol"),
                ("unitOfMeasurement/definition", "unit_definition"),
                ("Thing/id", "thing_id"),
                ("Sensor/id", "sensor_id"),
                ("ObservedProperty/id", "property_id"),
            ],
            Set::Observations => &[
                ("id", "id"),
                ("phenomenonTime", "phenomenonTime"),
                ("resultTime", "resultTime"),
                ("result", "result"),
                ("resultQuality", "resultQuality"),
                ("Datastream/id", "datastream_id"),
            ],
        }
    }

    /// Navigation properties: (name, target set, whether it is a single entity).
    pub fn navigation(self) -> &'static [(&'static str, Set, bool)] {
        match self {
            Set::Things => &[
                ("Locations", Set::Locations, false),
                ("Datastreams", Set::Datastreams, false),
            ],
            Set::Locations => &[("Things", Set::Things, false)],
            Set::Sensors | Set::ObservedProperties => &[("Datastreams", Set::Datastreams, false)],
            Set::Datastreams => &[
                ("Thing", Set::Things, true),
                ("Sensor", Set::Sensors, true),
                ("ObservedProperty", Set::ObservedProperties, true),
                ("Observations", Set::Observations, false),
            ],
            Set::Observations => &[
                ("Datastream", Set::Datastreams, true),
                ("FeatureOfInterest", Set::FeaturesOfInterest, true),
            ],
            Set::FeaturesOfInterest => &[("Observations", Set::Observations, false)],
        }
    }

    /// The condition on `target`'s view that selects the entities `nav` of entity `id` of this set.
    pub fn relation(self, nav: &str, id: Id, ds: &str) -> Option<String> {
        let int = match id {
            Id::Int(i) => i,
            Id::Obs(d, _) => d,
        };
        Some(match (self, nav) {
            (Set::Things, "Locations") | (Set::Locations, "Things") => format!("id = {int}"),
            (Set::Things, "Datastreams") => format!("thing_id = {int}"),
            (Set::Sensors, "Datastreams") => format!("sensor_id = {int}"),
            (Set::ObservedProperties, "Datastreams") => format!("property_id = {int}"),
            (Set::Datastreams, "Thing") => {
                format!("id IN (SELECT thing_id FROM {ds} WHERE datastream_id = {int})")
            }
            (Set::Datastreams, "Sensor") => {
                format!("id IN (SELECT sensor_id FROM {ds} WHERE datastream_id = {int})")
            }
            (Set::Datastreams, "ObservedProperty") => {
                format!("id IN (SELECT property_id FROM {ds} WHERE datastream_id = {int})")
            }
            (Set::Datastreams, "Observations") => format!("datastream_id = {int}"),
            (Set::Observations, "Datastream") => format!("id = {int}"),
            (Set::Observations, "FeatureOfInterest") => {
                format!("id IN (SELECT thing_id FROM {ds} WHERE datastream_id = {int})")
            }
            (Set::FeaturesOfInterest, "Observations") => {
                format!("datastream_id IN (SELECT datastream_id FROM {ds} WHERE thing_id = {int})")
            }
            _ => return None,
        })
    }

    /// The default order of a collection (stable paging).
    pub fn order(self) -> &'static str {
        match self {
            Set::Observations => "datastream_id ASC, \"phenomenonTime\" ASC",
            _ => "id ASC",
        }
    }

    /// The id of a rendered row.
    pub fn row_id(self, row: &Map<String, Value>) -> Option<Id> {
        match self {
            Set::Observations => row.get("id")?.as_str().and_then(|s| Id::parse(self, s)),
            _ => row.get("id")?.as_i64().map(Id::Int),
        }
    }

    /// A row of the view as a SensorThings entity.
    pub fn render(self, row: &Map<String, Value>, base: &str) -> Map<String, Value> {
        let mut e = Map::new();
        let Some(id) = self.row_id(row) else {
            return e;
        };
        let idv = match id {
            Id::Int(i) => json!(i),
            Id::Obs(d, t) => json!(format!("{d}-{t}")),
        };
        let me = format!("{base}/{}({})", self.name(), id.url());
        e.insert("@iot.id".into(), idv);
        e.insert("@iot.selfLink".into(), json!(me));
        let get = |k: &str| row.get(k).cloned().unwrap_or(Value::Null);
        // Free properties are stored as JSON text.
        let properties = || {
            row.get("properties")
                .and_then(Value::as_str)
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or(Value::Null)
        };
        match self {
            Set::Things => {
                e.insert("name".into(), get("name"));
                e.insert("description".into(), get("description"));
                e.insert("properties".into(), properties());
            }
            Set::Locations | Set::FeaturesOfInterest => {
                e.insert("name".into(), get("name"));
                e.insert("description".into(), get("description"));
                e.insert("encodingType".into(), json!("application/geo+json"));
                let mut coords = vec![get("lon"), get("lat")];
                if !get("height").is_null() {
                    coords.push(get("height"));
                }
                let key = if self == Set::Locations {
                    "location"
                } else {
                    "feature"
                };
                e.insert(key.into(), json!({"type": "Point", "coordinates": coords}));
            }
            Set::Sensors => {
                for k in ["name", "description", "encodingType", "metadata"] {
                    e.insert(k.into(), get(k));
                }
            }
            Set::ObservedProperties => {
                for k in ["name", "definition", "description"] {
                    e.insert(k.into(), get(k));
                }
            }
            Set::Datastreams => {
                for k in ["name", "description", "observationType"] {
                    e.insert(k.into(), get(k));
                }
                e.insert("properties".into(), properties());
                e.insert(
                    "unitOfMeasurement".into(),
                    json!({"name": get("unit_name"), "symbol": get("unit_symbol"),
                           "definition": get("unit_definition")}),
                );
            }
            Set::Observations => {
                e.insert("phenomenonTime".into(), time(get("phenomenonTime")));
                e.insert("resultTime".into(), time(get("resultTime")));
                e.insert("result".into(), get("result"));
                e.insert("resultQuality".into(), get("resultQuality"));
            }
        }
        for (nav, _, _) in self.navigation() {
            e.insert(
                format!("{nav}@iot.navigationLink"),
                json!(format!("{me}/{nav}")),
            );
        }
        e
    }
}

/// Times as RFC 3339 with `Z` (the SQL layer writes `2018-05-02T00:00:57Z` or without the zone).
fn time(v: Value) -> Value {
    match v.as_str() {
        Some(s) if !s.ends_with('Z') && !s.contains('+') => json!(format!("{s}Z")),
        _ => v,
    }
}

/// The properties of a set, resolved for `$filter` and `$orderby`.
pub struct SetColumns(pub Set);

impl Columns for SetColumns {
    fn column(&self, path: &str) -> Result<String, String> {
        let norm = path.replace("@iot.id", "id");
        self.0
            .properties()
            .iter()
            .find(|(p, _)| *p == norm)
            .map(|(_, c)| format!("\"{c}\""))
            .ok_or_else(|| {
                format!(
                    "{} has no property '{path}' to filter or sort on; use one of {}",
                    self.0.name(),
                    self.0
                        .properties()
                        .iter()
                        .map(|(p, _)| *p)
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entity_ids() {
        assert_eq!(Id::parse(Set::Things, "7"), Some(Id::Int(7)));
        assert_eq!(Id::parse(Set::Things, "'7'"), Some(Id::Int(7)));
        assert_eq!(
            Id::parse(Set::Observations, "'3-1525219257000000'"),
            Some(Id::Obs(3, 1_525_219_257_000_000))
        );
        assert_eq!(Id::parse(Set::Things, "1 OR 1=1"), None);
    }

    #[test]
    fn every_navigation_has_a_relation() {
        for s in SETS {
            for (nav, _, _) in s.navigation() {
                assert!(s.relation(nav, Id::Int(1), "ds").is_some(), "{s:?}/{nav}");
            }
        }
    }
}
