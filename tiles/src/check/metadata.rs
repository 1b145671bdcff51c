//! Feature metadata in glb content: `EXT_structural_metadata` (schema and binary property tables,
//! 3D Metadata Specification §"Binary Table Format") and `EXT_mesh_features` (per-vertex feature IDs).
//!
//! Sizes are derived from the schema alone and compared with the buffer views, so a writer that
//! miscounts rows, forgets a required column or lets string offsets run past their buffer is caught
//! without trusting any length it wrote itself.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value};

use super::glb::{FLOAT, Glb, UNSIGNED_BYTE, UNSIGNED_SHORT};
use super::{field, index, uint};

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

/// Reads one little-endian integer of a metadata component type at element `i`.
fn read_int(bytes: &[u8], i: usize, component: &str) -> Option<i128> {
    let (size, integer) = metadata_component(component)?;
    if !integer {
        return None;
    }
    let at = i.checked_mul(size)?;
    let b = bytes.get(at..at.checked_add(size)?)?;
    let mut buf = [0u8; 8];
    buf.get_mut(..size)?.copy_from_slice(b);
    let unsigned = u64::from_le_bytes(buf);
    Some(match component {
        "INT8" => i128::from(unsigned as u8 as i8),
        "INT16" => i128::from(unsigned as u16 as i16),
        "INT32" => i128::from(unsigned as u32 as i32),
        "INT64" => i128::from(unsigned as i64),
        _ => i128::from(unsigned),
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

/// Accessor component types a property attribute may use, by metadata component type
/// (`EXT_structural_metadata` §"Property Attributes": those glTF vertex attributes can hold).
fn attribute_component(component: &str) -> Option<u64> {
    Some(match component {
        "INT8" => 5120,
        "UINT8" => UNSIGNED_BYTE,
        "INT16" => 5122,
        "UINT16" => UNSIGNED_SHORT,
        "FLOAT32" => FLOAT,
        _ => return None,
    })
}

/// Property attributes (`EXT_structural_metadata` §"Property Attributes"): every primitive that lists
/// one must have each of its properties' attributes, and each such accessor must have the class
/// property's type, component type and normalization. Counts match by glTF's own rule (every
/// attribute of a primitive has the same count), which the structure check enforces.
fn check_property_attributes(
    glb: &Glb,
    ext: &Value,
    classes: &Map<String, Value>,
    problems: &mut Vec<String>,
) {
    let defined = field(ext, "propertyAttributes")
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let accessors = field(&glb.json, "accessors")
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let meshes = field(&glb.json, "meshes")
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    for (m, mesh) in meshes.iter().enumerate() {
        let prims = field(mesh, "primitives")
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for (p, prim) in prims.iter().enumerate() {
            let here = format!("meshes[{m}].primitives[{p}]");
            let used = field(field(prim, "extensions"), "EXT_structural_metadata");
            let Some(list) = field(used, "propertyAttributes").as_array() else {
                continue;
            };
            for entry in list {
                let Some(pa) = entry.as_u64().and_then(|i| defined.get(i as usize)) else {
                    problems.push(format!(
                        "{here} lists property attribute {entry}, which is not in EXT_structural_metadata.propertyAttributes"
                    ));
                    continue;
                };
                let class_id = field(pa, "class").as_str().unwrap_or("");
                let Some(class) = classes.get(class_id) else {
                    continue; // reported above
                };
                let props = field(pa, "properties").as_object();
                for (id, prop) in props.into_iter().flatten() {
                    let def = field(field(class, "properties"), id);
                    if def.is_null() {
                        problems.push(format!(
                            "{here} property attribute property `{id}` is not in class `{class_id}`"
                        ));
                        continue;
                    }
                    let name = field(prop, "attribute").as_str().unwrap_or("");
                    let Some(acc) =
                        index(field(prim, "attributes"), name).and_then(|a| accessors.get(a))
                    else {
                        problems.push(format!(
                            "{here} property `{id}` reads attribute `{name}`, which the primitive does not have"
                        ));
                        continue;
                    };
                    let want_type = field(def, "type").as_str().unwrap_or("");
                    let want_component = field(def, "componentType")
                        .as_str()
                        .and_then(attribute_component);
                    let normalized = field(def, "normalized").as_bool().unwrap_or(false);
                    if want_component.is_none() {
                        problems.push(format!(
                            "{here} property `{id}` has a component type a vertex attribute cannot hold (INT8, UINT8, INT16, UINT16 or FLOAT32)"
                        ));
                    } else if field(acc, "type").as_str() != Some(want_type)
                        || uint(acc, "componentType") != want_component
                        || field(acc, "normalized").as_bool().unwrap_or(false) != normalized
                    {
                        problems.push(format!(
                            "{here} attribute `{name}` does not match property `{id}` ({want_type} {}, normalized {normalized})",
                            field(def, "componentType")
                        ));
                    }
                }
            }
        }
    }
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

fn check_property_table(
    glb: &Glb,
    t: usize,
    table: &Value,
    classes: &Map<String, Value>,
    enums: &Map<String, Value>,
    problems: &mut Vec<String>,
) {
    let class_id = field(table, "class").as_str().unwrap_or("");
    let Some(class) = classes.get(class_id) else {
        let known: Vec<&str> = classes.keys().map(String::as_str).collect();
        problems.push(format!(
            "propertyTables[{t}].class `{class_id}` is not in the schema (it has: {})",
            known.join(", ")
        ));
        return;
    };
    let Some(count) = uint(table, "count").filter(|c| *c >= 1) else {
        problems.push(format!(
            "propertyTables[{t}].count is missing or not a positive integer"
        ));
        return;
    };
    let class_props = field(class, "properties").as_object();
    let table_props = field(table, "properties").as_object();
    for (id, p) in table_props.into_iter().flatten() {
        let Some(def) = class_props.and_then(|c| c.get(id)) else {
            problems.push(format!(
                "propertyTables[{t}] has property `{id}`, which class `{class_id}` does not define"
            ));
            continue;
        };
        let here = format!("propertyTables[{t}] (class `{class_id}`) property `{id}`");
        check_table_property(glb, &here, count, p, def, enums, problems);
    }
    // 3D Metadata §"Property Tables": required class properties must not be omitted.
    for (id, def) in class_props.into_iter().flatten() {
        let required = field(def, "required").as_bool() == Some(true);
        if required && !table_props.is_some_and(|p| p.contains_key(id)) {
            problems.push(format!(
                "propertyTables[{t}] lacks property `{id}`, which class `{class_id}` marks required"
            ));
        }
    }
}

/// Checks one property column: its buffer views have exactly the sizes the class definition and the
/// row count imply, offsets are monotonic and in range, strings are UTF-8, enum values are defined.
fn check_table_property(
    glb: &Glb,
    here: &str,
    count: u64,
    p: &Value,
    def: &Value,
    enums: &Map<String, Value>,
    problems: &mut Vec<String>,
) {
    let kind = field(def, "type").as_str().unwrap_or("");
    let Some(values_index) = index(p, "values") else {
        problems.push(format!("{here} has no values bufferView"));
        return;
    };
    let values = match glb.view_bytes(values_index) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("{here} values: {e}"));
            return;
        }
    };
    // Rows × fixed array length, or the last array offset for variable-length arrays (which index
    // elements, not bytes: 3D Metadata §"Variable-Length Arrays").
    let elements = if field(def, "array").as_bool() == Some(true) {
        match uint(def, "count") {
            Some(n) => count.saturating_mul(n),
            None => {
                let offset_type = field(p, "arrayOffsetType").as_str().unwrap_or("UINT32");
                let Some(offsets) = read_offsets(
                    glb,
                    here,
                    "arrayOffsets",
                    index(p, "arrayOffsets"),
                    count,
                    offset_type,
                    problems,
                ) else {
                    return;
                };
                offsets.last().copied().unwrap_or(0)
            }
        }
    } else {
        count
    };
    match kind {
        "STRING" => {
            let offset_type = field(p, "stringOffsetType").as_str().unwrap_or("UINT32");
            let Some(offsets) = read_offsets(
                glb,
                here,
                "stringOffsets",
                index(p, "stringOffsets"),
                elements,
                offset_type,
                problems,
            ) else {
                return;
            };
            let last = offsets.last().copied().unwrap_or(0);
            // The last string offset points just past the last string (3D Metadata §"Strings"). A
            // column of empty strings still needs a values bufferView of at least one byte (glTF
            // requires byteLength >= 1), so a 0 offset may come with a 1-byte view.
            let padded_empty = last == 0 && values.len() == 1;
            if last != values.len() as u64 && !padded_empty {
                problems.push(format!(
                    "{here} last string offset is {last} but its values bufferView has {} bytes{}",
                    values.len(),
                    if last > values.len() as u64 {
                        " (string offsets past the end)"
                    } else {
                        ""
                    }
                ));
                return;
            }
            for (i, pair) in offsets.windows(2).enumerate() {
                let [a, b] = [
                    pair.first().copied().unwrap_or(0),
                    pair.get(1).copied().unwrap_or(0),
                ];
                let bytes = values.get(a as usize..b as usize).unwrap_or(&[]);
                if let Err(e) = std::str::from_utf8(bytes) {
                    problems.push(format!("{here} string {i} is not valid UTF-8: {e}"));
                    break;
                }
            }
        }
        "BOOLEAN" => {
            let need = elements.div_ceil(8);
            expect_len(here, values.len(), need, "ceil(count / 8) bytes", problems);
        }
        "ENUM" => {
            let enum_type = field(def, "enumType").as_str().unwrap_or("");
            let Some(e) = enums.get(enum_type) else {
                return;
            };
            let value_type = field(e, "valueType").as_str().unwrap_or("UINT16");
            let Some((size, true)) = metadata_component(value_type) else {
                return;
            };
            if !expect_len(
                here,
                values.len(),
                elements.saturating_mul(size as u64),
                value_type,
                problems,
            ) {
                return;
            }
            check_alignment(glb, here, values_index, size, problems);
            let defined: BTreeSet<i128> = field(e, "values")
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| field(v, "value").as_i64().map(i128::from))
                .collect();
            let bad: Vec<i128> = (0..elements as usize)
                .filter_map(|i| read_int(values, i, value_type))
                .filter(|v| !defined.contains(v))
                .collect();
            if let Some(first) = bad.first() {
                problems.push(format!(
                    "{here} has {} value(s) not defined by enum `{enum_type}` (first: {first})",
                    bad.len()
                ));
            }
        }
        _ => {
            let component = field(def, "componentType").as_str().unwrap_or("");
            let (Some(components), Some((size, _))) =
                (metadata_components(kind), metadata_component(component))
            else {
                return; // reported by the schema check
            };
            let need = elements
                .saturating_mul(components)
                .saturating_mul(size as u64);
            if expect_len(
                here,
                values.len(),
                need,
                &format!("{kind} {component}"),
                problems,
            ) {
                check_alignment(glb, here, values_index, size, problems);
            }
        }
    }
}

