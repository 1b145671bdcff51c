//! Versions: provenance in the log, identical re-ingest as a no-op, time travel, upsert and classification.

use std::time::Duration;

use crate::util::Env;

#[test]
fn reads_an_older_version_by_number_and_by_time_after_an_overwrite() {
    let env = Env::new();
    let small = env.town("small.gpkg", 40, 1);
    let big = env.town("big.gpkg", 90, 2);
    env.ingest_buildings(&small, "byggnader", &[]);
    std::thread::sleep(Duration::from_millis(1200));
    let between = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::thread::sleep(Duration::from_millis(1200));
    env.run(&[
        "ingest",
        big.to_str().unwrap(),
        "--dataset",
        "byggnader",
        "--layer",
        "byggnader",
        "--mode",
        "overwrite",
    ])
    .ok();

    assert_eq!(env.info("byggnader")["rows"], 90);
    assert_eq!(env.info("byggnader")["version"], 1);
    let v0 = env
        .run(&["info", "byggnader", "--version", "0", "--format", "json"])
        .ok()
        .json();
    assert_eq!(v0["rows"], 40);
    let then = env
        .run(&["info", "byggnader", "--as-of", &between, "--format", "json"])
        .ok()
        .json();
    assert_eq!(then["rows"], 40, "as of {between}");

    let out = env.path("v0.gpkg");
    env.run(&[
        "export",
        "byggnader",
        "--format",
        "gpkg",
        "--out",
        out.to_str().unwrap(),
        "--version",
        "0",
    ])
    .ok();
    assert_eq!(crate::util::gdal_count(&out), 40);

    env.run(&["info", "byggnader", "--as-of", "2001-01-01T00:00:00Z"])
        .fails_with(&["no version as of 2001-01-01", "first version 0"]);
    env.run(&["info", "byggnader", "--version", "7"])
        .fails_with(&["no version 7", "tvilling log byggnader"]);

    let log = env
        .run(&["log", "byggnader", "--format", "json"])
        .ok()
        .json();
    let log = log.as_array().expect("array");
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["version"], 1);
    assert_eq!(log[0]["provenance"]["mode"], "overwrite");
    assert_eq!(log[1]["provenance"]["rows_written"], 40);
    let sha = sha256_hex(&small);
    assert_eq!(
        log[1]["provenance"]["sha256"], sha,
        "provenance records the source checksum"
    );
    assert_eq!(log[1]["quality"]["completeness"]["features_read"], 40);
    assert!(
        log[1]["provenance"]["tool"]
            .as_str()
            .unwrap()
            .starts_with("tvilling ")
    );
}

