//! Bad input: each case gives a clear message, exit code 2, and leaves the dataset at its last version.

use std::path::Path;

use crate::util::Env;

/// Ingests a good source first, so each case can show the dataset was left as it was.
fn with_dataset() -> (Env, String) {
    let env = Env::new();
    let town = env.town("town.gpkg", 25, 11);
    env.ingest_buildings(&town, "hus", &[]);
    (env, "hus".into())
}

fn assert_untouched(env: &Env, name: &str) {
    let info = env.info(name);
    assert_eq!(
        info["version"], 0,
        "dataset must stay at its last committed version"
    );
    assert_eq!(info["rows"], 25);
    let log = env.dir.path().join("store").join(name).join("_delta_log");
    let commits = std::fs::read_dir(log)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "json")
        })
        .count();
    assert_eq!(commits, 1, "no commit file may be added");
}

fn ingest(env: &Env, src: &Path, extra: &[&str]) -> crate::util::Run {
    env.run(
        &[
            &[
                "ingest",
                src.to_str().unwrap(),
                "--dataset",
                "hus",
                "--mode",
                "overwrite",
            ],
            extra,
        ]
        .concat(),
    )
}

#[test]
fn rejects_a_truncated_shapefile() {
    let (env, name) = with_dataset();
    let town = env.path("town.gpkg");
    let shp_dir = env.path("shp");
    let status = std::process::Command::new("ogr2ogr")
        .args([
            "-f",
            "ESRI Shapefile",
            shp_dir.to_str().unwrap(),
            town.to_str().unwrap(),
            "byggnader",
        ])
        .status()
        .expect("ogr2ogr (gdal-bin) is installed by make");
    assert!(status.success());
    let shp = shp_dir.join("byggnader.shp");
    let len = std::fs::metadata(&shp).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&shp).unwrap();
    f.set_len(len / 2).unwrap();
    ingest(&env, &shp, &[]).fails_with(&["byggnader.shp", "nothing was committed"]);
    assert_untouched(&env, &name);
}

#[test]
fn rejects_a_geojson_syntax_error() {
    let (env, name) = with_dataset();
    let bad = env.path("broken.geojson");
    std::fs::write(&bad, r#"{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [1, 2]}, "properties": {"a": 1}}"#).unwrap();
    ingest(&env, &bad, &["--crs", "EPSG:3006"]).fails_with(&["broken.geojson"]);
    assert_untouched(&env, &name);
}

#[test]
fn rejects_an_unknown_format() {
    let (env, name) = with_dataset();
    let bad = env.path("mystery.dat");
    std::fs::write(
        &bad,
        (0..4096u32)
            .map(|i| (i * 7919 % 251) as u8)
            .collect::<Vec<u8>>(),
    )
    .unwrap();
    ingest(&env, &bad, &[]).fails_with(&["mystery.dat", "not in a vector format GDAL recognises"]);
    assert_untouched(&env, &name);
}

#[test]
fn refuses_a_source_without_a_crs_and_names_the_flag() {
    let (env, name) = with_dataset();
    let csv = env.path("points.csv");
    std::fs::write(
        &csv,
        "namn,WKT\nA,\"POINT (514000 6570000)\"\nB,\"POINT (514100 6570100)\"\n",
    )
    .unwrap();
    ingest(&env, &csv, &[]).fails_with(&["points.csv", "declares no CRS", "--crs"]);
    let geojson = env.path("sweref.geojson");
    std::fs::write(&geojson, r#"{"type":"FeatureCollection","features":[{"type":"Feature","geometry":{"type":"Point","coordinates":[514000,6570000]},"properties":{"namn":"A"}}]}"#).unwrap();
    ingest(&env, &geojson, &[]).fails_with(&[
        "sweref.geojson",
        "not longitude/latitude",
        "--crs EPSG:3006",
    ]);
    assert_untouched(&env, &name);
    // With the CRS given, the same files ingest, CSV geometry and types detected.
    env.run(&[
        "ingest",
        csv.to_str().unwrap(),
        "--dataset",
        "punkter",
        "--crs",
        "EPSG:3006",
    ])
    .ok();
    let info = env.info("punkter");
    assert_eq!(info["rows"], 2);
    assert_eq!(info["geometry_type"], "Point");
}

#[test]
fn rejects_an_unreadable_source() {
    let (env, name) = with_dataset();
    ingest(&env, &env.path("does-not-exist.gpkg"), &[])
        .fails_with(&["does-not-exist.gpkg", "cannot read source"]);
    assert_untouched(&env, &name);
}

#[test]
fn rejects_a_field_that_changes_type() {
    let env = Env::new();
    let a = env.path("a.geojson");
    let b = env.path("b.geojson");
    let fc = |v: &str| {
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","geometry":{{"type":"Point","coordinates":[15.2,59.3]}},"properties":{{"vaningar":{v}}}}}]}}"#
        )
    };
    std::fs::write(&a, fc("3")).unwrap();
    std::fs::write(&b, fc("\"tre\"")).unwrap();
    env.run(&["ingest", a.to_str().unwrap(), "--dataset", "hus"])
        .ok();
    env.run(&["ingest", b.to_str().unwrap(), "--dataset", "hus"])
        .fails_with(&["vaningar", "Int32", "Utf8", "--mode overwrite"]);
    let info = env.info("hus");
    assert_eq!(
        (info["version"].as_u64(), info["rows"].as_u64()),
        (Some(0), Some(1))
    );
}

#[test]
fn rejects_a_store_that_is_not_writable() {
    let env = Env::new();
    let town = env.town("t.gpkg", 5, 1);
    let file = env.path("plain-file");
    std::fs::write(&file, "not a folder").unwrap();
    let store = file.join("store");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tvilling"))
        .args([
            "--store",
            store.to_str().unwrap(),
            "ingest",
            town.to_str().unwrap(),
            "--dataset",
            "hus",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot be used") && err.contains("--store"),
        "{err}"
    );
}

#[test]
fn rejects_bad_names_and_crs_with_suggestions() {
    let (env, _) = with_dataset();
    let town = env.path("town.gpkg");
    env.run(&["ingest", town.to_str().unwrap(), "--dataset", "Hus Nya"])
        .fails_with(&["not a valid dataset name", "hus_nya"]);
    env.run(&[
        "ingest",
        town.to_str().unwrap(),
        "--dataset",
        "x",
        "--crs",
        "SWEREF99",
    ])
    .fails_with(&["EPSG:3006"]);
    env.run(&[
        "ingest",
        town.to_str().unwrap(),
        "--dataset",
        "x",
        "--layer",
        "byggnad",
    ])
    .fails_with(&["no layer 'byggnad'", "byggnader"]);
    env.run(&["info", "hsu"])
        .fails_with(&["does not exist", "did you mean 'hus'"]);
}
