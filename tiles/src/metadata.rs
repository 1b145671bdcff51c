//! The metadata model of tile content: a [`Schema`] with one class whose properties are a layer's
//! attribute columns, and a [`PropertyTable`] holding one row per feature.
//!
//! [`Schema::to_json`] writes the schema object of the 3D Metadata Specification that both 3D Tiles 1.1
//! (tileset `schema`) and the glTF extension `EXT_structural_metadata` embed; the glb writer
//! ([`crate::glb`]) stores the table in binary. Both sides take their encoding from the helpers here, so
//! the declared schema and the stored bytes cannot drift apart.
//!
//! # Missing values
//!
//! A property with `nullable: true` is declared with `required: false` and a `noData` sentinel (3D
//! Metadata Specification, "Required Properties, No Data Values, and Default Values"). The sentinels are
//! chosen so that they are valid JSON and practically never real data; a real value equal to its
//! column's sentinel is rejected by [`PropertyTable::check`] rather than silently turned into a null:
//!
//! | type | stored as | `noData` |
//! |---|---|---|
//! | `String` | UTF-8 | [`NO_DATA_STRING`], a single U+0000 (NUL), which text columns do not hold; an empty string stays a real, empty value |
//! | `Int32` | `SCALAR INT32` | [`NO_DATA_INT32`] = `i32::MIN` |
//! | `Int64` | `SCALAR INT64` | [`NO_DATA_INT64`] = `i64::MIN` (exactly -2^63, so also exact as a JSON double) |
//! | `Float64` | `SCALAR FLOAT64` | [`NO_DATA_FLOAT64`] = `-f64::MAX` = `-1.7976931348623157e308` (NaN is not valid JSON) |
//! | `Enum` | `ENUM`, `valueType` `UINT16` | an extra enum value named `null` (or `null_1`, ... when taken) with the next integer value; it is added only to enums that a nullable property uses |
//! | `Boolean` | `BOOLEAN` bitstream when not nullable | the spec forbids `noData` on `BOOLEAN`, so a **nullable** boolean is declared as `ENUM` of [`NULLABLE_BOOLEAN_ENUM`] (`valueType` `UINT8`: `false` = 0, `true` = 1, `null` = 2, `noData` `"null"`) |
//!
//! # Examples
//!
//! ```
//! use tvilling_tiles::metadata::{PropertyDef, PropertyType, Schema};
//!
//! let id = Schema::identifier("Höjd (m)", &[]);
//! assert_eq!(id, "Hojd_m");
//! let schema = Schema {
//!     id: "exempelby".into(),
//!     class_id: "byggnad".into(),
//!     properties: vec![PropertyDef { id, name: "Höjd (m)".into(), ty: PropertyType::Float64, nullable: true }],
//!     enums: vec![],
//! };
//! let json = schema.to_json();
//! assert_eq!(json["classes"]["byggnad"]["properties"]["Hojd_m"]["componentType"], "FLOAT64");
//! ```

use serde_json::{Map, Value, json};

use crate::{Error, Result};

/// `noData` of nullable `String` properties: one NUL character (see the module docs).
pub const NO_DATA_STRING: &str = "\u{0}";
/// `noData` of nullable `Int32` properties.
pub const NO_DATA_INT32: i32 = i32::MIN;
/// `noData` of nullable `Int64` properties.
pub const NO_DATA_INT64: i64 = i64::MIN;
/// `noData` of nullable `Float64` properties: the most negative finite double.
pub const NO_DATA_FLOAT64: f64 = f64::MIN;
/// Preferred id of the enum that nullable booleans are declared with; [`Schema::nullable_boolean_enum_id`]
/// makes it unique against the schema's own enums.
pub const NULLABLE_BOOLEAN_ENUM: &str = "nullableBoolean";
/// Preferred name of the enum value that stands for a missing value.
pub const NULL_ENUM_NAME: &str = "null";
/// The stored `UINT8` values of a nullable boolean: `false`, `true`, missing.
pub const NULLABLE_BOOLEAN_VALUES: [u8; 3] = [0, 1, 2];

