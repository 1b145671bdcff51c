//! Buildings → 3D Tiles throughput: N generated buildings (default 100 000) tiled from the store, as
//! `tvilling tile` does it (read the version, mesh every building, glb with every attribute, quadtree with
//! LOD1 parents, content cache, tileset.json).
//!
//! Three inputs from the same generated town (`tvilling-fixtures`, seed 1):
//! - LOD1: footprints from a GeoPackage extruded by their `hojd` attribute (`--height-attr hojd`);
//! - LOD2: the CityJSONSeq city model with LOD1 blocks and LOD2 gabled/flat roofs (the tiler shows the
//!   most detailed LOD);
//! - LOD2 with `--meshopt`.
//!
//! Each tiling runs in a child process of this binary, so that its peak RSS (`VmHWM`) is the tiler's
//! alone; ingest happens before, in the parent. A second tiling of the unchanged version shows what a
//! re-run costs when every tile is reused from the cache. Output size is reported raw and gzipped (the
//! server compresses).
//!
//! Run: `cargo bench -p tvilling-benches --bench tile_buildings` (`TVILLING_BENCH_BUILDINGS` for another
//! size). Inputs are cached under `$CARGO_TARGET_DIR/bench-data/`. Results go to `benches/RESULTS.md`.
#![allow(clippy::print_stdout)] // a bench binary reports on stdout

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Value, json};
use tvilling_core::progress::NoProgress;
use tvilling_core::{At, Mode, Store};
use tvilling_ingest::{IngestOptions, ReadOptions, ingest};
use tvilling_tiles::glb::Compression;
use tvilling_tiles::{Height, TileOptions, tile};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// pg2b3dm's published throughput range (features/s), the goal's reference.
const PG2B3DM: &str = "1.4-3.8 k features/s (published)";
/// The goal on 2 cores.
const GOAL: f64 = 20_000.0;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--stage") {
        return stage(&args[i + 1..]);
    }
    let n: usize = std::env::var("TVILLING_BENCH_BUILDINGS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let data = tvilling_benches::data_dir()?;
    let spec = tvilling_fixtures::town::TownSpec {
        buildings: n,
        seed: 1,
    };
    let gpkg = data.join(format!("town-{n}.gpkg"));
    if !gpkg.exists() {
        tvilling_fixtures::town::generate(&gpkg, &spec)?;
    }
    let seq = data.join(format!("town-{n}.city.jsonl"));
    if !seq.exists() {
        tvilling_fixtures::town3d::generate(&seq, &spec)?;
    }

    let store_dir = tempfile::tempdir()?;
    let root = store_dir.path().to_str().ok_or("non-UTF-8 temp path")?;
    let store = Store::open(root)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for (source, dataset, layer) in [
        (&gpkg, "footprints", Some("byggnader")),
        (&seq, "lod2", None),
    ] {
        let opts = IngestOptions {
            dataset: dataset.parse()?,
            read: ReadOptions {
                layer: layer.map(String::from),
                ..Default::default()
            },
            mode: Mode::Append,
            key: None,
            classification: None,
            owner: None,
            licence: None,
        };
        let t = Instant::now();
        rt.block_on(ingest(&store, source, &opts, Arc::new(NoProgress)))?;
        println!(
            "ingest {dataset}: {n} buildings from {} ({:.0} MB) in {:.1} s",
            source.display(),
            std::fs::metadata(source)?.len() as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
    }

    println!("\n| input | features | tiles | time | features/s | peak RSS | content | gzipped |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let exe = std::env::current_exe()?;
    for (label, dataset, height, meshopt) in [
        (
            "LOD1 footprints, --height-attr hojd",
            "footprints",
            "hojd",
            false,
        ),
        ("LOD2 city model", "lod2", "", false),
        ("LOD2 city model, --meshopt", "lod2", "", true),
    ] {
        for run in ["first", "re-run"] {
            let out = Command::new(&exe)
                .args([
                    "--stage",
                    root,
                    dataset,
                    height,
                    if meshopt { "meshopt" } else { "plain" },
                ])
                .output()?;
            if !out.status.success() {
                return Err(format!(
                    "tiling {dataset} failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                )
                .into());
            }
            let r: Value = serde_json::from_slice(&out.stdout)?;
            let secs = r["seconds"].as_f64().unwrap_or(f64::NAN);
            let features = r["features"].as_u64().unwrap_or(0);
            let rate = features as f64 / secs;
            let what = if run == "first" {
                label.to_string()
            } else {
                format!(
                    "{label} (unchanged re-run: {} of {} reused)",
                    r["unchanged"], r["tiles"]
                )
            };
            println!(
                "| {what} | {features} | {} | {secs:.2} s | **{rate:.0}** | {} MiB | {:.1} MB | {:.1} MB |",
                r["tiles"],
                r["peak_rss_mib"],
                r["bytes"].as_f64().unwrap_or(0.0) / 1e6,
                r["gzip_bytes"].as_f64().unwrap_or(0.0) / 1e6,
            );
            if run == "first" {
                eprintln!(
                    "{label}: {rate:.0} features/s = {:.2} x the goal of {GOAL:.0}/s; pg2b3dm: {PG2B3DM}",
                    rate / GOAL
                );
            }
        }
    }
    println!(
        "\npg2b3dm was not run side by side: it needs the .NET runtime, which none of this machine's \
         package registries (Debian, PyPI, npm, crates.io) provide; its README publishes {PG2B3DM}."
    );
    Ok(())
}

/// The child process: tiles one dataset and prints one JSON object.
fn stage(args: &[String]) -> Result<()> {
    let [root, dataset, height, compression] = args else {
        return Err("usage: --stage STORE DATASET HEIGHT_COLUMN|'' plain|meshopt".into());
    };
    let store = Store::open(root)?;
    let opts = TileOptions {
        height: if height.is_empty() {
            Height::Geometry
        } else {
            Height::Attribute(height.clone())
        },
        out: None,
        compression: if compression == "meshopt" {
            Compression::Meshopt
        } else {
            Compression::None
        },
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let t = Instant::now();
    let r = rt.block_on(tile(
        &store,
        &dataset.parse()?,
        At::Latest,
        &opts,
        Arc::new(NoProgress),
    ))?;
    let seconds = t.elapsed().as_secs_f64();
    let peak = tvilling_benches::peak_rss_mib();
    let content = r
        .tileset
        .parent()
        .ok_or("tileset without a folder")?
        .join("content");
    let (bytes, gzip_bytes) = sizes(&content, &opts.compression)?;
    let line = json!({
        "seconds": seconds,
        "features": r.features,
        "tiles": r.tiles,
        "built": r.built,
        "unchanged": r.unchanged,
        "peak_rss_mib": peak,
        "bytes": bytes,
        "gzip_bytes": gzip_bytes,
    });
    std::io::stdout().write_all(line.to_string().as_bytes())?;
    Ok(())
}

/// Raw and gzipped bytes of the content files of this compression (the cache holds both kinds when
/// both were tiled; meshopt files say so in their JSON).
fn sizes(content: &Path, compression: &Compression) -> Result<(u64, u64)> {
    let (mut raw, mut gz) = (0u64, 0u64);
    for entry in std::fs::read_dir(content)? {
        let bytes = std::fs::read(entry?.path())?;
        // The glb's JSON chunk (its length is the header's fourth word) declares the extension.
        let json_len = bytes
            .get(12..16)
            .and_then(|b| b.try_into().ok())
            .map_or(0, |b| u32::from_le_bytes(b) as usize);
        let json = bytes.get(20..20 + json_len).unwrap_or(&[]);
        let packed = json.windows(23).any(|w| w == b"EXT_meshopt_compression");
        if packed != (*compression == Compression::Meshopt) {
            continue;
        }
        raw += bytes.len() as u64;
        gz += gzip_len(&bytes)?;
    }
    Ok((raw, gz))
}

/// Size after `gzip -6`, the level web servers use.
fn gzip_len(bytes: &[u8]) -> Result<u64> {
    let mut child = Command::new("gzip")
        .arg("-6c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("gzip stdin")?;
    let data = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output()?;
    writer.join().map_err(|_| "gzip writer thread")??;
    Ok(out.stdout.len() as u64)
}
