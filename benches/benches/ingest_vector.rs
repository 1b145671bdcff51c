//! Vector ingest throughput: a generated GeoPackage of N polygon footprints (default 1 000 000, the
//! sample town's buildings with their 13 attributes) ingested into a fresh store, as `tvilling ingest`
//! does it (GDAL read, WKB normalisation, quality checks, Delta commit).
//!
//! Beside it runs a GDAL read-only pass over the same file (every feature's ISO WKB and fields, nothing
//! stored): the floor for any GDAL-based ingest. The ratio shows what the store adds.
//!
//! Run: `cargo bench -p tvilling-benches --bench ingest_vector` (set `TVILLING_BENCH_FEATURES` for
//! another size). Prints features/s and the peak resident memory; results go to `benches/RESULTS.md`.
//! The generated input is cached under `target/bench-data/` between runs.
#![allow(clippy::print_stdout)] // a bench binary reports on stdout

use std::sync::Arc;
use std::time::Instant;

use tvilling_core::progress::NoProgress;
use tvilling_core::{Mode, Store};
use tvilling_ingest::{IngestOptions, ReadOptions, ingest};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::var("TVILLING_BENCH_FEATURES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let data = tvilling_benches::data_dir()?;
    let gpkg = data.join(format!("town-{n}.gpkg"));
    if !gpkg.exists() {
        let t = Instant::now();
        tvilling_fixtures::town::generate(
            &gpkg,
            &tvilling_fixtures::town::TownSpec {
                buildings: n,
                seed: 1,
            },
        )?;
        println!(
            "generated {} ({n} polygons) in {:.1} s",
            gpkg.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let size = std::fs::metadata(&gpkg)?.len();
    let t = Instant::now();
    let read = gdal_read_only(&gpkg)?;
    let read_secs = t.elapsed().as_secs_f64();
    println!(
        "gdal_read_only: {read} features in {read_secs:.2} s = {:.0} features/s",
        read as f64 / read_secs
    );

    let store_dir = tempfile::tempdir()?;
    let store = Store::open(store_dir.path().to_str().ok_or("non-UTF-8 temp path")?)?;
    let opts = IngestOptions {
        dataset: "byggnader".parse()?,
        read: ReadOptions {
            layer: Some("byggnader".into()),
            ..Default::default()
        },
        mode: Mode::Append,
        key: None,
        classification: None,
        owner: None,
        licence: None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let t = Instant::now();
    let reports = rt.block_on(ingest(&store, &gpkg, &opts, Arc::new(NoProgress)))?;
    let secs = t.elapsed().as_secs_f64();
    let rows: u64 = reports
        .iter()
        .map(|r| r.quality.completeness.rows_written)
        .sum();
    println!(
        "ingest_vector: {rows} polygons ({:.0} MB GeoPackage) in {secs:.2} s = {:.0} features/s, peak RSS {} MiB",
        size as f64 / 1e6,
        rows as f64 / secs,
        tvilling_benches::peak_rss_mib()
    );
    println!(
        "ratio ingest / GDAL read-only: {:.2}",
        (rows as f64 / secs) / (read as f64 / read_secs)
    );
    Ok(())
}

/// Reads every feature's geometry (ISO WKB) and fields through GDAL and throws them away.
fn gdal_read_only(path: &std::path::Path) -> Result<u64, Box<dyn std::error::Error>> {
    use gdal::vector::LayerAccess;
    let ds = gdal::Dataset::open(path)?;
    let mut layer = ds.layer_by_name("byggnader")?;
    let fields = layer.defn().fields().count();
    let mut n = 0u64;
    let mut bytes = 0usize;
    for f in layer.features() {
        if let Some(g) = f.geometry() {
            bytes += g.iso_wkb()?.len();
        }
        for i in 0..fields {
            bytes += usize::from(tvilling_ingest::vector::field_value(&f, i).is_some());
        }
        n += 1;
    }
    std::hint::black_box(bytes);
    Ok(n)
}
