//! Point 3D Tiles for datasets of kind `pointcloud` (issue 5): store rows (x, y, z, intensity,
//! classification, red/green/blue) → ellipsoidal heights and a local east-north-up frame → an octree
//! with grid subsampling ([`octree`]) → one glb `POINTS` tile per node ([`glb`]) → `tileset.json` with
//! ADD refinement.
//!
//! - **Every point once.** A node's content is its subsample; its children share the rest, so the
//!   point counts of all tiles sum to the dataset's rows (ADD refinement draws parent and children
//!   together).
//! - **Geometric error** is the node's grid cell size (the spacing of its sample), at least its
//!   children's; leaves show everything (0).
//! - **Heights** as for buildings ([`crate::frame`]): PROJ takes x/y to WGS 84, the geoid separation N
//!   makes heights ellipsoidal. That chain runs exactly at the corners of a fixed lattice of squares
//!   about 32 m wide and is interpolated between them ([`Lattice`]), within 0.1 mm of running it per
//!   point.
//! - **Colour**: the file's RGB when the dataset has any (16-bit LAS values are scaled to 8 bits, 8-bit
//!   ones kept), else a grey ramp of intensity (when it varies), else a colour ramp of elevation.
//! - **Caching**: each tile's content is named by a hash of its points and everything else it is made
//!   from, so re-tiling an unchanged dataset rewrites only `tileset-v<N>.json`; the cache and export
//!   are the building tiler's ([`crate::output`]). The frame (the building tiler's fixed-grid root cell
//!   centre), the root cube ([`root_cube`]) and the colour ramps only change when the data outgrows
//!   them, so an edit rebuilds only the tiles whose points change.
//!
//! **Reading** ([`read`]) decodes only the columns the tiles need and converts batches on one thread
//! per core while the store decodes the next. **Memory**: up to [`spill::Plan`]'s budget the
//! converted points (about 45 bytes each) are tiled in memory; past it, out of core ([`spill`]).

mod colour;
mod glb;
mod octree;
mod order;
mod read;
mod spill;

use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;
use rayon::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tvilling_core::arrow::array::RecordBatch;
use tvilling_core::crs::Crs;
use tvilling_core::progress::Progress;
use tvilling_core::store::DatasetInfo;
use tvilling_core::{At, DatasetName, Store};

use crate::frame::{Enu, GeoidInfo, Lattice, Projector, choose_geoid, distance};
use crate::glb::Compression;
use crate::output::{ContentInfo, Output};
use crate::tileset::{TileView, origin_of, root_transform};
use crate::{Error, Result, TileOptions, TileReport};
use colour::{Colouring, Summary, colour, colouring};
use order::sort;

/// Bumped whenever the point content format changes, so cached tiles of an older tiler are rebuilt.
const FORMAT: &str = "tvilling-points 1";
/// The metadata class of a point.
const CLASS: &str = "point";

/// The metadata schema of point tiles: the class `point` with `intensity` and `classification`.
fn schema_json() -> Value {
    json!({
        "id": "tvilling_points",
        "classes": { CLASS: { "properties": {
            "intensity": {
                "description": "LAS intensity (pulse return magnitude, sensor units)",
                "type": "SCALAR", "componentType": "UINT16", "required": true,
            },
            "classification": {
                "description": "LAS classification code (ASPRS: 2 ground, 6 building, 9 water …)",
                "type": "SCALAR", "componentType": "UINT8", "required": true,
            },
        }}},
    })
}

/// Point attributes as read from the store, before colours are chosen.
#[derive(Default, Clone)]
struct Points {
    /// East, north, up (m) in the tileset frame.
    enu: Vec<[f64; 3]>,
    /// The store's z (for the elevation ramp).
    z: Vec<f64>,
    intensity: Vec<u16>,
    class: Vec<u8>,
    /// RGB as stored (LAS u16), `None` when the row has no colour.
    rgb: Vec<Option<[u16; 3]>>,
}

impl Points {
    fn len(&self) -> usize {
        self.enu.len()
    }

