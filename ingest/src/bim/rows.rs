//! From the model to store rows: one row per product with a body.
//!
//! ```text
//! id, bbox_*, geometry   GlobalId; the body as MultiPolygon Z (ISO WKB) in the dataset CRS, one polygon
//!                        per face, outward-facing
//! global_id              GlobalId (also the stable id)
//! ifc_class              IfcWall, IfcWallStandardCase, IfcSlab, … as the schema spells it
//! name, storey, type_name, material   Name; the IfcBuildingStorey it is on (containment or aggregation);
//!                        the type object's Name; material names joined with ", "
//! colour                 #RRGGBBAA from the body's surface style, else the material's, else null (the
//!                        tiler uses a class default then); alpha < FF is translucent
//! step_id, openings      the entity's #id in the file; how many openings void it (convex ones are cut)
//! footprint              2D MultiPolygon: every non-vertical face seen from above, unioned
//! footprint_area, volume m², m³ (volume of the body as drawn; null
//!                        for surface models, which enclose nothing)
//! z_min, z_max, height   metres in the dataset's heights
//! <Set>.<Property>       every property and quantity (`Pset_WallCommon.IsExternal`,
//!                        `Qto_WallBaseQuantities.Length`), typed Boolean/Int64/Float64/Utf8, in the file's
//!                        units; a type's sets are inherited, the occurrence's values win
//! ```

use std::collections::HashMap;
use std::sync::Arc;

use geo::{Area, MultiPolygon};
use tvilling_core::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
};
use tvilling_core::arrow::datatypes::{DataType, Field, Schema};
use tvilling_core::arrow::record_batch::RecordBatch;
use tvilling_core::schema;
use tvilling_core::surfaces::{Polygon, multipolygon_wkb, newell_normal};
use tvilling_core::wkb::{Bbox, normalize};

use super::georef::Georef;
use super::model::{Element, Model};
use super::props::PValue;
use super::solid::volume;
use crate::footprint;
use crate::vector::fields::column_name;
use crate::{Error, Result};

/// Columns tvilling writes; a property set named like one gets a `src_` prefix.
const DERIVED: [&str; 16] = [
    "global_id",
    "ifc_class",
    "name",
    "storey",
    "type_name",
    "material",
    "colour",
    "representation",
    "footprint",
    "footprint_area",
    "volume",
    "z_min",
    "z_max",
    "height",
    "step_id",
    "openings",
];

/// The rows, with what was measured on the way.
pub struct Rows {
    /// The dataset schema.
    pub schema: Arc<Schema>,
    /// The rows (one batch).
    pub batch: RecordBatch,
    /// The envelope of all geometries.
    pub bbox: Option<Bbox>,
    /// Attribute name changes, `from -> to`.
    pub renamed: Vec<String>,
}

/// The body of an element in the dataset CRS, as WKB polygons (rings closed).
pub fn polygons(e: &Element, g: &Georef) -> Vec<Polygon> {
    e.faces
        .iter()
        .map(|face| {
            face.iter()
                .map(|r| {
                    let mut ring: Vec<[f64; 3]> = r.iter().map(|p| g.transform.apply(*p)).collect();
                    if let Some(first) = ring.first().copied() {
                        ring.push(first);
                    }
                    ring
                })
                .collect()
        })
        .collect()
}

