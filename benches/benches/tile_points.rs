//! Laser points → 3D Tiles throughput (issue 5), side by side with py3dtiles and a decode-only pass.
//!
//! Input: a generated LAZ of ≥ 20 M points (default 182 copies of `autzen_trim.laz`, 110 000 points each,
//! laid out 13 × 14 with offsets, so 20 020 000 points over about 4.8 km × 2.6 km), cached under
//! `$CARGO_TARGET_DIR/bench-data/`. Each stage runs in a child process of this binary (or is py3dtiles),
//! so its peak RSS is its own:
//!
//! - **decode only**: every point decompressed with the `las` crate (parallel LAZ), nothing else: the
//!   physical limit of any tool reading this file;
//! - **tvilling ingest**: `tvilling ingest FILE --dataset pts --crs EPSG:2994` as a library call
//!   (decode, out-of-core Morton sort, Parquet, Delta commit);
//! - **tvilling tile**: `tvilling tile pts` (read the store, PROJ to ECEF, out-of-core octree,
//!   quantized glb, tileset.json);
//! - **py3dtiles** (PyPI, in `$CARGO_TARGET_DIR/bench-venv`): `py3dtiles convert FILE --srs_in 2994
//!   --srs_out 4978`, started with Python's multiprocessing start method `spawn` (its default `fork`
//!   hangs in the worker handshake on these machines). Its peak RSS is the largest sum of the resident
//!   sizes of its process tree, sampled every 50 ms.
//!
//! The goals (issue 5): tvilling ingest + tile ≥ 10 × py3dtiles, ≥ 60 % of decode-only throughput, peak
//! RSS < 1 GiB in every stage.
//!
//! Run: `cargo bench -p tvilling-benches --bench tile_points` (`TVILLING_BENCH_POINT_COPIES` for another
//! number of copies, `TVILLING_BENCH_PEERS=none` to leave py3dtiles out). Results go to
//! `benches/RESULTS.md`.
#![allow(clippy::print_stdout)] // a bench binary reports on stdout

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tvilling_core::progress::NoProgress;
use tvilling_core::{At, Mode, Store};
use tvilling_ingest::{IngestOptions, ReadOptions, ingest};
use tvilling_tiles::{TileOptions, tile};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Copies of autzen per row of the generated file.
const COLUMNS: usize = 13;
/// The pinned peer.
const PY3DTILES: &str = "py3dtiles==12.1.1";
/// Starts py3dtiles' command line with the `spawn` start method. Spawned workers import this script again,
/// so the start has to sit behind the `__main__` guard.
const SPAWN: &str = "import multiprocessing, sys\n\
    from py3dtiles.command_line import main\n\
    if __name__ == '__main__':\n\
    \x20   multiprocessing.set_start_method('spawn', force=True)\n\
    \x20   sys.exit(main())\n";

