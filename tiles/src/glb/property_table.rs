//! Binary encoding of a [`PropertyTable`] as an `EXT_structural_metadata` property table: one
//! bufferView per column (two for strings), little-endian, in the layout the 3D Metadata
//! Specification's "Binary Table Format" defines.
//!
//! Missing values become the `noData` sentinels that [`Schema::to_json`] declares (see
//! [`crate::metadata`]); the table has already passed [`PropertyTable::check`].

use serde_json::{Map, Value, json};

use super::writer::BinBuilder;
use crate::metadata::{
    NO_DATA_FLOAT64, NO_DATA_INT32, NO_DATA_INT64, NO_DATA_STRING, NULLABLE_BOOLEAN_VALUES,
    PropertyDef, PropertyTable, PropertyType, Schema, Values,
};
use crate::{Error, Result};

/// Stores every column of `table` in `bin` and returns the property table object (`class`, `count`,
/// `properties`).
pub(super) fn encode(
    schema: &Schema,
    table: &PropertyTable,
    bin: &mut BinBuilder,
) -> Result<Value> {
    let mut properties = Map::new();
    for (p, column) in schema.properties.iter().zip(&table.columns) {
        properties.insert(p.id.clone(), encode_column(schema, p, column, bin)?);
    }
    Ok(json!({
        "class": schema.class_id,
        "count": table.count,
        "properties": properties,
    }))
}

/// Stores one column and returns its property table property object.
fn encode_column(
    schema: &Schema,
    p: &PropertyDef,
    column: &Values,
    bin: &mut BinBuilder,
) -> Result<Value> {
    let bytes = match (column, p.nullable) {
        (Values::String(v), _) => return encode_strings(p, v, bin),
        // Bitstream, least significant bit first: row i is bit (i % 8) of byte (i / 8).
        (Values::Boolean(v), false) => {
            let mut bits = vec![0u8; v.len().div_ceil(8)];
            for (i, b) in v.iter().enumerate() {
                if *b == Some(true)
                    && let Some(byte) = bits.get_mut(i / 8)
                {
                    *byte |= 1 << (i % 8);
                }
            }
            bits
        }
        // Nullable booleans are a UINT8 enum (BOOLEAN cannot have noData); see crate::metadata.
        (Values::Boolean(v), true) => {
            let [f, t, n] = NULLABLE_BOOLEAN_VALUES;
            v.iter()
                .map(|b| match b {
                    Some(false) => f,
                    Some(true) => t,
                    None => n,
                })
                .collect()
        }
        (Values::Int32(v), _) => v
            .iter()
            .flat_map(|x| x.unwrap_or(NO_DATA_INT32).to_le_bytes())
            .collect(),
        (Values::Int64(v), _) => v
            .iter()
            .flat_map(|x| x.unwrap_or(NO_DATA_INT64).to_le_bytes())
            .collect(),
        (Values::Float64(v), _) => v
            .iter()
            .flat_map(|x| x.unwrap_or(NO_DATA_FLOAT64).to_le_bytes())
            .collect(),
        (Values::Enum(v), nullable) => {
            let null = match (&p.ty, nullable) {
                (PropertyType::Enum { enum_id }, true) => {
                    schema.enum_null(enum_id).map(|(_, value)| value)
                }
                _ => None,
            };
            let mut bytes = Vec::with_capacity(v.len() * 2);
            for (row, x) in v.iter().enumerate() {
                let value = x.or(null).ok_or_else(|| {
                    Error::Internal(format!(
                        "property {:?} row {row} is missing but the enum has no null value; PropertyTable::check should have rejected it",
                        p.id
                    ))
                })?;
                bytes.extend_from_slice(&value.to_le_bytes());
            }
            bytes
        }
    };
    let values = bin.push_view(&bytes, None)?;
    Ok(json!({ "values": values.value() }))
}

/// Stores a string column: the UTF-8 bytes back to back, and `count + 1` UINT32 offsets where string
/// `i` is `values[offsets[i]..offsets[i + 1]]`.
fn encode_strings(p: &PropertyDef, v: &[Option<String>], bin: &mut BinBuilder) -> Result<Value> {
    let mut values = Vec::new();
    let mut offsets = Vec::with_capacity((v.len() + 1) * 4);
    offsets.extend_from_slice(&0u32.to_le_bytes());
    for s in v {
        values.extend_from_slice(s.as_deref().unwrap_or(NO_DATA_STRING).as_bytes());
        let end = u32::try_from(values.len()).map_err(|_| {
            Error::BadInput(format!(
                "property {:?} (column {:?}) holds more than 4 GiB of text; split the tile",
                p.id, p.name
            ))
        })?;
        offsets.extend_from_slice(&end.to_le_bytes());
    }
    // A bufferView has byteLength >= 1 (glTF 2.0 schema); when every string is empty, store one unused
    // zero byte. The offsets still say every string ends at 0, so readers see only empty strings.
    if values.is_empty() {
        values.push(0);
    }
    let values = bin.push_view(&values, None)?;
    let offsets = bin.push_view(&offsets, None)?;
    Ok(json!({
        "values": values.value(),
        "stringOffsets": offsets.value(),
        "stringOffsetType": "UINT32",
    }))
}
