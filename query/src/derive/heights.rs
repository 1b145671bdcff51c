//! LOD1 heights for building footprints from classified laser points, 3dfier-style
//! (`tvilling derive heights`, issue 5).
//!
//! For each footprint polygon:
//!
//! ```text
//! ground points  LAS class 2 inside the footprint or within `ground_buffer` (default 3 m, CRS units) of
//!                its outline: the terrain under the walls and around the building, as 3dfier lifts a
//!                building's floor from the ground points around it
//! roof points    LAS class 6 (building) inside the footprint; when the scanned points hold no class 6 at
//!                all (an unclassified file), every point inside except ground (2) and noise (7, 18), and the
//!                report and the commit say so
//! h_ground       10th percentile of the ground points (3dfier's building floor default)
//! h_roof_50/70   median and 70th percentile of the roof points (3D BAG's LOD1.2 roof uses the 70th)
//! h_roof_max     highest roof point
//! height         h_roof_70 - h_ground: the block height above the ground
//! point_count    points of any class inside the footprint; ground_point_count, roof_point_count: used
//! quality        ok | few_points | no_ground | no_roof | no_footprint (rules in [`super::stats`])
//! ```
//!
//! Heights are in the points' vertical datum (the output's vertical CRS is the points'); the footprint
//! rows keep their ids, attributes and geometry unchanged, in the footprints' CRS. When the two CRSs
//! differ the footprints are transformed to the points' horizontal CRS with PROJ for the matching only.
//! Points in a geographic CRS are refused: the ground buffer is a distance in metres.
//!
//! Memory: footprints are held in memory (one `geo` polygon each, in an R-tree of their envelopes grown by
//! the buffer); the points are streamed batch by batch from a DataFusion scan filtered on the `bbox_*`
//! columns to the footprints' extent, so Delta file statistics and Parquet row-group statistics skip
//! data outside it (the point rows are Morton-sorted, so row groups are compact). Only the heights of
//! points that fall in or near a footprint are kept, 8 bytes each.
//!
//! A derived dataset has no source bytes: its provenance names both inputs with their versions in
//! `source_uri` and `options` and leaves `sha256` empty. Deriving again from the same input versions with
//! the same options is a no-op ("unchanged"), as re-ingesting an identical file is.

use std::collections::BTreeMap;
use std::sync::Arc;

use deltalake::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Int64Array, RecordBatch, StringArray,
};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, Field, Float64Type, Int16Type, SchemaRef};
use deltalake::datafusion::common::DataFusionError;
use deltalake::datafusion::prelude::{SessionContext, col, lit};
use futures::StreamExt;
use tvilling_core::crs::{Crs, Transformer};
use tvilling_core::progress::Progress;
use tvilling_core::provenance::{Completeness, Positional};
use tvilling_core::schema;
use tvilling_core::store::WriteRequest;
use tvilling_core::{
    At, Classification, CommitOutcome, DatasetName, DatasetProperties, Kind, Mode, Provenance,
    QualityReport, Store, TOOL_VERSION,
};

use super::matching::{Accumulator, Footprints};
use super::stats::{BuildingHeights, GROUND_PERCENTILE, Quality};
use crate::{Error, Result};

/// The default width of the ring around a footprint whose ground points count (CRS units, metres).
pub const DEFAULT_GROUND_BUFFER: f64 = 3.0;
/// The point columns the derivation reads (kind `pointcloud`, see `ingest/src/pointcloud`).
const POINT_COLUMNS: [&str; 4] = ["x", "y", "z", "classification"];

/// The columns added to the footprint rows; a footprint column of the same name is replaced.
pub const NEW_COLUMNS: [&str; 9] = [
    "h_ground",
    "h_roof_50",
    "h_roof_70",
    "h_roof_max",
    "height",
    "point_count",
    "ground_point_count",
    "roof_point_count",
    "quality",
];

