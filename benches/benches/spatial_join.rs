//! Points-in-polygons spatial join, tvilling side by side with DuckDB spatial and SedonaDB.
//!
//! Two cases, each a store with the datasets `points` and `polys` plus the same two datasets exported as
//! GeoParquet 1.1 by tvilling's exporter, so all three engines read identical rows:
//!
//! - `kommuner`: 10 000 000 points drawn uniformly in the bounding box of Sweden's 290 municipalities ×
//!   those municipalities (`../shared/data/vector/Kommun_Sweref99TM.geojson`, SWEREF 99 TM). The file has
//!   no `crs` member, which by RFC 7946 would mean WGS 84, but its coordinates are metres in EPSG:3006, so
//!   it is ingested with `--crs EPSG:3006`. Points in the sea or in Norway/Finland match no polygon.
//! - `town`: 1 000 000 points uniform in the extent of 100 000 generated building footprints (the sample
//!   town of `tvilling-fixtures`, seed 1) × those footprints.
//!
//! Queries (the same text on every engine):
//!
//! ```sql
//! SELECT count(*) AS n FROM points p JOIN polys k ON ST_Intersects(p.geometry, k.geometry)
//! SELECT k.id, count(*) AS n FROM points p JOIN polys k ON ST_Intersects(p.geometry, k.geometry) GROUP BY k.id
//! ```
//!
//! Each engine runs each query once to warm up and reports the best of `TVILLING_BENCH_RUNS` (default 3)
//! timed runs; all engines scan their files in every run (tvilling its Delta table, the peers the
//! GeoParquet files). The table says whether every engine returned the same count and, for the grouped
//! query, the same per-polygon counts (SHA-256 of the sorted `id<TAB>count` lines).
//!
//! Run: `cargo bench -p tvilling-benches --bench spatial_join`. Environment:
//! - `TVILLING_BENCH_POINTS` (10 000 000) points for `kommuner`; `TVILLING_BENCH_TOWN_POINTS` (1 000 000)
//!   and `TVILLING_BENCH_BUILDINGS` (100 000) for `town`; `TVILLING_BENCH_SEED` (1);
//! - `TVILLING_BENCH_CASES` (`kommuner,town`), `TVILLING_BENCH_QUERIES` (`count,per_polygon`);
//! - `TVILLING_BENCH_RUNS` (3); `TVILLING_BENCH_PEERS` (`duckdb,sedonadb`; empty or `none` skips them);
//! - `TVILLING_BENCH_EXPLAIN` (unset): when set, print tvilling's physical plan of each query;
//! - `TVILLING_BENCH_KOMMUNER` (the municipality file; default `../shared/data/...` from the workspace).
//!
//! The peers run from `benches/peers/peers.py` in a virtual environment at `$CARGO_TARGET_DIR/bench-venv`,
//! created with the pinned `benches/peers/requirements.txt` on first use. Generated data is cached under
//! `$CARGO_TARGET_DIR/bench-data/spatial-join/`, one folder per case, size and seed. Results go to
//! `benches/RESULTS.md`.
#![allow(clippy::print_stdout)] // a bench binary reports on stdout

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use tvilling_core::arrow::array::{
    Array, ArrayRef, BinaryBuilder, Float64Array, Int64Array, StringArray, StringBuilder,
};
use tvilling_core::arrow::compute::cast;
use tvilling_core::arrow::datatypes::DataType;
use tvilling_core::arrow::record_batch::RecordBatch;
use tvilling_core::progress::NoProgress;
use tvilling_core::store::WriteRequest;
use tvilling_core::{
    At, Classification, DatasetName, DatasetProperties, Kind, Mode, Provenance, QualityReport,
    Store, TOOL_VERSION,
};
use tvilling_ingest::export::{Format, export};
use tvilling_ingest::{IngestOptions, ReadOptions, ingest};

type BoxResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The queries, by name; the peers get the same text through `peers.py --sql`.
const QUERIES: [(&str, &str); 2] = [
    (
        "count",
        "SELECT count(*) AS n FROM points p JOIN polys k ON ST_Intersects(p.geometry, k.geometry)",
    ),
    (
        "per_polygon",
        "SELECT k.id, count(*) AS n FROM points p JOIN polys k \
         ON ST_Intersects(p.geometry, k.geometry) GROUP BY k.id",
    ),
];

