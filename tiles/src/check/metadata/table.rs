//! Binary property tables (`EXT_structural_metadata` §"Property Tables"): buffer view sizes,
//! offsets, alignment, UTF-8 strings and enum values of each column.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::{metadata_component, metadata_components};
use crate::check::glb::Glb;
use crate::check::{field, index, uint};

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

pub(super) fn check_property_table(
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