/// The type of one property (column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropertyType {
    /// UTF-8 text.
    String,
    /// `true` / `false`.
    Boolean,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// 64-bit float.
    Float64,
    /// One of the named values of the enum [`EnumDef`] with id `enum_id`.
    Enum {
        /// Id of an entry of [`Schema::enums`].
        enum_id: String,
    },
}

/// One property of the schema's class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyDef {
    /// Schema-safe identifier (`^[a-zA-Z_][a-zA-Z0-9_]*$`), unique in the class; see [`Schema::identifier`].
    pub id: String,
    /// The original column name, written as the property's display `name`.
    pub name: String,
    /// Value type.
    pub ty: PropertyType,
    /// Whether values may be missing; see the module docs for how missing values are stored.
    pub nullable: bool,
}

/// A named list of values; value `i` has integer value `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumDef {
    /// Schema-safe identifier, unique among the schema's enums.
    pub id: String,
    /// Value names, non-empty and distinct; at most 65 535 (65 534 when a nullable property uses the enum).
    pub values: Vec<String>,
}

/// A metadata schema with exactly one class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    /// Schema id (schema-safe identifier).
    pub id: String,
    /// Id of the one class (schema-safe identifier).
    pub class_id: String,
    /// The class's properties, in property-table column order.
    pub properties: Vec<PropertyDef>,
    /// Enums that `Enum` properties refer to.
    pub enums: Vec<EnumDef>,
}

/// One column of a [`PropertyTable`]; `None` is a missing value.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// For [`PropertyType::String`].
    String(Vec<Option<String>>),
    /// For [`PropertyType::Boolean`].
    Boolean(Vec<Option<bool>>),
    /// For [`PropertyType::Int32`].
    Int32(Vec<Option<i32>>),
    /// For [`PropertyType::Int64`].
    Int64(Vec<Option<i64>>),
    /// For [`PropertyType::Float64`].
    Float64(Vec<Option<f64>>),
    /// For [`PropertyType::Enum`]: the integer value, an index into [`EnumDef::values`].
    Enum(Vec<Option<u16>>),
}

/// Property values of `count` features: row `i` belongs to feature id `i`.
#[derive(Debug, Clone, PartialEq)]
pub struct PropertyTable {
    /// Number of rows (features).
    pub count: usize,
    /// One column per property, in [`Schema::properties`] order.
    pub columns: Vec<Values>,
}

/// Whether `s` matches `^[a-zA-Z_][a-zA-Z0-9_]*$`, the pattern of ids in the 3D Metadata schema.
pub fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// ASCII stand-ins for the letters of Nordic and other Latin-script column names, so that
/// `Byggår` becomes `Byggar` rather than `Bygg_r`.
fn ascii_fold(c: char) -> Option<&'static str> {
    Some(match c {
        'å' | 'ä' | 'à' | 'á' | 'â' | 'ã' => "a",
        'Å' | 'Ä' | 'À' | 'Á' | 'Â' | 'Ã' => "A",
        'ö' | 'ø' | 'ò' | 'ó' | 'ô' | 'õ' => "o",
        'Ö' | 'Ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' => "O",
        'é' | 'è' | 'ê' | 'ë' => "e",
        'É' | 'È' | 'Ê' | 'Ë' => "E",
        'ü' | 'ù' | 'ú' | 'û' => "u",
        'Ü' | 'Ù' | 'Ú' | 'Û' => "U",
        'í' | 'ì' | 'î' | 'ï' => "i",
        'Í' | 'Ì' | 'Î' | 'Ï' => "I",
        'æ' => "ae",
        'Æ' => "AE",
        'ß' => "ss",
        'ç' => "c",
        'Ç' => "C",
        'ñ' => "n",
        'Ñ' => "N",
        _ => return None,
    })
}

/// Returns `base`, or `base_2`, `base_3`, ... : the first not in `taken`.
fn unique(base: String, taken: &[String]) -> String {
    if !taken.contains(&base) {
        return base;
    }
    let free = (2u64..)
        .map(|n| format!("{base}_{n}"))
        .find(|candidate| !taken.contains(candidate));
    free.unwrap_or(base)
}

