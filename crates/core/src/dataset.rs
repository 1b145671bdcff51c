//! What a dataset is: its name, kind, classification and the table properties stored with it.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A validated dataset name: lowercase ASCII letters, digits and `_`, starting with a letter, at most 63
/// characters. The name is a folder under the store root and a SQL table name, so it must be safe for both.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DatasetName(String);

impl DatasetName {
    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Turns any text (a layer name, a file stem) into a valid dataset name: lowercased, other characters
    /// replaced by `_`, prefixed with `d_` when it would not start with a letter.
    pub fn sanitize(text: &str) -> DatasetName {
        let mut s: String = text
            .to_lowercase()
            .chars()
            .map(|c| match c {
                'å' | 'ä' => 'a',
                'ö' => 'o',
                c if c.is_ascii_alphanumeric() => c,
                _ => '_',
            })
            .collect();
        while s.contains("__") {
            s = s.replace("__", "_");
        }
        let s = s.trim_matches('_').to_string();
        let mut s = if s.starts_with(|c: char| c.is_ascii_lowercase()) {
            s
        } else {
            format!("d_{s}")
        };
        s.truncate(63);
        DatasetName(s)
    }
}

impl FromStr for DatasetName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(DatasetName(s.to_string()))
        } else {
            Err(Error::BadInput(format!(
                "'{s}' is not a valid dataset name: use lowercase letters, digits and '_', starting with a letter, \
                 at most 63 characters (for example '{}')",
                DatasetName::sanitize(s)
            )))
        }
    }
}

impl TryFrom<String> for DatasetName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl From<DatasetName> for String {
    fn from(n: DatasetName) -> String {
        n.0
    }
}

impl fmt::Display for DatasetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        #[non_exhaustive]
        pub enum $name { $($(#[$vm])* $var),+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            /// The lowercase text form used in table properties, the CLI and the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s.to_ascii_lowercase().as_str() {
                    $($text => Ok($name::$var),)+
                    _ => Err(Error::BadInput(format!(
                        "'{s}' is not a valid {}: use one of {}",
                        stringify!($name).to_lowercase(),
                        [$($text),+].join(", ")
                    ))),
                }
            }
        }
    };
}

string_enum! {
    /// What kind of data a dataset holds; decides which tiler and which viewer styling apply.
    Kind {
        /// Features with 2D or 3D geometries from an OGR vector source.
        Vector = "vector",
        /// Laser points.
        Pointcloud = "pointcloud",
        /// 3D city model objects (CityGML, CityJSON).
        Citymodel = "citymodel",
        /// BIM elements (IFC).
        Bim = "bim",
        /// Sensor things, datastreams and observations.
        Iot = "iot",
    }
}

string_enum! {
    /// Who may read a dataset. Anonymous callers see only `open` data.
    Classification {
        /// Open data: anyone may read it.
        Open = "open",
        /// Internal to the organisation.
        Internal = "internal",
        /// Restricted: named roles only, every read audited.
        Restricted = "restricted",
    }
}

impl Classification {
    /// Whether `self` is more sensitive than `other` (open < internal < restricted).
    pub fn above(self, other: Classification) -> bool {
        let rank = |c: Classification| Classification::ALL.iter().position(|x| *x == c);
        rank(self) > rank(other)
    }
}

/// The table properties tvilling keeps on every dataset's Delta table (`tvilling.*` keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetProperties {
    /// What the dataset holds.
    pub kind: Kind,
    /// Horizontal CRS as `EPSG:N` (the source's CRS is kept; reprojection only on request).
    pub crs: String,
    /// Vertical CRS as `EPSG:N` (for example `EPSG:5613`, RH 2000) when known.
    pub vertical_crs: Option<String>,
    /// Access classification.
    pub classification: Classification,
    /// The person or unit responsible for the dataset.
    pub owner: Option<String>,
    /// The licence the data is published under.
    pub licence: Option<String>,
    /// Where the data comes from (the last source URI).
    pub source: Option<String>,
    /// The OGR geometry type name of the geometry column (for example `Multi Polygon`).
    pub geometry_type: Option<String>,
}

const PREFIX: &str = "tvilling.";

impl DatasetProperties {
    /// The properties as Delta table configuration entries.
    pub fn to_configuration(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                m.insert(format!("{PREFIX}{k}"), v);
            }
        };
        put("kind", Some(self.kind.to_string()));
        put("crs", Some(self.crs.clone()));
        put("vertical_crs", self.vertical_crs.clone());
        put("classification", Some(self.classification.to_string()));
        put("owner", self.owner.clone());
        put("licence", self.licence.clone());
        put("source", self.source.clone());
        put("geometry_type", self.geometry_type.clone());
        m
    }

    /// Reads the properties back from a Delta table configuration.
    pub fn from_configuration(cfg: &HashMap<String, String>) -> Result<Self> {
        let get = |k: &str| {
            cfg.get(&format!("{PREFIX}{k}"))
                .filter(|v| !v.is_empty())
                .cloned()
        };
        let need = |k: &str| {
            get(k).ok_or_else(|| {
                Error::BadInput(format!(
                    "table property '{PREFIX}{k}' is missing: this Delta table was not written by tvilling"
                ))
            })
        };
        Ok(DatasetProperties {
            kind: need("kind")?.parse()?,
            crs: need("crs")?,
            vertical_crs: get("vertical_crs"),
            classification: need("classification")?.parse()?,
            owner: get("owner"),
            licence: get("licence"),
            source: get("source"),
            geometry_type: get("geometry_type"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_layer_names_into_dataset_names() {
        for (input, want) in [
            ("Kommun_Sweref99TM", "kommun_sweref99tm"),
            ("vägar 2024", "vagar_2024"),
            ("2024-byggnader", "d_2024_byggnader"),
            ("by_14", "by_14"),
        ] {
            assert_eq!(DatasetName::sanitize(input).as_str(), want, "{input}");
            assert!(want.parse::<DatasetName>().is_ok());
        }
    }

    #[test]
    fn rejects_unsafe_dataset_names() {
        for bad in ["", "Byggnader", "../etc", "a b", "_x", "1abc"] {
            assert!(bad.parse::<DatasetName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn properties_round_trip_through_configuration() {
        let p = DatasetProperties {
            kind: Kind::Vector,
            crs: "EPSG:3006".into(),
            vertical_crs: Some("EPSG:5613".into()),
            classification: Classification::Internal,
            owner: Some("Stadsbyggnad".into()),
            licence: None,
            source: Some("file:///x.gpkg".into()),
            geometry_type: Some("Polygon".into()),
        };
        assert_eq!(
            DatasetProperties::from_configuration(&p.to_configuration()).unwrap(),
            p
        );
    }
}
