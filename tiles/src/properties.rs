//! A dataset's attribute columns as 3D Tiles metadata: the [`Schema`] (one class, every attribute
//! typed), each tile's [`PropertyTable`], and the tileset-level statistics viewers build colour ramps
//! and legends from.
//!
//! Type mapping (Arrow → 3D Metadata): Utf8 → `STRING`, or `ENUM` for code lists (at most
//! [`ENUM_MAX_VALUES`] distinct values, each used twice on average); Int8–Int64 → `INT32` when every value
//! fits, else `INT64`; floats → `FLOAT64`; Boolean → `BOOLEAN`; dates and times → ISO 8601 `STRING`. The
//! geometry, bbox and other binary columns and `surface_types` (it drives colours, not attributes) are
//! left out; everything else goes in.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tvilling_core::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use tvilling_core::arrow::compute::cast;
use tvilling_core::arrow::datatypes::{DataType, Float64Type, Int64Type};
use tvilling_core::schema::{BBOX, GEOMETRY, ID};

use crate::metadata::{EnumDef, PropertyDef, PropertyTable, PropertyType, Schema, Values};
use crate::{Error, Result};

/// A text column with at most this many distinct values is a code list (`ENUM`).
pub const ENUM_MAX_VALUES: usize = 64;
/// Columns used by the tiler itself, not shown as attributes.
const INTERNAL: [&str; 1] = ["surface_types"];

/// Where each property comes from and how it is read.
#[derive(Debug, Clone)]
struct Source {
    column: usize,
    kind: SourceKind,
}

#[derive(Debug, Clone)]
enum SourceKind {
    Text,
    Enum(BTreeMap<String, u16>),
    Bool,
    Int32,
    Int64,
    Float,
}

/// The metadata view of a dataset: its schema and how to fill property tables from its rows.
#[derive(Debug, Clone)]
pub struct Properties {
    /// The schema (one class).
    pub schema: Schema,
    sources: Vec<Source>,
    /// Columns cast to the types read here (text for dates, Float64 for floats, Int64 for ints).
    columns: Vec<ArrayRef>,
}

impl Properties {
    /// Builds the schema from the attribute columns of `batch` (all rows of the dataset version).
    pub fn new(batch: &RecordBatch, schema_id: &str, class_id: &str) -> Result<Properties> {
        let mut properties = vec![];
        let mut enums = vec![];
        let mut sources = vec![];
        let mut columns = vec![];
        let mut taken: Vec<String> = vec![];
        let mut taken_enums: Vec<String> = vec![];
        for (i, field) in batch.schema().fields().iter().enumerate() {
            let name = field.name();
            if name == GEOMETRY
                || BBOX.contains(&name.as_str())
                || INTERNAL.contains(&name.as_str())
            {
                continue;
            }
            let col = batch.column(i);
            let (ty, kind, array) = match field.data_type() {
                DataType::Binary | DataType::LargeBinary | DataType::BinaryView => continue,
                DataType::Boolean => (PropertyType::Boolean, SourceKind::Bool, col.clone()),
                DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
                | DataType::UInt64 => {
                    let a = cast(col, &DataType::Int64).map_err(arrow_err)?;
                    let ints = a.as_primitive::<Int64Type>();
                    let fits = ints
                        .iter()
                        .flatten()
                        .all(|v| i32::try_from(v).is_ok_and(|v| v != i32::MIN));
                    if fits {
                        (PropertyType::Int32, SourceKind::Int32, a)
                    } else {
                        (PropertyType::Int64, SourceKind::Int64, a)
                    }
                }
                DataType::Float16
                | DataType::Float32
                | DataType::Float64
                | DataType::Decimal128(..) => (
                    PropertyType::Float64,
                    SourceKind::Float,
                    cast(col, &DataType::Float64).map_err(arrow_err)?,
                ),
                _ => {
                    let a = cast(col, &DataType::Utf8).map_err(|e| {
                        Error::BadInput(format!(
                            "column '{name}' ({}) cannot be shown as text in tile metadata: {e}",
                            field.data_type()
                        ))
                    })?;
                    match code_list(&a).filter(|_| name != ID) {
                        Some(values) => {
                            let enum_id = Schema::identifier(name, &taken_enums);
                            taken_enums.push(enum_id.clone());
                            let map = values
                                .iter()
                                .enumerate()
                                .map(|(k, v)| (v.clone(), k as u16))
                                .collect();
                            enums.push(EnumDef {
                                id: enum_id.clone(),
                                values,
                            });
                            (PropertyType::Enum { enum_id }, SourceKind::Enum(map), a)
                        }
                        None => (PropertyType::String, SourceKind::Text, a),
                    }
                }
            };
            let id = Schema::identifier(name, &taken);
            taken.push(id.clone());
            properties.push(PropertyDef {
                id,
                name: name.clone(),
                ty,
                nullable: array.null_count() > 0,
            });
            sources.push(Source {
                column: columns.len(),
                kind,
            });
            columns.push(array);
        }
        Ok(Properties {
            schema: Schema {
                id: Schema::identifier(schema_id, &[]),
                class_id: Schema::identifier(class_id, &[]),
                properties,
                enums,
            },
            sources,
            columns,
        })
    }