impl Schema {
    /// Turns a column name into a property id that matches `^[a-zA-Z_][a-zA-Z0-9_]*$` and is not in
    /// `taken`.
    ///
    /// A name that already matches is kept. Otherwise letters such as `å`, `ä`, `ö` become `a`, `a`,
    /// `o`; any other character outside `[A-Za-z0-9_]` becomes `_`, runs of `_` collapse and `_` at
    /// either end is dropped; a name starting with a digit gets a leading `_`; an empty result becomes
    /// `property`. A clash with `taken` appends `_2`, `_3`, ... Deterministic, so the same columns
    /// always get the same ids.
    ///
    /// # Examples
    ///
    /// ```
    /// use tvilling_tiles::metadata::Schema;
    ///
    /// assert_eq!(Schema::identifier("Byggår", &[]), "Byggar");
    /// assert_eq!(Schema::identifier("1st floor", &[]), "_1st_floor");
    /// assert_eq!(Schema::identifier("höjd", &["hojd".to_string()]), "hojd_2");
    /// ```
    pub fn identifier(name: &str, taken: &[String]) -> String {
        // A name that already is an identifier stays as it is (only made unique).
        if is_identifier(name) {
            return unique(name.to_owned(), taken);
        }
        let mut id = String::with_capacity(name.len());
        for c in name.chars() {
            if c.is_ascii_alphanumeric() {
                id.push(c);
            } else if let Some(folded) = ascii_fold(c) {
                id.push_str(folded);
            } else if !id.is_empty() && !id.ends_with('_') {
                id.push('_');
            }
        }
        while id.ends_with('_') {
            id.pop();
        }
        if id.is_empty() {
            id.push_str("property");
        }
        if id.starts_with(|c: char| c.is_ascii_digit()) {
            id.insert(0, '_');
        }
        unique(id, taken)
    }

    /// The id of the enum that nullable booleans are declared with: [`NULLABLE_BOOLEAN_ENUM`], made
    /// unique against [`Schema::enums`].
    pub fn nullable_boolean_enum_id(&self) -> String {
        let taken: Vec<String> = self.enums.iter().map(|e| e.id.clone()).collect();
        unique(NULLABLE_BOOLEAN_ENUM.to_owned(), &taken)
    }

    /// The enum with this id.
    pub fn enum_def(&self, enum_id: &str) -> Option<&EnumDef> {
        self.enums.iter().find(|e| e.id == enum_id)
    }

    /// Whether some nullable property uses the enum `enum_id`, so that the enum carries a null value.
    fn enum_is_nullable(&self, enum_id: &str) -> bool {
        self.properties.iter().any(|p| {
            p.nullable && matches!(&p.ty, PropertyType::Enum { enum_id: id } if id == enum_id)
        })
    }

    /// The null value of an enum that a nullable property uses: its name (`null`, or `null_1`, ...
    /// when a real value has that name) and its integer value (one past the last real value).
    ///
    /// Returns `None` for an enum that no nullable property uses, or one too large to get a null value
    /// ([`Schema::validate`] rejects that).
    pub fn enum_null(&self, enum_id: &str) -> Option<(String, u16)> {
        let def = self.enum_def(enum_id)?;
        if !self.enum_is_nullable(enum_id) {
            return None;
        }
        let value = u16::try_from(def.values.len()).ok()?;
        let name = if def.values.iter().any(|v| v == NULL_ENUM_NAME) {
            (1u64..)
                .map(|n| format!("{NULL_ENUM_NAME}_{n}"))
                .find(|candidate| !def.values.contains(candidate))?
        } else {
            NULL_ENUM_NAME.to_owned()
        };
        Some((name, value))
    }

