//! Geometry values inside SQL: which columns hold geometries, their CRS, and reading any of them as ISO WKB.
//!
//! The store keeps geometries as ISO WKB with GeoArrow `geoarrow.wkb` field metadata; geodatafusion's
//! functions may return native GeoArrow arrays (points as structs, unions…), and a bare `Utf8` argument is
//! read as WKT, as geodatafusion does. Every tvilling function reads its geometry arguments through
//! [`wkb_array`], so all of these mix freely.

use deltalake::arrow::array::{Array, ArrayRef, BinaryArray};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, Field};
use deltalake::datafusion::common::{DataFusionError, Result, ScalarValue};
use geoarrow_array::GeoArrowArray;
use geoarrow_array::array::from_arrow_array;
use geoarrow_array::cast::to_wkb;

const EXTENSION_NAME: &str = "ARROW:extension:name";
const EXTENSION_METADATA: &str = "ARROW:extension:metadata";

/// Whether a field holds geometries: GeoArrow extension metadata, or the store's `geometry` column.
pub fn is_geometry(field: &Field) -> bool {
    field
        .metadata()
        .get(EXTENSION_NAME)
        .is_some_and(|n| n.starts_with("geoarrow.") && n != "geoarrow.box")
}

/// The CRS recorded on a geometry field, as text (`EPSG:3006` for the store's columns; a PROJJSON CRS is
/// named by its `id`, else given as its JSON). `None` means unknown, PostGIS' SRID 0.
pub fn crs_of(field: &Field) -> Option<String> {
    let meta = field.metadata().get(EXTENSION_METADATA)?;
    let value: serde_json::Value = serde_json::from_str(meta).ok()?;
    match value.get("crs")? {
        serde_json::Value::String(s) if !s.is_empty() => Some(normalize_crs(s)),
        serde_json::Value::Object(o) => match o.get("id") {
            Some(id) => Some(format!(
                "{}:{}",
                id.get("authority")?.as_str()?,
                id.get("code")?
            )),
            None => Some(serde_json::Value::Object(o.clone()).to_string()),
        },
        _ => None,
    }
}

/// `EPSG:3006`, `epsg:3006` and the OGC URN spell the same CRS; compare them in one spelling.
fn normalize_crs(s: &str) -> String {
    let t = s.trim();
    if let Some(code) = t
        .strip_prefix("urn:ogc:def:crs:EPSG::")
        .or_else(|| t.strip_prefix("urn:ogc:def:crs:EPSG:"))
    {
        return format!("EPSG:{code}");
    }
    match t.split_once(':') {
        Some((auth, code)) if auth.eq_ignore_ascii_case("epsg") => format!("EPSG:{code}"),
        _ => t.to_string(),
    }
}

/// The one CRS of a function's geometry arguments (`(argument index, field)`), or a planning error naming both
/// when two known CRS differ. An unknown CRS (SRID 0) mixes with a known one (see docs/sql.md).
pub fn common_crs<'a>(
    function: &str,
    geometries: impl IntoIterator<Item = (usize, &'a Field)>,
) -> Result<Option<String>> {
    let mut first: Option<(String, usize)> = None;
    for (i, field) in geometries {
        let Some(crs) = crs_of(field) else { continue };
        match &first {
            Some((c, j)) if *c != crs => {
                let code = c.strip_prefix("EPSG:").unwrap_or(c);
                return Err(DataFusionError::Plan(format!(
                    "{function}: geometries are in different CRS ({c} in argument {}, {crs} in argument {}); \
                     transform one first, e.g. ST_Transform(geom, {code})",
                    j + 1,
                    i + 1
                )));
            }
            Some(_) => {}
            None => first = Some((crs, i)),
        }
    }
    Ok(first.map(|(c, _)| c))
}

/// The PostGIS SRID of a CRS: the EPSG code, or 0 when unknown or not an EPSG CRS.
pub fn srid(crs: Option<&str>) -> i32 {
    crs.and_then(|c| c.strip_prefix("EPSG:"))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// The CRS named by a PostGIS SRID argument (`3006`) or a CRS string (`'EPSG:3006'`); 0 means unknown.
pub fn crs_from_scalar(value: &ScalarValue, function: &str) -> Result<Option<String>> {
    if value.is_null() {
        return Ok(None);
    }
    if let Ok(code) = value.cast_to(&DataType::Int64)
        && let ScalarValue::Int64(Some(code)) = code
    {
        return Ok((code != 0).then(|| format!("EPSG:{code}")));
    }
    match value {
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => Ok(Some(normalize_crs(s))),
        other => Err(DataFusionError::Plan(format!(
            "{function}: the SRID must be an integer EPSG code like 3006 or a string like 'EPSG:3006', not {other}"
        ))),
    }
}

/// A WKB geometry field with GeoArrow metadata naming `crs`.
pub fn wkb_field(name: &str, crs: Option<&str>, nullable: bool) -> Field {
    let meta = match crs {
        Some(crs) => tvilling_core::schema::geometry_metadata(crs),
        None => std::collections::HashMap::from([
            (EXTENSION_NAME.to_string(), "geoarrow.wkb".to_string()),
            (EXTENSION_METADATA.to_string(), "{}".to_string()),
        ]),
    };
    Field::new(name, DataType::Binary, nullable).with_metadata(meta)
}

/// Reads a geometry argument (WKB in any binary type, WKT text, or a native GeoArrow array) as ISO WKB.
pub fn wkb_array(array: &ArrayRef, field: &Field) -> Result<BinaryArray> {
    match array.data_type() {
        DataType::Null => Ok(BinaryArray::new_null(array.len())),
        DataType::Binary => Ok(binary(array)?.clone()),
        DataType::LargeBinary | DataType::BinaryView => {
            Ok(binary(&cast(array, &DataType::Binary)?)?.clone())
        }
        _ => {
            let field = field.clone().with_data_type(array.data_type().clone());
            let geo = from_arrow_array(array.as_ref(), &field).map_err(|e| {
                DataFusionError::Plan(format!(
                    "`{}` is not a geometry ({}): {e}; pass a geometry column or ST_GeomFromText('…')",
                    field.name(),
                    array.data_type()
                ))
            })?;
            let wkb = to_wkb::<i32>(geo.as_ref()).map_err(|e| {
                DataFusionError::Execution(format!(
                    "cannot read `{}` as a geometry: {e}",
                    field.name()
                ))
            })?;
            Ok(wkb
                .to_array_ref()
                .as_any()
                .downcast_ref::<BinaryArray>()
                .cloned()
                .ok_or_else(|| {
                    DataFusionError::Internal("GeoArrow WKB array is not Binary".to_string())
                })?)
        }
    }
}

fn binary(array: &ArrayRef) -> Result<&BinaryArray> {
    array.as_any().downcast_ref::<BinaryArray>().ok_or_else(|| {
        DataFusionError::Internal(format!("expected Binary, got {}", array.data_type()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crs_spellings_compare_equal() {
        for s in ["EPSG:3006", "epsg:3006", "urn:ogc:def:crs:EPSG::3006"] {
            assert_eq!(normalize_crs(s), "EPSG:3006");
        }
        assert_eq!(srid(Some("EPSG:3006")), 3006);
        assert_eq!(srid(None), 0);
    }

    #[test]
    fn reads_the_store_field_crs() {
        let f = wkb_field("geometry", Some("EPSG:3006"), true);
        assert!(is_geometry(&f));
        assert_eq!(crs_of(&f).as_deref(), Some("EPSG:3006"));
        assert_eq!(crs_of(&wkb_field("g", None, true)), None);
    }
}
