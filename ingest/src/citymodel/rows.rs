//! From a city model to store rows: one row per building or building part.
//!
//! ```text
//! id, bbox_*, geometry   the most detailed LOD as MultiPolygon Z (ISO WKB), one polygon per surface
//! object_type            Building | BuildingPart
//! parent_id              the building a part belongs to
//! lod                    the LOD of `geometry` ("2.2"); `lods` lists every LOD the object has ("1.2,2.2")
//! geometry_lod<L>        one MultiPolygon Z column per LOD when the dataset has more than one LOD
//! surface_types          per polygon of `geometry`, its semantic type (RoofSurface,WallSurface,…; empty
//!                        when unknown), comma separated, in polygon order: the tiler colours by it
//! footprint              2D MultiPolygon: the ground surfaces, else the union of every non-vertical
//!                        surface seen from above (roof overhangs included)
//! footprint_area         m² (CRS units²) of `footprint`
//! z_min, z_max, height   lowest and highest z of `geometry` and their difference (CRS vertical units)
//! roof_area, wall_area, ground_area   3D areas of the semantic surfaces (null without semantics)
//! <attributes>           every source attribute, typed (see `column_type`)
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::NaiveDate;
use geo::{Area, MultiPolygon};
use tvilling_core::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder,
    StringBuilder,
};
use tvilling_core::arrow::datatypes::{DataType, Field, Schema};
use tvilling_core::arrow::record_batch::RecordBatch;
use tvilling_core::crs::Crs;
use tvilling_core::provenance::QualityReport;
use tvilling_core::schema::{self, BBOX};
use tvilling_core::surfaces::{Polygon, area_3d, multipolygon_wkb, newell_normal};
use tvilling_core::wkb::{Bbox, normalize};

use super::model::{CityModel, CityObject, Surface, SurfaceType};
use crate::footprint;
use crate::vector::fields::column_name;
use crate::{Error, Result};

/// Columns tvilling derives; a source attribute with one of these names gets a `src_` prefix.
const DERIVED: [&str; 13] = [
    "object_type",
    "parent_id",
    "lod",
    "lods",
    "surface_types",
    "footprint",
    "footprint_area",
    "z_min",
    "z_max",
    "height",
    "roof_area",
    "wall_area",
    "ground_area",
];

/// The rows of a city model, ready to commit, with what was measured on the way.
pub struct Rows {
    /// The dataset schema.
    pub schema: Arc<Schema>,
    /// The rows (one batch).
    pub batch: RecordBatch,
    /// The envelope of all geometries.
    pub bbox: Option<Bbox>,
    /// Objects without any geometry.
    pub without_geometry: u64,
    /// Attribute name changes, `from -> to`.
    pub renamed: Vec<String>,
}

/// The name of the per-LOD geometry column: `geometry_lod2`, `geometry_lod1_2`.
pub fn lod_column(lod: &str) -> String {
    format!("geometry_lod{}", lod.replace('.', "_"))
}