/// Rows per generated batch of points.
const BATCH: usize = 1 << 20;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && s != "none")
        .collect()
}

/// Which polygons a case joins against.
#[derive(Debug, Clone)]
enum Polygons {
    /// Sweden's municipalities, from this GeoJSON file (SWEREF 99 TM coordinates).
    Kommuner(PathBuf),
    /// The sample town's building footprints.
    Town { buildings: usize },
}

/// One join: polygons and how many random points to drop on them.
#[derive(Debug, Clone)]
struct Case {
    name: &'static str,
    polygons: Polygons,
    points: usize,
    seed: u64,
}

/// A case's data on disk: the store and the GeoParquet exports of both datasets.
#[derive(Debug)]
struct Prepared {
    store: PathBuf,
    points_parquet: PathBuf,
    polys_parquet: PathBuf,
    points: u64,
    polys: u64,
}

/// What every engine must agree on for one query.
#[derive(Debug, Clone, PartialEq)]
struct Answer {
    count: u64,
    groups: u64,
    digest: Option<String>,
}

/// One engine's timing of one query.
#[derive(Debug, Clone)]
struct Timing {
    engine: String,
    query: String,
    seconds: f64,
    answer: Answer,
}

fn main() -> BoxResult<()> {
    let target =
        PathBuf::from(std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()));
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("benches/ has no parent folder")?
        .to_path_buf();
    let seed: u64 = env_or("TVILLING_BENCH_SEED", 1);
    let kommuner = std::env::var("TVILLING_BENCH_KOMMUNER").map_or_else(
        |_| workspace.join("../shared/data/vector/Kommun_Sweref99TM.geojson"),
        PathBuf::from,
    );
    let all_cases = [
        Case {
            name: "kommuner",
            polygons: Polygons::Kommuner(kommuner),
            points: env_or("TVILLING_BENCH_POINTS", 10_000_000),
            seed,
        },
        Case {
            name: "town",
            polygons: Polygons::Town {
                buildings: env_or("TVILLING_BENCH_BUILDINGS", 100_000),
            },
            points: env_or("TVILLING_BENCH_TOWN_POINTS", 1_000_000),
            seed,
        },
    ];
    let wanted = env_list("TVILLING_BENCH_CASES", "kommuner,town");
    let queries: Vec<(&str, &str)> = {
        let names = env_list("TVILLING_BENCH_QUERIES", "count,per_polygon");
        QUERIES
            .into_iter()
            .filter(|(n, _)| names.iter().any(|w| w == n))
            .collect()
    };
    let runs: usize = env_or("TVILLING_BENCH_RUNS", 3).max(1);
    let peers = env_list("TVILLING_BENCH_PEERS", "duckdb,sedonadb");
    let python = if peers.is_empty() {
        None
    } else {
        peer_python(&target, &workspace)
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let data = target.join("bench-data").join("spatial-join");
    let mut report = vec![];
    for case in all_cases
        .iter()
        .filter(|c| wanted.iter().any(|w| w == c.name))
    {
        let prepared = rt.block_on(prepare(&data, case))?;
        println!(
            "{}: {} points × {} polygons; store {}",
            case.name,
            prepared.points,
            prepared.polys,
            prepared.store.display()
        );
        let mut timings = rt.block_on(run_tvilling(&prepared, &queries, runs))?;
        rt.block_on(run_nearest(&prepared, runs))?;
        if let Some(python) = &python {
            timings.extend(run_peers(
                python, &workspace, &prepared, &queries, runs, &peers,
            )?);
        }
        report.push((case.name, prepared.points, timings));
    }
    if print_table(&report) {
        Ok(())
    } else {
        Err("the engines returned different answers (rows marked NO above)".into())
    }
}

