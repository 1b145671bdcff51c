//! The fixed part of every dataset's table layout: the `id`, `geometry` and `bbox_*` columns.
//!
//! ```text
//! id         Utf8, not null      stable feature id (source id, else a deterministic content hash)
//! geometry   Binary (ISO WKB)    GeoArrow `geoarrow.wkb` extension metadata with the CRS
//! bbox_xmin … bbox_zmax Float64  per-row envelope; Delta file statistics on these prune spatial filters
//! <attributes>                   typed columns from the source, in source order
//! ```
//!
//! The `id` and bbox columns come first because Delta collects file statistics on the leading columns.

use std::collections::HashMap;
use std::sync::Arc;

use deltalake::arrow::datatypes::{DataType, Field, Schema};

/// The stable feature id column.
pub const ID: &str = "id";
/// The geometry column (ISO WKB).
pub const GEOMETRY: &str = "geometry";
/// The bounding-box columns, in the order they are stored.
pub const BBOX: [&str; 6] = [
    "bbox_xmin",
    "bbox_ymin",
    "bbox_xmax",
    "bbox_ymax",
    "bbox_zmin",
    "bbox_zmax",
];

/// Column names tvilling owns; a source attribute with one of these names is renamed with a `src_` prefix.
pub fn is_reserved(name: &str) -> bool {
    name == ID || name == GEOMETRY || BBOX.contains(&name)
}

/// The GeoArrow extension metadata for a WKB geometry column in `crs` (`EPSG:N`).
pub fn geometry_metadata(crs: &str) -> HashMap<String, String> {
    let ext_meta = serde_json::json!({ "crs": crs, "crs_type": "authority_code" });
    HashMap::from([
        (
            "ARROW:extension:name".to_string(),
            "geoarrow.wkb".to_string(),
        ),
        ("ARROW:extension:metadata".to_string(), ext_meta.to_string()),
    ])
}

/// The leading columns every dataset has, followed by `attributes`.
pub fn dataset_schema(crs: &str, attributes: impl IntoIterator<Item = Field>) -> Arc<Schema> {
    let mut fields = vec![Field::new(ID, DataType::Utf8, false)];
    fields.extend(BBOX.iter().map(|b| Field::new(*b, DataType::Float64, true)));
    fields.push(Field::new(GEOMETRY, DataType::Binary, true).with_metadata(geometry_metadata(crs)));
    fields.extend(attributes);
    Arc::new(Schema::new(fields))
}

/// The attribute fields of a dataset schema (everything but `id`, `geometry` and the bbox columns).
pub fn attribute_fields(schema: &Schema) -> impl Iterator<Item = &Arc<Field>> {
    schema.fields().iter().filter(|f| !is_reserved(f.name()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puts_id_and_bbox_before_attributes() {
        let s = dataset_schema("EPSG:3006", [Field::new("andamal", DataType::Utf8, true)]);
        let names: Vec<_> = s.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names[0], "id");
        assert_eq!(&names[1..7], &BBOX);
        assert_eq!(names[7], "geometry");
        assert_eq!(names[8], "andamal");
        assert_eq!(attribute_fields(&s).count(), 1);
    }
}
