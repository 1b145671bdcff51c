//! Tiling one dataset version: rows → features → quadtree → glb content per tile (leaves at full detail,
//! parents with LOD1 blocks of their largest buildings) → `tileset.json`.
//!
//! Geometric errors are measured, not guessed: a leaf shows everything (0); a parent's error is the
//! larger of how far its blocks deviate from the real buildings (roof shape, footprint simplification)
//! and the size of the largest building it leaves out, and never less than its children's. A building is
//! therefore only missing while it is smaller on screen than the viewer's error budget, and the largest
//! buildings are in every level: they never vanish when zoomed out.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::TryStreamExt;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tvilling_core::arrow::array::{Array, AsArray, Float64Array, RecordBatch};
use tvilling_core::arrow::compute::concat_batches;
use tvilling_core::arrow::datatypes::{DataType, Float64Type};
use tvilling_core::arrow::row::{RowConverter, SortField};
use tvilling_core::crs::Crs;
use tvilling_core::progress::Progress;
use tvilling_core::schema::{BBOX, GEOMETRY};
use tvilling_core::surfaces::{self, Polygon};
use tvilling_core::{At, DatasetName, Kind, Store};

use crate::frame::{Enu, GeoidInfo, Projector, choose_geoid};
use crate::glb::Compression;
use crate::mesh::{FeatureMesh, Part, bounds, extrude};
use crate::output::{ContentInfo, Output};
use crate::properties::Properties;
use crate::tree::{self, Node};
use crate::{Error, Result, glb};

/// Bumped whenever the content format changes, so cached tiles of an older tiler are rebuilt.
const FORMAT: &str = "tvilling-tiles 1";
/// Most buildings in a parent tile's LOD1 content.
pub const PARENT_FEATURES: usize = 2500;

/// Where building heights come from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Height {
    /// The geometry is 3D already (city models, 3D multipatches): used as it is.
    #[default]
    Geometry,
    /// Footprints extruded by this attribute (metres), from the footprint's own z (0 when 2D).
    Attribute(String),
    /// Footprints whose z is the roof height, extruded down to height 0 of the vertical datum.
    FromZ,
}

/// How to tile.
#[derive(Debug, Clone, Default)]
pub struct TileOptions {
    /// Where heights come from.
    pub height: Height,
    /// Also write a copy of the tileset to this folder.
    pub out: Option<PathBuf>,
    /// How glb vertex and index data are stored.
    pub compression: Compression,
}

/// What `tvilling tile` did.
#[derive(Debug, Clone, Serialize)]
pub struct TileReport {
    /// The dataset.
    pub dataset: String,
    /// The version tiled.
    pub version: u64,
    /// Features with a mesh (for a point cloud: points, each in exactly one tile).
    pub features: u64,
    /// Features without a usable geometry (null, empty, no height), left out.
    pub skipped_features: u64,
    /// Surfaces left out as degenerate (zero area, < 3 distinct vertices).
    pub skipped_surfaces: u64,
    /// Tiles in the tileset.
    pub tiles: usize,
    /// Tile contents built in this run.
    pub built: usize,
    /// Tile contents reused unchanged from earlier runs.
    pub unchanged: usize,
    /// Depth of the tree.
    pub depth: usize,
    /// The tileset in the store's tile cache.
    pub tileset: PathBuf,
    /// The exported copy, when `--out` was given.
    pub out: Option<PathBuf>,
    /// How heights were made ellipsoidal.
    pub heights: String,
    /// Root centre, WGS 84 longitude and latitude (degrees).
    pub centre: [f64; 2],
}

/// One row of the dataset, as the tiler sees it before meshing.
struct Feature {
    row: usize,
    centre: [f64; 2],
    /// Largest horizontal extent (CRS units): what disappears when the feature is left out.
    size: f64,
    hash: [u8; 16],
}

/// Everything tiles of one run share.
struct Ctx {
    batch: RecordBatch,
    features: Vec<Feature>,
    props: Properties,
    crs: Crs,
    geoid: GeoidInfo,
    enu: Enu,
    height: Height,
    compression: Compression,
    /// The `--height-attr` column as numbers.
    heights: Option<Float64Array>,
    schema_hash: [u8; 32],
    output: Output,
    progress: Arc<dyn Progress>,
    skipped_surfaces: AtomicU64,
    skipped_features: AtomicU64,
}