/// Nearest 10 points to one of the points, through the index (bbox windows over the Hilbert-ordered row
/// groups) and as DataFusion's top-k sort over every row; both must return the same rows.
async fn run_nearest(prepared: &Prepared, runs: usize) -> BoxResult<()> {
    let store = Store::open(prepared.store.to_str().ok_or("non-UTF-8 store path")?)?;
    let session = |index: bool| {
        tvilling_query::Session::open(
            &store,
            tvilling_query::QueryOptions {
                spatial_join: index,
                ..Default::default()
            },
        )
    };
    let (indexed, plain) = (session(true).await?, session(false).await?);
    let here = indexed
        .sql("SELECT ST_X(geometry), ST_Y(geometry), CAST(ST_SRID(geometry) AS BIGINT) FROM points WHERE id = '4242'")
        .await?;
    let row = here
        .first()
        .filter(|b| b.num_rows() == 1)
        .ok_or("point 4242 not found")?;
    let value = |i: usize| -> BoxResult<f64> {
        let c = cast(row.column(i), &DataType::Float64)?;
        Ok(c.as_any()
            .downcast_ref::<Float64Array>()
            .ok_or("not a number")?
            .value(0))
    };
    let (x, y, srid) = (value(0)?, value(1)?, value(2)? as i64);
    let sql = format!(
        "SELECT id, ST_Distance(geometry, ST_Point({x}, {y}, {srid})) AS d FROM points ORDER BY d LIMIT 10"
    );
    let mut times = vec![];
    let mut answers = vec![];
    for session in [&indexed, &plain] {
        let mut answer = session.sql(&sql).await?;
        let mut best = f64::INFINITY;
        for _ in 0..runs {
            let t = Instant::now();
            answer = session.sql(&sql).await?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        let mut ids = vec![];
        for batch in &answer {
            let column = cast(batch.column(0), &DataType::Utf8)?;
            let column = column.as_any().downcast_ref::<StringArray>().ok_or("ids")?;
            ids.extend(column.iter().map(|v| v.unwrap_or_default().to_string()));
        }
        answers.push(ids);
        times.push(best);
    }
    println!(
        "nearest 10 of {} points: index {:.4} s, top-k over every row {:.4} s (ratio {:.3}), same rows: {}",
        prepared.points,
        times[0],
        times[1],
        times[0] / times[1],
        if answers[0] == answers[1] {
            "yes"
        } else {
            "NO"
        }
    );
    if answers[0] != answers[1] {
        return Err("nearest-k through the index differs from the full top-k".into());
    }
    Ok(())
}

/// Makes (or finds in the cache) a case's store and GeoParquet files.
async fn prepare(data: &Path, case: &Case) -> BoxResult<Prepared> {
    let key = match &case.polygons {
        Polygons::Kommuner(_) => format!("kommuner-p{}-s{}", case.points, case.seed),
        Polygons::Town { buildings } => {
            format!("town-b{buildings}-p{}-s{}", case.points, case.seed)
        }
    };
    let dir = data.join(key);
    let ready = dir.join("ready.json");
    let prepared = Prepared {
        store: dir.join("store"),
        points_parquet: dir.join("points.parquet"),
        polys_parquet: dir.join("polys.parquet"),
        points: 0,
        polys: 0,
    };
    if let Ok(text) = std::fs::read_to_string(&ready) {
        let v: serde_json::Value = serde_json::from_str(&text)?;
        return Ok(Prepared {
            points: v["points"].as_u64().unwrap_or(0),
            polys: v["polys"].as_u64().unwrap_or(0),
            ..prepared
        });
    }
    // A folder without `ready.json` is a run that stopped half-way: start it again from nothing.
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let store = Store::open(prepared.store.to_str().ok_or("non-UTF-8 bench-data path")?)?;
    let polys_name: DatasetName = "polys".parse()?;
    let points_name: DatasetName = "points".parse()?;

    let t = Instant::now();
    let (source, read) = match &case.polygons {
        Polygons::Kommuner(path) => (
            path.clone(),
            ReadOptions {
                // The file has no `crs` member (RFC 7946: WGS 84), yet its coordinates are SWEREF 99 TM metres.
                crs: Some("EPSG:3006".parse()?),
                ..Default::default()
            },
        ),
        Polygons::Town { buildings } => {
            let gpkg = data.join(format!("town-{buildings}-s{}.gpkg", case.seed));
            if !gpkg.exists() {
                tvilling_fixtures::town::generate(
                    &gpkg,
                    &tvilling_fixtures::town::TownSpec {
                        buildings: *buildings,
                        seed: case.seed,
                    },
                )?;
            }
            (
                gpkg,
                ReadOptions {
                    layer: Some("byggnader".into()),
                    ..Default::default()
                },
            )
        }
    };
    let opts = IngestOptions {
        dataset: polys_name.clone(),
        read,
        mode: Mode::Overwrite,
        key: None,
        classification: None,
        owner: None,
        licence: None,
    };
    ingest(&store, &source, &opts, Arc::new(NoProgress)).await?;
    let polys_info = store.info(&polys_name, At::Latest).await?;
    let extent = polys_info
        .extent
        .ok_or("the polygon dataset has no extent")?;
    println!(
        "  polys: {} rows from {} (generated if needed and ingested) in {:.1} s; extent {extent:?}",
        polys_info.rows,
        source.display(),
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let points = commit_random_points(&store, &points_name, case, extent, &polys_info.crs).await?;
    println!(
        "  points: {points} generated and committed in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    for (name, out) in [
        (&polys_name, &prepared.polys_parquet),
        (&points_name, &prepared.points_parquet),
    ] {
        export(&store, name, At::Latest, Format::GeoParquet, out).await?;
    }
    println!(
        "  exported GeoParquet ({:.0} MB points, {:.1} MB polygons) in {:.1} s",
        file_mb(&prepared.points_parquet),
        file_mb(&prepared.polys_parquet),
        t.elapsed().as_secs_f64()
    );
    let done = Prepared {
        points,
        polys: polys_info.rows,
        ..prepared
    };
    std::fs::write(
        &ready,
        serde_json::json!({ "points": done.points, "polys": done.polys }).to_string(),
    )?;
    Ok(done)
}

fn file_mb(p: &Path) -> f64 {
    std::fs::metadata(p).map_or(0.0, |m| m.len() as f64 / 1e6)
}

/// Commits `case.points` points drawn uniformly in `extent` (`[xmin, ymin, xmax, ymax]`, metres in
/// `crs`) as dataset `name`, in the store layout (`id`, bbox columns, ISO WKB `geometry`).
async fn commit_random_points(
    store: &Store,
    name: &DatasetName,
    case: &Case,
    extent: [f64; 4],
    crs: &str,
) -> BoxResult<u64> {
    let schema = tvilling_core::schema::dataset_schema(crs, []);
    let mut rng = ChaCha8Rng::seed_from_u64(case.seed);
    let mut batches = vec![];
    let mut start = 0;
    while start < case.points {
        let n = BATCH.min(case.points - start);
        let mut ids = StringBuilder::with_capacity(n, n * 8);
        let mut wkb = BinaryBuilder::with_capacity(n, n * 21);
        let (mut xs, mut ys) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for i in start..start + n {
            let x = rng.random_range(extent[0]..extent[2]);
            let y = rng.random_range(extent[1]..extent[3]);
            ids.append_value(i.to_string());
            wkb.append_value(point_wkb(x, y));
            xs.push(x);
            ys.push(y);
        }
        let xs: ArrayRef = Arc::new(Float64Array::from(xs));
        let ys: ArrayRef = Arc::new(Float64Array::from(ys));
        let no_z: ArrayRef = Arc::new(Float64Array::new_null(n));
        batches.push(RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(ids.finish()),
                xs.clone(),
                ys.clone(),
                xs,
                ys,
                no_z.clone(),
                no_z,
                Arc::new(wkb.finish()),
            ],
        )?);
        start += n;
    }
    let spec = format!(
        "generated:uniform-points?n={}&seed={}&extent={extent:?}",
        case.points, case.seed
    );
    let provenance = Provenance {
        source_uri: spec.clone(),
        sha256: hex::encode(Sha256::digest(spec.as_bytes())),
        bytes: 0,
        layer: None,
        tool: TOOL_VERSION.to_string(),
        user: tvilling_core::store::whoami(),
        host: "bench".into(),
        started: chrono::Utc::now(),
        mode: Mode::Overwrite.as_str().into(),
        rows_read: case.points as u64,
        rows_written: case.points as u64,
        rows_rejected: 0,
        options: Default::default(),
        source_metadata: serde_json::Value::Null,
    };
    let request = WriteRequest {
        name: name.clone(),
        properties: DatasetProperties {
            kind: Kind::Vector,
            crs: crs.to_string(),
            vertical_crs: None,
            classification: Classification::Open,
            owner: None,
            licence: None,
            source: Some(spec),
            geometry_type: Some("Point".into()),
        },
        set_classification: false,
        mode: Mode::Overwrite,
        provenance,
        quality: QualityReport::default(),
    };
    store.commit(request, schema, batches).await?;
    Ok(case.points as u64)
}

