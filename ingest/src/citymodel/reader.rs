//! The `citymodel` [`SourceReader`]: picks the CityJSON or CityGML reader by content, settles the CRS,
//! and turns the model into rows with a quality report.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use tvilling_core::crs::{Crs, Transformer};
use tvilling_core::progress::Progress;
use tvilling_core::provenance::Issue;
use tvilling_core::{Kind, QualityReport};

use super::model::CityModel;
use super::{citygml, cityjson, rows, validate};
use crate::reader::{ReadOptions, ReadOutput, SourceReader};
use crate::{Error, Result};

/// Reads CityJSON 1.x/2.0, CityJSONSeq and CityGML 1.0–3.0 into one row per building or building part.
#[derive(Debug, Clone, Copy, Default)]
pub struct CityModelReader;

/// Which city-model encoding a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    CityJson,
    CityGml,
}

/// Looks at the first 64 KiB: a CityJSON file has its `CityObjects` member or its type there (members
/// come in any order, so the type may come after megabytes of objects), a CityGML file has a `CityModel` root in a CityGML namespace. GeoJSON and plain
/// GML go on to the GDAL reader.
fn sniff(path: &Path) -> Option<Encoding> {
    let mut head = vec![0u8; 64 * 1024];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let head = String::from_utf8_lossy(&head[..n]);
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "json" | "jsonl" | "cityjson" | "cjseq" => (head.contains("\"CityJSON\"")
            || head.contains("\"CityObjects\"")
            || head.contains("\"CityJSONFeature\""))
        .then_some(Encoding::CityJson),
        "gml" | "xml" | "citygml" => (head.contains("CityModel")
            && head.contains("opengis.net/citygml"))
        .then_some(Encoding::CityGml),
        _ => None,
    }
}

impl SourceReader for CityModelReader {
    fn name(&self) -> &'static str {
        "citymodel"
    }
    fn kind(&self) -> Kind {
        Kind::Citymodel
    }
    fn accepts(&self, path: &Path) -> bool {
        path.is_file() && sniff(path).is_some()
    }
    fn read(
        &self,
        path: &Path,
        opts: &ReadOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<ReadOutput>> {
        if opts.layer.is_some() {
            return Err(Error::BadInput(format!(
                "{}: a city model has no layers; drop --layer",
                path.display()
            )));
        }
        if opts.make_valid {
            tracing::warn!(
                "--make-valid applies to 2D vector data; city model surfaces are kept as surveyed and \
                 problems are listed in the quality report"
            );
        }
        let encoding = sniff(path).ok_or_else(|| {
            Error::BadInput(format!(
                "{} is neither CityJSON nor CityGML (no \"type\": \"CityJSON\" or CityGML CityModel in \
                 its first 64 KiB)",
                path.display()
            ))
        })?;
        progress.set_message("reading city model");
        let mut model = match encoding {
            Encoding::CityJson => cityjson::read_cityjson(path, progress)?,
            Encoding::CityGml => citygml::read_citygml(path, progress)?,
        };
        let mut quality = QualityReport::default();
        let (crs, crs_source) = decide_crs(path, &model, opts, &mut quality.positional.notes)?;
        let crs = match opts.to_crs {
            Some(to) if to.horizontal_code() != crs.horizontal_code() => {
                reproject(&mut model, crs, to)?;
                quality
                    .positional
                    .notes
                    .push(format!("reprojected from {crs} to {to}; heights unchanged"));
                Crs::epsg(
                    to.horizontal_code(),
                    to.vertical_code().or(crs.vertical_code()),
                )
            }
            _ => crs,
        };
        quality.positional.crs_source = crs_source;
        // After any reprojection: the checks run in the stored coordinates.
        validate::surfaces(&mut model);

        let built = rows::build(&model, crs)?;
        rows::measure(&built, crs, &mut quality);
        report(&model, &mut quality);
        progress.finish();

        let encoding_name = match encoding {
            Encoding::CityJson => "CityJSON",
            Encoding::CityGml => "CityGML",
        };
        let mut source_metadata = model.metadata.clone();
        if let Some(m) = source_metadata.as_object_mut() {
            m.insert("encoding".into(), encoding_name.into());
            m.insert("crs_declared".into(), model.crs_declared.clone().into());
            m.insert(
                "object_types".into(),
                serde_json::to_value(&model.object_types).unwrap_or_default(),
            );
        }
        Ok(vec![ReadOutput {
            layer: None,
            schema: built.schema,
            batches: vec![built.batch].into(),
            crs,
            geometry_type: Some("MultiPolygon Z".into()),
            quality,
            source_metadata,
        }])
    }
}