/// A finished tile: where its content is, what it covers, its error.
struct Built {
    address: String,
    content: Option<(String, ContentInfo)>,
    lo: [f64; 3],
    hi: [f64; 3],
    error: f64,
    children: Vec<Built>,
    built: usize,
    reused: usize,
}

/// Tiles `name` at `at` into the store's tile cache (and `opts.out`).
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> tvilling_tiles::Result<()> {
/// use std::sync::Arc;
/// use tvilling_core::{At, Store, progress::NoProgress};
/// use tvilling_tiles::{TileOptions, tile};
/// let store = Store::open("./tvilling-data")?;
/// let report = tile(&store, &"byggnader".parse()?, At::Latest, &TileOptions::default(), Arc::new(NoProgress)).await?;
/// println!("{} tiles, {} rebuilt", report.tiles, report.built);
/// # Ok(()) }
/// ```
pub async fn tile(
    store: &Store,
    name: &DatasetName,
    at: At,
    opts: &TileOptions,
    progress: Arc<dyn Progress>,
) -> Result<TileReport> {
    let info = store.info(name, at).await?;
    let crs: Crs = match &info.vertical_crs {
        Some(v) => format!("{}+{v}", info.crs).parse()?,
        None => info.crs.parse()?,
    };
    if info.kind == Kind::Pointcloud.as_str() {
        return crate::points::tile(store, name, at, info, crs, opts, progress).await;
    }
    if info.kind != Kind::Citymodel.as_str() && opts.height == Height::Geometry {
        let flat = info.z_range.is_none_or(|z| z[1] - z[0] < 1e-9);
        if flat {
            return Err(Error::BadInput(format!(
                "{name} holds {} footprints without heights; say where heights come from: \
                 --height-attr COLUMN (metres, e.g. one of: {}) or --height-from-z (footprint z = roof)",
                info.geometry_type.as_deref().unwrap_or("2D"),
                numeric_columns(&info)
            )));
        }
    }
    if let Height::Attribute(col) = &opts.height
        && !info.columns.iter().any(|c| &c.name == col)
    {
        return Err(Error::BadInput(format!(
            "{name} has no column '{col}' for --height-attr; numeric columns: {}",
            numeric_columns(&info)
        )));
    }
    progress.set_message("reading dataset");
    let (schema, stream) = store.scan(name, at).await?;
    // Binary columns other than the geometry (per-LOD geometries, footprints) are neither drawn nor
    // properties: leave them out as the batches arrive, so they never sit in memory twice.
    let keep: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.name() == GEOMETRY
                || !matches!(
                    f.data_type(),
                    DataType::Binary | DataType::LargeBinary | DataType::BinaryView
                )
        })
        .map(|(i, _)| i)
        .collect();
    let schema = Arc::new(
        schema
            .project(&keep)
            .map_err(|e| Error::Internal(format!("projecting columns: {e}")))?,
    );
    let batches: Vec<RecordBatch> = stream
        .map_err(tvilling_core::Error::from)
        .and_then(|b| {
            let projected = b
                .project(&keep)
                .map_err(|e| tvilling_core::Error::Internal(format!("projecting columns: {e}")));
            futures::future::ready(projected)
        })
        .try_collect()
        .await?;
    let batch = concat_batches(&schema, &batches)
        .map_err(|e| Error::Internal(format!("concatenating batches: {e}")))?;
    drop(batches);
    let output = Output::new(store.dataset_dir(name).join("_tiles"), opts.out.clone())?;
    let name = name.clone();
    let opts = opts.clone();
    let version = info.version;
    tokio::task::spawn_blocking(move || {
        run(batch, crs, opts, output, progress, name.as_str(), version)
    })
    .await
    .map_err(|e| Error::Internal(format!("tiling task failed: {e}")))?
}

fn numeric_columns(info: &tvilling_core::store::DatasetInfo) -> String {
    let cols: Vec<&str> = info
        .columns
        .iter()
        .filter(|c| c.data_type.starts_with("Int") || c.data_type.starts_with("Float"))
        .filter(|c| !c.name.starts_with("bbox_"))
        .map(|c| c.name.as_str())
        .collect();
    if cols.is_empty() {
        "(none)".into()
    } else {
        cols.join(", ")
    }
}