/// ISO WKB of a 2D point, little-endian: byte order 1, type 1, x, y (21 bytes). Written by hand because
/// the generator makes millions of them and needs no geometry type in between.
fn point_wkb(x: f64, y: f64) -> [u8; 21] {
    let mut b = [0u8; 21];
    b[0] = 1;
    b[1..5].copy_from_slice(&1u32.to_le_bytes());
    b[5..13].copy_from_slice(&x.to_le_bytes());
    b[13..21].copy_from_slice(&y.to_le_bytes());
    b
}

/// Runs every query on tvilling's session over the case's store: one warm-up, then the best of `runs`.
async fn run_tvilling(
    prepared: &Prepared,
    queries: &[(&str, &str)],
    runs: usize,
) -> BoxResult<Vec<Timing>> {
    let store = Store::open(prepared.store.to_str().ok_or("non-UTF-8 store path")?)?;
    let session =
        tvilling_query::Session::open(&store, tvilling_query::QueryOptions::default()).await?;
    let explain = std::env::var_os("TVILLING_BENCH_EXPLAIN").is_some();
    let mut out = vec![];
    for (query, sql) in queries {
        if explain {
            let plan = session.physical_plan(sql).await?;
            println!(
                "tvilling plan of {query}:\n{}",
                tvilling_core::datafusion::physical_plan::displayable(plan.as_ref()).indent(true)
            );
        }
        let mut answer = answer_of(&session.sql(sql).await?)?;
        let mut best = f64::INFINITY;
        for _ in 0..runs {
            let t = Instant::now();
            let batches = session.sql(sql).await?;
            best = best.min(t.elapsed().as_secs_f64());
            answer = answer_of(&batches)?;
        }
        out.push(Timing {
            engine: "tvilling".into(),
            query: (*query).into(),
            seconds: best,
            answer,
        });
    }
    Ok(out)
}