    /// Checks what the 3D Metadata schema requires of ids and enums, so that [`Schema::to_json`]
    /// writes a valid schema.
    ///
    /// # Errors
    ///
    /// [`Error::BadInput`] naming the offending id, enum or value.
    pub fn validate(&self) -> Result<()> {
        for (what, id) in [("schema id", &self.id), ("class id", &self.class_id)] {
            if !is_identifier(id) {
                return Err(bad(format!(
                    "{what} {id:?} is not an identifier (^[a-zA-Z_][a-zA-Z0-9_]*$); build it with Schema::identifier"
                )));
            }
        }
        for (i, p) in self.properties.iter().enumerate() {
            if !is_identifier(&p.id) {
                return Err(bad(format!(
                    "property id {:?} (column {:?}) is not an identifier (^[a-zA-Z_][a-zA-Z0-9_]*$); build it with Schema::identifier",
                    p.id, p.name
                )));
            }
            if self.properties[..i].iter().any(|q| q.id == p.id) {
                return Err(bad(format!(
                    "property id {:?} is used twice in class {:?}",
                    p.id, self.class_id
                )));
            }
            if let PropertyType::Enum { enum_id } = &p.ty
                && self.enum_def(enum_id).is_none()
            {
                let known: Vec<&str> = self.enums.iter().map(|e| e.id.as_str()).collect();
                return Err(bad(format!(
                    "property {:?} refers to enum {enum_id:?}, which the schema does not define (enums: {known:?})",
                    p.id
                )));
            }
        }
        for (i, e) in self.enums.iter().enumerate() {
            if !is_identifier(&e.id) {
                return Err(bad(format!(
                    "enum id {:?} is not an identifier (^[a-zA-Z_][a-zA-Z0-9_]*$); build it with Schema::identifier",
                    e.id
                )));
            }
            if self.enums[..i].iter().any(|f| f.id == e.id) {
                return Err(bad(format!("enum id {:?} is used twice", e.id)));
            }
            // enum.schema.json: values has minItems 1, names minLength 1, no duplicate names.
            if e.values.is_empty() {
                return Err(bad(format!(
                    "enum {:?} has no values; the schema needs at least one",
                    e.id
                )));
            }
            for (j, v) in e.values.iter().enumerate() {
                if v.is_empty() {
                    return Err(bad(format!("enum {:?} value {j} has an empty name", e.id)));
                }
                if e.values[..j].contains(v) {
                    return Err(bad(format!(
                        "enum {:?} has the value name {v:?} twice",
                        e.id
                    )));
                }
            }
            // Values are UINT16 0..len; a nullable use needs one more for the null value.
            let limit = if self.enum_is_nullable(&e.id) {
                usize::from(u16::MAX)
            } else {
                usize::from(u16::MAX) + 1
            };
            if e.values.len() > limit {
                return Err(bad(format!(
                    "enum {:?} has {} values; UINT16 enums hold at most {limit} (including the null value of nullable properties)",
                    e.id,
                    e.values.len()
                )));
            }
        }
        Ok(())
    }

