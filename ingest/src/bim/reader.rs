//! The `bim` [`SourceReader`]: reads an IFC STEP file, georeferences it and writes one row per product.

use std::io::Read;
use std::path::Path;

use tvilling_core::crs::{Crs, Transformer};
use tvilling_core::progress::Progress;
use tvilling_core::provenance::{AttributeFill, Issue};
use tvilling_core::{Kind, QualityReport};

use super::georef::{self, Georef};
use super::math::Mat;
use super::model::{self, Model};
use super::rows;
use crate::reader::{ReadOptions, ReadOutput, SourceReader};
use crate::{Error, Result};

/// Reads IFC2X3, IFC4 and IFC4X3 STEP files (`.ifc`) into one row per product with a body.
#[derive(Debug, Clone, Copy, Default)]
pub struct BimReader;

/// Whether `path` looks like an IFC STEP file: the `.ifc` extension (an empty or broken `.ifc` is
/// accepted so that `read` can say what is wrong with it), or a `.stp`/`.step` file whose header names
/// an IFC schema.
fn is_ifc(path: &Path) -> bool {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "ifc" => true,
        "stp" | "step" => {
            let mut head = vec![0u8; 4096];
            let n = std::fs::File::open(path)
                .and_then(|mut f| f.read(&mut head))
                .unwrap_or(0);
            let head = String::from_utf8_lossy(&head[..n]).to_ascii_uppercase();
            head.contains("ISO-10303-21") && head.contains("FILE_SCHEMA") && head.contains("'IFC")
        }
        _ => false,
    }
}

impl SourceReader for BimReader {
    fn name(&self) -> &'static str {
        "bim"
    }
    fn kind(&self) -> Kind {
        Kind::Bim
    }
    fn accepts(&self, path: &Path) -> bool {
        path.is_file() && is_ifc(path)
    }
    fn read(
        &self,
        path: &Path,
        opts: &ReadOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<ReadOutput>> {
        if opts.layer.is_some() {
            return Err(Error::BadInput(format!(
                "{}: an IFC model has no layers; drop --layer",
                path.display()
            )));
        }
        progress.set_message("reading IFC");
        let data = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bytes = data.len();
        let model =
            model::read(data).map_err(|e| Error::BadInput(format!("{}: {e}", path.display())))?;
        if opts.crs.is_some() && (opts.place.is_some() || model.map.is_none()) {
            return Err(Error::BadInput(format!(
                "{}: --crs names the CRS of an IfcMapConversion, and {}; place the model with --place \
                 lon,lat,height,rotation instead",
                path.display(),
                if opts.place.is_some() {
                    "--place puts the model in its UTM zone"
                } else {
                    "this model has none"
                }
            )));
        }
        let mut geo = georef::decide(path, &with_crs(&model, opts.crs), opts.place)?;
        if let Some(to) = opts.to_crs
            && to.horizontal_code() != geo.crs.horizontal_code()
        {
            geo = reproject(geo, to)?;
        }
        progress.set_message("writing rows");
        let built = rows::build(&model, &geo)?;
        let quality = report(&model, &geo, &built);
        progress.finish();
        Ok(vec![ReadOutput {
            layer: None,
            schema: built.schema,
            batches: vec![built.batch].into(),
            crs: geo.crs,
            geometry_type: Some("MultiPolygon Z".into()),
            quality,
            source_metadata: metadata(&model, &geo, bytes),
        }])
    }
}

/// `--crs` overrides the name of the map conversion's CRS.
fn with_crs(model: &Model, crs: Option<Crs>) -> Model {
    let mut m = Model {
        schema: model.schema.clone(),
        units: model.units,
        site: model.site,
        true_north: model.true_north,
        map: model.map.clone(),
        ..Model::default()
    };
    if let (Some(c), Some(map)) = (crs, m.map.as_mut()) {
        map.crs_name = c.to_string();
        map.vertical = c.vertical();
    }
    m
}

/// `--to-crs`: the placement is affine in the source CRS; another CRS needs PROJ per vertex, which is
/// approximated here by an affine fit through three transformed points 100 m apart (exact to well below
/// a millimetre over a building's extent, where a projection is locally affine).
fn reproject(geo: Georef, to: Crs) -> Result<Georef> {
    let t = Transformer::new(geo.crs, to)?;
    let at = |p: [f64; 3]| -> Result<[f64; 3]> {
        let mut q = geo.transform.apply(p);
        t.apply(&mut q)?;
        Ok(q)
    };
    let o = at([0.0; 3])?;
    let x = at([100.0, 0.0, 0.0])?;
    let y = at([0.0, 100.0, 0.0])?;
    let d = |a: [f64; 3], b: [f64; 3]| {
        [
            (a[0] - b[0]) / 100.0,
            (a[1] - b[1]) / 100.0,
            (a[2] - b[2]) / 100.0,
        ]
    };
    let mut notes = geo.notes;
    notes.push(format!(
        "reprojected from {} to {to}; heights unchanged",
        geo.crs
    ));
    Ok(Georef {
        crs: Crs::epsg(
            to.horizontal_code(),
            to.vertical_code().or(geo.crs.vertical_code()),
        ),
        transform: Mat {
            x: d(x, o),
            y: d(y, o),
            z: geo.transform.z,
            t: o,
        },
        source: geo.source,
        notes,
    })
}

