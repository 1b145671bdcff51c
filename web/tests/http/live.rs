//! A new commit is tiled in the background and served within seconds; the delay is measured and printed.

use std::time::{Duration, Instant};

use tvilling_core::{Classification, Mode, Store};
use tvilling_web::ServerConfig;

use crate::util::{ingest, json, serve_with, tile, town, twin};

#[tokio::test(flavor = "multi_thread")]
async fn a_new_commit_is_served_within_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store");
    let store = Store::open(store_path.to_str().unwrap()).unwrap();
    let town = twin().town.clone();
    ingest(&store, &town, "stad", Classification::Open, Mode::Overwrite).await;
    tile(&store, "stad").await;
    let config = ServerConfig {
        tile_height_attr: [("stad".to_string(), "hojd".to_string())].into(),
        ..ServerConfig::default()
    };
    let s = serve_with(&store_path, config).await;
    let first = json(s.get("/tiles/stad/tileset.json").send().await.unwrap()).await;
    assert_eq!(first["asset"]["tilesetVersion"], "0");

    let other = crate::util::town(dir.path(), 41, 99);
    ingest(&store, &other, "stad", Classification::Open, Mode::Append).await;
    let committed = Instant::now();
    let delay = loop {
        let r = s.get("/tiles/stad/tileset.json").send().await.unwrap();
        if r.status() == 200 && r.headers().get("x-tvilling-tiles-pending").is_none() {
            let t = json(r).await;
            if t["asset"]["tilesetVersion"] == "1" {
                break committed.elapsed();
            }
        }
        assert!(
            committed.elapsed() < Duration::from_secs(120),
            "version 1 was not served within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    println!(
        "commit -> served delay: {:.2} s (41 new buildings appended to 40, debug build)",
        delay.as_secs_f64()
    );
    let list = json(s.get("/api/datasets").send().await.unwrap()).await;
    assert_eq!(list[0]["version"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn untiled_datasets_are_tiled_on_first_request() {
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("store");
    let store = Store::open(store_path.to_str().unwrap()).unwrap();
    let t = town(dir.path(), 20, 3);
    ingest(&store, &t, "ny", Classification::Open, Mode::Overwrite).await;
    let s = serve_with(&store_path, ServerConfig::default()).await;
    let r = s.get("/tiles/ny/tileset.json").send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let started = Instant::now();
    loop {
        let r = s.get("/tiles/ny/tileset.json").send().await.unwrap();
        if r.status() == 200 {
            break;
        }
        assert_eq!(r.status(), 503, "{:?}", r.text().await);
        assert!(started.elapsed() < Duration::from_secs(120));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
