//! The `pointcloud` [`SourceReader`]: LAS/LAZ/COPC files to Morton-sorted point rows, streamed to the
//! store, with the header and a classification histogram in the quality report.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::Path;

use las::PointDataBuilder;
use tvilling_core::progress::Progress;
use tvilling_core::provenance::AttributeFill;
use tvilling_core::wkb::Bbox;
use tvilling_core::{Kind, QualityReport};

use super::crs::{Decided, decide};
use super::error::las_error;
use super::rows::{Converter, fixed_names};
use super::sort::{Binner, SortPlan};
use super::{extra, header};
use crate::reader::{Batches, ReadOptions, ReadOutput, SourceReader};
use crate::{Error, Result};

/// Reads LAS 1.0–1.4 (point formats 0–10), LAZ and COPC into one row per point.
#[derive(Debug, Clone, Copy, Default)]
pub struct PointCloudReader {
    plan: Option<SortPlan>,
}

impl PointCloudReader {
    /// A reader with its own memory plan (tests use tiny ones to exercise the spill file).
    pub fn with_plan(plan: SortPlan) -> Self {
        PointCloudReader { plan: Some(plan) }
    }
}

/// Points decoded per read call in pass 1: about ten LAZ chunks (usually 50 000 points each), so that
/// the `las` crate decodes them on all cores at once (one or two chunks a call leave cores idle).
const CHUNK: u64 = 512 * 1024;

fn has_las_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("las") || e.eq_ignore_ascii_case("laz"))
}