    fn with_capacity(n: usize) -> Points {
        Points {
            enu: Vec::with_capacity(n),
            z: Vec::with_capacity(n),
            intensity: Vec::with_capacity(n),
            class: Vec::with_capacity(n),
            rgb: Vec::with_capacity(n),
        }
    }

    fn clear(&mut self) {
        *self = Points::default();
    }

    /// A copy of the points in `r`, as a batch of the store would bring them (tests).
    #[cfg(test)]
    fn part(&self, r: std::ops::Range<usize>) -> Points {
        Points {
            enu: self.enu[r.clone()].to_vec(),
            z: self.z[r.clone()].to_vec(),
            intensity: self.intensity[r.clone()].to_vec(),
            class: self.class[r.clone()].to_vec(),
            rgb: self.rgb[r].to_vec(),
        }
    }

    fn append(&mut self, mut o: Points) {
        self.enu.append(&mut o.enu);
        self.z.append(&mut o.z);
        self.intensity.append(&mut o.intensity);
        self.class.append(&mut o.class);
        self.rgb.append(&mut o.rgb);
    }
}

/// Tiles a `pointcloud` dataset; called by [`crate::tile`].
pub(crate) async fn tile(
    store: &Store,
    name: &DatasetName,
    at: At,
    info: DatasetInfo,
    crs: Crs,
    opts: &TileOptions,
    progress: Arc<dyn Progress>,
) -> Result<TileReport> {
    let started = Instant::now();
    let Some([x0, y0, x1, y1]) = info.extent.filter(|e| e.iter().all(|v| v.is_finite())) else {
        return Err(Error::BadInput(format!(
            "{name} v{} has no points with finite coordinates: nothing to tile",
            info.version
        )));
    };
    // A block, not drop(): PROJ handles are not Send and must not live across an await.
    let (geoid, lon, lat, step, extent) = {
        let mut geoid = choose_geoid(crs);
        let projector = Projector::new(crs, &geoid)?;
        // The frame sits at the centre of the building tiler's fixed-grid root cell, which only moves
        // when the data outgrows it: positions, and so content hashes, survive edits elsewhere.
        let cell = crate::tree::build(&[[x0, y0], [x1, y1]])
            .map(|n| n.cell)
            .ok_or_else(|| Error::BadInput(format!("{name}: the extent is not finite")))?;
        let (cx, cy) = (cell[0] + cell[2] / 2.0, cell[1] + cell[2] / 2.0);
        let (lon, lat) = projector.lon_lat(cx, cy)?;
        let step = Lattice::step_near(&projector, cx, cy)?;
        // The horizontal extent on the ground, for the spill's bins (a guess is enough).
        let corner = |x: f64, y: f64| projector.ecef([x, y, 0.0], 0.0).ok();
        let extent = match (corner(x0, y0), corner(x1, y0), corner(x0, y1)) {
            (Some(a), Some(b), Some(c)) => distance(a, b).max(distance(a, c)),
            _ => 0.0,
        };
        if geoid.grid.is_some() {
            let n = projector.geoid_height(lon, lat);
            geoid.note = format!(
                "{}; geoid separation N = {n:.2} m at the centre",
                geoid.note
            );
        }
        (geoid, lon, lat, step, extent)
    };
    tracing::info!(dataset = name.as_str(), "{}", geoid.note);
    let enu = Enu::at(lon, lat, 0.0);

    progress.set_message("reading points");
    progress.set_length(info.rows);
    let plan = spill::Plan::from_env()?.with_bin_edge_for(info.rows, extent);
    let (_, mut stream) = store.scan_columns(name, at, Some(&read::COLUMNS)).await?;
    // The store decodes Parquet on the runtime while blocking workers convert (PROJ) and spill the
    // batches before; the channel bounds what waits between them.
    let (tx, rx) = tokio::sync::mpsc::channel::<RecordBatch>(4);
    let worker = tokio::task::spawn_blocking(move || {
        read::place(rx, crs, &geoid, &enu, step, plan).map(|p| (p, geoid))
    });
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(tvilling_core::Error::from)?;
        let rows = batch.num_rows() as u64;
        // A closed channel means a worker failed: its error is reported below.
        if tx.send(batch).await.is_err() {
            break;
        }
        progress.inc(rows);
    }
    drop(tx);
    let (
        read::Placed {
            points,
            spilled,
            summary,
        },
        geoid,
    ) = worker
        .await
        .map_err(|e| Error::Internal(format!("point conversion task failed: {e}")))??;
    if summary.count == 0 {
        return Err(Error::BadInput(format!(
            "{name} v{} has no points: nothing to tile",
            info.version
        )));
    }
    let read_secs = started.elapsed().as_secs_f64();
    tracing::info!(
        dataset = name.as_str(),
        points = summary.count,
        out_of_core = spilled.is_some(),
        seconds = read_secs,
        "read and placed the points"
    );
    let output = Output::new(store.dataset_dir(name).join("_tiles"), opts.out.clone())?;
    let (name, compression, version) = (name.to_string(), opts.compression, info.version);
    tokio::task::spawn_blocking(move || {
        let setup = Setup {
            enu,
            geoid,
            compression,
            output,
            progress,
            version,
        };
        let mut report = match spilled {
            None => run(points, &summary, setup)?,
            Some(sp) => spill::run(sp, &summary, setup)?,
        };
        report.dataset = name;
        report.centre = [lon, lat];
        let secs = started.elapsed().as_secs_f64();
        tracing::info!(
            points = report.features,
            seconds = secs,
            "tiled {} points ({:.0} points/s)",
            report.features,
            report.features as f64 / secs.max(1e-9)
        );
        Ok(report)
    })
    .await
    .map_err(|e| Error::Internal(format!("point tiling task failed: {e}")))?
}

