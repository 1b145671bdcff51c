//! `tvilling demo`: a sample twin from nothing but this repository, plus the real samples when they are
//! beside it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tvilling_core::crs::Crs;
use tvilling_core::{At, Classification, DatasetName, Mode, Store};
use tvilling_fixtures::town::{TownSpec, generate};
use tvilling_ingest::{IngestOptions, ReadOptions, SourceReader};
use tvilling_tiles::{Height, TileOptions};

use crate::args::{DatasetsArgs, DemoArgs, OutputFormat, ServeArgs};
use crate::config::Config;
use crate::output;
use crate::progress::CliProgress;

const TOWN_OWNER: &str = "Exempelby kommun (generated sample)";
const SAMPLE_OWNER: &str = "public sample (see shared/data/SOURCES.md)";

/// The demo town's seed: the same town on every machine.
const SEED: u64 = 2026;

/// Samples whose files declare no CRS, with the CRS their source documents (shared/data/SOURCES.md).
/// tvilling never guesses a CRS; the demo passes what the data's publisher states, as a user would.
const SAMPLE_CRS: &[(&str, &str)] = &[
    ("Kommun_Sweref99TM.geojson", "EPSG:3006"),
    // Dutch city models: RD New + NAP heights (3D BAG, Rotterdam 3D, Den Haag).
    ("multi_lod.city.json", "EPSG:7415"),
    ("rotterdam_subset.city.json", "EPSG:7415"),
    ("DH_01_subs.city.json", "EPSG:7415"),
];

pub async fn run(store: &Store, config: &Config, a: DemoArgs) -> anyhow::Result<ExitCode> {
    store.ensure_writable()?;
    let sources = store.root().join("_tvilling/sources");
    std::fs::create_dir_all(&sources).with_context(|| format!("creating {}", sources.display()))?;
    let town = sources.join("exempelby.gpkg");
    let stats = generate(
        &town,
        &TownSpec {
            buildings: a.buildings,
            seed: SEED,
        },
    )?;
    tracing::info!(
        buildings = stats.buildings,
        roads = stats.roads,
        "generated the sample town Exempelby"
    );

    let mut failures = 0;
    // The town's heights (markhojd) are RH 2000: record the vertical CRS with SWEREF 99 TM.
    let town_crs: Crs = "EPSG:3006+5613".parse()?;
    for (layer, dataset) in [("byggnader", "byggnader"), ("vagar", "vagar")] {
        let sample = Sample {
            layer: Some(layer),
            ..Sample::file(&town, dataset, Some(town_crs), TOWN_OWNER)
        };
        let ok = ingest_one(store, config, sample).await;
        failures += usize::from(!ok);
    }

    // The same town as a 3D city model: LOD1 blocks and LOD2 roofs (CityJSONSeq, SWEREF 99 TM + RH 2000).
    let town3d = sources.join("exempelby.city.jsonl");
    tvilling_fixtures::town3d::generate(
        &town3d,
        &TownSpec {
            buildings: a.buildings,
            seed: SEED,
        },
    )?;
    let ok = ingest_one(
        store,
        config,
        Sample::file(&town3d, "byggnader_3d", None, TOWN_OWNER),
    )
    .await;
    failures += usize::from(!ok);
    // What gets tiled: the footprints extruded by their height attribute, and every city model.
    let mut to_tile: Vec<(String, Height)> = vec![
        ("byggnader".into(), Height::Attribute("hojd".into())),
        ("byggnader_3d".into(), Height::Geometry),
    ];
    failures += town_extras(store, config, &sources, &a, &mut to_tile).await?;

    let samples = a
        .samples
        .clone()
        .unwrap_or_else(|| PathBuf::from("../shared/data"));
    let vector = samples.join("vector");
    if vector.is_dir() {
        let city_models = [samples.join("cityjson"), samples.join("citygml")]
            .iter()
            .filter(|d| d.is_dir())
            .map(|d| sample_sources(d))
            .collect::<anyhow::Result<Vec<_>>>()?
            .concat();
        for source in sample_sources(&vector)?.into_iter().chain(city_models) {
            let file = source
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default();
            let stem = source
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            let crs = SAMPLE_CRS
                .iter()
                .find(|(f, _)| *f == file)
                .map(|(_, c)| c.parse::<Crs>())
                .transpose()?;
            let dataset = DatasetName::sanitize(stem.trim_end_matches(".city"));
            let city_model = tvilling_ingest::citymodel::CityModelReader.accepts(&source);
            let sample = Sample::file(&source, dataset.as_str(), crs, SAMPLE_OWNER);
            let ok = ingest_one(store, config, sample).await;
            failures += usize::from(!ok);
            if ok && city_model {
                to_tile.push((dataset.as_str().to_string(), Height::Geometry));
            }
        }
        failures += other_samples(store, config, &samples, &mut to_tile).await;
    } else {
        tracing::info!(
            "no real samples at {} (set --samples or TVILLING_SAMPLES); the demo uses the generated town only",
            vector.display()
        );
    }

    for (dataset, height) in to_tile {
        failures += usize::from(!tile_one(store, config, &dataset, height).await);
    }

    super::datasets::run(
        store,
        DatasetsArgs {
            format: OutputFormat::Table,
        },
    )
    .await?;
    if !a.no_serve {
        let serve = ServeArgs {
            addr: a.addr.clone(),
            viewer: None,
            iot_collection: None,
            mqtt: None,
            replay_sensors: Some(a.replay_sensors),
        };
        if failures > 0 {
            tracing::warn!("{failures} sources of the demo failed (see above); serving the rest");
        }
        let addr = a.addr.as_deref().unwrap_or(&config.server.addr);
        output::line(&format!(
            "\nServing the sample twin: open http://{addr}/ (Ctrl-C stops; the twin stays in {}).",
            store.root().display()
        ))?;
        return super::serve::run(store, config, serve).await;
    }
    // The binary is usually not on PATH after `make demo`: show the one that ran.
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "tvilling".into());
    let store_arg = format!("--store {}", store.root().display());
    output::line(&format!(
        "\nThe sample twin is in {}.\nTry: {exe} {store_arg} info byggnader\n     {exe} {store_arg} log byggnader\n     \
         {exe} {store_arg} export byggnader --format geoparquet --out byggnader.parquet\n     \
         {exe} {store_arg} tile byggnader_3d --out www   (3D Tiles; every building dataset is tiled in the store already)",
        store.root().display()
    ))?;
    Ok(if failures > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One source of the demo and where it goes.
struct Sample<'a> {
    source: &'a Path,
    dataset: &'a str,
    layer: Option<&'a str>,
    crs: Option<Crs>,
    /// Overwrite for files (re-running the demo replaces changed sources and is a no-op for identical
    /// ones); append for IoT series, which add to one collection.
    mode: Mode,
    owner: &'a str,
}