    /// The property table of the given rows, in that order (row `k` of the table is feature id `k`).
    pub fn table(&self, rows: &[usize]) -> PropertyTable {
        let columns = self
            .sources
            .iter()
            .map(|s| {
                let a = &self.columns[s.column];
                let get = |r: usize| (r < a.len() && a.is_valid(r)).then_some(r);
                match &s.kind {
                    SourceKind::Text => {
                        let t = a.as_string::<i32>();
                        Values::String(
                            rows.iter()
                                .map(|r| get(*r).map(|r| t.value(r).to_string()))
                                .collect(),
                        )
                    }
                    SourceKind::Enum(map) => {
                        let t = a.as_string::<i32>();
                        Values::Enum(
                            rows.iter()
                                .map(|r| get(*r).and_then(|r| map.get(t.value(r)).copied()))
                                .collect(),
                        )
                    }
                    SourceKind::Bool => {
                        let b = a.as_boolean();
                        Values::Boolean(rows.iter().map(|r| get(*r).map(|r| b.value(r))).collect())
                    }
                    SourceKind::Int32 => {
                        let v = a.as_primitive::<Int64Type>();
                        Values::Int32(
                            rows.iter()
                                .map(|r| get(*r).map(|r| v.value(r) as i32))
                                .collect(),
                        )
                    }
                    SourceKind::Int64 => {
                        let v = a.as_primitive::<Int64Type>();
                        Values::Int64(rows.iter().map(|r| get(*r).map(|r| v.value(r))).collect())
                    }
                    SourceKind::Float => {
                        let v = a.as_primitive::<Float64Type>();
                        Values::Float64(
                            rows.iter()
                                .map(|r| get(*r).map(|r| v.value(r)).filter(|x| x.is_finite()))
                                .collect(),
                        )
                    }
                }
            })
            .collect();
        PropertyTable {
            count: rows.len(),
            columns,
        }
    }

    /// The property named `name` (the column name, not the sanitised id) and its values, cast as the
    /// property reads them: Utf8 for text and code lists, Int64 for integers, Float64 for floats.
    pub(crate) fn column(&self, name: &str) -> Option<(&PropertyDef, &ArrayRef)> {
        self.schema
            .properties
            .iter()
            .zip(&self.sources)
            .find(|(def, _)| def.name == name)
            .map(|(def, s)| (def, &self.columns[s.column]))
    }

    /// Tileset `statistics` (3D Tiles 1.1): per numeric property min and max, per code list the
    /// occurrences of each value, over every feature of the dataset.
    pub fn statistics(&self) -> Value {
        let mut props = serde_json::Map::new();
        for (def, s) in self.schema.properties.iter().zip(&self.sources) {
            let a = &self.columns[s.column];
            let stat = match &s.kind {
                SourceKind::Int32 | SourceKind::Int64 => {
                    let v = a.as_primitive::<Int64Type>();
                    let (lo, hi) = (v.iter().flatten().min(), v.iter().flatten().max());
                    lo.zip(hi).map(|(lo, hi)| json!({ "min": lo, "max": hi }))
                }
                SourceKind::Float => {
                    let v = a.as_primitive::<Float64Type>();
                    let finite = || v.iter().flatten().filter(|x| x.is_finite());
                    let lo = finite().fold(f64::INFINITY, f64::min);
                    let hi = finite().fold(f64::NEG_INFINITY, f64::max);
                    (lo <= hi).then(|| json!({ "min": lo, "max": hi }))
                }
                SourceKind::Enum(_) => {
                    let t = a.as_string::<i32>();
                    let mut occ: BTreeMap<&str, u64> = BTreeMap::new();
                    t.iter()
                        .flatten()
                        .for_each(|v| *occ.entry(v).or_default() += 1);
                    Some(json!({ "occurrences": occ }))
                }
                SourceKind::Bool | SourceKind::Text => None,
            };
            if let Some(st) = stat {
                props.insert(def.id.clone(), st);
            }
        }
        let count = self.columns.first().map_or(0, |c| c.len());
        json!({ "classes": { self.schema.class_id.clone(): { "count": count, "properties": props } } })
    }
}