    /// The schema object of the 3D Metadata Specification (`schema` in a 3D Tiles 1.1 tileset and in
    /// `EXT_structural_metadata`), with the class's properties in order and `noData` as described in the
    /// module docs. Call [`Schema::validate`] first: this only writes.
    pub fn to_json(&self) -> Value {
        let mut properties = Map::new();
        let mut needs_boolean_enum = false;
        for p in &self.properties {
            let mut prop = Map::new();
            if !p.name.is_empty() {
                prop.insert("name".into(), json!(p.name));
            }
            match (&p.ty, p.nullable) {
                (PropertyType::String, _) => {
                    prop.insert("type".into(), json!("STRING"));
                }
                (PropertyType::Boolean, false) => {
                    prop.insert("type".into(), json!("BOOLEAN"));
                }
                // BOOLEAN may not have noData (class.property.schema.json), hence the enum.
                (PropertyType::Boolean, true) => {
                    needs_boolean_enum = true;
                    prop.insert("type".into(), json!("ENUM"));
                    prop.insert("enumType".into(), json!(self.nullable_boolean_enum_id()));
                }
                (PropertyType::Int32, _) => {
                    prop.insert("type".into(), json!("SCALAR"));
                    prop.insert("componentType".into(), json!("INT32"));
                }
                (PropertyType::Int64, _) => {
                    prop.insert("type".into(), json!("SCALAR"));
                    prop.insert("componentType".into(), json!("INT64"));
                }
                (PropertyType::Float64, _) => {
                    prop.insert("type".into(), json!("SCALAR"));
                    prop.insert("componentType".into(), json!("FLOAT64"));
                }
                (PropertyType::Enum { enum_id }, _) => {
                    prop.insert("type".into(), json!("ENUM"));
                    prop.insert("enumType".into(), json!(enum_id));
                }
            }
            // `required` defaults to false; noData "shall not be defined if required is true".
            if p.nullable {
                prop.insert("required".into(), json!(false));
                let no_data = match &p.ty {
                    PropertyType::String => json!(NO_DATA_STRING),
                    PropertyType::Boolean => json!(NULL_ENUM_NAME),
                    PropertyType::Int32 => json!(NO_DATA_INT32),
                    PropertyType::Int64 => json!(NO_DATA_INT64),
                    PropertyType::Float64 => json!(NO_DATA_FLOAT64),
                    PropertyType::Enum { enum_id } => {
                        json!(
                            self.enum_null(enum_id)
                                .map(|(name, _)| name)
                                .unwrap_or_default()
                        )
                    }
                };
                prop.insert("noData".into(), no_data);
            } else {
                prop.insert("required".into(), json!(true));
            }
            properties.insert(p.id.clone(), Value::Object(prop));
        }

        let mut enums = Map::new();
        for e in &self.enums {
            let mut values: Vec<Value> = e
                .values
                .iter()
                .enumerate()
                .map(|(i, name)| json!({ "name": name, "value": i }))
                .collect();
            if let Some((name, value)) = self.enum_null(&e.id) {
                values.push(json!({ "name": name, "value": value }));
            }
            enums.insert(
                e.id.clone(),
                json!({ "valueType": "UINT16", "values": values }),
            );
        }
        if needs_boolean_enum {
            let [f, t, n] = NULLABLE_BOOLEAN_VALUES;
            enums.insert(
                self.nullable_boolean_enum_id(),
                json!({
                    "valueType": "UINT8",
                    "values": [
                        { "name": "false", "value": f },
                        { "name": "true", "value": t },
                        { "name": NULL_ENUM_NAME, "value": n },
                    ],
                }),
            );
        }

        let mut schema = Map::new();
        schema.insert("id".into(), json!(self.id));
        let mut classes = Map::new();
        classes.insert(self.class_id.clone(), json!({ "properties": properties }));
        schema.insert("classes".into(), Value::Object(classes));
        if !enums.is_empty() {
            schema.insert("enums".into(), Value::Object(enums));
        }
        Value::Object(schema)
    }
}

impl Values {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Values::String(v) => v.len(),
            Values::Boolean(v) => v.len(),
            Values::Int32(v) => v.len(),
            Values::Int64(v) => v.len(),
            Values::Float64(v) => v.len(),
            Values::Enum(v) => v.len(),
        }
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The type name, for messages.
    fn type_name(&self) -> &'static str {
        match self {
            Values::String(_) => "String",
            Values::Boolean(_) => "Boolean",
            Values::Int32(_) => "Int32",
            Values::Int64(_) => "Int64",
            Values::Float64(_) => "Float64",
            Values::Enum(_) => "Enum",
        }
    }

    /// The row of the first missing value.
    fn first_null(&self) -> Option<usize> {
        match self {
            Values::String(v) => v.iter().position(Option::is_none),
            Values::Boolean(v) => v.iter().position(Option::is_none),
            Values::Int32(v) => v.iter().position(Option::is_none),
            Values::Int64(v) => v.iter().position(Option::is_none),
            Values::Float64(v) => v.iter().position(Option::is_none),
            Values::Enum(v) => v.iter().position(Option::is_none),
        }
    }
}

fn type_name(ty: &PropertyType) -> &'static str {
    match ty {
        PropertyType::String => "String",
        PropertyType::Boolean => "Boolean",
        PropertyType::Int32 => "Int32",
        PropertyType::Int64 => "Int64",
        PropertyType::Float64 => "Float64",
        PropertyType::Enum { .. } => "Enum",
    }
}

fn bad(message: String) -> Error {
    Error::BadInput(message)
}