/// What to derive from what.
#[derive(Debug, Clone)]
pub struct HeightsOptions {
    /// The footprints (kind `vector`, polygons).
    pub footprints: DatasetName,
    /// Which version of the footprints.
    pub footprints_at: At,
    /// The classified points (kind `pointcloud`).
    pub points: DatasetName,
    /// Which version of the points.
    pub points_at: At,
    /// The dataset to write (a new version of it, replacing its rows).
    pub out: DatasetName,
    /// Ground points within this distance of a footprint's outline count for its ground height (points'
    /// CRS units, metres).
    pub ground_buffer: f64,
    /// Classification of the output; default the stricter of the two inputs'.
    pub classification: Option<Classification>,
}

/// One input of a derivation.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// The dataset.
    pub dataset: DatasetName,
    /// The version read.
    pub version: u64,
    /// Its horizontal CRS.
    pub crs: String,
}

/// Which points counted as roof points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoofClasses {
    /// LAS class 6 (building).
    Building,
    /// The points had no class 6: every class but ground and noise.
    NonGround,
}

impl RoofClasses {
    /// A short description for reports.
    pub fn describe(self) -> &'static str {
        match self {
            RoofClasses::Building => "class 6 (building)",
            RoofClasses::NonGround => {
                "all classes but 2, 7 and 18 (the points have no class 6 building points)"
            }
        }
    }
}

/// What a derivation did.
#[derive(Debug, Clone)]
pub struct HeightsReport {
    /// The dataset written.
    pub dataset: DatasetName,
    /// The commit.
    pub outcome: CommitOutcome,
    /// The footprints read.
    pub footprints: Input,
    /// The points read.
    pub points: Input,
    /// The vertical CRS of the heights (the points').
    pub vertical_crs: Option<String>,
    /// Footprint rows (all of them are in the output).
    pub buildings: u64,
    /// Points read after the bbox pruning.
    pub points_scanned: u64,
    /// Points inside at least one footprint.
    pub points_in_footprints: u64,
    /// Which points were roof points.
    pub roof_classes: RoofClasses,
    /// Buildings per quality flag.
    pub quality: BTreeMap<&'static str, u64>,
    /// Whether the footprints were transformed to the points' CRS for matching.
    pub transformed: bool,
}

impl HeightsReport {
    /// The report as JSON (for `--format json`).
    pub fn to_json(&self) -> serde_json::Value {
        let input = |i: &Input| serde_json::json!({ "dataset": i.dataset.as_str(), "version": i.version, "crs": i.crs });
        let (outcome, version, rows) = match self.outcome {
            CommitOutcome::Committed { version, rows } => ("committed", version, Some(rows)),
            CommitOutcome::Unchanged { version, .. } => ("unchanged", version, None),
        };
        serde_json::json!({
            "dataset": self.dataset.as_str(),
            "outcome": outcome,
            "version": version,
            "rows": rows,
            "footprints": input(&self.footprints),
            "points": input(&self.points),
            "vertical_crs": self.vertical_crs,
            "buildings": self.buildings,
            "points_scanned": self.points_scanned,
            "points_in_footprints": self.points_in_footprints,
            "roof_points": self.roof_classes.describe(),
            "quality": self.quality,
            "footprints_transformed": self.transformed,
        })
    }
}

/// A bad-input error (exit code 2, nothing committed).
pub(super) fn bad(msg: String) -> Error {
    Error::Store(tvilling_core::Error::BadInput(msg))
}

fn df(e: DataFusionError) -> Error {
    Error::DataFusion(Box::new(e))
}

fn core(e: impl Into<tvilling_core::Error>) -> Error {
    Error::Store(e.into())
}

/// Opens an input at a version; returns the version and its properties.
async fn open_input(store: &Store, name: &DatasetName, at: At) -> Result<(u64, DatasetProperties)> {
    let table = store.table(name, at).await?;
    let version = table.version().unwrap_or(0);
    let props = DatasetProperties::from_configuration(
        table.snapshot().map_err(core)?.metadata().configuration(),
    )?;
    Ok((version, props))
}