impl SourceReader for PointCloudReader {
    fn name(&self) -> &'static str {
        "pointcloud"
    }
    fn kind(&self) -> Kind {
        Kind::Pointcloud
    }
    /// `.las`/`.laz` (COPC is `.copc.laz`) by extension, so a damaged one gets this reader's error rather
    /// than GDAL's; any other file that starts with the LASF signature too.
    fn accepts(&self, path: &Path) -> bool {
        if !path.is_file() {
            return false;
        }
        if has_las_extension(path) {
            return true;
        }
        let mut sig = [0u8; 4];
        std::fs::File::open(path)
            .and_then(|mut f| f.read_exact(&mut sig))
            .is_ok_and(|()| &sig == b"LASF")
    }
    fn read(
        &self,
        path: &Path,
        opts: &ReadOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<ReadOutput>> {
        if opts.layer.is_some() {
            return Err(Error::BadInput(format!(
                "{}: a point cloud has no layers; drop --layer",
                path.display()
            )));
        }
        if opts.to_crs.is_some() {
            return Err(Error::BadInput(format!(
                "{}: --to-crs is not supported for point clouds yet; ingest in the source CRS (the tiler \
                 places points on the globe from it)",
                path.display()
            )));
        }
        if opts.id_column.is_some() {
            return Err(Error::BadInput(format!(
                "{}: points have no key attribute; their id is the record number in the file, so --key and \
                 --mode upsert do not apply",
                path.display()
            )));
        }
        header::check_version(path)?;
        let file = std::fs::File::open(path).map_err(|e| {
            Error::BadInput(format!(
                "cannot open {}: {e}; check the path",
                path.display()
            ))
        })?;
        let mut reader = las::Reader::new(BufReader::with_capacity(1 << 20, file))
            .map_err(|e| las_error(path, e))?;
        let hdr = reader.header().clone();
        header::check(path, &hdr)?;
        let mut notes = vec![];
        let key_bounds = header::bounds(&hdr).unwrap_or_else(|| {
            notes.push(
                "the header's bounds are not finite or not ordered; points were sorted over a fixed \
                 world-sized box, so row groups prune less well"
                    .to_string(),
            );
            Bbox {
                xmin: -1e9,
                ymin: -1e9,
                xmax: 1e9,
                ymax: 1e9,
                zmin: None,
                zmax: None,
            }
        });
        let decided = decide(path, &hdr, opts.crs, &key_bounds)?;
        let crs_text = decided.crs.horizontal();
        let dims = extra::dims(&hdr, &fixed_names());
        let converter = Converter::new(&crs_text, decided.xy_factor, decided.z_factor, dims);
        let schema = converter.schema.clone();

        let total = hdr.number_of_points();
        let format = *hdr.point_format();
        let plan = self.plan.unwrap_or_default();
        let binner = Binner::new(plan, key_bounds, usize::from(format.len()), total)?;
        progress.set_message("reading points");
        progress.set_length(total);
        let fresh = || PointDataBuilder::new().for_header(&hdr).build();
        let (read, binner, stats) = std::thread::scope(|scope| -> Result<_> {
            // LAZ chunks decode on every core while another thread bins the previous buffer: two
            // buffers go back and forth, so neither side waits on the other.
            let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<(las::PointData, u64)>(1);
            let (empty_tx, empty_rx) = std::sync::mpsc::channel::<las::PointData>();
            let converter = &converter;
            let binning = scope.spawn(move || -> Result<(Binner, Stats)> {
                let (mut binner, mut stats) = (binner, Stats::default());
                for (pd, first) in full_rx {
                    binner.add(&pd, first)?;
                    stats.add(&pd, converter);
                    // The reader may have stopped already; then the buffer is simply dropped.
                    let _ = empty_tx.send(pd);
                }
                Ok((binner, stats))
            });
            let mut spare = vec![fresh(), fresh()];
            let (mut read, mut failed) = (0u64, None);
            while read < total {
                // No buffer back means the binning thread stopped on an error, reported below.
                let Some(mut pd) = spare.pop().or_else(|| empty_rx.recv().ok()) else {
                    break;
                };
                let n = match reader.fill_points(CHUNK.min(total - read), &mut pd) {
                    Ok(n) => n,
                    Err(e) => {
                        failed = Some(las_error(path, e));
                        break;
                    }
                };
                if n == 0 || full_tx.send((pd, read)).is_err() {
                    break;
                }
                read += n;
                progress.inc(n);
            }
            drop(full_tx);
            let (binner, stats) = binning
                .join()
                .map_err(|_| Error::Internal("the point binning thread panicked".into()))??;
            match failed {
                Some(e) => Err(e),
                None => Ok((read, binner, stats)),
            }
        })?;
        if read < total {
            return Err(Error::BadInput(format!(
                "{}: the header says {total} points but only {read} could be read; the file is truncated, \
                 copy it again",
                path.display()
            )));
        }
        if let Some(extra) = unread_records(path, &hdr, total) {
            notes.push(format!(
                "the file holds {extra} more point records than the {total} its header counts; only the \
                 header's {total} were read. The header is stale: rewrite the file (e.g. `las2las` or \
                 `pdal translate`) to read them all"
            ));
        }
        progress.set_message("sorting and writing points");
        let transforms = *hdr.transforms();
        let batches = binner.finish(format, transforms, converter)?;
        progress.finish();

        notes.extend(decided.notes.iter().cloned());
        let quality = quality(&hdr, &decided, &stats, &schema_attrs(&schema), read, notes);
        let mut source_metadata = header::metadata(&hdr);
        if let Some(m) = source_metadata.as_object_mut() {
            m.insert("crs_declared".into(), decided.declared.clone());
        }
        Ok(vec![ReadOutput {
            layer: None,
            schema,
            batches: Batches::Streamed {
                rows: read,
                batches: Box::new(batches),
            },
            crs: decided.crs,
            geometry_type: Some("Point Z".into()),
            quality,
            source_metadata,
        }])
    }
}

/// Whole point records between the last one the header counts and the end of the point data (the first
/// extended VLR, else the end of the file), for uncompressed files; `None` when there are none or it
/// cannot be told (LAZ chunks have no fixed size).
fn unread_records(path: &Path, hdr: &las::Header, total: u64) -> Option<u64> {
    if hdr.point_format().is_compressed {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    let raw = las::raw::Header::read_from(BufReader::new(file)).ok()?;
    let len = u64::from(raw.point_data_record_length);
    let end = match raw.evlr {
        Some(e) if e.start_of_first_evlr > 0 => e.start_of_first_evlr,
        _ => std::fs::metadata(path).ok()?.len(),
    };
    let counted_end = u64::from(raw.offset_to_point_data).checked_add(total.checked_mul(len)?)?;
    let extra = end.checked_sub(counted_end)? / len.max(1);
    (len > 0 && extra > 0).then_some(extra)
}

fn schema_attrs(schema: &tvilling_core::arrow::datatypes::Schema) -> Vec<String> {
    tvilling_core::schema::attribute_fields(schema)
        .map(|f| f.name().clone())
        .collect()
}

/// What pass 1 measures, in stored units.
#[derive(Debug)]
struct Stats {
    classes: [u64; 256],
    min: [f64; 3],
    max: [f64; 3],
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            classes: [0; 256],
            min: [f64::INFINITY; 3],
            max: [f64::NEG_INFINITY; 3],
        }
    }
}