fn run(
    batch: RecordBatch,
    crs: Crs,
    opts: TileOptions,
    output: Output,
    progress: Arc<dyn Progress>,
    name: &str,
    version: u64,
) -> Result<TileReport> {
    let features = features(&batch)?;
    if features.is_empty() {
        return Err(Error::BadInput(format!(
            "{name} v{version} has no rows with a geometry: nothing to tile"
        )));
    }
    let centres: Vec<[f64; 2]> = features.iter().map(|f| f.centre).collect();
    let root = tree::build(&centres)
        .ok_or_else(|| Error::BadInput(format!("{name}: feature extents are not finite")))?;
    let mut geoid = choose_geoid(crs);
    // The frame sits at the root cell's centre, which only moves when the data outgrows the cell:
    // content positions (and so content hashes) survive small edits.
    let projector = Projector::new(crs, &geoid)?;
    let (cx, cy) = (
        root.cell[0] + root.cell[2] / 2.0,
        root.cell[1] + root.cell[2] / 2.0,
    );
    let (lon, lat) = projector.lon_lat(cx, cy)?;
    if geoid.grid.is_some() {
        let n = projector.geoid_height(lon, lat);
        geoid.note = format!(
            "{}; geoid separation N = {n:.2} m at the centre",
            geoid.note
        );
    }
    tracing::info!(dataset = name, "{}", geoid.note);
    let enu = Enu::at(lon, lat, 0.0);
    drop(projector);
    let props = Properties::new(&batch, name, "building")?;
    let schema_hash: [u8; 32] = Sha256::digest(props.schema.to_json().to_string()).into();

    progress.set_message("meshing tiles");
    progress.set_length(features.len() as u64);
    let TileOptions {
        height,
        compression,
        ..
    } = opts;
    let heights = match &height {
        Height::Attribute(col) => Some(numbers(&batch, col)?),
        _ => None,
    };
    let ctx = Ctx {
        heights,
        batch,
        features,
        props,
        crs,
        geoid,
        enu,
        height,
        compression,
        schema_hash,
        output,
        progress: progress.clone(),
        skipped_surfaces: AtomicU64::new(0),
        skipped_features: AtomicU64::new(0),
    };
    let built = build_node(&ctx, &root)?;
    let depth = depth(&built);
    let tileset = crate::tileset::json(
        &built_view(&built),
        &ctx.enu,
        &ctx.props,
        &ctx.geoid.note,
        version,
    )?;
    let (cache_path, out) = ctx.output.finish(&tileset, version)?;
    progress.finish();
    let skipped = ctx.skipped_features.load(Ordering::Relaxed);
    Ok(TileReport {
        dataset: name.to_string(),
        version,
        features: ctx.features.len() as u64 - skipped,
        skipped_features: skipped,
        skipped_surfaces: ctx.skipped_surfaces.load(Ordering::Relaxed),
        tiles: count(&built),
        built: built.built,
        unchanged: built.reused,
        depth,
        tileset: cache_path,
        out,
        heights: ctx.geoid.note.clone(),
        centre: [lon, lat],
    })
}

/// Rows with a geometry, with their centre, size and content hash.
fn features(batch: &RecordBatch) -> Result<Vec<Feature>> {
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| Error::Internal(format!("dataset has no '{name}' column")))
    };
    let bbox: Vec<_> = BBOX
        .iter()
        .take(4)
        .map(|b| col(b).map(|c| c.as_primitive::<Float64Type>().clone()))
        .collect::<Result<_>>()?;
    let geometry = col(GEOMETRY)?;
    // Row bytes over every column: a feature's hash changes exactly when its geometry or any
    // attribute does.
    let fields: Vec<SortField> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| SortField::new(f.data_type().clone()))
        .collect();
    let converter =
        RowConverter::new(fields).map_err(|e| Error::Internal(format!("row converter: {e}")))?;
    let rows = converter
        .convert_columns(batch.columns())
        .map_err(|e| Error::Internal(format!("row converter: {e}")))?;
    let mut out = vec![];
    for r in 0..batch.num_rows() {
        if geometry.is_null(r) || bbox.iter().any(|b| b.is_null(r)) {
            continue;
        }
        let [x0, y0, x1, y1] = [0, 1, 2, 3].map(|k| bbox[k].value(r));
        if !(x0.is_finite() && y0.is_finite() && x1.is_finite() && y1.is_finite()) {
            continue;
        }
        let digest = Sha256::digest(rows.row(r).as_ref());
        let mut hash = [0u8; 16];
        hash.copy_from_slice(&digest[..16]);
        out.push(Feature {
            row: r,
            centre: [(x0 + x1) / 2.0, (y0 + y1) / 2.0],
            size: (x1 - x0).max(y1 - y0),
            hash,
        });
    }
    // The store may hand rows over in any order (files are read in parallel): order features by content
    // so that tiles, their content and their hashes depend on the data alone.
    out.sort_unstable_by_key(|f| f.hash);
    Ok(out)
}