/// The [`Answer`] of a result: one count, or `(key, count)` rows (digested as `peers.py` does).
fn answer_of(batches: &[RecordBatch]) -> BoxResult<Answer> {
    let columns = batches.first().map_or(0, |b| b.num_columns());
    let mut lines = vec![];
    let mut total = 0u64;
    for b in batches {
        let n = cast(b.column(columns - 1), &DataType::Int64)?;
        let n = n
            .as_any()
            .downcast_ref::<Int64Array>()
            .ok_or("count column is not Int64 after casting")?;
        let keys = if columns == 2 {
            let k = cast(b.column(0), &DataType::Utf8)?;
            Some(
                k.as_any()
                    .downcast_ref::<StringArray>()
                    .ok_or("key column is not Utf8 after casting")?
                    .clone(),
            )
        } else {
            None
        };
        for i in 0..b.num_rows() {
            let c = u64::try_from(n.value(i))?;
            total += c;
            if let Some(k) = &keys {
                lines.push(format!("{}\t{c}\n", k.value(i)));
            }
        }
    }
    match columns {
        1 => Ok(Answer {
            count: total,
            groups: 1,
            digest: None,
        }),
        2 => {
            lines.sort();
            let groups = lines.len() as u64;
            Ok(Answer {
                count: total,
                groups,
                digest: Some(hex::encode(Sha256::digest(lines.concat().as_bytes()))),
            })
        }
        n => Err(format!("expected 1 or 2 result columns, got {n}").into()),
    }
}