#[test]
fn reingesting_an_identical_source_is_a_no_op_that_says_so() {
    let env = Env::new();
    let town = env.town("town.gpkg", 30, 3);
    let src = town.to_str().unwrap();
    env.run(&["ingest", src, "--dataset", "hus", "--layer", "byggnader"])
        .ok();
    let again = env
        .run(&["ingest", src, "--dataset", "hus", "--layer", "byggnader"])
        .ok();
    assert!(
        again.stdout().contains("unchanged at version 0"),
        "{}",
        again.stdout()
    );
    let json = env
        .run(&[
            "ingest",
            src,
            "--dataset",
            "hus",
            "--layer",
            "byggnader",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(json[0]["outcome"], "unchanged");
    assert_eq!(env.info("hus")["rows"], 30);
    assert_eq!(env.info("hus")["version"], 0);
}

#[test]
fn upsert_by_key_updates_matching_rows_and_adds_new_ones() {
    let env = Env::new();
    // The same seed and block layout: the first 24 buildings of the larger town are those of the smaller.
    let a = env.town("a.gpkg", 24, 5);
    let b = env.town("b.gpkg", 30, 5);
    let key = [
        "--layer",
        "byggnader",
        "--mode",
        "upsert",
        "--key",
        "objektidentitet",
    ];
    env.run(
        &[
            &["ingest", a.to_str().unwrap(), "--dataset", "hus"],
            &key[..],
        ]
        .concat(),
    )
    .ok();
    env.run(
        &[
            &["ingest", b.to_str().unwrap(), "--dataset", "hus"],
            &key[..],
        ]
        .concat(),
    )
    .ok();
    assert_eq!(
        env.info("hus")["rows"],
        30,
        "6 new rows added, 24 updated in place"
    );

    // A change to one building, from a GeoJSON edit.
    let export = env.path("hus.geojson");
    env.run(&[
        "export",
        "hus",
        "--format",
        "geojson",
        "--out",
        export.to_str().unwrap(),
    ])
    .ok();
    let mut fc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&export).unwrap()).unwrap();
    let features = fc["features"].as_array_mut().unwrap();
    features.truncate(1);
    let target = features[0]["properties"]["objektidentitet"]
        .as_str()
        .unwrap()
        .to_string();
    features[0]["properties"]["energiklass"] = "A".into();
    let edit = env.path("edit.geojson");
    std::fs::write(&edit, fc.to_string()).unwrap();
    env.run(&[
        "ingest",
        edit.to_str().unwrap(),
        "--dataset",
        "hus",
        "--mode",
        "upsert",
        "--key",
        "objektidentitet",
    ])
    .ok();
    assert_eq!(env.info("hus")["rows"], 30);
    let after = env.export_geojson("hus");
    let row = after["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["objektidentitet"] == target.as_str())
        .unwrap();
    assert_eq!(row["properties"]["energiklass"], "A");
    assert_eq!(
        row["properties"]["id"],
        target.as_str(),
        "the key is the stable id"
    );

    env.run(&[
        "ingest",
        a.to_str().unwrap(),
        "--dataset",
        "hus",
        "--layer",
        "byggnader",
        "--mode",
        "upsert",
    ])
    .fails_with(&["--key"]);
}

#[test]
fn classification_changes_are_versions_and_default_is_internal() {
    let env = Env::new();
    let town = env.town("t.gpkg", 10, 9);
    env.ingest_buildings(&town, "hus", &[]);
    assert_eq!(env.info("hus")["classification"], "internal");
    env.run(&["classify", "hus", "open"]).ok();
    let info = env.info("hus");
    assert_eq!(info["classification"], "open");
    assert_eq!(info["version"], 1);
    let log = env.run(&["log", "hus", "--format", "json"]).ok().json();
    assert_eq!(log[0]["note"]["classification"]["to"], "open");
    assert_eq!(env.run(&["classify", "hus", "secret"]).code(), 2);
    let listed = env.run(&["datasets", "--format", "json"]).ok().json();
    assert_eq!(listed[0]["name"], "hus");
    assert_eq!(listed[0]["classification"], "open");
}

#[test]
fn a_multi_layer_source_writes_one_dataset_per_layer() {
    let env = Env::new();
    let town = env.town("town.gpkg", 20, 4);
    env.run(&["ingest", town.to_str().unwrap(), "--dataset", "exempelby"])
        .ok();
    let listed = env.run(&["datasets", "--format", "json"]).ok().json();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["exempelby_byggnader", "exempelby_vagar"]);
    let info = env.info("exempelby_byggnader");
    assert_eq!(info["rows"], 20);
    assert_eq!(info["crs"], "EPSG:3006");
    let cols: Vec<&str> = info["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for c in [
        "id",
        "geometry",
        "bbox_xmin",
        "bbox_zmax",
        "andamal",
        "byggnadsar",
        "energiklass",
        "registrerad",
    ] {
        assert!(cols.contains(&c), "{c} in {cols:?}");
    }
    let types: std::collections::HashMap<&str, &str> = info["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["data_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(types["byggnadsar"], "Int32");
    assert_eq!(types["hojd"], "Float64");
    assert_eq!(types["registrerad"], "Date32");
}

#[test]
fn the_demo_builds_a_sample_twin_without_shared_data() {
    let env = Env::new();
    let run = env
        .run(&[
            "demo",
            "--samples",
            env.path("none").to_str().unwrap(),
            "--buildings",
            "120",
            "--no-serve",
        ])
        .ok();
    assert!(run.stdout().contains("byggnader"), "{}", run.stdout());
    assert_eq!(env.info("byggnader")["rows"], 120);
    assert_eq!(env.info("byggnader")["classification"], "open");
    assert_eq!(env.info("byggnader")["vertical_crs"], "EPSG:5613");
    assert!(env.info("vagar")["rows"].as_u64().unwrap() > 0);
    // The town is also a 3D city model, and both building datasets are tiled in the store.
    assert_eq!(env.info("byggnader_3d")["kind"], "citymodel");
    assert_eq!(env.info("byggnader_3d")["rows"], 120);
    // The town's laser scan, its BIM proposal and its sensors.
    let scan = env.info("exempelby_laser");
    assert_eq!(scan["kind"], "pointcloud", "{scan}");
    assert!(scan["rows"].as_u64().unwrap() > 100_000, "{scan}");
    assert_eq!(scan["crs"], "EPSG:3006", "{scan}");
    assert_eq!(scan["vertical_crs"], "EPSG:5613", "{scan}");
    let proposal = env.info("forslag_ostra_angen");
    assert_eq!(proposal["kind"], "bim", "{proposal}");
    // 20 walls, 5 floor slabs, the roof and 90 windows (openings are cut, not stored).
    assert_eq!(proposal["rows"], 116, "{proposal}");
    let sensors = env.info("iot_datastreams");
    // Nine sites, each with PM10, PM2.5, temperature, humidity and pressure.
    assert_eq!(sensors["rows"], 45, "{sensors}");
    assert!(env.info("iot_observations")["rows"].as_u64().unwrap() >= 45 * 576);
    for dataset in [
        "byggnader",
        "byggnader_3d",
        "exempelby_laser",
        "forslag_ostra_angen",
    ] {
        let tileset = env.store().join(dataset).join("_tiles/tileset-v0.json");
        let report = tvilling_tiles::check::check_tileset(&tileset).expect("tileset written");
        assert!(report.is_ok(), "{dataset}: {report}");
    }
    // Running it again regenerates the same town: the GeoPackage's bytes differ (GDAL stamps the time),
    // so at most one new version is written, with the same rows under the same stable ids.
    let ids = |env: &Env| {
        let fc = env.export_geojson("byggnader");
        let mut ids: Vec<String> = fc["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["properties"]["id"].to_string())
            .collect();
        ids.sort();
        ids
    };
    let before = ids(&env);
    env.run(&[
        "demo",
        "--samples",
        env.path("none").to_str().unwrap(),
        "--buildings",
        "120",
        "--no-serve",
    ])
    .ok();
    assert!(env.info("byggnader")["version"].as_u64().unwrap() <= 1);
    assert_eq!(ids(&env), before, "feature ids are stable across versions");
}

fn sha256_hex(p: &std::path::Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

#[test]
fn a_property_missing_from_one_feature_is_stored_as_null_not_as_a_default() {
    // gdal's safe field accessor reports unset fields as "" or 0; tvilling must store null.
    let env = Env::new();
    let src = env.path("partial.geojson");
    std::fs::write(
        &src,
        r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","geometry":{"type":"Point","coordinates":[15.2,59.3]},"properties":{"namn":"A","vaningar":3}},
          {"type":"Feature","geometry":{"type":"Point","coordinates":[15.3,59.3]},"properties":{"namn":"B"}}]}"#,
    )
    .unwrap();
    env.run(&["ingest", src.to_str().unwrap(), "--dataset", "punkter"])
        .ok();
    let fill = &env.info("punkter")["last_quality"]["completeness"]["attributes"];
    assert_eq!(fill["vaningar"]["nulls"], 1, "{fill}");
    let fc = env.export_geojson("punkter");
    let b = fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["namn"] == "B")
        .unwrap();
    assert!(
        b["properties"].get("vaningar").is_none_or(|v| v.is_null()),
        "{b}"
    );
}
