//! Point clouds end to end (issue 5): `tvilling ingest` of a real LAZ with `--crs`, then `tvilling sql`
//! over the points, checked against laspy's numbers (`ingest/tests/expected/pointcloud.json`).

use serde_json::Value;

use crate::util::{Env, samples};

fn expected(file: &str) -> Value {
    let text = include_str!("../../../../ingest/tests/expected/pointcloud.json");
    let all: Value = serde_json::from_str(text).expect("expected values are JSON");
    all["files"][file].clone()
}

#[test]
fn ingests_a_laz_and_counts_points_by_class_in_sql() {
    let Some(samples) = samples("ingests_a_laz_and_counts_points_by_class_in_sql") else {
        return;
    };
    let env = Env::new();
    let file = "ahn3_cropped_2.laz";
    let src = samples.join("pointcloud").join(file);
    let exp = expected(file);
    // The file has no CRS record: without --crs the ingest is refused and nothing is written.
    env.run(&["ingest", src.to_str().expect("utf8"), "--dataset", "ahn3"])
        .fails_with(&["--crs", file]);
    let run = env
        .run(&[
            "ingest",
            src.to_str().expect("utf8"),
            "--dataset",
            "ahn3",
            "--crs",
            "EPSG:28992+5709",
            "--format",
            "json",
        ])
        .ok();
    let out = run.stdout();
    assert!(
        out.contains("pointcloud") || out.contains("committed"),
        "{out}"
    );

    let info = env.info("ahn3");
    assert_eq!(info["kind"], "pointcloud");
    assert_eq!(info["rows"], exp["point_count"]);
    assert_eq!(info["crs"], "EPSG:28992");

    let rows = env
        .run(&[
            "sql",
            "SELECT classification, count(*) AS n FROM ahn3 GROUP BY classification ORDER BY classification",
            "--format",
            "json",
        ])
        .ok()
        .json();
    let got: serde_json::Map<String, Value> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| (r["classification"].to_string(), r["n"].clone()))
        .collect();
    assert_eq!(Value::Object(got), exp["classification_counts"]);

    // The first point in file order, found by its id, is laspy's first point.
    let first = env
        .run(&[
            "sql",
            "SELECT x, y, z, intensity FROM ahn3 WHERE id = '0'",
            "--format",
            "json",
        ])
        .ok()
        .json();
    for k in ["x", "y", "z", "intensity"] {
        let (g, w) = (first[0][k].as_f64(), exp["first"][k].as_f64());
        assert!(
            g.zip(w).is_some_and(|(g, w)| (g - w).abs() < 1e-6),
            "{k}: {g:?} vs {w:?}"
        );
    }

    // Spatial SQL works on the point geometry.
    let near = env
        .run(&[
            "sql",
            "SELECT count(*) AS n FROM ahn3 WHERE ST_Intersects(geometry, ST_GeomFromText('POLYGON((85000 447412, 85010 447412, 85010 447422, 85000 447422, 85000 447412))'))",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert!(
        near[0]["n"].as_u64().is_some_and(|n| n > 0 && n < 208_432),
        "{near}"
    );

    // Ingesting the same file the same way again is a no-op.
    env.run(&[
        "ingest",
        src.to_str().expect("utf8"),
        "--dataset",
        "ahn3",
        "--crs",
        "EPSG:28992+5709",
    ])
    .ok();
    assert_eq!(env.info("ahn3")["version"], info["version"]);
}

/// Point counts of every glb in `content/`: the POSITION accessor's `count` of each POINTS primitive,
/// read from the glb's JSON chunk.
fn points_in_glbs(dir: &std::path::Path) -> (u64, Vec<std::path::PathBuf>) {
    let mut total = 0;
    let mut files = vec![];
    for e in std::fs::read_dir(dir.join("content")).expect("content folder") {
        let path = e.expect("entry").path();
        let bytes = std::fs::read(&path).expect("glb");
        let len = u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        let json: Value = serde_json::from_slice(&bytes[20..20 + len]).expect("glb JSON");
        for prim in json["meshes"][0]["primitives"]
            .as_array()
            .expect("primitives")
        {
            assert_eq!(prim["mode"], 0, "{}: POINTS", path.display());
            let acc = prim["attributes"]["POSITION"].as_u64().expect("POSITION") as usize;
            total += json["accessors"][acc]["count"].as_u64().expect("count");
        }
        files.push(path);
    }
    (total, files)
}

/// Tiles `dataset` into `out` with `flags` and asserts what every point tileset must satisfy: the
/// tileset checker and glTF-Validator find nothing, ADD refinement, the tile point counts sum to
/// `points`, and the root centre lies at `lon_lat` (±0.03°) with an ellipsoidal height in `heights`.
fn tile_points_and_check(
    env: &Env,
    dataset: &str,
    out: &str,
    flags: &[&str],
    points: u64,
    lon_lat: [f64; 2],
    heights: [f64; 2],
) {
    let dir = env.path(out);
    let mut args = vec!["tile", dataset, "--out", dir.to_str().expect("utf8")];
    args.extend_from_slice(flags);
    let started = std::time::Instant::now();
    env.run(&args).ok();
    let secs = started.elapsed().as_secs_f64();
    let tileset = dir.join("tileset.json");
    let report = tvilling_tiles::check::check_tileset(&tileset).expect("read tileset");
    assert!(report.is_ok(), "tileset checker ({out}):\n{report}");
    let [lon, lat, h] = report.root_center_lon_lat_height.expect("root centre");
    assert!(
        (lon - lon_lat[0]).abs() < 0.03 && (lat - lon_lat[1]).abs() < 0.03,
        "{out}: root centre {lon} {lat}"
    );
    assert!(
        heights[0] < h && h < heights[1],
        "{out}: root centre height {h}"
    );
    let (got, glbs) = points_in_glbs(&dir);
    // ADD refinement: every input point in exactly one tile.
    assert_eq!(got, points, "{out}");
    eprintln!(
        "{out}: {got} points in {} tiles, {secs:.2} s ({:.0} points/s incl. process start)",
        glbs.len(),
        got as f64 / secs
    );
    assert!(glbs.len() > 1, "an octree, not one tile");
    let json: Value =
        serde_json::from_slice(&std::fs::read(&tileset).expect("tileset")).expect("JSON");
    assert_eq!(json["root"]["refine"], "ADD");
    let reports = tvilling_fixtures::gltf_validator::validate(&glbs).expect("glTF-Validator runs");
    for r in &reports {
        assert_eq!(r.errors, 0, "{}: {:?}", r.file, r.messages);
    }
}

#[test]
fn tiles_a_laz_as_points_that_validate_land_in_delft_and_keep_every_point_once() {
    let test = "tiles_a_laz_as_points_that_validate_land_in_delft_and_keep_every_point_once";
    let Some(samples) = samples(test) else {
        return;
    };
    let env = Env::new();
    let file = "ahn3_cropped_2.laz";
    let src = samples.join("pointcloud").join(file);
    let count = expected(file)["point_count"].as_u64().expect("count");
    env.run(&[
        "ingest",
        src.to_str().expect("utf8"),
        "--dataset",
        "ahn3",
        "--crs",
        "EPSG:28992+5709",
    ])
    .ok();
    // NAP heights of a few metres + the geoid (~43 m in Delft).
    for (flags, out) in [(&[][..], "plain"), (&["--meshopt"][..], "meshopt")] {
        tile_points_and_check(&env, "ahn3", out, flags, count, [4.36, 52.0], [20.0, 120.0]);
    }
    // Tiling the same version again reuses every content file.
    let again = env.run(&["tile", "ahn3", "--format", "json"]).ok().json();
    assert_eq!(again["built"], 0, "{again}");
}

#[test]
fn tiles_a_laz_with_rgb_at_autzen() {
    let Some(samples) = samples("tiles_a_laz_with_rgb_at_autzen") else {
        return;
    };
    let env = Env::new();
    let file = "autzen_trim.laz";
    let src = samples.join("pointcloud").join(file);
    let count = expected(file)["point_count"].as_u64().expect("count");
    // The autzen WKT has no EPSG identity; docs/pointclouds.md names the CRS.
    env.run(&[
        "ingest",
        src.to_str().expect("utf8"),
        "--dataset",
        "autzen",
        "--crs",
        "EPSG:2994",
    ])
    .ok();
    // Eugene, Oregon; z (in the file's feet, no vertical CRS) plus a geoid of about −22 m.
    tile_points_and_check(
        &env,
        "autzen",
        "autzen",
        &[],
        count,
        [-123.07, 44.05],
        [0.0, 600.0],
    );
}

#[test]
fn point_tiles_load_and_render_in_cesium_in_delft() {
    let test = "point_tiles_load_and_render_in_cesium_in_delft";
    let Some(samples) = samples(test) else {
        return;
    };
    if let Some(why) = tvilling_fixtures::cesium_check::missing_prerequisite() {
        eprintln!("SKIPPED {test}: {why}");
        return;
    }
    let env = Env::new();
    let src = samples.join("pointcloud").join("ahn3_cropped_2.laz");
    env.run(&[
        "ingest",
        src.to_str().expect("utf8"),
        "--dataset",
        "ahn3",
        "--crs",
        "EPSG:28992+5709",
    ])
    .ok();
    let out = env.path("ahn3-tiles");
    env.run(&[
        "tile",
        "ahn3",
        "--out",
        out.to_str().expect("utf8"),
        "--meshopt",
    ])
    .ok();
    let report = tvilling_fixtures::cesium_check::check_tileset(&out.join("tileset.json"))
        .expect("the Cesium check runs");
    eprintln!("ahn3 points in CesiumJS: {report:?}");
    assert!(
        report.errors.is_empty(),
        "Cesium reported {:#?}",
        report.errors
    );
    assert!(
        report.tiles_loaded > 0 && report.tiles_rendered > 0 && report.root_content_ready,
        "{report:?}"
    );
    let [lon, lat, h] = report.center_lon_lat_height;
    assert!(
        (lon - 4.368).abs() < 0.01 && (lat - 52.012).abs() < 0.01,
        "{lon} {lat}"
    );
    assert!(
        (20.0..120.0).contains(&h),
        "bounding sphere centre height {h}"
    );
    assert!(
        report.schema.values().any(
            |p| p.contains(&"intensity".to_owned()) && p.contains(&"classification".to_owned())
        ),
        "schema {:?}",
        report.schema
    );
}
