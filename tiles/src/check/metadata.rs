//! Feature metadata in glb content: `EXT_structural_metadata` (schema and binary property tables,
//! 3D Metadata Specification §"Binary Table Format") and `EXT_mesh_features` (per-vertex feature IDs).
//!
//! Sizes are derived from the schema alone and compared with the buffer views, so a writer that
//! miscounts rows, forgets a required column or lets string offsets run past their buffer is caught
//! without trusting any length it wrote itself.
//!
//! Property tables and their buffer views are checked in `table`; per-primitive vertex data
//! (property attributes, `EXT_mesh_features` feature IDs) in `primitives`.

mod primitives;
mod table;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value};

use super::glb::Glb;
use super::{field, uint};
use primitives::{check_mesh_features, check_property_attributes};
use table::check_property_table;

/// Property types of the 3D Metadata Specification (§"Property").
const TYPES: [&str; 10] = [
    "SCALAR", "VEC2", "VEC3", "VEC4", "MAT2", "MAT3", "MAT4", "STRING", "BOOLEAN", "ENUM",
];

/// Byte size of a metadata component type, and whether it is an integer type.
fn metadata_component(name: &str) -> Option<(usize, bool)> {
    Some(match name {
        "INT8" | "UINT8" => (1, true),
        "INT16" | "UINT16" => (2, true),
        "INT32" | "UINT32" => (4, true),
        "INT64" | "UINT64" => (8, true),
        "FLOAT32" => (4, false),
        "FLOAT64" => (8, false),
        _ => return None,
    })
}

/// Components per element of a numeric metadata type.
fn metadata_components(kind: &str) -> Option<u64> {
    Some(match kind {
        "SCALAR" => 1,
        "VEC2" => 2,
        "VEC3" => 3,
        "VEC4" | "MAT2" => 4,
        "MAT3" => 9,
        "MAT4" => 16,
        _ => return None,
    })
}

/// Checks a metadata schema (3D Metadata Specification §"Schemas"): property types, component types,
/// enum references, and that required properties carry no `noData`. `whose` names the schema's home.
pub(crate) fn check_schema(schema: &Value, whose: &str, problems: &mut Vec<String>) {
    if !schema.is_object() {
        problems.push(format!("{whose} schema is not an object"));
        return;
    }
    if field(schema, "id").as_str().is_none() {
        problems.push(format!("{whose} schema has no string `id` (required)"));
    }
    let enums = field(schema, "enums").as_object();
    for (name, e) in enums.into_iter().flatten() {
        let value_type = field(e, "valueType").as_str().unwrap_or("UINT16");
        if !metadata_component(value_type).is_some_and(|(_, integer)| integer) {
            problems.push(format!(
                "{whose} schema enum `{name}` has valueType `{value_type}`, not an integer type"
            ));
        }
        let values = field(e, "values")
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if values.is_empty() {
            problems.push(format!("{whose} schema enum `{name}` has no values"));
        }
        let mut seen_names = BTreeSet::new();
        let mut seen_values = BTreeSet::new();
        for v in values {
            let (Some(n), Some(x)) = (field(v, "name").as_str(), field(v, "value").as_i64()) else {
                problems.push(format!(
                    "{whose} schema enum `{name}` has a value without a string name and integer value"
                ));
                continue;
            };
            if !seen_names.insert(n) || !seen_values.insert(x) {
                problems.push(format!(
                    "{whose} schema enum `{name}` repeats name `{n}` or value {x}; both must be unique"
                ));
            }
        }
    }
    let classes = field(schema, "classes").as_object();
    for (class_id, class) in classes.into_iter().flatten() {
        for (prop_id, prop) in field(class, "properties").as_object().into_iter().flatten() {
            let here = format!("{whose} schema class `{class_id}` property `{prop_id}`");
            let kind = field(prop, "type").as_str().unwrap_or("");
            if !TYPES.contains(&kind) {
                problems.push(format!(
                    "{here} has type `{kind}`, not one of {}",
                    TYPES.join(", ")
                ));
                continue;
            }
            if metadata_components(kind).is_some() {
                let ct = field(prop, "componentType").as_str().unwrap_or("");
                if metadata_component(ct).is_none() {
                    problems.push(format!(
                        "{here} is {kind} but its componentType `{ct}` is not INT8…UINT64, FLOAT32 or FLOAT64"
                    ));
                }
            }
            if kind == "ENUM" {
                let enum_type = field(prop, "enumType").as_str().unwrap_or("");
                if !enums.is_some_and(|e| e.contains_key(enum_type)) {
                    problems.push(format!(
                        "{here} has enumType `{enum_type}`, which the schema does not define"
                    ));
                }
            }
            if !field(prop, "count").is_null() {
                let ok = field(prop, "array").as_bool() == Some(true)
                    && uint(prop, "count").is_some_and(|c| c >= 2);
                if !ok {
                    problems.push(format!(
                        "{here} has count but is not an array with count ≥ 2"
                    ));
                }
            }
            // 3D Metadata §"Required properties, no data values": a required property has no noData.
            if field(prop, "required").as_bool() == Some(true) && !field(prop, "noData").is_null() {
                problems.push(format!("{here} is required but defines noData"));
            }
        }
    }
}