/// Reports a size mismatch; returns whether the size was right.
fn expect_len(here: &str, have: usize, need: u64, what: &str, problems: &mut Vec<String>) -> bool {
    if have as u64 == need {
        return true;
    }
    problems.push(format!(
        "{here} values bufferView has {have} bytes but the row count and type ({what}) imply {need}"
    ));
    false
}

/// Buffer views of a property table start at a multiple of their component size (3D Metadata
/// §"Property Table Implementation"), so readers can map them as typed arrays.
fn check_alignment(glb: &Glb, here: &str, view: usize, size: usize, problems: &mut Vec<String>) {
    let offset = field(&glb.json, "bufferViews")
        .get(view)
        .and_then(|v| uint(v, "byteOffset"))
        .unwrap_or(0);
    if !offset.is_multiple_of(size as u64) {
        problems.push(format!(
            "{here} bufferView {view} starts at byte {offset}, not a multiple of its component size {size}"
        ));
    }
}

/// Reads `n + 1` offsets of `offset_type` from a buffer view and checks they never decrease.
fn read_offsets(
    glb: &Glb,
    here: &str,
    what: &str,
    view: Option<usize>,
    n: u64,
    offset_type: &str,
    problems: &mut Vec<String>,
) -> Option<Vec<u64>> {
    let size = match offset_type {
        "UINT8" => 1,
        "UINT16" => 2,
        "UINT32" => 4,
        "UINT64" => 8,
        other => {
            problems.push(format!(
                "{here} {what} type `{other}` is not UINT8, UINT16, UINT32 or UINT64"
            ));
            return None;
        }
    };
    let Some(view) = view else {
        problems.push(format!("{here} needs a {what} bufferView"));
        return None;
    };
    let bytes = match glb.view_bytes(view) {
        Ok(b) => b,
        Err(e) => {
            problems.push(format!("{here} {what}: {e}"));
            return None;
        }
    };
    let need = n.saturating_add(1).saturating_mul(size as u64);
    if bytes.len() as u64 != need {
        problems.push(format!(
            "{here} {what} bufferView has {} bytes but {} offsets of {offset_type} need {need}",
            bytes.len(),
            n.saturating_add(1)
        ));
        return None;
    }
    check_alignment(glb, here, view, size, problems);
    let component = match size {
        1 => "UINT8",
        2 => "UINT16",
        4 => "UINT32",
        _ => "UINT64",
    };
    let offsets: Vec<u64> = (0..=n as usize)
        .filter_map(|i| read_int(bytes, i, component).map(|v| v as u64))
        .collect();
    if let Some(i) = offsets.windows(2).position(|w| w.first() > w.get(1)) {
        problems.push(format!("{here} {what} decrease at entry {}", i + 1));
        return None;
    }
    Some(offsets)
}