impl PropertyTable {
    /// Checks that the table fits `schema` (which must pass [`Schema::validate`]): one column per
    /// property with its type and `count` values, no missing value in a non-nullable column, no real
    /// value equal to its column's `noData` sentinel, enum values in range.
    ///
    /// # Errors
    ///
    /// [`Error::BadInput`] naming the property (id and column name) and the row.
    pub fn check(&self, schema: &Schema) -> Result<()> {
        if self.count == 0 {
            return Err(bad(
                "the property table has no rows; EXT_structural_metadata needs count >= 1 (write no content for a tile without features)".into(),
            ));
        }
        if u32::try_from(self.count).is_err() {
            return Err(bad(format!(
                "the property table has {} rows; at most 2^32 - 1 fit",
                self.count
            )));
        }
        if self.columns.len() != schema.properties.len() {
            return Err(bad(format!(
                "the property table has {} columns but class {:?} has {} properties; give one column per property, in order",
                self.columns.len(),
                schema.class_id,
                schema.properties.len()
            )));
        }
        for (p, column) in schema.properties.iter().zip(&self.columns) {
            let at = |row: usize| format!("property {:?} (column {:?}) row {row}", p.id, p.name);
            let type_ok = matches!(
                (&p.ty, column),
                (PropertyType::String, Values::String(_))
                    | (PropertyType::Boolean, Values::Boolean(_))
                    | (PropertyType::Int32, Values::Int32(_))
                    | (PropertyType::Int64, Values::Int64(_))
                    | (PropertyType::Float64, Values::Float64(_))
                    | (PropertyType::Enum { .. }, Values::Enum(_))
            );
            if !type_ok {
                return Err(bad(format!(
                    "property {:?} (column {:?}) is declared {} but its column holds {} values",
                    p.id,
                    p.name,
                    type_name(&p.ty),
                    column.type_name()
                )));
            }
            if column.len() != self.count {
                return Err(bad(format!(
                    "property {:?} (column {:?}) has {} values but the table has {} rows",
                    p.id,
                    p.name,
                    column.len(),
                    self.count
                )));
            }
            if !p.nullable
                && let Some(row) = column.first_null()
            {
                return Err(bad(format!(
                    "{} is missing but the property is not nullable; declare it nullable",
                    at(row)
                )));
            }
            let sentinel_row = if p.nullable {
                match column {
                    Values::String(v) => {
                        v.iter().position(|x| x.as_deref() == Some(NO_DATA_STRING))
                    }
                    Values::Int32(v) => v.iter().position(|x| *x == Some(NO_DATA_INT32)),
                    Values::Int64(v) => v.iter().position(|x| *x == Some(NO_DATA_INT64)),
                    Values::Float64(v) => v.iter().position(|x| *x == Some(NO_DATA_FLOAT64)),
                    Values::Boolean(_) | Values::Enum(_) => None,
                }
            } else {
                None
            };
            if let Some(row) = sentinel_row {
                return Err(bad(format!(
                    "{} holds the value this writer uses as noData for missing values; it cannot be stored without turning it into a null",
                    at(row)
                )));
            }
            if let (PropertyType::Enum { enum_id }, Values::Enum(v)) = (&p.ty, column) {
                let n = schema.enum_def(enum_id).map_or(0, |e| e.values.len());
                if let Some(row) = v
                    .iter()
                    .position(|x| x.is_some_and(|x| usize::from(x) >= n))
                {
                    return Err(bad(format!(
                        "{} has enum value {:?}, but enum {enum_id:?} has only {n} values",
                        at(row),
                        v.get(row).copied().flatten()
                    )));
                }
            }
            let mut strings_len: u64 = 0;
            if let Values::String(v) = column {
                for s in v {
                    strings_len += s.as_deref().unwrap_or(NO_DATA_STRING).len() as u64;
                }
                if u32::try_from(strings_len).is_err() {
                    return Err(bad(format!(
                        "property {:?} (column {:?}) holds {strings_len} bytes of text; UINT32 string offsets address at most 4 GiB per tile, so split the tile",
                        p.id, p.name
                    )));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