/// Derives LOD1 heights for every footprint and commits them as a new version of `opts.out`.
///
/// Fails with nothing committed when a dataset is missing, the footprints are not polygons in a vector
/// dataset, the points are not a point cloud, or the CRSs cannot be matched.
///
/// # Examples
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use tvilling_core::{At, Store, progress::NoProgress};
/// use tvilling_query::derive::heights::{DEFAULT_GROUND_BUFFER, HeightsOptions, derive_heights};
/// let store = Store::open("twin")?;
/// let opts = HeightsOptions {
///     footprints: "pand".parse()?,
///     footprints_at: At::Latest,
///     points: "ahn3".parse()?,
///     points_at: At::Latest,
///     out: "pand_lod1".parse()?,
///     ground_buffer: DEFAULT_GROUND_BUFFER,
///     classification: None,
/// };
/// let report = derive_heights(&store, &opts, &NoProgress).await?;
/// println!("{:?}", report.quality);
/// # Ok(()) }
/// ```
pub async fn derive_heights(
    store: &Store,
    opts: &HeightsOptions,
    progress: &dyn Progress,
) -> Result<HeightsReport> {
    let started = chrono::Utc::now();
    if opts.out == opts.footprints || opts.out == opts.points {
        return Err(bad(format!(
            "--dataset {} is one of the inputs; write the heights to a new dataset (for example --dataset {}_lod1)",
            opts.out, opts.footprints
        )));
    }
    if !(opts.ground_buffer.is_finite() && opts.ground_buffer >= 0.0) {
        return Err(bad(format!(
            "--ground-buffer {} is not a distance; give metres >= 0 (default {DEFAULT_GROUND_BUFFER})",
            opts.ground_buffer
        )));
    }
    let (f_version, f_props) = open_input(store, &opts.footprints, opts.footprints_at).await?;
    if f_props.kind != Kind::Vector {
        return Err(bad(format!(
            "--footprints {} is a {} dataset; derive heights needs building footprint polygons from a \
             vector dataset (ingest them with `tvilling ingest FILE --dataset NAME`)",
            opts.footprints, f_props.kind
        )));
    }
    let (p_version, p_props) = open_input(store, &opts.points, opts.points_at).await?;
    if p_props.kind != Kind::Pointcloud {
        return Err(bad(format!(
            "--points {} is a {} dataset, not a point cloud; ingest a LAS/LAZ file (with --crs when it \
             declares none) and pass that dataset",
            opts.points, p_props.kind
        )));
    }
    let p_crs: Crs = p_props.crs.parse().map_err(|e| {
        bad(format!(
            "point cloud '{}' has no usable CRS ('{}': {e}); re-ingest it with --crs EPSG:N",
            opts.points, p_props.crs
        ))
    })?;
    if p_crs.is_geographic() {
        return Err(bad(format!(
            "point cloud '{}' is in the geographic CRS {} (degrees); derive heights needs projected \
             coordinates in metres for the {} m ground buffer: ingest the points in a projected CRS",
            opts.points, p_props.crs, opts.ground_buffer
        )));
    }
    let f_crs: Crs = f_props.crs.parse().map_err(|e| {
        bad(format!(
            "footprints '{}' have no usable CRS ('{}': {e}); re-ingest them with --crs EPSG:N",
            opts.footprints, f_props.crs
        ))
    })?;
    let transform = if f_crs.horizontal_code() == p_crs.horizontal_code() {
        None
    } else {
        Some(Transformer::new(f_crs, p_crs).map_err(|e| {
            bad(format!(
                "the footprints ({}) and the points ({}) are in CRSs that cannot be matched: {e}",
                f_crs.horizontal(),
                p_crs.horizontal()
            ))
        })?)
    };

    // Footprints: every row, in memory (the output keeps them all).
    let (f_schema, mut stream) = store.scan(&opts.footprints, At::Version(f_version)).await?;
    let mut f_batches = vec![];
    while let Some(b) = stream.next().await {
        f_batches.push(b.map_err(df)?);
    }
    let footprints = Footprints::read(&f_batches, transform.as_ref(), &opts.footprints)?;
    let rows = footprints.polygons.len();

    // Points: one pruned stream.
    let mut acc = Accumulator::new(rows);
    let points_scanned = if let Some(extent) = footprints.extent(opts.ground_buffer) {
        let tree = footprints.tree(opts.ground_buffer);
        scan_points(
            store,
            opts,
            p_version,
            extent,
            progress,
            |x, y, z, class| {
                acc.add(
                    &tree,
                    &footprints.polygons,
                    opts.ground_buffer,
                    x,
                    y,
                    z,
                    class,
                )
            },
        )
        .await?
    } else {
        0
    };
    progress.finish();
    let roof_classes = if acc.saw_building {
        RoofClasses::Building
    } else {
        RoofClasses::NonGround
    };
    let heights = acc.finish(&footprints.polygons);
    let mut quality = BTreeMap::new();
    for q in Quality::ALL {
        quality.insert(q.as_str(), 0u64);
    }
    for h in &heights {
        *quality.entry(h.quality.as_str()).or_default() += 1;
    }

    // Output rows: the footprint rows with the new columns.
    let replaced: Vec<String> = schema::attribute_fields(&f_schema)
        .filter(|f| NEW_COLUMNS.contains(&f.name().as_str()))
        .map(|f| f.name().clone())
        .collect();
    let attributes: Vec<Field> = schema::attribute_fields(&f_schema)
        .filter(|f| !NEW_COLUMNS.contains(&f.name().as_str()))
        .map(|f| f.as_ref().clone())
        .chain(new_fields())
        .collect();
    let out_schema = schema::dataset_schema(&f_props.crs, attributes);
    let mut out_batches = Vec::with_capacity(f_batches.len());
    let mut offset = 0;
    for b in &f_batches {
        let n = b.num_rows();
        let rows_of = offset..offset + n;
        let (Some(part), Some(inside)) = (heights.get(rows_of.clone()), acc.inside.get(rows_of))
        else {
            return Err(Error::Store(tvilling_core::Error::Internal(
                "heights and footprint rows disagree in number".into(),
            )));
        };
        out_batches.push(output_batch(b, part, inside, &out_schema)?);
        offset += n;
    }

    let footprints_in = Input {
        dataset: opts.footprints.clone(),
        version: f_version,
        crs: f_props.crs.clone(),
    };
    let points_in = Input {
        dataset: opts.points.clone(),
        version: p_version,
        crs: p_props.crs.clone(),
    };
    let mut notes = vec![format!(
        "heights (h_ground, h_roof_*, height) are in the points' vertical datum {}",
        p_props
            .vertical_crs
            .as_deref()
            .unwrap_or("(none declared: the z of the points as stored)")
    )];
    notes.push(format!("roof points: {}", roof_classes.describe()));
    if transform.is_some() {
        notes.push(format!(
            "footprints transformed from {} to {} with PROJ to match the points; the stored geometry is \
             unchanged",
            f_crs.horizontal(),
            p_crs.horizontal()
        ));
    }
    if !replaced.is_empty() {
        notes.push(format!(
            "footprint columns replaced by derived ones: {}",
            replaced.join(", ")
        ));
    }
    let options = BTreeMap::from([
        (
            "footprints".to_string(),
            format!("{}@{f_version}", opts.footprints),
        ),
        ("points".to_string(), format!("{}@{p_version}", opts.points)),
        ("ground_buffer".to_string(), opts.ground_buffer.to_string()),
        (
            "ground_percentile".to_string(),
            GROUND_PERCENTILE.to_string(),
        ),
        ("roof_percentiles".to_string(), "50,70,100".to_string()),
        (
            "method".to_string(),
            "derive heights (3dfier-style LOD1)".to_string(),
        ),
    ]);
    let null_geometries = footprints.polygons.iter().filter(|p| p.is_none()).count() as u64;
    let quality_report = QualityReport {
        completeness: Completeness {
            source_count: Some(rows as u64),
            features_read: rows as u64,
            rows_written: rows as u64,
            null_geometries,
            ..Default::default()
        },
        positional: Positional {
            crs: f_props.crs.clone(),
            crs_source: format!("footprints dataset {}", opts.footprints),
            notes,
            ..Default::default()
        },
        rejected: footprints.issues.clone(),
        content: BTreeMap::from([(
            "derive_heights".to_string(),
            serde_json::json!({
                "quality": quality,
                "points_scanned": points_scanned,
                "points_in_footprints": acc.points_in_footprints,
                "roof_points": roof_classes.describe(),
                "ground_points": format!(
                    "class 2 inside or within {} m of the footprint, {}th percentile",
                    opts.ground_buffer, GROUND_PERCENTILE
                ),
            }),
        )]),
        ..Default::default()
    };
    let source_uri = format!(
        "tvilling:derive/heights?footprints={}@{f_version}&points={}@{p_version}",
        opts.footprints, opts.points
    );
    let provenance = Provenance {
        source_uri: source_uri.clone(),
        sha256: String::new(),
        bytes: 0,
        layer: None,
        tool: TOOL_VERSION.to_string(),
        user: tvilling_core::store::whoami(),
        host: std::fs::read_to_string("/etc/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into()),
        started,
        mode: Mode::Overwrite.as_str().to_string(),
        rows_read: rows as u64,
        rows_written: rows as u64,
        rows_rejected: 0,
        options,
        source_metadata: serde_json::json!({
            "inputs": [
                { "role": "footprints", "dataset": opts.footprints.as_str(), "version": f_version,
                  "kind": f_props.kind.as_str(), "crs": f_props.crs },
                { "role": "points", "dataset": opts.points.as_str(), "version": p_version,
                  "kind": p_props.kind.as_str(), "crs": p_props.crs,
                  "vertical_crs": p_props.vertical_crs },
            ],
        }),
    };
    let req = WriteRequest {
        name: opts.out.clone(),
        properties: DatasetProperties {
            kind: Kind::Vector,
            crs: f_props.crs.clone(),
            vertical_crs: p_props.vertical_crs.clone(),
            // Derived data is as sensitive as its most sensitive input.
            classification: opts
                .classification
                .unwrap_or(f_props.classification.max(p_props.classification)),
            owner: f_props.owner.clone(),
            licence: None,
            source: Some(source_uri),
            geometry_type: f_props.geometry_type.clone(),
        },
        set_classification: true,
        mode: Mode::Overwrite,
        provenance,
        quality: quality_report,
    };
    let outcome = store.commit(req, out_schema, out_batches).await?;
    Ok(HeightsReport {
        dataset: opts.out.clone(),
        outcome,
        footprints: footprints_in,
        points: points_in,
        vertical_crs: p_props.vertical_crs,
        buildings: rows as u64,
        points_scanned,
        points_in_footprints: acc.points_in_footprints,
        roof_classes,
        quality,
        transformed: transform.is_some(),
    })
}

fn new_fields() -> Vec<Field> {
    NEW_COLUMNS
        .iter()
        .map(|n| {
            let t = match *n {
                "quality" => DataType::Utf8,
                n if n.ends_with("count") => DataType::Int64,
                _ => DataType::Float64,
            };
            Field::new(*n, t, *n != "quality")
        })
        .collect()
}

/// Streams the points inside `extent` and calls `each(x, y, z, class)`; returns the points read.
async fn scan_points(
    store: &Store,
    opts: &HeightsOptions,
    version: u64,
    extent: [f64; 4],
    progress: &dyn Progress,
    mut each: impl FnMut(f64, f64, f64, Option<i16>),
) -> Result<u64> {
    let table = store.table(&opts.points, At::Version(version)).await?;
    // The bar's length is every point of the version: the pruned scan reads fewer, and says so.
    let total: usize = table
        .snapshot()
        .map_err(core)?
        .log_data()
        .iter()
        .filter_map(|f| f.num_records())
        .sum();
    progress.set_length(total as u64);
    progress.set_message(&format!(
        "scanning points of {} within the footprints' extent",
        opts.points
    ));
    let provider = table.table_provider().await.map_err(core)?;
    let ctx = SessionContext::new();
    let frame = ctx.read_table(provider).map_err(df)?;
    let missing: Vec<&str> = POINT_COLUMNS
        .iter()
        .copied()
        .filter(|c| frame.schema().field_with_unqualified_name(c).is_err())
        .collect();
    if !missing.is_empty() {
        return Err(bad(format!(
            "point cloud '{}' lacks the column(s) {}; re-ingest the LAS/LAZ file with this tvilling",
            opts.points,
            missing.join(", ")
        )));
    }
    // Overlap test on the per-row bbox columns: Delta file statistics and Parquet row-group statistics
    // on them skip the data outside the footprints.
    let [xmin, ymin, xmax, ymax] = extent;
    let filter = col("bbox_xmax")
        .gt_eq(lit(xmin))
        .and(col("bbox_xmin").lt_eq(lit(xmax)))
        .and(col("bbox_ymax").gt_eq(lit(ymin)))
        .and(col("bbox_ymin").lt_eq(lit(ymax)));
    let mut stream = frame
        .filter(filter)
        .and_then(|f| f.select_columns(&POINT_COLUMNS))
        .map_err(df)?
        .execute_stream()
        .await
        .map_err(df)?;
    let mut scanned = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch.map_err(df)?;
        let column = |name: &str, t: &DataType| -> Result<ArrayRef> {
            let c = batch.column_by_name(name).ok_or_else(|| {
                Error::Store(tvilling_core::Error::Internal(format!(
                    "the point scan lost column {name}"
                )))
            })?;
            cast(c, t).map_err(core)
        };
        let (x, y, z) = (
            column("x", &DataType::Float64)?,
            column("y", &DataType::Float64)?,
            column("z", &DataType::Float64)?,
        );
        let class = column("classification", &DataType::Int16)?;
        let (x, y, z) = (
            x.as_primitive::<Float64Type>(),
            y.as_primitive::<Float64Type>(),
            z.as_primitive::<Float64Type>(),
        );
        let class = class.as_primitive::<Int16Type>();
        for i in 0..batch.num_rows() {
            if x.is_null(i) || y.is_null(i) || z.is_null(i) {
                continue;
            }
            let (px, py, pz) = (x.value(i), y.value(i), z.value(i));
            if !(px.is_finite() && py.is_finite() && pz.is_finite()) {
                continue;
            }
            each(px, py, pz, class.is_valid(i).then(|| class.value(i)));
        }
        scanned += batch.num_rows() as u64;
        progress.inc(batch.num_rows() as u64);
    }
    Ok(scanned)
}