/// What the blocking part of a run needs.
struct Setup {
    enu: Enu,
    geoid: GeoidInfo,
    compression: Compression,
    output: Output,
    progress: Arc<dyn Progress>,
    version: u64,
}

/// A finished tile.
struct Built {
    view: TileView,
    built: usize,
    reused: usize,
    tiles: usize,
    depth: usize,
}

/// The hash state of everything a tile's content depends on besides its points.
fn settings(s: &Setup, colouring: Colouring) -> Sha256 {
    let mut settings = Sha256::new();
    settings.update(FORMAT);
    settings.update(format!(
        "{:?}|{:?}|{}|{:?}",
        s.compression, s.enu.origin, s.geoid.note, colouring
    ));
    settings
}

/// Tiles points held in memory.
fn run(points: Points, summary: &Summary, s: Setup) -> Result<TileReport> {
    if points.len() > u32::MAX as usize {
        return Err(Error::Internal(format!(
            "{} points held in memory; the out-of-core tiler should have taken them",
            points.len()
        )));
    }
    let t = Instant::now();
    s.progress.set_message("sorting points");
    let points = sort(points);
    tracing::debug!(seconds = t.elapsed().as_secs_f64(), "sorted points");
    let colouring = colouring(summary);
    let (lo, size) = root_cube(summary.lo, summary.hi);
    let t = Instant::now();
    s.progress.set_message("building the octree");
    let idx: Vec<u32> = (0..points.len() as u32).collect();
    let root = octree::build(&points.enu, idx, lo, size, "0".into());
    tracing::debug!(seconds = t.elapsed().as_secs_f64(), "built the octree");
    let t = Instant::now();
    s.progress.set_message("writing point tiles");
    let ctx = Ctx {
        points: &points,
        colouring,
        settings: settings(&s, colouring),
        s: &s,
    };
    let built = build(&ctx, &root)?;
    tracing::debug!(seconds = t.elapsed().as_secs_f64(), "wrote point tiles");
    finish(built, summary, &s)
}