/// The sorted distinct values of a text column when it looks like a code list.
fn code_list(a: &ArrayRef) -> Option<Vec<String>> {
    let t = a.as_string::<i32>();
    let present = t.len() - t.null_count();
    let mut distinct = std::collections::BTreeSet::new();
    for v in t.iter().flatten() {
        // Enum value names must be non-empty (3D Metadata): a column with empty texts stays STRING.
        if v.is_empty() {
            return None;
        }
        distinct.insert(v);
        if distinct.len() > ENUM_MAX_VALUES {
            return None;
        }
    }
    // A handful of rows with unique names is not a code list; each value must recur on average.
    (!distinct.is_empty() && present >= 2 * distinct.len())
        .then(|| distinct.into_iter().map(str::to_string).collect())
}

fn arrow_err(e: tvilling_core::arrow::error::ArrowError) -> Error {
    Error::Internal(format!("Arrow cast: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tvilling_core::arrow::array::{BooleanArray, Float64Array, Int64Array, StringArray};
    use tvilling_core::arrow::datatypes::{Field, Schema as ArrowSchema};

    fn batch() -> RecordBatch {
        let s = ArrowSchema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("andamal", DataType::Utf8, true),
            Field::new("vaningar", DataType::Int64, true),
            Field::new("hojd", DataType::Float64, true),
            Field::new("skyddad", DataType::Boolean, false),
        ]);
        RecordBatch::try_new(
            Arc::new(s),
            vec![
                Arc::new(StringArray::from(vec!["a", "b", "c", "d", "e", "f"])),
                Arc::new(StringArray::from(vec![
                    Some("Bostad"),
                    Some("Skola"),
                    None,
                    Some("Bostad"),
                    Some("Skola"),
                    Some("Bostad"),
                ])),
                Arc::new(Int64Array::from(vec![
                    Some(2),
                    None,
                    Some(5),
                    Some(1),
                    Some(3),
                    Some(2),
                ])),
                Arc::new(Float64Array::from(vec![6.5, 9.0, 15.2, 3.1, 4.0, 5.0])),
                Arc::new(BooleanArray::from(vec![
                    false, true, false, false, false, false,
                ])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn types_every_attribute_and_makes_code_lists_enums() {
        let p = Properties::new(&batch(), "town", "building").unwrap();
        let ty: Vec<_> = p.schema.properties.iter().map(|d| d.ty.clone()).collect();
        assert_eq!(
            ty,
            vec![
                PropertyType::String,
                PropertyType::Enum {
                    enum_id: "andamal".into()
                },
                PropertyType::Int32,
                PropertyType::Float64,
                PropertyType::Boolean
            ]
        );
        assert_eq!(p.schema.enums[0].values, vec!["Bostad", "Skola"]);
        assert!(p.schema.properties[1].nullable && !p.schema.properties[0].nullable);
    }

    #[test]
    fn fills_a_tables_rows_in_the_order_asked() {
        let p = Properties::new(&batch(), "town", "building").unwrap();
        let t = p.table(&[2, 0]);
        assert_eq!(t.count, 2);
        assert_eq!(
            t.columns[0],
            Values::String(vec![Some("c".into()), Some("a".into())])
        );
        assert_eq!(t.columns[1], Values::Enum(vec![None, Some(0)]));
        assert_eq!(t.columns[2], Values::Int32(vec![Some(5), Some(2)]));
    }

    #[test]
    fn states_min_max_and_occurrences() {
        let p = Properties::new(&batch(), "town", "building").unwrap();
        let s = p.statistics();
        let props = &s["classes"]["building"]["properties"];
        assert_eq!(props["hojd"]["max"], 15.2);
        assert_eq!(props["vaningar"]["min"], 1);
        assert_eq!(props["andamal"]["occurrences"]["Bostad"], 3);
        assert_eq!(s["classes"]["building"]["count"], 6);
    }
}
