//! A small store for SQL tests: the generated town (buildings and roads in EPSG:3006) and a few points in
//! WGS 84, built once per test binary in a temporary folder.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use tvilling_core::progress::NoProgress;
use tvilling_core::{DatasetName, Mode, Store};
use tvilling_ingest::{IngestOptions, ReadOptions};

/// Buildings in the generated town.
pub const BUILDINGS: usize = 400;

/// Ingests `path` as `dataset`.
pub async fn ingest(
    store: &Store,
    path: &Path,
    dataset: &str,
    layer: Option<&str>,
    crs: Option<&str>,
) {
    let opts = IngestOptions {
        dataset: dataset.parse::<DatasetName>().expect("dataset name"),
        read: ReadOptions {
            layer: layer.map(str::to_string),
            crs: crs.map(|c| c.parse().expect("crs")),
            ..Default::default()
        },
        mode: Mode::Overwrite,
        key: None,
        classification: None,
        owner: None,
        licence: None,
    };
    tvilling_ingest::ingest(store, path, &opts, Arc::new(NoProgress))
        .await
        .expect("ingest");
}

/// Creates the test store in `dir`: `byggnader` and `vagar` from the town, `punkter_wgs84` in EPSG:4326.
pub async fn town_store(dir: &Path) -> Store {
    let store = Store::open(dir.join("store").to_str().expect("utf-8 path")).expect("store");
    let town = dir.join("town.gpkg");
    tvilling_fixtures::town::generate(
        &town,
        &tvilling_fixtures::town::TownSpec {
            buildings: BUILDINGS,
            seed: 7,
        },
    )
    .expect("town");
    ingest(&store, &town, "byggnader", Some("byggnader"), None).await;
    ingest(&store, &town, "vagar", Some("vagar"), None).await;
    let points = dir.join("punkter.geojson");
    std::fs::write(
        &points,
        r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"namn":"Stortorget"},"geometry":{"type":"Point","coordinates":[18.0708,59.3251]}},
            {"type":"Feature","properties":{"namn":"Kungstorget"},"geometry":{"type":"Point","coordinates":[11.9668,57.7046]}}]}"#,
    )
    .expect("write points");
    ingest(&store, &points, "punkter_wgs84", None, Some("EPSG:4326")).await;
    store
}