impl Stats {
    fn add(&mut self, pd: &las::PointData, conv: &Converter) {
        for c in pd.classification() {
            self.classes[usize::from(c)] += 1;
        }
        for ((x, y), z) in pd.x().zip(pd.y()).zip(pd.z()) {
            let p = conv.scale(x, y, z);
            for ((lo, hi), v) in self.min.iter_mut().zip(self.max.iter_mut()).zip(p) {
                *lo = lo.min(v);
                *hi = hi.max(v);
            }
        }
    }
}

fn quality(
    hdr: &las::Header,
    decided: &Decided,
    stats: &Stats,
    attributes: &[String],
    read: u64,
    mut notes: Vec<String>,
) -> QualityReport {
    let mut q = QualityReport::default();
    q.completeness.source_count = Some(hdr.number_of_points());
    q.completeness.features_read = read;
    q.completeness.rows_written = read;
    let f = hdr.point_format();
    for name in attributes {
        let absent = match name.as_str() {
            "gps_time" => !f.has_gps_time,
            "red" | "green" | "blue" => !f.has_color,
            "nir" => !f.has_nir,
            _ => false,
        };
        // Extra dimensions with no-data values may hold nulls too; they are not counted here.
        let nulls = if absent { read } else { 0 };
        q.completeness.attributes.insert(
            name.clone(),
            AttributeFill {
                nulls,
                fill_rate: if absent { 0.0 } else { 1.0 },
            },
        );
    }
    let lc = &mut q.logical_consistency;
    lc.id_source = "point record number in the source file (0-based)".into();
    lc.geometry_types.insert("Point Z".into(), read);

    let extent = Bbox {
        xmin: stats.min[0],
        ymin: stats.min[1],
        xmax: stats.max[0],
        ymax: stats.max[1],
        zmin: Some(stats.min[2]),
        zmax: Some(stats.max[2]),
    };
    if let Some(hb) = header::bounds(hdr) {
        let t = hdr.transforms();
        let (fx, fz) = (decided.xy_factor, decided.z_factor);
        let slack = |s: f64, k: f64| s * k * 1.5;
        let off = (extent.xmin - hb.xmin * fx).abs() > slack(t.x.scale, fx)
            || (extent.xmax - hb.xmax * fx).abs() > slack(t.x.scale, fx)
            || (extent.ymin - hb.ymin * fx).abs() > slack(t.y.scale, fx)
            || (extent.ymax - hb.ymax * fx).abs() > slack(t.y.scale, fx)
            || (stats.min[2] - hb.zmin.unwrap_or(0.0) * fz).abs() > slack(t.z.scale, fz)
            || (stats.max[2] - hb.zmax.unwrap_or(0.0) * fz).abs() > slack(t.z.scale, fz);
        if off {
            notes.push(format!(
                "the header's bounds ({:.3} {:.3} {:.3} … {:.3} {:.3} {:.3}, file units) differ from the \
                 points' extent; the extent here is measured from the points",
                hb.xmin,
                hb.ymin,
                hb.zmin.unwrap_or(0.0),
                hb.xmax,
                hb.ymax,
                hb.zmax.unwrap_or(0.0)
            ));
        }
    }
    let p = &mut q.positional;
    p.crs = decided.crs.to_string();
    p.crs_source = decided.source.clone();
    p.extent = Some([extent.xmin, extent.ymin, extent.xmax, extent.ymax]);
    p.z_range = Some([stats.min[2], stats.max[2]]);
    p.within_crs_area_of_use =
        crate::vector::checks::within_area_of_use(decided.crs, Some(extent), &mut notes);
    p.notes = notes;

    let classes: BTreeMap<String, u64> = stats
        .classes
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| (c.to_string(), *n))
        .collect();
    q.content.insert("header".into(), header::metadata(hdr));
    q.content.insert(
        "classification_counts".into(),
        serde_json::to_value(classes).unwrap_or_default(),
    );
    q.content.insert(
        "crs".into(),
        serde_json::json!({
            "declared": decided.declared,
            "source": decided.source,
            "xy_factor": decided.xy_factor,
            "z_factor": decided.z_factor,
        }),
    );
    q.content.insert(
        "order".into(),
        "Morton (Z-order) of x/y over the header bounds".into(),
    );
    q
}