/// Compares two JSON values as data: numbers by value (so `1` equals `1.0`), objects by key set.
pub(crate) fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            (x.as_f64() != y.as_f64()).then(|| path.to_string())
        }
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                let null = Value::Null;
                let d = first_difference(
                    x.get(key).unwrap_or(&null),
                    y.get(key).unwrap_or(&null),
                    &format!("{path}.{key}"),
                );
                if d.is_some() {
                    return d;
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(path.to_string());
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (p, q))| first_difference(p, q, &format!("{path}[{i}]")))
        }
        _ => (a != b).then(|| path.to_string()),
    }
}

/// Checks the glb's metadata extensions and returns the number of features (the sum of `featureCount`
/// over every feature ID set of every mesh primitive).
pub(crate) fn check_metadata(
    glb: &Glb,
    dir: &Path,
    tileset_schema: Option<&Value>,
    problems: &mut Vec<String>,
) -> u64 {
    let ext = field(field(&glb.json, "extensions"), "EXT_structural_metadata");
    let empty = Map::new();
    let mut tables: &[Value] = &[];
    let mut loaded_schema = None;
    if !ext.is_null() {
        loaded_schema = load_schema(ext, dir, problems);
        tables = field(ext, "propertyTables")
            .as_array()
            .map_or(&[][..], Vec::as_slice);
    }
    if let Some(schema) = &loaded_schema {
        check_schema(schema, "glb", problems);
        if let Some(tileset) = tileset_schema {
            for part in ["classes", "enums"] {
                if let Some(at) = first_difference(field(schema, part), field(tileset, part), part)
                {
                    problems.push(format!(
                        "glb metadata schema differs from the tileset schema at `{at}`; every content must use the tileset's schema"
                    ));
                }
            }
        }
        let classes = field(schema, "classes").as_object().unwrap_or(&empty);
        let enums = field(schema, "enums").as_object().unwrap_or(&empty);
        for (t, table) in tables.iter().enumerate() {
            check_property_table(glb, t, table, classes, enums, problems);
        }
        for list in ["propertyTextures", "propertyAttributes"] {
            for (i, item) in field(ext, list)
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
            {
                let class = field(item, "class").as_str().unwrap_or("");
                if !classes.contains_key(class) {
                    problems.push(format!("{list}[{i}].class `{class}` is not in the schema"));
                }
            }
        }
        check_property_attributes(glb, ext, classes, problems);
    }
    check_mesh_features(glb, tables, problems)
}

/// The embedded `schema`, or the file `schemaUri` names relative to the glb (exactly one of the two,
/// per the `EXT_structural_metadata` JSON schema).
fn load_schema(ext: &Value, dir: &Path, problems: &mut Vec<String>) -> Option<Value> {
    let embedded = field(ext, "schema");
    let uri = field(ext, "schemaUri").as_str();
    match (embedded.is_null(), uri) {
        (false, Some(_)) => {
            problems.push("EXT_structural_metadata has both schema and schemaUri; give one".into());
            Some(embedded.clone())
        }
        (false, None) => Some(embedded.clone()),
        (true, Some(uri)) => {
            super::load_json_uri(dir, uri, "EXT_structural_metadata.schemaUri", problems)
        }
        (true, None) => {
            problems.push("EXT_structural_metadata has neither schema nor schemaUri".into());
            None
        }
    }
}