fn build_node(ctx: &Ctx, node: &Node) -> Result<Built> {
    if node.children.is_empty() {
        let fs = &node.features;
        let b = content(ctx, &node.address, fs, Detail::Full)?;
        ctx.progress.inc(fs.len() as u64);
        return Ok(b);
    }
    let children: Vec<Built> = node
        .children
        .par_iter()
        .map(|c| build_node(ctx, c))
        .collect::<Result<_>>()?;
    // The parent shows LOD1 blocks of its largest buildings.
    let mut all = node.all_features();
    all.sort_by(|a, b| {
        ctx.features[*b]
            .size
            .total_cmp(&ctx.features[*a].size)
            .then(a.cmp(b))
    });
    let dropped = all
        .get(PARENT_FEATURES)
        .map_or(0.0, |f| ctx.features[*f].size);
    all.truncate(PARENT_FEATURES);
    all.sort_unstable();
    // Simplify footprints by 1/500 of the cell: invisible at the distance the parent is shown from.
    let tolerance = node.cell[2] / 500.0;
    let mut b = content(ctx, &node.address, &all, Detail::Block { tolerance })?;
    b.error = b.error.max(dropped);
    for c in &children {
        b.error = b.error.max(c.error);
        for k in 0..3 {
            b.lo[k] = b.lo[k].min(c.lo[k]);
            b.hi[k] = b.hi[k].max(c.hi[k]);
        }
        b.built += c.built;
        b.reused += c.reused;
    }
    b.children = children;
    Ok(b)
}

#[derive(Debug, Clone, Copy)]
enum Detail {
    Full,
    Block { tolerance: f64 },
}

/// The content of one tile: reused from the cache when its inputs are unchanged, else built.
fn content(ctx: &Ctx, address: &str, fs: &[usize], detail: Detail) -> Result<Built> {
    let mut h = Sha256::new();
    h.update(FORMAT);
    h.update(ctx.schema_hash);
    h.update(format!(
        "{:?}|{:?}|{:?}|{:?}|{}",
        detail, ctx.height, ctx.compression, ctx.enu.origin, ctx.geoid.note
    ));
    for f in fs {
        h.update(ctx.features[*f].hash);
    }
    let hash = hex::encode(&h.finalize()[..16]);
    let mut built = Built {
        address: address.to_string(),
        content: None,
        lo: [f64::INFINITY; 3],
        hi: [f64::NEG_INFINITY; 3],
        error: 0.0,
        children: vec![],
        built: 0,
        reused: 0,
    };
    let info = match ctx.output.cached(&hash) {
        Some(info) => {
            built.reused = 1;
            Some(info)
        }
        None => {
            let made = make(ctx, fs, detail)?;
            built.built = usize::from(made.is_some());
            match made {
                Some((glb, info)) => Some(ctx.output.store(&hash, &glb, &info)?),
                None => None,
            }
        }
    };
    if let Some(info) = info {
        built.lo = info.lo;
        built.hi = info.hi;
        built.error = info.deviation;
        built.content = Some((format!("content/{hash}.glb"), info));
    }
    Ok(built)
}

/// Meshes the features and writes the glb; `None` when no feature has a usable surface.
fn make(ctx: &Ctx, fs: &[usize], detail: Detail) -> Result<Option<(Vec<u8>, ContentInfo)>> {
    Projector::with(ctx.crs, &ctx.geoid, |projector| {
        make_with(ctx, projector, fs, detail)
    })
}

