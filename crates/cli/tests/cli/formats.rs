//! Every common OGR format, 3D geometries, reprojection, invalid geometries and rejected features, on data
//! the tests generate (no samples needed).

use std::process::Command;

use crate::util::{Env, gdal_count};

/// Converts the generated town's buildings to `driver` with ogr2ogr (gdal-bin, installed by `make`).
fn convert(
    env: &Env,
    src: &std::path::Path,
    driver: &str,
    out: &str,
    extra: &[&str],
) -> std::path::PathBuf {
    let dst = env.path(out);
    let status = Command::new("ogr2ogr")
        .args([
            "-f",
            driver,
            dst.to_str().unwrap(),
            src.to_str().unwrap(),
            "byggnader",
        ])
        .args(extra)
        .status()
        .expect("ogr2ogr");
    assert!(status.success(), "ogr2ogr to {driver}");
    dst
}

#[test]
fn ingests_every_common_ogr_format_with_gdals_counts() {
    let env = Env::new();
    let town = env.town("town.gpkg", 40, 41);
    let cases: Vec<(&str, std::path::PathBuf, Vec<&str>)> = vec![
        ("gpkg", town.clone(), vec!["--layer", "byggnader"]),
        (
            "shapefile",
            convert(&env, &town, "ESRI Shapefile", "shp", &[]).join("byggnader.shp"),
            vec![],
        ),
        (
            "geojson",
            convert(&env, &town, "GeoJSON", "b.geojson", &[]),
            vec![],
        ),
        (
            "flatgeobuf",
            convert(&env, &town, "FlatGeobuf", "b.fgb", &[]),
            vec![],
        ),
        ("gml", convert(&env, &town, "GML", "b.gml", &[]), vec![]),
        (
            "sqlite",
            convert(&env, &town, "SQLite", "b.sqlite", &[]),
            vec![],
        ),
        (
            "csv",
            convert(&env, &town, "CSV", "b.csv", &["-lco", "GEOMETRY=AS_WKT"]),
            vec!["--crs", "EPSG:3006"],
        ),
    ];
    for (name, path, extra) in cases {
        let mut args = vec!["ingest", path.to_str().unwrap(), "--dataset", name];
        args.extend(extra);
        env.run(&args).ok();
        let info = env.info(name);
        assert_eq!(info["rows"].as_u64(), Some(40), "{name}");
        assert_eq!(info["crs"], "EPSG:3006", "{name}");
        assert!(
            info["geometry_type"].as_str().unwrap().contains("Polygon"),
            "{name}: {}",
            info["geometry_type"]
        );
        let cols: Vec<&str> = info["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert!(
            cols.iter().any(|c| c.starts_with("andamal")),
            "{name}: {cols:?}"
        );
    }
    // Typed attributes survive the formats that carry types.
    let types = |n: &str| -> Vec<(String, String)> {
        env.info(n)["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().into(),
                    c["data_type"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    for n in ["gpkg", "flatgeobuf", "sqlite"] {
        let t = types(n);
        assert!(
            t.contains(&("vaningar".into(), "Int32".into())),
            "{n}: {t:?}"
        );
        assert!(t.contains(&("hojd".into(), "Float64".into())), "{n}: {t:?}");
    }
    assert_eq!(gdal_count(&town), 40);
}

#[test]
fn keeps_3d_geometries_and_their_height_range() {
    let env = Env::new();
    let src = env.path("tak.geojson");
    std::fs::write(
        &src,
        r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::3006"}},"features":[
          {"type":"Feature","properties":{"namn":"tak"},"geometry":{"type":"Polygon","coordinates":[[[513000,6570000,31.5],[513010,6570000,31.5],[513010,6570010,38.25],[513000,6570010,38.25],[513000,6570000,31.5]]]}}]}"#,
    )
    .unwrap();
    env.run(&["ingest", src.to_str().unwrap(), "--dataset", "tak"])
        .ok();
    let info = env.info("tak");
    assert_eq!(info["geometry_type"], "Polygon Z");
    assert_eq!(info["z_range"], serde_json::json!([31.5, 38.25]));
    let out = env.path("tak.gpkg");
    env.run(&[
        "export",
        "tak",
        "--format",
        "gpkg",
        "--out",
        out.to_str().unwrap(),
    ])
    .ok();
    let info = Command::new("ogrinfo")
        .args(["-al", "-q", out.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(
        text.contains("POLYGON Z") && text.contains("38.25"),
        "{text}"
    );
}

#[test]
fn reprojects_with_to_crs() {
    let env = Env::new();
    let town = env.town("town.gpkg", 12, 42);
    env.run(&[
        "ingest",
        town.to_str().unwrap(),
        "--dataset",
        "wgs",
        "--layer",
        "byggnader",
        "--to-crs",
        "EPSG:4326",
    ])
    .ok();
    let info = env.info("wgs");
    assert_eq!(info["crs"], "EPSG:4326");
    let e: Vec<f64> = info["extent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // The town lies in Örebro municipality: about 15.2° E, 59.27° N.
    assert!(
        e[0] > 15.0 && e[2] < 15.5 && e[1] > 59.1 && e[3] < 59.4,
        "{e:?}"
    );
    let notes = info["last_quality"]["positional"]["notes"].to_string();
    assert!(notes.contains("reprojected from EPSG:3006"), "{notes}");
}

#[test]
fn reports_invalid_geometries_and_repairs_them_only_when_asked() {
    let env = Env::new();
    let src = env.path("bowtie.geojson");
    std::fs::write(
        &src,
        r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"n":1},"geometry":{"type":"Polygon","coordinates":[[[15.0,59.0],[15.1,59.1],[15.1,59.0],[15.0,59.1],[15.0,59.0]]]}},
          {"type":"Feature","properties":{"n":2},"geometry":{"type":"Polygon","coordinates":[[[15.0,59.0],[15.1,59.0],[15.1,59.1],[15.0,59.0]]]}}]}"#,
    )
    .unwrap();
    env.run(&["ingest", src.to_str().unwrap(), "--dataset", "kept"])
        .ok();
    let q = &env.info("kept")["last_quality"]["logical_consistency"];
    assert_eq!(q["invalid_geometries"], 1, "{q}");
    assert!(
        q["invalid_examples"][0]["reason"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("intersect"),
        "{q}"
    );
    assert_eq!(env.info("kept")["rows"], 2, "invalid geometries are kept");
    env.run(&[
        "ingest",
        src.to_str().unwrap(),
        "--dataset",
        "repaired",
        "--make-valid",
    ])
    .ok();
    let q = &env.info("repaired")["last_quality"]["logical_consistency"];
    assert_eq!(q["repaired_geometries"], 1, "{q}");
    assert_eq!(q["invalid_geometries"], 0, "{q}");
}

#[test]
fn rejected_features_exit_1_and_are_listed_with_reasons() {
    let env = Env::new();
    let src = env.path("pole.geojson");
    std::fs::write(
        &src,
        r#"{"type":"FeatureCollection","features":[
          {"type":"Feature","properties":{"n":1},"geometry":{"type":"Point","coordinates":[15.2,59.3]}},
          {"type":"Feature","properties":{"n":2},"geometry":{"type":"Point","coordinates":[15.2,90.3]}}]}"#,
    )
    .unwrap();
    // Latitude 90.3° does not exist: PROJ cannot transform it, so that feature is rejected and the other stored.
    let run = env.run(&[
        "ingest",
        src.to_str().unwrap(),
        "--dataset",
        "merc",
        "--to-crs",
        "EPSG:3857",
    ]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let info = env.info("merc");
    assert_eq!(info["rows"], 1);
    let rejected = &info["last_quality"]["rejected"];
    assert_eq!(rejected.as_array().unwrap().len(), 1, "{rejected}");
    assert!(
        rejected[0]["reason"]
            .as_str()
            .unwrap()
            .contains("EPSG:3857"),
        "{rejected}"
    );
}

#[test]
fn json_logs_are_one_object_per_line_for_etl() {
    let env = Env::new();
    let town = env.town("t.gpkg", 5, 43);
    let out = env
        .command(&[
            "--log-format",
            "json",
            "ingest",
            town.to_str().unwrap(),
            "--dataset",
            "hus",
            "--layer",
            "byggnader",
            "--format",
            "json",
        ])
        .env("RUST_LOG", "info")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(stdout[0]["outcome"], "committed");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for l in lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(
            v.get("level").is_some() && v.get("timestamp").is_some(),
            "{l}"
        );
    }
}