/// As in the `tvilling` binary (`crates/cli/src/main.rs`): the stages measure what a user runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--stage") {
        return stage(&args[i + 1..]);
    }
    let copies: usize = std::env::var("TVILLING_BENCH_POINT_COPIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(182);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .ok_or("no workspace")?
        .to_path_buf();
    let autzen = workspace.join("../shared/data/pointcloud/autzen_trim.laz");
    if !autzen.is_file() {
        println!(
            "skipped: the sample {} is not present (see ../shared/data/SOURCES.md)",
            autzen.display()
        );
        return Ok(());
    }
    let data = tvilling_benches::data_dir()?;
    let laz = data.join(format!("autzen-x{copies}.laz"));
    if !laz.exists() {
        let t = Instant::now();
        generate(&autzen, &laz, copies)?;
        println!(
            "generated {} in {:.1} s",
            laz.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let size_mb = std::fs::metadata(&laz)?.len() as f64 / 1e6;
    let store_dir = tempfile::tempdir()?;
    let root = store_dir.path().to_str().ok_or("non-UTF-8 temp path")?;
    let laz_s = laz.to_str().ok_or("non-UTF-8 path")?;
    let exe = std::env::current_exe()?;
    let run_stage = |args: &[&str]| -> Result<Value> {
        let mut stage = Command::new(&exe);
        stage.arg("--stage").args(args);
        if args.first() == Some(&"tile") {
            // The purge delay `tvilling tile` sets (crates/cli/src/main.rs); mimalloc reads it from the
            // environment when the stage's process starts.
            stage.env("MIMALLOC_PURGE_DELAY", "10");
        }
        let out = stage.output()?;
        if !out.status.success() {
            return Err(format!(
                "stage {args:?} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    };
    let decode = run_stage(&["decode", laz_s])?;
    let points = decode["points"].as_u64().ok_or("decode: no points")?;
    println!(
        "input: {} ({points} points, {size_mb:.0} MB LAZ)",
        laz.display()
    );
    let ingested = run_stage(&["ingest", root, laz_s])?;
    let tiled = run_stage(&["tile", root])?;
    if tiled["features"].as_u64() != Some(points) {
        return Err(format!("tiled {} of {points} points", tiled["features"]).into());
    }
    let peer = if std::env::var("TVILLING_BENCH_PEERS").is_ok_and(|v| v == "none") {
        None
    } else {
        py3dtiles(&workspace, &laz, store_dir.path())?
    };

    let secs = |v: &Value| v["seconds"].as_f64().unwrap_or(f64::NAN);
    let rate = |s: f64| points as f64 / s;
    let both = secs(&ingested) + secs(&tiled);
    println!("\n| stage | time | points/s | peak RSS |");
    println!("|---|---:|---:|---:|");
    for (label, v) in [
        ("decode only (las crate, parallel LAZ)", &decode),
        ("tvilling ingest", &ingested),
        ("tvilling tile", &tiled),
    ] {
        println!(
            "| {label} | {:.1} s | {:.0} | {} MiB |",
            secs(v),
            rate(secs(v)),
            v["peak_rss_mib"]
        );
    }
    println!(
        "| **tvilling ingest + tile** | {both:.1} s | **{:.0}** | {} MiB |",
        rate(both),
        ingested["peak_rss_mib"]
            .as_u64()
            .max(tiled["peak_rss_mib"].as_u64())
            .unwrap_or(0)
    );
    if let Some(p) = &peer {
        println!(
            "| py3dtiles {} convert (spawn) | {:.1} s | {:.0} | {} MiB |",
            p.version,
            p.seconds,
            rate(p.seconds),
            p.peak_rss_mib
        );
    }
    println!(
        "\ntvilling tile: {} tiles, depth {}",
        tiled["tiles"], tiled["depth"]
    );
    println!(
        "tvilling ingest + tile reaches {:.0} % of decode-only throughput (goal ≥ 60 %)",
        100.0 * secs(&decode) / both
    );
    println!(
        "tvilling tile alone reaches {:.0} % of decode-only throughput",
        100.0 * secs(&decode) / secs(&tiled)
    );
    if let Some(p) = &peer {
        println!(
            "tvilling ingest + tile is {:.1} × py3dtiles (goal ≥ 10 ×); tile alone {:.1} ×",
            p.seconds / both,
            p.seconds / secs(&tiled)
        );
    }
    Ok(())
}

/// Writes `copies` copies of `src` side by side (`COLUMNS` per row) into one LAZ.
fn generate(src: &Path, dst: &Path, copies: usize) -> Result<()> {
    let mut reader = las::Reader::from_path(src)?;
    let points: Vec<las::Point> = reader
        .read_all()?
        .points()
        .collect::<std::result::Result<_, _>>()?;
    let b = reader.header().bounds();
    // A gap of 2 % between copies.
    let (dx, dy) = ((b.max.x - b.min.x) * 1.02, (b.max.y - b.min.y) * 1.02);
    let mut builder = las::Builder::from(reader.header().clone());
    builder.point_format.is_compressed = true;
    // The offset stays; the bounds grow, so the scale must still fit i32 (1 cm over km is fine).
    let tmp = dst.with_extension("tmp.laz");
    let mut w = las::Writer::from_path(&tmp, builder.into_header()?)?;
    for c in 0..copies {
        let (ox, oy) = ((c % COLUMNS) as f64 * dx, (c / COLUMNS) as f64 * dy);
        for p in &points {
            let mut q = p.clone();
            q.x += ox;
            q.y += oy;
            w.write_point(q)?;
        }
    }
    w.close()?;
    std::fs::rename(tmp, dst)?;
    Ok(())
}

struct Peer {
    version: String,
    seconds: f64,
    peak_rss_mib: u64,
}

/// Runs py3dtiles on `laz`, installing it into the bench venv on first use; `None` (after saying why)
/// when it cannot be installed.
fn py3dtiles(workspace: &Path, laz: &Path, scratch: &Path) -> Result<Option<Peer>> {
    let target = PathBuf::from(
        std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| workspace.join("target").display().to_string()),
    );
    let venv = target.join("bench-venv");
    let python = venv.join("bin").join("python");
    let version = |p: &Path| {
        Command::new(p)
            .args([
                "-c",
                "import importlib.metadata as m; print(m.version('py3dtiles'))",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    if version(&python).is_none() {
        println!("installing {PY3DTILES} into {}", venv.display());
        let ok = (python.exists()
            || Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success()))
            && Command::new(&python)
                .args(["-m", "pip", "install", "-q", PY3DTILES, "laspy[lazrs]"])
                .status()
                .is_ok_and(|s| s.success());
        if !ok {
            println!(
                "py3dtiles skipped: could not install it. Run\n  python3 -m venv {v}\n  {v}/bin/pip install \
                 {PY3DTILES} 'laspy[lazrs]'\nand run the bench again (or set TVILLING_BENCH_PEERS=none).",
                v = venv.display()
            );
            return Ok(None);
        }
    }
    let version = version(&python).ok_or("py3dtiles is not importable")?;
    let wrapper = scratch.join("py3dtiles_spawn.py");
    std::fs::write(&wrapper, SPAWN)?;
    let out = scratch.join("py3dtiles-out");
    let t = Instant::now();
    let mut child = Command::new(&python)
        .arg(&wrapper)
        .args([
            "convert",
            "--srs_in",
            "2994",
            "--srs_out",
            "4978",
            "--overwrite",
            "--out",
        ])
        .arg(&out)
        .arg(laz)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut peak = 0u64;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        peak = peak.max(tree_rss_kib(child.id()));
        std::thread::sleep(Duration::from_millis(50));
    };
    let seconds = t.elapsed().as_secs_f64();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut err)?;
        }
        return Err(format!("py3dtiles failed ({status}):\n{err}").into());
    }
    Ok(Some(Peer {
        version,
        seconds,
        peak_rss_mib: peak / 1024,
    }))
}

/// Resident KiB of `pid` and all its descendants (from `/proc`; 0 where it cannot be read).
fn tree_rss_kib(pid: u32) -> u64 {
    let mut total = 0;
    let mut todo = vec![pid];
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    // (pid, parent, rss) of every process.
    let procs: Vec<(u32, u32, u64)> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let status = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
            let field = |name: &str| {
                status
                    .lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            Some((p, field("PPid:")? as u32, field("VmRSS:").unwrap_or(0)))
        })
        .collect();
    while let Some(p) = todo.pop() {
        for &(child, parent, rss) in &procs {
            if child == p {
                total += rss;
            }
            if parent == p {
                todo.push(child);
            }
        }
    }
    total
}

/// A child process: one stage, one JSON object on stdout.
fn stage(args: &[String]) -> Result<()> {
    // The bench keeps a stage's stderr only when it fails; run by hand, RUST_LOG shows the phases.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let t = Instant::now();
    let line = match args {
        [what, laz] if what == "decode" => {
            let mut reader = las::Reader::from_path(laz)?;
            let total = reader.header().number_of_points();
            let mut pd = las::PointDataBuilder::new()
                .for_header(reader.header())
                .build();
            let (mut read, mut checksum) = (0u64, 0f64);
            while read < total {
                // As many points a call as the ingest asks for, so the LAZ chunks decode on all cores.
                let n = reader.fill_points((512 * 1024).min(total - read), &mut pd)?;
                if n == 0 {
                    break;
                }
                // Touch the coordinates so that nothing is optimised away.
                checksum += pd.x().sum::<f64>();
                read += n;
            }
            json!({ "points": read, "checksum": checksum })
        }
        [what, root, laz] if what == "ingest" => {
            let store = Store::open(root)?;
            let opts = IngestOptions {
                dataset: "pts".parse()?,
                read: ReadOptions {
                    crs: Some("EPSG:2994".parse()?),
                    ..Default::default()
                },
                mode: Mode::Append,
                key: None,
                classification: None,
                owner: None,
                licence: None,
            };
            let r = rt.block_on(ingest(&store, Path::new(laz), &opts, Arc::new(NoProgress)))?;
            json!({ "rows": r.iter().map(|r| r.quality.completeness.rows_written).sum::<u64>() })
        }
        [what, root] if what == "tile" => {
            let store = Store::open(root)?;
            let r = rt.block_on(tile(
                &store,
                &"pts".parse()?,
                At::Latest,
                &TileOptions::default(),
                Arc::new(NoProgress),
            ))?;
            json!({ "features": r.features, "tiles": r.tiles, "depth": r.depth })
        }
        _ => {
            return Err(
                "usage: --stage decode LAZ | --stage ingest STORE LAZ | --stage tile STORE".into(),
            );
        }
    };
    let mut line = line;
    line["seconds"] = json!(t.elapsed().as_secs_f64());
    line["peak_rss_mib"] = json!(tvilling_benches::peak_rss_mib());
    std::io::stdout().write_all(line.to_string().as_bytes())?;
    Ok(())
}