fn report(model: &Model, geo: &Georef, built: &rows::Rows) -> QualityReport {
    let mut q = QualityReport::default();
    let rows = built.batch.num_rows() as u64;
    let rejected = model.rejected.len() as u64;
    q.completeness.source_count = Some(model.classes.values().sum());
    q.completeness.features_read = rows + rejected;
    q.completeness.rows_written = rows;
    q.completeness.rejected = rejected;
    for i in model.rejected.iter().take(QualityReport::MAX_EXAMPLES) {
        q.rejected.push(i.clone());
    }
    for field in tvilling_core::schema::attribute_fields(built.batch.schema().as_ref()) {
        if let Some(col) = built.batch.column_by_name(field.name()) {
            let nulls = col.null_count() as u64;
            q.completeness.attributes.insert(
                field.name().clone(),
                AttributeFill {
                    nulls,
                    fill_rate: 1.0 - nulls as f64 / (rows.max(1) as f64),
                },
            );
        }
    }
    let lc = &mut q.logical_consistency;
    lc.id_source = "IFC GlobalId".into();
    lc.renamed_columns = built.renamed.clone();
    if rows > 0 {
        lc.geometry_types.insert("MultiPolygon Z".into(), rows);
    }
    lc.invalid_geometries = model.issues.len() as u64;
    for i in model.issues.iter().take(QualityReport::MAX_EXAMPLES) {
        lc.invalid_examples.push(i.clone());
    }
    let mut seen = std::collections::HashMap::<&str, u32>::new();
    for e in &model.elements {
        *seen.entry(e.global_id.as_str()).or_default() += 1;
        if e.global_id.is_empty() {
            lc.empty_ids += 1;
        }
    }
    for (id, n) in seen.iter().filter(|(_, n)| **n > 1) {
        lc.duplicate_ids += u64::from(*n - 1);
        QualityReport::example(
            &mut lc.duplicate_examples,
            Issue {
                feature: None,
                id: Some(id.to_string()),
                reason: format!("GlobalId occurs {n} times"),
            },
        );
    }
    let p = &mut q.positional;
    p.crs = geo.crs.to_string();
    p.crs_source = geo.source.clone();
    p.extent = built.bbox.map(|b| [b.xmin, b.ymin, b.xmax, b.ymax]);
    p.z_range = built
        .bbox
        .and_then(|b| b.zmin.zip(b.zmax))
        .map(|(a, z)| [a, z]);
    p.notes.extend(geo.notes.iter().cloned());
    p.notes.extend(model.notes.iter().cloned());
    p.within_crs_area_of_use =
        crate::vector::checks::within_area_of_use(geo.crs, built.bbox, &mut p.notes);
    let approximations: Vec<&String> = model
        .elements
        .iter()
        .flat_map(|e| &e.approximations)
        .collect();
    p.notes.push(format!(
        "openings (IfcRelVoidsElement) are cut out where they are convex solids; {} approximations{}",
        approximations.len(),
        if approximations.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                approximations.iter().take(20).map(|s| s.as_str()).collect::<Vec<_>>().join("; ")
            )
        }
    ));
    q.content.insert("ifc".into(), content(model));
    q
}

fn content(model: &Model) -> serde_json::Value {
    let mut rows_per_class = std::collections::BTreeMap::<&str, u64>::new();
    for e in &model.elements {
        *rows_per_class.entry(e.class.as_str()).or_default() += 1;
    }
    serde_json::json!({
        "schema": model.schema,
        "products": model.classes,
        "rows_per_class": rows_per_class,
        "storeys": model.storeys.iter().map(|(n, e)| serde_json::json!({"name": n, "elevation_m": e})).collect::<Vec<_>>(),
    })
}

fn metadata(model: &Model, geo: &Georef, bytes: usize) -> serde_json::Value {
    serde_json::json!({
        "format": "IFC (ISO 10303-21)",
        "schema": model.schema,
        "bytes": bytes,
        "entities": model.entities,
        "length_unit": model.units.length_name,
        "metres_per_unit": model.units.length,
        "georeference": geo.source,
        "site": model.site.map(|s| serde_json::json!({"lat": s.lat, "lon": s.lon, "elevation_m": s.elevation})),
        "true_north": model.true_north,
        "map_conversion": model.map.as_ref().map(|m| serde_json::json!({
            "crs": m.crs_name, "eastings": m.origin[0], "northings": m.origin[1],
            "orthogonal_height": m.origin[2], "x_axis": m.x_axis, "scale": m.scale,
        })),
        "storeys": model.storeys.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
    })
}