/// `--crs` beats the file (files do lie); without either, refuse rather than guess (DESIGN: never guess
/// a missing CRS).
fn decide_crs(
    path: &Path,
    model: &CityModel,
    opts: &ReadOptions,
    notes: &mut Vec<String>,
) -> Result<(Crs, String)> {
    let (crs, source) = match (opts.crs, model.crs) {
        (Some(given), Some(declared)) => {
            if given != declared {
                notes.push(format!(
                    "the file declares {declared} ({}); --crs {given} was used instead",
                    model.crs_declared.as_deref().unwrap_or("")
                ));
            }
            (given, "--crs".to_string())
        }
        (Some(given), None) => (given, "--crs".to_string()),
        (None, Some(declared)) => (declared, "source".to_string()),
        (None, None) => {
            let why = match &model.crs_declared {
                Some(d) => format!("it declares the CRS as '{d}', which tvilling cannot identify"),
                None => "it declares no CRS (CityJSON metadata.referenceSystem / CityGML srsName)"
                    .to_string(),
            };
            return Err(Error::MissingCrs {
                path: path.to_path_buf(),
                why,
            });
        }
    };
    crs.validate().map_err(|e| {
        Error::BadInput(format!(
            "{}: {e}; pass the right one with --crs",
            path.display()
        ))
    })?;
    Ok((crs, source))
}

fn reproject(model: &mut CityModel, from: Crs, to: Crs) -> Result<()> {
    let t = Transformer::new(from, to)?;
    for o in &mut model.objects {
        for surfaces in o.lods.values_mut() {
            for s in surfaces.iter_mut() {
                for ring in s.rings.iter_mut() {
                    for p in ring.iter_mut() {
                        t.apply(p).map_err(|e| {
                            Error::BadInput(format!("object {}: {e}; check --crs", o.id))
                        })?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Completeness and consistency from what the reader found.
fn report(model: &CityModel, quality: &mut QualityReport) {
    let kept = model.objects.len() as u64;
    quality.completeness.features_read = kept + model.rejected;
    quality.completeness.rejected = model.rejected;
    quality.completeness.source_count = Some(model.object_types.values().sum());
    let lc = &mut quality.logical_consistency;
    lc.invalid_geometries = model.issues.len() as u64;
    for issue in model.issues.iter().take(QualityReport::MAX_EXAMPLES) {
        lc.invalid_examples.push(issue.clone());
    }
    lc.id_source = "source id (CityJSON object key / gml:id)".into();
    let mut seen: HashMap<&str, u32> = HashMap::new();
    for o in &model.objects {
        *seen.entry(o.id.as_str()).or_default() += 1;
    }
    for (id, n) in seen.iter().filter(|(_, n)| **n > 1) {
        lc.duplicate_ids += u64::from(*n - 1);
        QualityReport::example(
            &mut lc.duplicate_examples,
            Issue {
                feature: None,
                id: Some(id.to_string()),
                reason: format!("id occurs {n} times"),
            },
        );
    }
    let others: Vec<String> = model
        .object_types
        .iter()
        .filter(|(t, _)| !matches!(t.as_str(), "Building" | "BuildingPart"))
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    if !others.is_empty() {
        quality.positional.notes.push(format!(
            "kept {kept} buildings and building parts; other city objects are not part of a citymodel \
             dataset: {}",
            others.join(", ")
        ));
    }
}