/// Writes `tileset-v<N>.json` for the finished tree and reports.
fn finish(built: Built, summary: &Summary, s: &Setup) -> Result<TileReport> {
    let tileset = tileset_json(&built.view, &s.enu, &s.geoid.note, s.version, summary)?;
    let (cache_path, out) = s.output.finish(&tileset, s.version)?;
    s.progress.finish();
    Ok(TileReport {
        dataset: String::new(),
        version: s.version,
        features: summary.count as u64,
        skipped_features: 0,
        skipped_surfaces: 0,
        tiles: built.tiles,
        built: built.built,
        unchanged: built.reused,
        depth: built.depth,
        tileset: cache_path,
        out,
        heights: s.geoid.note.clone(),
        centre: [0.0; 2],
    })
}

/// The octree's root cube: a power-of-two edge (m) anchored at odd multiples of half of it in the frame, the
/// smallest that holds `lo..=hi`. Like the frame it only changes when the data outgrows it, so an edit
/// rebuilds only the tiles whose points change.
fn root_cube(lo: [f64; 3], hi: [f64; 3]) -> ([f64; 3], f64) {
    let extent = (0..3).map(|k| hi[k] - lo[k]).fold(0.01, f64::max);
    let mut size = 2f64.powi(extent.log2().ceil() as i32);
    loop {
        // Cells are offset by half an edge, so the cube around the frame's origin is centred on it:
        // the data always straddles 0 and a grid anchored at 0 would never hold it.
        let corner = lo.map(|v| ((v + size / 2.0) / size).floor() * size - size / 2.0);
        if (0..3).all(|k| hi[k] < corner[k] + size) || !size.is_finite() {
            return (corner, size);
        }
        size *= 2.0;
    }
}

struct Ctx<'a> {
    points: &'a Points,
    colouring: Colouring,
    /// Hash state of everything but the points.
    settings: Sha256,
    s: &'a Setup,
}

fn build(ctx: &Ctx, node: &octree::Node) -> Result<Built> {
    let children: Vec<Built> = node
        .children
        .par_iter()
        .map(|c| build(ctx, c))
        .collect::<Result<_>>()?;
    assemble(ctx, &node.address, &node.points, node.spacing, children)
}

/// A tile with content `idx` (into `ctx.points`) and its finished children.
fn assemble(
    ctx: &Ctx,
    address: &str,
    idx: &[u32],
    spacing: f64,
    children: Vec<Built>,
) -> Result<Built> {
    let (uri, info, built) = content(ctx, idx)?;
    let mut b = Built {
        view: TileView {
            address: address.to_string(),
            content: Some((uri, info.centre)),
            lo: info.lo,
            hi: info.hi,
            error: spacing,
            children: vec![],
        },
        built: usize::from(built),
        reused: usize::from(!built),
        tiles: 1,
        depth: 1,
    };
    for c in children {
        for k in 0..3 {
            b.view.lo[k] = b.view.lo[k].min(c.view.lo[k]);
            b.view.hi[k] = b.view.hi[k].max(c.view.hi[k]);
        }
        // 3D Tiles: a parent's geometric error is never below its children's.
        b.view.error = b.view.error.max(c.view.error);
        b.built += c.built;
        b.reused += c.reused;
        b.tiles += c.tiles;
        b.depth = b.depth.max(c.depth + 1);
        b.view.children.push(c.view);
    }
    Ok(b)
}