fn make_with(
    ctx: &Ctx,
    projector: &Projector,
    fs: &[usize],
    detail: Detail,
) -> Result<Option<(Vec<u8>, ContentInfo)>> {
    let mut meshes: Vec<(usize, FeatureMesh)> = Vec::with_capacity(fs.len());
    let mut deviation: f64 = 0.0;
    for &f in fs {
        let feature = &ctx.features[f];
        let mesh = match feature_mesh(ctx, projector, feature.row, detail) {
            Ok(Some((m, dev))) => {
                deviation = deviation.max(dev);
                m
            }
            Ok(None) => {
                if matches!(detail, Detail::Full) {
                    ctx.skipped_features.fetch_add(1, Ordering::Relaxed);
                }
                continue;
            }
            Err(e) => {
                if matches!(detail, Detail::Full) {
                    ctx.skipped_features.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(row = feature.row, "feature left out of the tiles: {e}");
                }
                continue;
            }
        };
        if matches!(detail, Detail::Full) {
            ctx.skipped_surfaces
                .fetch_add(u64::from(mesh.skipped), Ordering::Relaxed);
        }
        if !mesh.triangles.is_empty() {
            meshes.push((feature.row, mesh));
        }
    }
    if meshes.is_empty() {
        return Ok(None);
    }
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for (_, m) in &meshes {
        let (a, b) = bounds(&m.positions);
        for k in 0..3 {
            lo[k] = lo[k].min(a[k]);
            hi[k] = hi[k].max(b[k]);
        }
    }
    let centre = [0, 1, 2].map(|k| (lo[k] + hi[k]) / 2.0);
    let mut mesh = glb::Mesh::default();
    let mut rows = Vec::with_capacity(meshes.len());
    for (id, (row, m)) in meshes.iter().enumerate() {
        let base = mesh.positions.len() as u32;
        // glTF is y-up: local (east, north, up) becomes (east, up, -north).
        mesh.positions.extend(m.positions.iter().map(|p| {
            let d = [p[0] - centre[0], p[1] - centre[1], p[2] - centre[2]];
            [d[0] as f32, d[2] as f32, -d[1] as f32]
        }));
        mesh.normals
            .extend(m.normals.iter().map(|n| [n[0], n[2], -n[1]]));
        mesh.colors.extend_from_slice(&m.colors);
        mesh.feature_ids
            .extend(std::iter::repeat_n(id as u32, m.positions.len()));
        mesh.indices
            .extend(m.triangles.iter().flat_map(|t| t.map(|i| base + i)));
        rows.push(*row);
    }
    let table = ctx.props.table(&rows);
    let bytes = glb::write_glb_with(&mesh, &ctx.props.schema, &table, ctx.compression)?;
    Ok(Some((
        bytes,
        ContentInfo {
            lo,
            hi,
            centre,
            deviation,
            features: rows.len(),
            triangles: mesh.indices.len() / 3,
        },
    )))
}