impl<'a> Sample<'a> {
    fn file(source: &'a Path, dataset: &'a str, crs: Option<Crs>, owner: &'a str) -> Sample<'a> {
        Sample {
            source,
            dataset,
            layer: None,
            crs,
            mode: Mode::Overwrite,
            owner,
        }
    }
}

async fn ingest_one(store: &Store, config: &Config, s: Sample<'_>) -> bool {
    let (source, dataset) = (s.source, s.dataset);
    let Ok(name) = dataset.parse::<DatasetName>() else {
        return false;
    };
    let opts = IngestOptions {
        dataset: name,
        read: ReadOptions {
            layer: s.layer.map(String::from),
            crs: s.crs,
            ..Default::default()
        },
        mode: s.mode,
        key: None,
        classification: Some(Classification::Open),
        owner: Some(s.owner.to_string()),
        licence: None,
    };
    let progress = Arc::new(CliProgress::new(config.log_format));
    match tvilling_ingest::ingest(store, source, &opts, progress).await {
        Ok(reports) => {
            for r in reports {
                tracing::info!(dataset = r.dataset, outcome = ?r.outcome, "ingested {}", source.display());
            }
            true
        }
        Err(e) => {
            tracing::error!("could not ingest {}: {e}", source.display());
            false
        }
    }
}

/// The generated town's other kinds: an airborne laser scan, a BIM proposal beside the town and
/// air-quality sensors whose series end now (the server replays them as live readings). Returns the
/// number of failures.
async fn town_extras(
    store: &Store,
    config: &Config,
    sources: &Path,
    a: &DemoArgs,
    to_tile: &mut Vec<(String, Height)>,
) -> anyhow::Result<usize> {
    let spec = TownSpec {
        buildings: a.buildings,
        seed: SEED,
    };
    let scan = sources.join("exempelby.laz");
    let points = tvilling_fixtures::lidar::generate(&scan, &spec, a.point_density)?;
    let proposal = sources.join("exempelby_forslag.ifc");
    tvilling_fixtures::proposal::generate(&proposal, &spec)?;
    tracing::info!(
        points = points.points,
        "generated the laser scan and the BIM proposal"
    );
    let mut failures = 0;
    for (source, dataset) in [
        (&scan, "exempelby_laser"),
        (&proposal, "forslag_ostra_angen"),
    ] {
        let sample = Sample::file(source, dataset, None, TOWN_OWNER);
        failures += ingest_for_tiling(store, config, sample, to_tile).await;
    }
    // Two days of readings up to now, into the collection the server shows ("iot"); re-running the demo
    // adds the readings since the last run (readings are unique by Datastream and time).
    let series = tvilling_fixtures::sensors::generate(sources, &spec, chrono::Utc::now(), 2)?;
    for source in &series {
        let sample = Sample {
            mode: Mode::Append,
            ..Sample::file(source, "iot", None, TOWN_OWNER)
        };
        failures += usize::from(!ingest_one(store, config, sample).await);
    }
    Ok(failures)
}

/// The real samples of the other kinds: Delft's laser points, the FZK-Haus IFC model (placed by its own
/// georeference) and the sensor series, which fill the IoT collection the server shows by default
/// (`server.iot.collection`, "iot"). Returns the number of failures.
async fn other_samples(
    store: &Store,
    config: &Config,
    samples: &Path,
    to_tile: &mut Vec<(String, Height)>,
) -> usize {
    let mut failures = 0;
    let points = samples.join("pointcloud/ahn3_cropped_2.laz");
    let ifc = samples.join("ifc/AC20-FZK-Haus.ifc");
    // AHN3 declares no CRS; its publisher documents RD New + NAP (shared/data/SOURCES.md).
    let rd_nap: Option<Crs> = "EPSG:28992+5709".parse().ok();
    for (source, dataset, crs) in [(&points, "ahn3", rd_nap), (&ifc, "fzk_haus", None)] {
        if !source.is_file() {
            continue;
        }
        let sample = Sample::file(source, dataset, crs, SAMPLE_OWNER);
        failures += ingest_for_tiling(store, config, sample, to_tile).await;
    }
    // The sensor series, in name order so the collection's ids are the same every time.
    let mut series: Vec<PathBuf> = std::fs::read_dir(samples.join("iot"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        // Only the formats of the IoT reader (SMHI, sensor.community); other CSVs are tables.
        .filter(|p| tvilling_ingest::iot::IotReader.accepts(p))
        .collect();
    series.sort();
    for source in &series {
        let sample = Sample {
            mode: Mode::Append,
            ..Sample::file(source, "iot", None, SAMPLE_OWNER)
        };
        failures += usize::from(!ingest_one(store, config, sample).await);
    }
    failures
}

/// Ingests a sample and, when that worked, queues it for tiling by its own geometry; returns the number
/// of failures (0 or 1).
async fn ingest_for_tiling(
    store: &Store,
    config: &Config,
    s: Sample<'_>,
    to_tile: &mut Vec<(String, Height)>,
) -> usize {
    let dataset = s.dataset.to_string();
    if ingest_one(store, config, s).await {
        to_tile.push((dataset, Height::Geometry));
        0
    } else {
        1
    }
}

/// Tiles a dataset into the store's tile cache (where the server finds it); false after logging why not.
async fn tile_one(store: &Store, config: &Config, dataset: &str, height: Height) -> bool {
    let Ok(name) = dataset.parse::<DatasetName>() else {
        return false;
    };
    let opts = TileOptions {
        height,
        ..Default::default()
    };
    let progress = Arc::new(CliProgress::new(config.log_format));
    match tvilling_tiles::tile(store, &name, At::Latest, &opts, progress).await {
        Ok(r) => {
            tracing::info!(
                dataset,
                features = r.features,
                tiles = r.tiles,
                rebuilt = r.built,
                "tiled: {}",
                r.tileset.display()
            );
            true
        }
        Err(e) => {
            tracing::error!("could not tile {dataset}: {e}");
            false
        }
    }
}

/// The samples in one folder: files tvilling reads directly, and folders holding one Shapefile.
fn sample_sources(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            let shp = std::fs::read_dir(&path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("shp")));
            if let Some(shp) = shp {
                // Name the dataset after the folder, which says what the data is.
                out.push(shp.parent().map(|_| path.clone()).unwrap_or(shp));
            }
        } else if path.extension().is_some_and(|e| {
            [
                "geojson", "fgb", "gpkg", "sqlite", "shp", "json", "jsonl", "gml", "citygml",
            ]
            .iter()
            .any(|x| e.eq_ignore_ascii_case(x))
        }) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}