/// Builds the rows of `model` in `crs`.
pub fn build(model: &CityModel, crs: Crs) -> Result<Rows> {
    let all_lods: BTreeSet<&str> = model
        .objects
        .iter()
        .flat_map(|o| o.lods.keys().map(String::as_str))
        .collect();
    let per_lod_columns = all_lods.len() > 1;
    let with_semantics = model
        .objects
        .iter()
        .flat_map(|o| o.lods.values().flatten())
        .any(|s| s.semantic.is_some());

    // Attribute columns: names and types over all objects, in order of first appearance.
    let mut attr_names: Vec<&str> = vec![];
    let mut attr_values: HashMap<&str, Vec<&serde_json::Value>> = HashMap::new();
    for o in &model.objects {
        for (k, v) in &o.attributes {
            let entry = attr_values.entry(k.as_str()).or_insert_with(|| {
                attr_names.push(k.as_str());
                vec![]
            });
            entry.push(v);
        }
    }
    let mut taken: Vec<String> = DERIVED.iter().map(|s| s.to_string()).collect();
    taken.extend(all_lods.iter().map(|l| lod_column(l)));
    let mut renamed = vec![];
    let mut attrs: Vec<(&str, String, DataType)> = vec![];
    for name in &attr_names {
        let col = if DERIVED.contains(name) || schema::is_reserved(name) {
            let c = column_name(&format!("src_{name}"), &taken);
            renamed.push(format!("{name} -> {c}"));
            c
        } else {
            let c = column_name(name, &taken);
            if c != *name {
                renamed.push(format!("{name} -> {c}"));
            }
            c
        };
        taken.push(col.clone());
        let ty = column_type(attr_values.get(name).map(Vec::as_slice).unwrap_or_default());
        attrs.push((name, col, ty));
    }

    let geo_meta = schema::geometry_metadata(&crs.horizontal());
    let mut fields = vec![
        Field::new("object_type", DataType::Utf8, true),
        Field::new("parent_id", DataType::Utf8, true),
        Field::new("lod", DataType::Utf8, true),
        Field::new("lods", DataType::Utf8, true),
    ];
    if per_lod_columns {
        for l in &all_lods {
            fields.push(
                Field::new(lod_column(l), DataType::Binary, true).with_metadata(geo_meta.clone()),
            );
        }
    }
    if with_semantics {
        fields.push(Field::new("surface_types", DataType::Utf8, true));
    }
    fields.push(Field::new("footprint", DataType::Binary, true).with_metadata(geo_meta.clone()));
    for f in ["footprint_area", "z_min", "z_max", "height"] {
        fields.push(Field::new(f, DataType::Float64, true));
    }
    if with_semantics {
        for f in ["roof_area", "wall_area", "ground_area"] {
            fields.push(Field::new(f, DataType::Float64, true));
        }
    }
    fields.extend(attrs.iter().map(|(_, c, t)| Field::new(c, t.clone(), true)));
    let schema = schema::dataset_schema(&crs.horizontal(), fields);

    let n = model.objects.len();
    let mut ids = StringBuilder::new();
    let mut bbox_cols: Vec<Float64Builder> = (0..6).map(|_| Float64Builder::new()).collect();
    let mut geometry = BinaryBuilder::new();
    let mut object_type = StringBuilder::new();
    let mut parent = StringBuilder::new();
    let mut lod = StringBuilder::new();
    let mut lods = StringBuilder::new();
    let mut lod_cols: BTreeMap<&str, BinaryBuilder> = all_lods
        .iter()
        .map(|l| (*l, BinaryBuilder::new()))
        .collect();
    let mut surface_types = StringBuilder::new();
    let mut footprint = BinaryBuilder::new();
    let mut measures: Vec<Float64Builder> = (0..7).map(|_| Float64Builder::new()).collect();
    let mut total: Option<Bbox> = None;
    let mut without_geometry = 0;

    for o in &model.objects {
        ids.append_value(&o.id);
        object_type.append_value(&o.object_type);
        parent.append_option(o.parent_id.as_deref());
        let main = main_lod(o);
        lod.append_option(main.map(|(l, _)| l));
        let labels: Vec<&str> = o.lods.keys().map(String::as_str).collect();
        lods.append_option((!labels.is_empty()).then(|| labels.join(",")));
        if per_lod_columns {
            for (l, b) in lod_cols.iter_mut() {
                match o.lods.get(*l).filter(|s| !s.is_empty()) {
                    Some(s) => b.append_value(multipolygon_wkb(&closed(s), true)),
                    None => b.append_null(),
                }
            }
        }
        let Some((_, surfaces)) = main else {
            without_geometry += 1;
            geometry.append_null();
            bbox_cols.iter_mut().for_each(|b| b.append_null());
            surface_types.append_null();
            footprint.append_null();
            measures.iter_mut().for_each(|b| b.append_null());
            continue;
        };
        let polys = closed(surfaces);
        let wkb = multipolygon_wkb(&polys, true);
        let b = normalize(&wkb, None)?.bbox.ok_or_else(|| {
            Error::Internal(format!("object {} has surfaces but no extent", o.id))
        })?;
        total = Some(total.map_or(b, |t| t.union(b)));
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
        surface_types.append_value(
            surfaces
                .iter()
                .map(|s| s.semantic.map_or("", SurfaceType::name))
                .collect::<Vec<_>>()
                .join(","),
        );
        let fp = footprint_of(surfaces);
        footprint.append_option((!fp.0.is_empty()).then(|| footprint::wkb(&fp)));
        let area_of = |t: SurfaceType| -> Option<f64> {
            with_semantics.then(|| {
                surfaces
                    .iter()
                    .zip(&polys)
                    .filter(|(s, _)| s.semantic == Some(t))
                    .map(|(_, p)| area_3d(p))
                    .sum()
            })
        };
        let (zmin, zmax) = (b.zmin.unwrap_or(0.0), b.zmax.unwrap_or(0.0));
        for (col, v) in measures.iter_mut().zip([
            Some(fp.unsigned_area()),
            Some(zmin),
            Some(zmax),
            Some(zmax - zmin),
            area_of(SurfaceType::Roof),
            area_of(SurfaceType::Wall),
            area_of(SurfaceType::Ground),
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
    columns.push(Arc::new(object_type.finish()));
    columns.push(Arc::new(parent.finish()));
    columns.push(Arc::new(lod.finish()));
    columns.push(Arc::new(lods.finish()));
    if per_lod_columns {
        columns.extend(
            lod_cols
                .values_mut()
                .map(|b| Arc::new(b.finish()) as ArrayRef),
        );
    }
    if with_semantics {
        columns.push(Arc::new(surface_types.finish()));
    }
    columns.push(Arc::new(footprint.finish()));
    let kept = if with_semantics { 7 } else { 4 };
    columns.extend(
        measures
            .iter_mut()
            .take(kept)
            .map(|b| Arc::new(b.finish()) as ArrayRef),
    );
    for (name, _, ty) in &attrs {
        columns.push(attribute_array(&model.objects, name, ty));
    }
    debug_assert_eq!(BBOX.len(), 6);
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    debug_assert_eq!(batch.num_rows(), n);
    Ok(Rows {
        schema,
        batch,
        bbox: total,
        without_geometry,
        renamed,
    })
}

/// Fills the quality report's measured parts from the rows.
pub fn measure(rows: &Rows, crs: Crs, quality: &mut QualityReport) {
    let b = &rows.batch;
    quality.completeness.rows_written = b.num_rows() as u64;
    quality.completeness.null_geometries = rows.without_geometry;
    quality.positional.crs = crs.to_string();
    quality.positional.extent = rows.bbox.map(|t| [t.xmin, t.ymin, t.xmax, t.ymax]);
    quality.positional.z_range = rows
        .bbox
        .and_then(|t| t.zmin.zip(t.zmax))
        .map(|(a, z)| [a, z]);
    quality.positional.within_crs_area_of_use =
        crate::vector::checks::within_area_of_use(crs, rows.bbox, &mut quality.positional.notes);
    quality.logical_consistency.renamed_columns = rows.renamed.clone();
    let written = (b.num_rows() as u64).saturating_sub(rows.without_geometry);
    if written > 0 {
        quality
            .logical_consistency
            .geometry_types
            .insert("MultiPolygon Z".into(), written);
    }
    for field in schema::attribute_fields(b.schema().as_ref()) {
        if let Some(col) = b.column_by_name(field.name()) {
            let nulls = col.null_count() as u64;
            let rows = b.num_rows().max(1) as f64;
            quality.completeness.attributes.insert(
                field.name().clone(),
                tvilling_core::provenance::AttributeFill {
                    nulls,
                    fill_rate: 1.0 - nulls as f64 / rows,
                },
            );
        }
    }
}

/// The most detailed LOD with surfaces: the highest label by number (`3` > `2.2` > `2` > `1.3`).
fn main_lod(o: &CityObject) -> Option<(&str, &[Surface])> {
    o.lods
        .iter()
        .filter(|(_, s)| !s.is_empty())
        .max_by(|(a, _), (b, _)| {
            let num = |l: &str| l.parse::<f64>().unwrap_or(-1.0);
            num(a).total_cmp(&num(b))
        })
        .map(|(l, s)| (l.as_str(), s.as_slice()))
}

/// Surfaces as WKB polygons: rings closed (WKB repeats the first vertex).
fn closed(surfaces: &[Surface]) -> Vec<Polygon> {
    surfaces
        .iter()
        .map(|s| {
            s.rings
                .iter()
                .map(|r| {
                    let mut r = r.clone();
                    if let (Some(f), Some(l)) = (r.first().copied(), r.last())
                        && f != *l
                    {
                        r.push(f);
                    }
                    r
                })
                .collect()
        })
        .collect()
}

/// The footprint seen from above: ground surfaces when the model has them (the building's own
/// statement), else the union of every surface that is not vertical, projected to 2D.
fn footprint_of(surfaces: &[Surface]) -> MultiPolygon<f64> {
    let ground: Vec<&Surface> = surfaces
        .iter()
        .filter(|s| s.semantic == Some(SurfaceType::Ground))
        .collect();
    let chosen: Vec<&Surface> = if ground.is_empty() {
        surfaces
            .iter()
            .filter(|s| {
                let n = s
                    .rings
                    .first()
                    .map(|r| newell_normal(r))
                    .unwrap_or_default();
                let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
                // Walls seen from above have no area; 1% of the normal upwards is a face tilted
                // less than ~89.4° from vertical.
                len > 0.0 && n[2].abs() > 0.01 * len
            })
            .collect()
    } else {
        ground
    };
    footprint::union(
        chosen
            .iter()
            .filter_map(|s| footprint::plan_polygon(&s.rings)),
        0.0,
    )
}

/// The Arrow type for an attribute's values: Boolean, Int64, Float64 or Date32 when every non-null value
/// fits, otherwise Utf8 (JSON text for arrays and mixed values). All-null attributes are Utf8.
fn column_type(values: &[&serde_json::Value]) -> DataType {
    use serde_json::Value;
    let present: Vec<&Value> = values.iter().copied().filter(|v| !v.is_null()).collect();
    if present.is_empty() {
        return DataType::Utf8;
    }
    if present.iter().all(|v| v.is_boolean()) {
        DataType::Boolean
    } else if present.iter().all(|v| v.is_i64()) {
        DataType::Int64
    } else if present.iter().all(|v| v.is_number()) {
        DataType::Float64
    } else if present.iter().all(|v| v.as_str().and_then(date).is_some()) {
        DataType::Date32
    } else {
        DataType::Utf8
    }
}

fn date(s: &str) -> Option<NaiveDate> {
    (s.len() == 10)
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

fn attribute_array(objects: &[CityObject], name: &str, ty: &DataType) -> ArrayRef {
    fn find<'a>(o: &'a CityObject, name: &str) -> Option<&'a serde_json::Value> {
        o.attributes
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .filter(|v| !v.is_null())
    }
    let value = |o| find(o, name);
    match ty {
        DataType::Boolean => {
            let mut b = BooleanBuilder::new();
            objects
                .iter()
                .for_each(|o| b.append_option(value(o).and_then(|v| v.as_bool())));
            Arc::new(b.finish())
        }
        DataType::Int64 => {
            let mut b = Int64Builder::new();
            objects
                .iter()
                .for_each(|o| b.append_option(value(o).and_then(|v| v.as_i64())));
            Arc::new(b.finish())
        }
        DataType::Float64 => {
            let mut b = Float64Builder::new();
            objects
                .iter()
                .for_each(|o| b.append_option(value(o).and_then(|v| v.as_f64())));
            Arc::new(b.finish())
        }
        DataType::Date32 => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            let mut b = Date32Builder::new();
            objects.iter().for_each(|o| {
                b.append_option(
                    value(o)
                        .and_then(|v| v.as_str())
                        .and_then(date)
                        .map(|d| (d - epoch).num_days() as i32),
                )
            });
            Arc::new(b.finish())
        }
        _ => {
            let mut b = StringBuilder::new();
            objects.iter().for_each(|o| {
                b.append_option(value(o).map(|v| match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                }))
            });
            Arc::new(b.finish())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cube(id: &str, x: f64, h: f64) -> CityObject {
        let sq = |z: f64| {
            vec![
                [x, 0.0, z],
                [x + 10.0, 0.0, z],
                [x + 10.0, 10.0, z],
                [x, 10.0, z],
            ]
        };
        let mut ground = sq(0.0);
        ground.reverse();
        let walls = (0..4).map(|i| {
            let a = sq(0.0)[i];
            let b = sq(0.0)[(i + 1) % 4];
            Surface {
                rings: vec![vec![a, b, [b[0], b[1], h], [a[0], a[1], h]]],
                semantic: Some(SurfaceType::Wall),
            }
        });
        let mut surfaces = vec![
            Surface {
                rings: vec![ground],
                semantic: Some(SurfaceType::Ground),
            },
            Surface {
                rings: vec![sq(h)],
                semantic: Some(SurfaceType::Roof),
            },
        ];
        surfaces.extend(walls);
        CityObject {
            id: id.into(),
            object_type: "Building".into(),
            parent_id: None,
            attributes: vec![],
            lods: BTreeMap::from([("2".to_string(), surfaces)]),
        }
    }

    #[test]
    fn derives_footprint_height_and_semantic_areas() {
        let model = CityModel {
            objects: vec![cube("a", 0.0, 6.0)],
            ..Default::default()
        };
        let rows = build(&model, Crs::epsg(3006, Some(5613))).unwrap();
        let b = &rows.batch;
        let f = |name: &str| {
            b.column_by_name(name)
                .unwrap()
                .as_any()
                .downcast_ref::<tvilling_core::arrow::array::Float64Array>()
                .unwrap()
                .value(0)
        };
        assert_eq!(f("footprint_area"), 100.0);
        assert_eq!(f("height"), 6.0);
        assert_eq!(f("roof_area"), 100.0);
        assert_eq!(f("wall_area"), 240.0);
        assert_eq!(f("ground_area"), 100.0);
        assert_eq!(f("bbox_zmax"), 6.0);
    }

    #[test]
    fn types_attributes_from_their_values() {
        let mut a = cube("a", 0.0, 6.0);
        let mut b = cube("b", 20.0, 9.0);
        a.attributes = vec![
            ("floors".into(), json!(2)),
            ("h".into(), json!(6.5)),
            ("public".into(), json!(true)),
            ("validFrom".into(), json!("2021-03-01")),
            ("height".into(), json!(6)),
            ("mixed".into(), json!(1)),
        ];
        b.attributes = vec![
            ("floors".into(), json!(null)),
            ("h".into(), json!(9)),
            ("validFrom".into(), json!("2022-01-31")),
            ("mixed".into(), json!("x")),
        ];
        let model = CityModel {
            objects: vec![a, b],
            ..Default::default()
        };
        let rows = build(&model, Crs::epsg(3006, None)).unwrap();
        let s = rows.batch.schema();
        let ty = |n: &str| s.field_with_name(n).unwrap().data_type().clone();
        assert_eq!(ty("floors"), DataType::Int64);
        assert_eq!(ty("h"), DataType::Float64);
        assert_eq!(ty("public"), DataType::Boolean);
        assert_eq!(ty("validFrom"), DataType::Date32);
        assert_eq!(ty("mixed"), DataType::Utf8);
        assert_eq!(ty("src_height"), DataType::Int64);
        assert_eq!(rows.renamed, vec!["height -> src_height".to_string()]);
    }

    #[test]
    fn writes_one_geometry_column_per_lod_when_there_are_several() {
        let mut a = cube("a", 0.0, 6.0);
        let lod2 = a.lods.get("2").cloned().unwrap_or_default();
        a.lods.insert("1".into(), lod2);
        let model = CityModel {
            objects: vec![a],
            ..Default::default()
        };
        let rows = build(&model, Crs::epsg(3006, None)).unwrap();
        assert!(rows.batch.column_by_name("geometry_lod1").is_some());
        assert!(rows.batch.column_by_name("geometry_lod2").is_some());
        let lod = rows.batch.column_by_name("lod").unwrap();
        let lod = lod
            .as_any()
            .downcast_ref::<tvilling_core::arrow::array::StringArray>()
            .unwrap();
        assert_eq!(lod.value(0), "2");
    }
}