/// A footprint batch with the derived columns, in `schema`'s order.
fn output_batch(
    b: &RecordBatch,
    heights: &[BuildingHeights],
    inside: &[i64],
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let f64s = |f: fn(&BuildingHeights) -> Option<f64>| -> ArrayRef {
        Arc::new(heights.iter().map(f).collect::<Float64Array>())
    };
    let mut columns = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let array: ArrayRef = match field.name().as_str() {
            "h_ground" => f64s(|h| h.h_ground),
            "h_roof_50" => f64s(|h| h.h_roof_50),
            "h_roof_70" => f64s(|h| h.h_roof_70),
            "h_roof_max" => f64s(|h| h.h_roof_max),
            "height" => f64s(|h| h.height),
            "point_count" => Arc::new(Int64Array::from(inside.to_vec())),
            "ground_point_count" => Arc::new(
                heights
                    .iter()
                    .map(|h| Some(h.ground_points as i64))
                    .collect::<Int64Array>(),
            ),
            "roof_point_count" => Arc::new(
                heights
                    .iter()
                    .map(|h| Some(h.roof_points as i64))
                    .collect::<Int64Array>(),
            ),
            "quality" => Arc::new(StringArray::from_iter_values(
                heights.iter().map(|h| h.quality.as_str()),
            )),
            name => {
                let c = b.column_by_name(name).ok_or_else(|| {
                    Error::Store(tvilling_core::Error::Internal(format!(
                        "footprint column {name} vanished between scan and write"
                    )))
                })?;
                if c.data_type() == field.data_type() {
                    c.clone()
                } else {
                    cast(c, field.data_type()).map_err(core)?
                }
            }
        };
        columns.push(array);
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(core)
}
