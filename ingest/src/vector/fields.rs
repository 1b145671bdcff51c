//! OGR attribute fields as typed Arrow columns.
//!
//! | OGR type | Arrow type |
//! |---|---|
//! | Integer | Int32 |
//! | Integer64 | Int64 |
//! | Real | Float64 |
//! | String, Time, Binary (as GDAL's text) | Utf8 |
//! | Date | Date32 |
//! | DateTime | Timestamp(µs, UTC); values without a zone are taken as UTC |
//! | IntegerList / Integer64List / RealList / StringList | List of the element type |

use std::sync::Arc;

use gdal::vector::{FieldValue, OGRFieldType};
use tvilling_core::arrow::array::{
    ArrayRef, Date32Builder, Float64Builder, Int32Builder, Int64Builder, ListBuilder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use tvilling_core::arrow::datatypes::{DataType, Field, TimeUnit};

/// The Arrow type for an OGR field type.
pub fn arrow_type(ogr: OGRFieldType::Type) -> DataType {
    let list = |t: DataType| DataType::List(Arc::new(Field::new("item", t, true)));
    match ogr {
        OGRFieldType::OFTInteger => DataType::Int32,
        OGRFieldType::OFTInteger64 => DataType::Int64,
        OGRFieldType::OFTReal => DataType::Float64,
        OGRFieldType::OFTDate => DataType::Date32,
        OGRFieldType::OFTDateTime => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        OGRFieldType::OFTIntegerList => list(DataType::Int32),
        OGRFieldType::OFTInteger64List => list(DataType::Int64),
        OGRFieldType::OFTRealList => list(DataType::Float64),
        OGRFieldType::OFTStringList => list(DataType::Utf8),
        _ => DataType::Utf8,
    }
}

/// A growing Arrow column for one OGR field.
pub enum Column {
    I32(Int32Builder),
    I64(Int64Builder),
    F64(Float64Builder),
    Str(StringBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
    I32List(ListBuilder<Int32Builder>),
    I64List(ListBuilder<Int64Builder>),
    F64List(ListBuilder<Float64Builder>),
    StrList(ListBuilder<StringBuilder>),
}

impl Column {
    pub fn new(t: &DataType) -> Column {
        match t {
            DataType::Int32 => Column::I32(Int32Builder::new()),
            DataType::Int64 => Column::I64(Int64Builder::new()),
            DataType::Float64 => Column::F64(Float64Builder::new()),
            DataType::Date32 => Column::Date(Date32Builder::new()),
            DataType::Timestamp(..) => {
                Column::Ts(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            DataType::List(f) => match f.data_type() {
                DataType::Int32 => Column::I32List(ListBuilder::new(Int32Builder::new())),
                DataType::Int64 => Column::I64List(ListBuilder::new(Int64Builder::new())),
                DataType::Float64 => Column::F64List(ListBuilder::new(Float64Builder::new())),
                _ => Column::StrList(ListBuilder::new(StringBuilder::new())),
            },
            _ => Column::Str(StringBuilder::new()),
        }
    }

    /// Appends a value (or null); a value of another OGR type than the column is converted as GDAL would.
    pub fn push(&mut self, v: Option<FieldValue>) {
        use FieldValue as V;
        match (self, v) {
            (Column::I32(b), Some(V::IntegerValue(x))) => b.append_value(x),
            (Column::I64(b), Some(V::Integer64Value(x))) => b.append_value(x),
            (Column::I64(b), Some(V::IntegerValue(x))) => b.append_value(i64::from(x)),
            (Column::F64(b), Some(V::RealValue(x))) => b.append_value(x),
            (Column::F64(b), Some(V::IntegerValue(x))) => b.append_value(f64::from(x)),
            (Column::F64(b), Some(V::Integer64Value(x))) => b.append_value(x as f64),
            (Column::Date(b), Some(V::DateValue(d))) => b.append_value(days_since_epoch(d)),
            (Column::Date(b), Some(V::DateTimeValue(d))) => {
                b.append_value(days_since_epoch(d.date_naive()))
            }
            (Column::Ts(b), Some(V::DateTimeValue(d))) => b.append_value(d.timestamp_micros()),
            (Column::Ts(b), Some(V::DateValue(d))) => match d.and_hms_opt(0, 0, 0) {
                Some(t) => b.append_value(t.and_utc().timestamp_micros()),
                None => b.append_null(),
            },
            (Column::I32List(b), Some(V::IntegerListValue(xs))) => {
                b.append_value(xs.into_iter().map(Some))
            }
            (Column::I64List(b), Some(V::Integer64ListValue(xs))) => {
                b.append_value(xs.into_iter().map(Some))
            }
            (Column::F64List(b), Some(V::RealListValue(xs))) => {
                b.append_value(xs.into_iter().map(Some))
            }
            (Column::StrList(b), Some(V::StringListValue(xs))) => {
                b.append_value(xs.into_iter().map(Some))
            }
            (Column::Str(b), Some(v)) => b.append_value(text(v)),
            (c, _) => c.push_null(),
        }
    }

    fn push_null(&mut self) {
        match self {
            Column::I32(b) => b.append_null(),
            Column::I64(b) => b.append_null(),
            Column::F64(b) => b.append_null(),
            Column::Str(b) => b.append_null(),
            Column::Date(b) => b.append_null(),
            Column::Ts(b) => b.append_null(),
            Column::I32List(b) => b.append_null(),
            Column::I64List(b) => b.append_null(),
            Column::F64List(b) => b.append_null(),
            Column::StrList(b) => b.append_null(),
        }
    }

    /// Takes the values pushed so far as an array, leaving the column empty.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Column::I32(b) => Arc::new(b.finish()),
            Column::I64(b) => Arc::new(b.finish()),
            Column::F64(b) => Arc::new(b.finish()),
            Column::Str(b) => Arc::new(b.finish()),
            Column::Date(b) => Arc::new(b.finish()),
            Column::Ts(b) => Arc::new(b.finish()),
            Column::I32List(b) => Arc::new(b.finish()),
            Column::I64List(b) => Arc::new(b.finish()),
            Column::F64List(b) => Arc::new(b.finish()),
            Column::StrList(b) => Arc::new(b.finish()),
        }
    }
}

/// The text of a field value, as ids and string columns need it.
pub fn text(v: FieldValue) -> String {
    use FieldValue as V;
    match v {
        V::StringValue(s) => s,
        V::IntegerValue(x) => x.to_string(),
        V::Integer64Value(x) => x.to_string(),
        V::RealValue(x) => x.to_string(),
        V::DateValue(d) => d.to_string(),
        V::DateTimeValue(d) => d.to_rfc3339(),
        V::IntegerListValue(xs) => format!("{xs:?}"),
        V::Integer64ListValue(xs) => format!("{xs:?}"),
        V::RealListValue(xs) => format!("{xs:?}"),
        V::StringListValue(xs) => format!("{xs:?}"),
    }
}

fn days_since_epoch(d: chrono::NaiveDate) -> i32 {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (d - epoch).num_days() as i32
}

/// Makes a source field name safe for Delta (no ` ,;{}()\n\t=`), unique, and clear of tvilling's own
/// columns. Returns the new name.
pub fn column_name(source: &str, taken: &[String]) -> String {
    let mut name: String = source
        .chars()
        .map(|c| if " ,;{}()\n\t=".contains(c) { '_' } else { c })
        .collect();
    if name.is_empty() {
        name = "field".into();
    }
    if tvilling_core::schema::is_reserved(&name) {
        name = format!("src_{name}");
    }
    let base = name.clone();
    let mut i = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
        name = format!("{base}_{i}");
        i += 1;
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_unsafe_and_reserved_field_names() {
        let taken = vec!["geometry".to_string()];
        for (input, want) in [
            ("Area (m2)", "Area__m2_"),
            ("geometry", "src_geometry"),
            ("bbox_xmin", "src_bbox_xmin"),
            ("KnNamn", "KnNamn"),
        ] {
            assert_eq!(column_name(input, &taken), want);
        }
        assert_eq!(column_name("a", &["a".into()]), "a_2");
    }
}
