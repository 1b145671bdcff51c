//! The GDAL vector reader: one pass over each layer builds Arrow batches, ids, envelopes and the quality
//! report together.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use gdal::cpl::CslStringList;
use gdal::vector::{Geometry, LayerAccess, OGRFieldType};
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use geo::algorithm::Validation;
use tvilling_core::arrow::array::{ArrayRef, BinaryBuilder, Float64Builder, StringBuilder};
use tvilling_core::arrow::datatypes::Field;
use tvilling_core::arrow::record_batch::RecordBatch;
use tvilling_core::crs::{Crs, Transformer};
use tvilling_core::progress::Progress;
use tvilling_core::provenance::{AttributeFill, Issue};
use tvilling_core::wkb::{self, Bbox};
use tvilling_core::{Kind, QualityReport, schema};

use super::checks::{content_id, suggest, within_area_of_use};
use super::crs::{check_degrees, decide};
use super::fields::{Column, arrow_type, column_name, text};
use super::ogr_ffi::field_value;
use crate::reader::{ReadOptions, ReadOutput, SourceReader};
use crate::{Error, Result, gdal_errors};

/// Rows per Arrow batch: large enough for efficient Parquet pages, small enough to keep memory flat.
const BATCH_ROWS: usize = 65_536;

/// Reads every OGR vector format of the system GDAL.
#[derive(Debug, Clone, Copy, Default)]
pub struct VectorReader;

impl SourceReader for VectorReader {
    fn name(&self) -> &'static str {
        "gdal-vector"
    }
    fn kind(&self) -> Kind {
        Kind::Vector
    }
    fn accepts(&self, _path: &Path) -> bool {
        true
    }
    fn read(
        &self,
        path: &Path,
        opts: &ReadOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<ReadOutput>> {
        gdal_errors::install();
        gdal_errors::take();
        let ds = open(path)?;
        let driver = ds.driver().short_name();
        let names: Vec<String> = ds.layers().map(|l| l.name()).collect();
        let selected = match &opts.layer {
            Some(l) if names.contains(l) => vec![l.clone()],
            Some(l) => {
                return Err(Error::NoSuchLayer {
                    path: path.into(),
                    layer: l.clone(),
                    available: names,
                });
            }
            None => names,
        };
        if selected.is_empty() {
            return Err(Error::BadInput(format!(
                "{} has no vector layers",
                path.display()
            )));
        }
        let implicit_wgs84 = driver == "GeoJSON" && !declares_crs_member(path);
        let mut out = vec![];
        for name in selected {
            let mut layer = ds
                .layer_by_name(&name)
                .map_err(|e| gdal_err(path, "opening layer", e))?;
            out.push(read_layer(
                path,
                &driver,
                &mut layer,
                opts,
                implicit_wgs84,
                progress,
            )?);
        }
        Ok(out)
    }
}

fn open(path: &Path) -> Result<Dataset> {
    if !path.exists() {
        return Err(Error::BadInput(format!(
            "cannot read source {}: no such file or folder",
            path.display()
        )));
    }
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    // CSV carries no types or geometry column declaration: let GDAL detect types and a WKT column.
    let csv_options = [
        "AUTODETECT_TYPE=YES",
        "GEOM_POSSIBLE_NAMES=WKT,wkt,geometry,geom,the_geom",
        "KEEP_GEOM_COLUMNS=NO",
    ];
    let options = DatasetOptions {
        open_flags: GdalOpenFlags::GDAL_OF_VECTOR
            | GdalOpenFlags::GDAL_OF_READONLY
            | GdalOpenFlags::GDAL_OF_VERBOSE_ERROR,
        open_options: is_csv.then_some(&csv_options[..]),
        ..Default::default()
    };
    Dataset::open_ex(path, options).map_err(|e| {
        let (errors, _) = gdal_errors::take();
        let detail = errors.last().cloned().unwrap_or_default();
        // No driver claiming the file is reported as "not recognized", or with no message at all.
        if detail.is_empty() || detail.contains("not recognized as") || detail.contains("not recognised") {
            let detail = if detail.is_empty() { format!("no GDAL driver recognised it; {e}") } else { detail };
            Error::BadInput(format!(
                "{} is not in a vector format GDAL recognises ({detail}); convert it to GeoPackage, GeoJSON or \
                 Shapefile, or check that the file is complete (`ogrinfo --formats` lists the formats)",
                path.display()
            ))
        } else {
            Error::BadInput(format!(
                "GDAL cannot read {}: {detail}; check that the file is complete and well-formed",
                path.display()
            ))
        }
    })
}