/// The content of one tile, reused from the cache when an earlier run made the same.
fn content(ctx: &Ctx, idx: &[u32]) -> Result<(String, ContentInfo, bool)> {
    let p = ctx.points;
    let mut h = ctx.settings.clone();
    for &i in idx {
        let i = i as usize;
        for c in p.enu[i] {
            h.update(c.to_le_bytes());
        }
        h.update(p.intensity[i].to_le_bytes());
        h.update([p.class[i]]);
        h.update(colour(p, i, ctx.colouring));
    }
    let hash = hex::encode(&h.finalize()[..16]);
    let uri = format!("content/{hash}.glb");
    if let Some(info) = ctx.s.output.cached(&hash) {
        return Ok((uri, info, false));
    }
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for &i in idx {
        let q = p.enu[i as usize];
        for k in 0..3 {
            lo[k] = lo[k].min(q[k]);
            hi[k] = hi[k].max(q[k]);
        }
    }
    let centre = [0, 1, 2].map(|k| (lo[k] + hi[k]) / 2.0);
    let cloud = glb::Cloud {
        // glTF is y-up: local (east, north, up) becomes (east, up, −north).
        positions: idx
            .iter()
            .map(|&i| {
                let q = p.enu[i as usize];
                [q[0] - centre[0], q[2] - centre[2], -(q[1] - centre[1])]
            })
            .collect(),
        colors: idx
            .iter()
            .map(|&i| colour(p, i as usize, ctx.colouring))
            .collect(),
        intensity: idx.iter().map(|&i| p.intensity[i as usize]).collect(),
        classification: idx.iter().map(|&i| p.class[i as usize]).collect(),
    };
    let bytes = glb::write(&cloud, ctx.s.compression)?;
    let info = ContentInfo {
        lo,
        hi,
        centre,
        deviation: 0.0,
        features: idx.len(),
        triangles: 0,
    };
    ctx.s.output.store(&hash, &bytes, &info)?;
    Ok((uri, info, true))
}