/// Builds the rows of `model` placed by `g`.
pub fn build(model: &Model, g: &Georef) -> Result<Rows> {
    // Property columns: names over all elements in order of first appearance, typed by their values.
    let mut names: Vec<&str> = vec![];
    let mut kinds: HashMap<&str, DataType> = HashMap::new();
    for e in &model.elements {
        for (k, v) in &e.properties {
            let t = match v {
                PValue::Bool(_) => DataType::Boolean,
                PValue::Int(_) => DataType::Int64,
                PValue::Real(_) => DataType::Float64,
                PValue::Text(_) => DataType::Utf8,
            };
            match kinds.get(k.as_str()) {
                None => {
                    names.push(k);
                    kinds.insert(k, t);
                }
                Some(have) if *have == t => {}
                Some(have) => {
                    let merged = match (have, &t) {
                        (DataType::Int64, DataType::Float64)
                        | (DataType::Float64, DataType::Int64) => DataType::Float64,
                        _ => DataType::Utf8,
                    };
                    kinds.insert(k, merged);
                }
            }
        }
    }
    let mut taken: Vec<String> = DERIVED.iter().map(|s| s.to_string()).collect();
    let mut renamed = vec![];
    let mut props: Vec<(&str, String, DataType)> = vec![];
    for n in &names {
        let col = if DERIVED.contains(n) || schema::is_reserved(n) {
            column_name(&format!("src_{n}"), &taken)
        } else {
            column_name(n, &taken)
        };
        if col != *n {
            renamed.push(format!("{n} -> {col}"));
        }
        taken.push(col.clone());
        props.push((*n, col, kinds.get(n).cloned().unwrap_or(DataType::Utf8)));
    }

    let crs = g.crs.horizontal();
    let geo_meta = schema::geometry_metadata(&crs);
    let mut fields = vec![
        Field::new("global_id", DataType::Utf8, false),
        Field::new("ifc_class", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("storey", DataType::Utf8, true),
        Field::new("type_name", DataType::Utf8, true),
        Field::new("material", DataType::Utf8, true),
        Field::new("colour", DataType::Utf8, true),
        Field::new("representation", DataType::Utf8, true),
        Field::new("step_id", DataType::Int64, false),
        Field::new("openings", DataType::Int64, false),
        Field::new("footprint", DataType::Binary, true).with_metadata(geo_meta),
    ];
    for f in ["footprint_area", "volume", "z_min", "z_max", "height"] {
        fields.push(Field::new(f, DataType::Float64, true));
    }
    fields.extend(props.iter().map(|(_, c, t)| Field::new(c, t.clone(), true)));
    let schema = schema::dataset_schema(&crs, fields);

    let mut ids = StringBuilder::new();
    let mut bbox_cols: Vec<Float64Builder> = (0..6).map(|_| Float64Builder::new()).collect();
    let mut geometry = BinaryBuilder::new();
    let mut text: Vec<StringBuilder> = (0..8).map(|_| StringBuilder::new()).collect();
    let mut step_id = Int64Builder::new();
    let mut openings = Int64Builder::new();
    let mut footprint = BinaryBuilder::new();
    let mut measures: Vec<Float64Builder> = (0..5).map(|_| Float64Builder::new()).collect();
    let mut total: Option<Bbox> = None;

    for e in &model.elements {
        let polys = polygons(e, g);
        let wkb = multipolygon_wkb(&polys, true);
        let b = normalize(&wkb, None)?.bbox.ok_or_else(|| {
            Error::Internal(format!("element #{} has faces but no extent", e.step_id))
        })?;
        total = Some(total.map_or(b, |t| t.union(b)));
        ids.append_value(&e.global_id);
        for (col, v) in bbox_cols.iter_mut().zip([
            Some(b.xmin),
            Some(b.ymin),
            Some(b.xmax),
            Some(b.ymax),
            b.zmin,
            b.zmax,
        ]) {
            col.append_option(v);
        }
        geometry.append_value(&wkb);
        let colour = e
            .colour
            .map(|c| format!("#{:02X}{:02X}{:02X}{:02X}", c[0], c[1], c[2], c[3]));
        for (col, v) in text.iter_mut().zip([
            Some(e.global_id.as_str()),
            Some(e.class.as_str()),
            e.name.as_deref(),
            e.storey.as_deref(),
            e.type_name.as_deref(),
            e.material.as_deref(),
            colour.as_deref(),
            Some(e.representation.as_str()),
        ]) {
            col.append_option(v);
        }
        step_id.append_value(e.step_id as i64);
        openings.append_value(e.openings as i64);
        let fp = footprint_of(&polys);
        footprint.append_option((!fp.0.is_empty()).then(|| footprint::wkb(&fp)));
        let (zmin, zmax) = (b.zmin.unwrap_or(0.0), b.zmax.unwrap_or(0.0));
        // Volume in model metres (the CRS transform is a rotation and shift, or a scale for odd units).
        let v = volume(&e.faces);
        for (col, v) in measures.iter_mut().zip([
            Some(fp.unsigned_area()),
            (e.closed && v.is_finite() && v.abs() > 0.0).then_some(v.abs()),
            Some(zmin),
            Some(zmax),
            Some(zmax - zmin),
        ]) {
            col.append_option(v);
        }
    }

    let mut columns: Vec<ArrayRef> = vec![Arc::new(ids.finish())];
    columns.extend(
        bbox_cols
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef),
    );
    columns.push(Arc::new(geometry.finish()));
    columns.extend(text.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.push(Arc::new(step_id.finish()));
    columns.push(Arc::new(openings.finish()));
    columns.push(Arc::new(footprint.finish()));
    columns.extend(
        measures
            .iter_mut()
            .map(|b| Arc::new(b.finish()) as ArrayRef),
    );
    for (name, _, ty) in &props {
        columns.push(property_array(&model.elements, name, ty));
    }
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    Ok(Rows {
        schema,
        batch,
        bbox: total,
        renamed,
    })
}

fn property_array(elements: &[Element], name: &str, ty: &DataType) -> ArrayRef {
    let find = |e: &Element| {
        e.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    match ty {
        DataType::Boolean => {
            let mut b = BooleanBuilder::new();
            for e in elements {
                b.append_option(match find(e) {
                    Some(PValue::Bool(v)) => Some(v),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        DataType::Int64 => {
            let mut b = Int64Builder::new();
            for e in elements {
                b.append_option(match find(e) {
                    Some(PValue::Int(v)) => Some(v),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::new();
            for e in elements {
                b.append_option(match find(e) {
                    Some(PValue::Real(v)) => Some(v),
                    Some(PValue::Int(v)) => Some(v as f64),
                    _ => None,
                });
            }
            Arc::new(b.finish())
        }
        _ => {
            let mut b = StringBuilder::new();
            for e in elements {
                b.append_option(find(e).map(|v| match v {
                    PValue::Text(s) => s,
                    PValue::Bool(v) => v.to_string(),
                    PValue::Int(v) => v.to_string(),
                    PValue::Real(v) => v.to_string(),
                }));
            }
            Arc::new(b.finish())
        }
    }
}

/// Every face that is not vertical, projected to 2D and unioned.
fn footprint_of(polys: &[Polygon]) -> MultiPolygon<f64> {
    let upward = polys
        .iter()
        .filter(|p| {
            p.first().is_some_and(|r| {
                let n = newell_normal(r);
                let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
                // 1% of the normal upwards: faces tilted less than ~89.4° from vertical.
                len > 0.0 && n[2].abs() > 0.01 * len
            })
        })
        .filter_map(|p| footprint::plan_polygon(p));
    footprint::union(upward, 1e-9)
}
