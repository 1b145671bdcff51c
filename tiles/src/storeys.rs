//! The storeys of a building model, bottom to top, for the tileset's `extras.storeys`: viewers filter a
//! BIM model floor by floor ("only storey N", "up to storey N") and need the storey names in height
//! order, which neither the 3D Tiles statistics (occurrences are keyed by value, unordered) nor the
//! features of the tiles loaded so far can give.
//!
//! A storey's height is the lowest `z_min` of its elements (metres, in the dataset's heights): IFC's own
//! `IfcBuildingStorey.Elevation` is not a column of the table, is optional, and is relative to the
//! building, while `z_min` is always there and only the order matters here.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tvilling_core::arrow::array::{Array, AsArray};
use tvilling_core::arrow::datatypes::Float64Type;

use crate::properties::Properties;

/// The column naming an element's storey (`ingest/src/bim/rows.rs`).
const STOREY: &str = "storey";
/// The column with an element's lowest height.
const Z_MIN: &str = "z_min";

/// `{"property": ID, "levels": [{"name", "elevation", "features"}, …]}` ordered bottom to top, or `None`
/// when the dataset has no `storey` text column or no element is on a storey.
///
/// `property` is the metadata property id of the storey column (what a 3D Tiles style expression names
/// as `${storey}`); `elevation` is null for a storey whose elements have no `z_min` (such storeys come
/// last, by name). Elements without a storey are not counted.
pub(crate) fn storeys(props: &Properties) -> Option<Value> {
    let (def, names) = props.column(STOREY)?;
    let names = names.as_string_opt::<i32>()?;
    let z = props
        .column(Z_MIN)
        .and_then(|(_, a)| a.as_primitive_opt::<Float64Type>());
    // name → (lowest z_min, elements)
    let mut levels: BTreeMap<&str, (Option<f64>, u64)> = BTreeMap::new();
    for row in 0..names.len() {
        if !names.is_valid(row) {
            continue;
        }
        let level = levels.entry(names.value(row)).or_insert((None, 0));
        level.1 += 1;
        let zr = z
            .filter(|z| z.is_valid(row))
            .map(|z| z.value(row))
            .filter(|v| v.is_finite());
        if let Some(zr) = zr {
            level.0 = Some(level.0.map_or(zr, |lo: f64| lo.min(zr)));
        }
    }
    if levels.is_empty() {
        return None;
    }
    let mut ordered: Vec<_> = levels.into_iter().collect();
    // Bottom to top; storeys without heights after the others; equal heights by name (BTreeMap order,
    // kept by the stable sort).
    ordered.sort_by(|a, b| match (a.1.0, b.1.0) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    let levels: Vec<Value> = ordered
        .into_iter()
        .map(|(name, (z, n))| json!({ "name": name, "elevation": z, "features": n }))
        .collect();
    Some(json!({ "property": def.id, "levels": levels }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tvilling_core::arrow::array::{Float64Array, RecordBatch, StringArray};
    use tvilling_core::arrow::datatypes::{DataType, Field, Schema};

    fn props(storeys: Vec<Option<&str>>, z: Vec<Option<f64>>) -> Properties {
        let n = storeys.len();
        let s = Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("storey", DataType::Utf8, true),
            Field::new("z_min", DataType::Float64, true),
        ]);
        let ids: Vec<String> = (0..n).map(|i| format!("e{i}")).collect();
        let batch = RecordBatch::try_new(
            Arc::new(s),
            vec![
                Arc::new(StringArray::from(ids)),
                Arc::new(StringArray::from(storeys)),
                Arc::new(Float64Array::from(z)),
            ],
        )
        .expect("columns of equal length");
        Properties::new(&batch, "haus", "building").expect("plain columns")
    }

    #[test]
    fn orders_storeys_by_their_lowest_element_and_counts_them() {
        let p = props(
            vec![
                Some("Dachgeschoss"),
                Some("Erdgeschoss"),
                None,
                Some("Dachgeschoss"),
                Some("Keller"),
                Some("Erdgeschoss"),
            ],
            vec![
                Some(112.5),
                Some(110.0),
                Some(109.0),
                Some(113.0),
                Some(107.0),
                Some(109.8),
            ],
        );
        let s = storeys(&p).expect("storeys");
        assert_eq!(s["property"], "storey");
        let names: Vec<&str> = s["levels"]
            .as_array()
            .expect("array")
            .iter()
            .map(|l| l["name"].as_str().expect("name"))
            .collect();
        assert_eq!(names, ["Keller", "Erdgeschoss", "Dachgeschoss"]);
        assert_eq!(s["levels"][1]["elevation"], 109.8);
        assert_eq!(s["levels"][2]["features"], 2);
    }

    #[test]
    fn storeys_without_heights_come_last_and_no_storey_column_gives_none() {
        let p = props(
            vec![Some("B"), Some("A"), Some("C")],
            vec![None, Some(3.0), None],
        );
        let s = storeys(&p).expect("storeys");
        assert_eq!(s["levels"][0]["name"], "A");
        assert_eq!(s["levels"][1]["name"], "B");
        assert!(s["levels"][1]["elevation"].is_null());
        assert!(storeys(&props(vec![None, None], vec![None, None])).is_none());
    }
}