/// The Python of `$CARGO_TARGET_DIR/bench-venv` with the peers installed, installing them on first use.
/// Returns `None` (after saying what to run) when that is not possible.
fn peer_python(target: &Path, workspace: &Path) -> Option<PathBuf> {
    let venv = target.join("bench-venv");
    let python = venv.join("bin").join("python");
    let requirements = workspace.join("benches/peers/requirements.txt");
    let has_peers = |p: &Path| {
        Command::new(p)
            .args([
                "-c",
                "import duckdb, duckdb_extension_spatial, sedonadb, pyarrow",
            ])
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.exists() && has_peers(&python) {
        return Some(python);
    }
    println!(
        "installing the peers into {} from {}",
        venv.display(),
        requirements.display()
    );
    let ok = (python.exists()
        || Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success()))
        && Command::new(&python)
            .args(["-m", "pip", "install", "-q", "-r"])
            .arg(&requirements)
            .status()
            .is_ok_and(|s| s.success())
        && has_peers(&python);
    if ok {
        Some(python)
    } else {
        println!(
            "peers skipped: could not install them. Run\n  python3 -m venv {v}\n  {v}/bin/pip install -r {r}\n\
             and run the bench again (or set TVILLING_BENCH_PEERS=none).",
            v = venv.display(),
            r = requirements.display()
        );
        None
    }
}

/// Runs `peers.py` on the case's GeoParquet files and reads its JSON lines.
fn run_peers(
    python: &Path,
    workspace: &Path,
    prepared: &Prepared,
    queries: &[(&str, &str)],
    runs: usize,
    engines: &[String],
) -> BoxResult<Vec<Timing>> {
    let mut cmd = Command::new(python);
    cmd.arg(workspace.join("benches/peers/peers.py"))
        .arg("--points")
        .arg(&prepared.points_parquet)
        .arg("--polys")
        .arg(&prepared.polys_parquet)
        .arg("--runs")
        .arg(runs.to_string())
        .arg("--engines")
        .arg(engines.join(","));
    for (name, sql) in queries {
        cmd.arg("--query")
            .arg(name)
            .arg("--sql")
            .arg(format!("{name}={sql}"));
    }
    let out = cmd.stderr(std::process::Stdio::inherit()).output()?;
    if !out.status.success() {
        return Err(format!("peers.py failed ({})", out.status).into());
    }
    let mut timings = vec![];
    for line in String::from_utf8(out.stdout)?.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        let engine = format!(
            "{} {}",
            v["engine"].as_str().unwrap_or("?"),
            v["version"].as_str().unwrap_or("")
        );
        timings.push(Timing {
            engine,
            query: v["query"].as_str().unwrap_or("?").into(),
            seconds: v["seconds"].as_f64().ok_or("peers.py gave no seconds")?,
            answer: Answer {
                count: v["count"].as_u64().ok_or("peers.py gave no count")?,
                groups: v["groups"].as_u64().unwrap_or(0),
                digest: v["digest"].as_str().map(String::from),
            },
        });
    }
    Ok(timings)
}

/// Prints the results as a Markdown table; returns whether every engine gave the same answers.
fn print_table(report: &[(&str, u64, Vec<Timing>)]) -> bool {
    println!();
    println!(
        "| case | query | engine | seconds | points/s | time tvilling / engine | joined rows | groups | same answer |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---|");
    let mut all_agree = true;
    for (case, points, timings) in report {
        for t in timings {
            let same_query = || timings.iter().filter(|b| b.query == t.query);
            let ratio = same_query()
                .find(|b| b.engine == "tvilling")
                .map_or("–".into(), |b| format!("{:.2}", b.seconds / t.seconds));
            // Answers are checked against tvilling's, or against the first peer's when tvilling did not run.
            let reference = same_query()
                .find(|b| b.engine == "tvilling")
                .or_else(|| same_query().next());
            let same = reference.is_some_and(|r| r.answer == t.answer);
            all_agree &= same;
            println!(
                "| {case} | {} | {} | {:.3} | {:.0} | {ratio} | {} | {} | {} |",
                t.query,
                t.engine,
                t.seconds,
                *points as f64 / t.seconds,
                t.answer.count,
                t.answer.groups,
                if same { "yes" } else { "**NO**" }
            );
        }
    }
    println!();
    if report.iter().all(|(_, _, t)| t.len() < 2) {
        println!("only one engine ran: nothing to compare");
    } else if all_agree {
        println!("every engine returned the same counts (and per-polygon counts)");
    } else {
        println!("ENGINES DISAGREE: see the rows marked NO above");
    }
    all_agree
}