/// Checks `EXT_mesh_features` on every primitive and returns the sum of `featureCount`.
fn check_mesh_features(glb: &Glb, tables: &[Value], problems: &mut Vec<String>) -> u64 {
    let mut features = 0u64;
    let json = &glb.json;
    for (m, mesh) in field(json, "meshes")
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (p, prim) in field(mesh, "primitives")
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ext = field(field(prim, "extensions"), "EXT_mesh_features");
            if ext.is_null() {
                continue;
            }
            let ids = field(ext, "featureIds")
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            if ids.is_empty() {
                problems.push(format!(
                    "meshes[{m}].primitives[{p}] EXT_mesh_features has no featureIds"
                ));
            }
            for (f, fid) in ids.iter().enumerate() {
                let here = format!("meshes[{m}].primitives[{p}] featureIds[{f}]");
                let Some(feature_count) = uint(fid, "featureCount").filter(|c| *c >= 1) else {
                    problems.push(format!(
                        "{here}.featureCount is missing or not a positive integer"
                    ));
                    continue;
                };
                features = features.saturating_add(feature_count);
                if let Some(t) = index(fid, "propertyTable") {
                    match tables.get(t) {
                        None => problems.push(format!(
                            "{here}.propertyTable {t} does not exist ({} property tables)",
                            tables.len()
                        )),
                        Some(table) => {
                            let rows = uint(table, "count").unwrap_or(0);
                            if feature_count > rows {
                                problems.push(format!(
                                    "{here}.featureCount {feature_count} exceeds the {rows} rows of property table {t}"
                                ));
                            }
                        }
                    }
                }
                let null_id = uint(fid, "nullFeatureId");
                if let Some(n) = uint(fid, "attribute") {
                    check_feature_id_attribute(
                        glb,
                        prim,
                        &here,
                        n,
                        feature_count,
                        null_id,
                        problems,
                    );
                } else if field(fid, "texture").is_null() {
                    // No attribute and no texture: the feature ID is the vertex index
                    // (EXT_mesh_features §"Feature ID by Vertex").
                    let vertices = index(field(prim, "attributes"), "POSITION")
                        .and_then(|a| field(json, "accessors").get(a))
                        .and_then(|a| uint(a, "count"))
                        .unwrap_or(0);
                    if vertices > feature_count {
                        problems.push(format!(
                            "{here} uses implicit (vertex index) feature IDs but has {vertices} vertices and featureCount {feature_count}"
                        ));
                    }
                }
                // Feature ID textures are images; their texels are not decoded here.
            }
        }
    }
    features
}