/// The tileset JSON: the tree with ADD refinement, the `point` schema and its statistics.
fn tileset_json(
    root: &TileView,
    enu: &Enu,
    heights: &str,
    version: u64,
    summary: &Summary,
) -> Result<Value> {
    let origin = origin_of(root);
    let mut root_json = crate::tileset::tile(root, origin, [0.0; 3]);
    root_json["transform"] = json!(root_transform(enu, origin));
    // ADD: a child's points come on top of its parent's, which it never repeats.
    root_json["refine"] = json!("ADD");
    let diagonal = (0..3)
        .map(|k| (root.hi[k] - root.lo[k]).powi(2))
        .sum::<f64>()
        .sqrt();
    let (imin, imax) = summary.intensity_range();
    let (cmin, cmax) = (summary.class_lo, summary.class_hi);
    Ok(json!({
        "asset": {
            "version": "1.1",
            "generator": crate::GENERATOR,
            "tilesetVersion": version.to_string(),
            "extras": { "heights": heights, "points": summary.count },
        },
        "schema": schema_json(),
        "statistics": { "classes": { CLASS: { "count": summary.count, "properties": {
            "intensity": { "min": imin, "max": imax },
            "classification": { "min": cmin, "max": cmax },
        }}}},
        // With nothing drawn, the whole cloud is missing.
        "geometricError": diagonal.max(root.error),
        "root": root_json,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 300 × 300 grid of points 0.5 m apart, plus `extra` points near one corner.
    fn field(extra: usize) -> Points {
        let mut enu: Vec<[f64; 3]> = (0..300 * 300)
            .map(|i| [f64::from(i % 300) * 0.5, f64::from(i / 300) * 0.5, 1.0])
            .collect();
        enu.extend((0..extra).map(|i| [0.25 + i as f64 * 0.01, 0.25, 1.5]));
        let n = enu.len();
        Points {
            z: vec![1.0; n],
            intensity: (0..n).map(|i| (i % 1000) as u16).collect(),
            class: vec![2; n],
            rgb: vec![None; n],
            enu,
        }
    }

    fn setup(cache: &std::path::Path) -> Setup {
        Setup {
            enu: Enu::at(4.36, 52.0, 0.0),
            geoid: GeoidInfo {
                grid: None,
                note: "test".into(),
            },
            compression: Compression::None,
            output: Output::new(cache.to_path_buf(), None).expect("cache"),
            progress: Arc::new(tvilling_core::progress::NoProgress),
            version: 0,
        }
    }

    fn run_all(p: Points, s: Setup) -> Result<TileReport> {
        let summary = Summary::of(&p);
        run(p, &summary, s)
    }

    #[test]
    fn an_edit_in_one_corner_rebuilds_only_the_tiles_above_it() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = run_all(field(0), setup(dir.path())).expect("first run");
        assert_eq!(first.features, 90_000);
        assert!(first.tiles > 3, "{first:?}");
        let same = run_all(field(0), setup(dir.path())).expect("same again");
        assert_eq!(same.built, 0);
        let edited = run_all(field(5), setup(dir.path())).expect("edited");
        assert_eq!(edited.features, 90_005);
        assert!(
            edited.built >= 1 && edited.built < first.tiles / 2,
            "{edited:?}"
        );
        assert_eq!(edited.built + edited.unchanged, edited.tiles);
    }

    /// `field(extra)` plus a block of "vegetation": points filling a volume, so that grids halve.
    fn field_with_trees(extra: usize) -> Points {
        let mut p = field(extra);
        for i in 0..60_000u32 {
            let (a, b, c) = (i % 40, (i / 40) % 40, i / 1600);
            p.enu.push([
                100.0 + f64::from(a) * 0.3,
                20.0 + f64::from(b) * 0.3,
                1.0 + f64::from(c) * 0.4,
            ]);
            p.z.push(1.0 + f64::from(c) * 0.4);
            p.intensity.push((i % 700) as u16);
            p.class.push(5);
            p.rgb.push(None);
        }
        p
    }

    fn tileset_of(r: &TileReport) -> Value {
        serde_json::from_slice(&std::fs::read(&r.tileset).expect("tileset")).expect("JSON")
    }

    #[test]
    fn out_of_core_tiling_builds_the_same_tiles_as_in_memory_tiling() {
        let p = field_with_trees(3);
        let summary = Summary::of(&p);
        let a = tempfile::tempdir().expect("dir");
        let in_memory = run(field_with_trees(3), &summary, setup(a.path())).expect("in memory");
        // The spill's grid: as guessed for this field (its cells are the bins), too coarse to nest
        // in the octree, and not a power of two: all three are binned into the same bins.
        let plan = |budget| spill::Plan {
            in_memory_points: budget,
            bin_edge: 1.0,
        };
        let runs = [20_000, 60_000].into_iter().flat_map(|budget| {
            let guessed = plan(budget).with_bin_edge_for(150_003, 150.0);
            [guessed.bin_edge, 4_096.0, 3.0].map(|bin_edge| spill::Plan {
                bin_edge,
                ..guessed
            })
        });
        for plan in runs {
            let budget = (plan.in_memory_points, plan.bin_edge);
            // A fresh cache each time: cached tiles' bounds come back from JSON, which may move them by
            // one unit in the last place.
            let b = tempfile::tempdir().expect("dir");
            let mut sp = spill::Spill::new(plan).expect("spill");
            // Written in pieces, as batches arrive.
            let (head, tail) = (p.len() / 3, p.len());
            sp.write(&p.part(0..head)).expect("write");
            sp.write(&p.part(head..tail)).expect("write");
            let out_of_core = spill::run(sp, &summary, setup(b.path())).expect("out of core");
            assert_eq!(out_of_core.features, 150_003);
            assert_eq!(
                (out_of_core.tiles, out_of_core.depth),
                (in_memory.tiles, in_memory.depth),
                "budget and edge {budget:?}"
            );
            // Same tree, same contents: every tile's hash, bounds and error are equal, and so every
            // point is in exactly one tile, as the in-memory tree guarantees.
            assert_eq!(
                tileset_of(&out_of_core),
                tileset_of(&in_memory),
                "budget and edge {budget:?}"
            );
        }
    }

    #[test]
    fn root_cube_is_anchored_to_its_own_grid_and_holds_the_points() {
        let (lo, size) = root_cube([-3.0, 5.0, 40.0], [100.0, 90.0, 60.0]);
        assert_eq!((lo, size), ([-128.0; 3], 256.0));
        let (lo, size) = root_cube([120.0, 0.0, 0.0], [130.0, 1.0, 1.0]);
        assert_eq!((lo, size), ([120.0, -8.0, -8.0], 16.0));
        // Straddling a grid line doubles the cube.
        let (lo, size) = root_cube([7.0, 0.0, 0.0], [9.0, 1.0, 1.0]);
        assert_eq!((lo, size), ([6.0, -2.0, -2.0], 4.0));
    }
}