/// Whether a GeoJSON file names its CRS (the 2008 `crs` member) in its first megabyte.
fn declares_crs_member(path: &Path) -> bool {
    let mut head = vec![0u8; 1 << 20];
    let n = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    String::from_utf8_lossy(&head[..n]).contains("\"crs\"")
}

fn gdal_err(path: &Path, what: &str, e: gdal::errors::GdalError) -> Error {
    Error::Gdal {
        context: format!("{} ({what})", path.display()),
        message: e.to_string(),
    }
}

struct Attr {
    source: String,
    column: String,
    ty: OGRFieldType::Type,
    nulls: u64,
    builder: Column,
}

struct Builders {
    id: StringBuilder,
    bbox: [Float64Builder; 6],
    geometry: BinaryBuilder,
    rows: usize,
}

impl Builders {
    fn new() -> Self {
        Builders {
            id: StringBuilder::new(),
            bbox: std::array::from_fn(|_| Float64Builder::new()),
            geometry: BinaryBuilder::new(),
            rows: 0,
        }
    }
}

fn read_layer(
    path: &Path,
    driver: &str,
    layer: &mut gdal::vector::Layer<'_>,
    opts: &ReadOptions,
    implicit_wgs84: bool,
    progress: &dyn Progress,
) -> Result<ReadOutput> {
    let layer_name = layer.name();
    let source_count = layer.try_feature_count();
    // Drivers without a cheap extent (GeoJSON) are scanned: the CRS check below needs it.
    let extent = layer
        .try_get_extent()
        .ok()
        .flatten()
        .or_else(|| layer.get_extent().ok())
        .map(|e| Bbox {
            xmin: e.MinX,
            ymin: e.MinY,
            xmax: e.MaxX,
            ymax: e.MaxY,
            zmin: None,
            zmax: None,
        });
    let declared = layer.spatial_ref();
    let decided = decide(path, declared.as_ref(), implicit_wgs84, opts.crs, extent)?;
    let mut quality = QualityReport::default();
    quality.positional.notes = decided.notes;
    quality.positional.crs_source = decided.source;
    let (crs, transformer) = match opts.to_crs {
        Some(to) if to.horizontal_code() != decided.crs.horizontal_code() => {
            quality
                .positional
                .notes
                .push(format!("reprojected from {} with PROJ", decided.crs));
            let stored = Crs::epsg(
                to.horizontal_code(),
                to.vertical_code().or(decided.crs.vertical_code()),
            );
            (stored, Some(Transformer::new(decided.crs, to)?))
        }
        _ => (decided.crs, None),
    };
    quality.positional.crs = crs.to_string();

    // Attribute columns and the id source.
    let defs: Vec<(String, OGRFieldType::Type)> = layer
        .defn()
        .fields()
        .map(|f| (f.name(), f.field_type()))
        .collect();
    let id_field = match &opts.id_column {
        Some(c) => Some(defs.iter().position(|(n, _)| n == c).ok_or_else(|| {
            let names: Vec<&str> = defs.iter().map(|(n, _)| n.as_str()).collect();
            Error::BadInput(format!(
                "{} layer '{layer_name}' has no attribute '{c}' to use as key/id{}",
                path.display(),
                suggest(c, &names)
            ))
        })?),
        None => defs.iter().position(|(n, _)| n.eq_ignore_ascii_case("id")),
    };
    // A field named "id" becomes the id column itself; a chosen key column is also kept as an attribute.
    let id_is_column_only = opts.id_column.is_none() && id_field.is_some();
    let mut attrs: Vec<Attr> = vec![];
    let mut taken: Vec<String> = vec![];
    for (i, (name, ty)) in defs.iter().enumerate() {
        if id_is_column_only && Some(i) == id_field {
            continue;
        }
        let column = column_name(name, &taken);
        if &column != name {
            quality
                .logical_consistency
                .renamed_columns
                .push(format!("{name} -> {column}"));
        }
        taken.push(column.clone());
        attrs.push(Attr {
            source: name.clone(),
            column,
            ty: *ty,
            nulls: 0,
            builder: Column::new(&arrow_type(*ty)),
        });
    }
    let field_index: Vec<usize> = attrs
        .iter()
        .map(|a| {
            defs.iter()
                .position(|(n, _)| *n == a.source)
                .unwrap_or(usize::MAX)
        })
        .collect();
    quality.logical_consistency.id_source = match id_field {
        Some(i) => format!("column {}", defs[i].0),
        None => "content hash".into(),
    };

    let schema = schema::dataset_schema(
        &crs.horizontal(),
        attrs
            .iter()
            .map(|a| Field::new(&a.column, arrow_type(a.ty), true)),
    );

    progress.set_message(&format!("reading {layer_name}"));
    if let Some(n) = source_count {
        progress.set_length(n);
    }

    let mut b = Builders::new();
    let mut batches = vec![];
    let mut seen_ids: HashMap<String, u32> = HashMap::new();
    let mut geometry_types: BTreeMap<String, u64> = BTreeMap::new();
    let mut total_bbox: Option<Bbox> = None;
    let (mut read, mut written) = (0u64, 0u64);
    let no_opts = CslStringList::new();

    for (index, feature) in layer.features().enumerate() {
        read += 1;
        let fid = feature.fid().map(|f| f as i64).unwrap_or(index as i64);
        let values: Vec<Option<gdal::vector::FieldValue>> = field_index
            .iter()
            .map(|&k| {
                if k == usize::MAX {
                    None
                } else {
                    field_value(&feature, k)
                }
            })
            .collect();

        // Geometry: ISO WKB, reprojected and measured in one pass.
        let mut geom_row: Option<(Vec<u8>, Option<Bbox>)> = None;
        if let Some(g) = feature.geometry() {
            let repaired: Option<Geometry>;
            let mut g = g;
            if opts.make_valid && !g.is_valid() {
                match g.make_valid(&no_opts) {
                    Ok(fixed) => {
                        repaired = Some(fixed);
                        if let Some(r) = &repaired {
                            g = r;
                        }
                        quality.logical_consistency.repaired_geometries += 1;
                    }
                    Err(e) => QualityReport::example(
                        &mut quality.logical_consistency.invalid_examples,
                        Issue {
                            feature: Some(fid),
                            id: None,
                            reason: format!("MakeValid failed: {e}"),
                        },
                    ),
                }
            }
            let mut map = |p: &mut [f64; 3]| match &transformer {
                Some(t) => t.apply(p),
                None => Ok(()),
            };
            let normalized = g
                .iso_wkb()
                .map_err(|e| e.to_string())
                .and_then(|w| wkb::normalize(&w, Some(&mut map)).map_err(|e| e.to_string()));
            match normalized {
                Ok(n) => {
                    let tname = format!(
                        "{}{}",
                        wkb::type_name(n.base_type),
                        if n.has_z { " Z" } else { "" }
                    );
                    *geometry_types.entry(tname).or_default() += 1;
                    if n.bbox.is_none() {
                        quality.completeness.empty_geometries += 1;
                    } else if let Ok(geo) = g.to_geo()
                        && let Err(why) = geo.check_validation()
                    {
                        quality.logical_consistency.invalid_geometries += 1;
                        QualityReport::example(
                            &mut quality.logical_consistency.invalid_examples,
                            Issue {
                                feature: Some(fid),
                                id: None,
                                reason: why.to_string(),
                            },
                        );
                    }
                    geom_row = Some((n.wkb, n.bbox));
                }
                Err(reason) => {
                    quality.completeness.rejected += 1;
                    QualityReport::example(
                        &mut quality.rejected,
                        Issue {
                            feature: Some(fid),
                            id: None,
                            reason,
                        },
                    );
                    progress.inc(1);
                    continue;
                }
            }
        } else {
            quality.completeness.null_geometries += 1;
        }

        // The stable id: the source's when it has one, else a hash of the content.
        let source_id = id_field
            .and_then(|k| field_value(&feature, k))
            .map(text)
            .filter(|s| !s.trim().is_empty());
        if id_field.is_some() && source_id.is_none() {
            quality.logical_consistency.empty_ids += 1;
        }
        let base_id = match source_id {
            Some(s) => s,
            None => content_id(
                &layer_name,
                geom_row.as_ref().map(|g| g.0.as_slice()),
                &values,
            ),
        };
        let n = seen_ids.entry(base_id.clone()).or_insert(0);
        *n += 1;
        let id = if *n == 1 {
            base_id
        } else if id_field.is_some() {
            quality.logical_consistency.duplicate_ids += 1;
            QualityReport::example(
                &mut quality.logical_consistency.duplicate_examples,
                Issue {
                    feature: Some(fid),
                    id: Some(base_id.clone()),
                    reason: format!("id occurs {n} times"),
                },
            );
            base_id
        } else {
            // Identical features get distinct, still deterministic ids.
            format!("{base_id}-{n}")
        };
        if let Some(last) = quality.logical_consistency.invalid_examples.last_mut()
            && last.feature == Some(fid)
            && last.id.is_none()
        {
            last.id = Some(id.clone());
        }

        b.id.append_value(&id);
        match geom_row {
            Some((w, bbox)) => {
                b.geometry.append_value(&w);
                let vals = bbox.map(|x| {
                    [
                        Some(x.xmin),
                        Some(x.ymin),
                        Some(x.xmax),
                        Some(x.ymax),
                        x.zmin,
                        x.zmax,
                    ]
                });
                for (k, col) in b.bbox.iter_mut().enumerate() {
                    col.append_option(vals.and_then(|v| v[k]));
                }
                if let Some(x) = bbox {
                    total_bbox = Some(total_bbox.map_or(x, |t| t.union(x)));
                }
            }
            None => {
                b.geometry.append_null();
                b.bbox.iter_mut().for_each(|c| c.append_null());
            }
        }
        for (a, v) in attrs.iter_mut().zip(values) {
            if v.is_none() {
                a.nulls += 1;
            }
            a.builder.push(v);
        }
        b.rows += 1;
        written += 1;
        if b.rows == BATCH_ROWS {
            batches.push(finish_batch(&schema, &mut b, &mut attrs)?);
        }
        if read % 1024 == 0 {
            progress.inc(1024);
        }
    }
    progress.inc(read % 1024);
    if b.rows > 0 || batches.is_empty() {
        batches.push(finish_batch(&schema, &mut b, &mut attrs)?);
    }

    // GDAL reports corrupt records through CPLError and carries on; a short read must not commit.
    let (errors, warnings) = gdal_errors::take();
    if !errors.is_empty() {
        return Err(Error::Gdal {
            context: format!("reading layer '{layer_name}' of {}", path.display()),
            message: format!(
                "{} GDAL error(s), first: {}; the file looks damaged or truncated, nothing was committed",
                errors.len(),
                errors[0]
            ),
        });
    }
    if let Some(n) = source_count
        && read < n
    {
        return Err(Error::BadInput(format!(
            "{}: layer '{layer_name}' announces {n} features but only {read} could be read; the file looks \
                 truncated, nothing was committed",
            path.display()
        )));
    }
    for w in warnings.iter().take(20) {
        quality.positional.notes.push(format!("GDAL: {w}"));
    }

    // The definitive check on the coordinates actually read (declared extents can be stale).
    if let Some(b) = &total_bbox
        && transformer.is_none()
    {
        check_degrees(path, crs, b, implicit_wgs84)?;
    }
    quality.completeness.source_count = source_count;
    quality.completeness.features_read = read;
    quality.completeness.rows_written = written;
    for a in &attrs {
        let fill = if written == 0 {
            1.0
        } else {
            (written - a.nulls.min(written)) as f64 / written as f64
        };
        quality.completeness.attributes.insert(
            a.column.clone(),
            AttributeFill {
                nulls: a.nulls,
                fill_rate: fill,
            },
        );
    }
    quality.logical_consistency.geometry_types = geometry_types.clone();
    quality.positional.extent = total_bbox.map(|t| [t.xmin, t.ymin, t.xmax, t.ymax]);
    quality.positional.z_range = total_bbox
        .and_then(|t| t.zmin.zip(t.zmax))
        .map(|(a, b)| [a, b]);
    quality.positional.within_crs_area_of_use =
        within_area_of_use(crs, total_bbox, &mut quality.positional.notes);

    let geometry_type = match geometry_types.len() {
        0 => None,
        1 => geometry_types.keys().next().cloned(),
        _ => Some("Geometry".into()),
    };
    let source_metadata = serde_json::json!({
        "driver": driver,
        "layer": layer_name,
        "feature_count": source_count,
        "declared_crs": declared.as_ref().and_then(|s| s.name()),
        "fields": defs.iter().map(|(n, t)| serde_json::json!({"name": n, "type": gdal::vector::field_type_to_name(*t)})).collect::<Vec<_>>(),
    });
    progress.finish();
    Ok(ReadOutput {
        layer: Some(layer_name),
        schema,
        batches: batches.into(),
        crs,
        geometry_type,
        quality,
        source_metadata,
    })
}

fn finish_batch(
    schema: &tvilling_core::arrow::datatypes::SchemaRef,
    b: &mut Builders,
    attrs: &mut [Attr],
) -> Result<RecordBatch> {
    let mut cols: Vec<ArrayRef> = vec![Arc::new(b.id.finish())];
    cols.extend(b.bbox.iter_mut().map(|c| Arc::new(c.finish()) as ArrayRef));
    cols.push(Arc::new(b.geometry.finish()));
    cols.extend(attrs.iter_mut().map(|a| a.builder.finish()));
    b.rows = 0;
    Ok(RecordBatch::try_new(schema.clone(), cols)?)
}