fn check_feature_id_attribute(
    glb: &Glb,
    prim: &Value,
    here: &str,
    n: u64,
    feature_count: u64,
    null_id: Option<u64>,
    problems: &mut Vec<String>,
) {
    let name = format!("_FEATURE_ID_{n}");
    let Some(acc_index) = index(field(prim, "attributes"), &name) else {
        problems.push(format!(
            "{here}.attribute {n} needs a {name} attribute, which the primitive lacks"
        ));
        return;
    };
    let data = match glb.accessor(acc_index) {
        Ok(d) => d,
        Err(e) => {
            problems.push(format!("{here} {name}: {e}"));
            return;
        }
    };
    // Feature IDs are whole numbers stored as unsigned bytes, shorts or floats (glTF forbids
    // UNSIGNED_INT outside indices, glTF 2.0 §3.6.2.2).
    if data.components != 1
        || data.normalized
        || ![UNSIGNED_BYTE, UNSIGNED_SHORT, FLOAT].contains(&data.component_type)
    {
        problems.push(format!(
            "{here} {name} accessor {acc_index} is not a non-normalized SCALAR of UNSIGNED_BYTE, UNSIGNED_SHORT or FLOAT"
        ));
        return;
    }
    let mut bad = 0usize;
    let mut first = None;
    for i in 0..data.count {
        let Some(v) = data.get(i, 0) else { break };
        let valid = v.fract() == 0.0
            && v >= 0.0
            && (v < feature_count as f64 || null_id.is_some_and(|null| v == null as f64));
        if !valid {
            bad += 1;
            first.get_or_insert((i, v));
        }
    }
    if let Some((i, v)) = first {
        problems.push(format!(
            "{here} {name} has {bad} feature ID(s) that are not whole numbers below featureCount {feature_count}{} (first: vertex {i} has {v})",
            null_id.map(|n| format!(" or the nullFeatureId {n}")).unwrap_or_default()
        ));
    }
}