/// One feature in local metres: full detail, or an LOD1 block with how far it deviates.
fn feature_mesh(
    ctx: &Ctx,
    projector: &Projector,
    row: usize,
    detail: Detail,
) -> Result<Option<(FeatureMesh, f64)>> {
    let b = &ctx.batch;
    let wkb = b
        .column_by_name(GEOMETRY)
        .map(|c| c.as_binary::<i32>().value(row))
        .ok_or_else(|| Error::Internal("geometry column vanished".into()))?;
    let polygons = surfaces::polygons(wkb)?;
    if polygons.is_empty() {
        return Ok(None);
    }
    let solid: Vec<Polygon> = match &ctx.height {
        Height::Geometry => polygons,
        Height::Attribute(_) => {
            let h = ctx
                .heights
                .as_ref()
                .filter(|h| h.is_valid(row))
                .map(|h| h.value(row));
            let Some(h) = h.filter(|h| h.is_finite() && *h > 0.0) else {
                return Ok(None);
            };
            let base = polygons
                .iter()
                .flatten()
                .flatten()
                .map(|p| p[2])
                .fold(f64::INFINITY, f64::min);
            polygons
                .iter()
                .flat_map(|p| extrude(p, base, base + h))
                .collect()
        }
        Height::FromZ => {
            let top = polygons
                .iter()
                .flatten()
                .flatten()
                .map(|p| p[2])
                .fold(f64::NEG_INFINITY, f64::max);
            polygons.iter().flat_map(|p| extrude(p, 0.0, top)).collect()
        }
    };
    // The geoid height at the feature's first vertex: it varies by centimetres across a building.
    let Some(first) = solid
        .first()
        .and_then(|p| p.first())
        .and_then(|r| r.first())
    else {
        return Ok(None);
    };
    let (lon, lat) = projector.lon_lat(first[0], first[1])?;
    let n = projector.geoid_height(lon, lat);
    let local: Vec<Polygon> = solid
        .iter()
        .map(|p| {
            p.iter()
                .map(|r| {
                    r.iter()
                        .map(|c| projector.ecef(*c, n).map(|e| ctx.enu.local(e)))
                        .collect()
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let made = match detail {
        Detail::Full => {
            let semantics = semantics(b, row, ctx.height == Height::Geometry);
            let mut m = FeatureMesh::default();
            for (i, p) in local.iter().enumerate() {
                m.add_polygon(p, semantics.get(i).copied().flatten());
            }
            m.orient_outward();
            Some((m, 0.0))
        }
        Detail::Block { tolerance } => block(&local, tolerance),
    };
    // BIM elements are coloured by their IFC style or class (issue 6), not by surface orientation.
    Ok(made.map(|(mut m, dev)| {
        if let Some(c) = crate::bim_colours::colour(b, row) {
            m.colors.fill(c);
        }
        (m, dev)
    }))
}

/// An LOD1 block for a parent tile: the convex hull of the feature seen from above, simplified, from its
/// lowest point to its highest. Its deviation: the roof shape it flattens (top minus the lowest roof
/// vertex) or the simplification tolerance, whichever is larger.
fn block(local: &[Polygon], tolerance: f64) -> Option<(FeatureMesh, f64)> {
    use geo::{ConvexHull, MultiPoint, Point, Simplify};
    let pts: Vec<[f64; 3]> = local.iter().flatten().flatten().copied().collect();
    let (lo, hi) = bounds(&pts);
    let hull = MultiPoint(pts.iter().map(|p| Point::new(p[0], p[1])).collect()).convex_hull();
    let hull = hull.simplify(tolerance);
    let ring: Vec<[f64; 3]> = hull
        .exterior()
        .0
        .iter()
        .map(|c| [c.x, c.y, lo[2]])
        .collect();
    let mut roof_low = hi[2];
    for p in local {
        if let Some(r) = p.first() {
            let n = surfaces::newell_normal(r);
            let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
            if len > 0.0 && n[2] > 0.3 * len {
                roof_low = r.iter().map(|c| c[2]).fold(roof_low, f64::min);
            }
        }
    }
    let mut m = FeatureMesh::default();
    for p in extrude(&[ring], lo[2], hi[2]) {
        m.add_polygon(&p, None);
    }
    if m.triangles.is_empty() {
        return None;
    }
    Some((m, (hi[2] - roof_low).max(tolerance)))
}

/// The semantic part of each polygon, from the `surface_types` column (city models).
fn semantics(b: &RecordBatch, row: usize, use_them: bool) -> Vec<Option<Part>> {
    let Some(col) = b.column_by_name("surface_types").filter(|_| use_them) else {
        return vec![];
    };
    let Some(s) = col.as_string_opt::<i32>().filter(|s| s.is_valid(row)) else {
        return vec![];
    };
    s.value(row).split(',').map(Part::from_semantic).collect()
}

/// A column as Float64 (the height attribute may be stored as an integer or text).
fn numbers(b: &RecordBatch, col: &str) -> Result<Float64Array> {
    let c = b
        .column_by_name(col)
        .ok_or_else(|| Error::BadInput(format!("no column '{col}' for --height-attr")))?;
    let f =
        tvilling_core::arrow::compute::cast(c, &tvilling_core::arrow::datatypes::DataType::Float64)
            .map_err(|e| {
                Error::BadInput(format!("--height-attr {col}: not a number column ({e})"))
            })?;
    Ok(f.as_primitive::<Float64Type>().clone())
}

fn depth(b: &Built) -> usize {
    1 + b.children.iter().map(depth).max().unwrap_or(0)
}

fn count(b: &Built) -> usize {
    1 + b.children.iter().map(count).sum::<usize>()
}

/// The tree as the tileset writer needs it.
fn built_view(b: &Built) -> crate::tileset::TileView {
    crate::tileset::TileView {
        address: b.address.clone(),
        content: b
            .content
            .as_ref()
            .map(|(uri, info)| (uri.clone(), info.centre)),
        lo: b.lo,
        hi: b.hi,
        error: b.error,
        children: b.children.iter().map(built_view).collect(),
    }
}
