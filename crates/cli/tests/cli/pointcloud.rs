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
    tile_points_with_env_and_check(env, dataset, out, flags, &[], points, lon_lat, heights);
}

/// [`tile_points_and_check`] with environment variables for `tvilling tile`.
#[allow(clippy::too_many_arguments)]
fn tile_points_with_env_and_check(
    env: &Env,
    dataset: &str,
    out: &str,
    flags: &[&str],
    vars: &[(&str, &str)],
    points: u64,
    lon_lat: [f64; 2],
    heights: [f64; 2],
) {
    let dir = env.path(out);
    let mut args = vec!["tile", dataset, "--out", dir.to_str().expect("utf8")];
    args.extend_from_slice(flags);
    let started = std::time::Instant::now();
    let mut cmd = env.command(&args);
    cmd.envs(vars.iter().copied());
    crate::util::Run {
        out: cmd.output().expect("run tvilling"),
    }
    .ok();
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

/// Out-of-core tiling (bins in spill files, the upper levels from the bins' candidates), forced on a real
/// sample with a budget of 20 000 points in memory: the tileset passes the same checks, and it is the
/// very tileset in-memory tiling makes, so tiling again in memory rebuilds nothing.
#[test]
fn tiles_points_out_of_core_into_the_same_tiles_as_in_memory() {
    let test = "tiles_points_out_of_core_into_the_same_tiles_as_in_memory";
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
    tile_points_with_env_and_check(
        &env,
        "ahn3",
        "spilled",
        &[],
        &[("TVILLING_TILE_POINTS_IN_MEMORY", "20000")],
        count,
        [4.36, 52.0],
        [20.0, 120.0],
    );
    let spilled: Value =
        serde_json::from_slice(&std::fs::read(env.path("spilled/tileset.json")).expect("tileset"))
            .expect("JSON");
    let again = env.run(&["tile", "ahn3", "--format", "json"]).ok().json();
    assert_eq!(again["built"], 0, "in memory, the same contents: {again}");
    let in_memory: Value = serde_json::from_slice(
        &std::fs::read(again["tileset"].as_str().expect("tileset path")).expect("tileset"),
    )
    .expect("JSON");
    // The same tree and contents (bounds may differ in the last place: cached tiles' bounds come back
    // from JSON).
    fn shape(t: &Value, out: &mut Vec<String>) {
        out.push(format!("{}|{}", t["content"]["uri"], t["geometricError"]));
        for c in t["children"].as_array().into_iter().flatten() {
            shape(c, out);
        }
    }
    let (mut a, mut b) = (vec![], vec![]);
    shape(&spilled["root"], &mut a);
    shape(&in_memory["root"], &mut b);
    assert_eq!(a, b);
    assert_eq!(spilled["statistics"], in_memory["statistics"]);
    // A budget that is not a number is refused with the variable's name.
    let mut cmd = env.command(&["tile", "ahn3"]);
    cmd.env("TVILLING_TILE_POINTS_IN_MEMORY", "lots");
    crate::util::Run {
        out: cmd.output().expect("run tvilling"),
    }
    .fails_with(&["TVILLING_TILE_POINTS_IN_MEMORY"]);
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

/// SQL over points (issue 5): the points of given classes within 10 m of each building, Delft BGT
/// footprints × AHN3, answered by the spatial join and checked against GEOS through shapely, with the
/// points read by laspy (`crates/cli/tests/expected/vegetation_near_buildings.json`, made by
/// `tools/expected/vegetation_near_buildings.py`). AHN3 has no ASPRS vegetation classes (3–5; the answer
/// is none), its vegetation is in class 1, which is asked too.
#[test]
fn counts_vegetation_points_near_each_building_in_sql_as_geos_does() {
    let Some(samples) = samples("counts_vegetation_points_near_each_building_in_sql_as_geos_does")
    else {
        return;
    };
    let env = Env::new();
    let path = |p: &str| samples.join(p).to_str().expect("utf8").to_string();
    env.run(&[
        "ingest",
        &path("vector/delft_bgt_pand.sqlite"),
        "--dataset",
        "pand",
    ])
    .ok();
    env.run(&[
        "ingest",
        &path("pointcloud/ahn3_cropped_2.laz"),
        "--dataset",
        "ahn3",
        "--crs",
        "EPSG:28992+5709",
    ])
    .ok();
    let expected: Value =
        serde_json::from_str(include_str!("../expected/vegetation_near_buildings.json"))
            .expect("expected values are JSON");
    let query = |classes: &str| {
        format!(
            "SELECT b.lokaalid, count(*) AS n FROM pand b JOIN ahn3 p \
             ON ST_DWithin(b.geometry, p.geometry, 10) WHERE p.classification IN ({classes}) \
             GROUP BY b.lokaalid ORDER BY b.lokaalid"
        )
    };
    // The spatial join rule plans it: an R-tree (or grid) over one side, probed by the other.
    let plan = env
        .run(&[
            "sql",
            &format!("EXPLAIN {}", query("3, 4, 5")),
            "--format",
            "json",
        ])
        .ok()
        .stdout();
    assert!(plan.contains("SpatialJoinExec"), "{plan}");
    for set in ["asprs_vegetation", "ahn_unclassified"] {
        let want = &expected["sets"][set];
        let classes: Vec<String> = want["classes"]
            .as_array()
            .expect("classes")
            .iter()
            .map(|c| c.to_string())
            .collect();
        let started = std::time::Instant::now();
        let rows = env
            .run(&["sql", &query(&classes.join(", ")), "--format", "json"])
            .ok()
            .json();
        let secs = started.elapsed().as_secs_f64();
        let got: std::collections::BTreeMap<String, u64> = rows
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["lokaalid"].as_str().expect("lokaalid").to_string(),
                    r["n"].as_u64().expect("n"),
                )
            })
            .collect();
        let want_counts: std::collections::BTreeMap<String, u64> = want["counts"]
            .as_object()
            .expect("counts")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().expect("count")))
            .collect();
        eprintln!(
            "{set} (classes {}): {} buildings, {} point-building pairs in {secs:.2} s",
            classes.join(", "),
            got.len(),
            got.values().sum::<u64>()
        );
        assert_eq!(got, want_counts, "{set}");
    }
    assert!(
        expected["sets"]["ahn_unclassified"]["buildings_with_points"]
            .as_u64()
            .is_some_and(|n| n > 20),
        "the class 1 answer is not trivial"
    );
}

/// A LAS 1.2 file of point format 0 (header LAS 1.2 §2.2, 227 bytes; records §2.6, 20 bytes), written by
/// hand so each bad-input case can break one field: `n` points on a 1 m grid in RD New, scale 1 mm.
fn las_bytes(n: usize) -> Vec<u8> {
    let points: Vec<(f64, f64, f64, u8)> = (0..n)
        .map(|i| {
            (
                85_000.0 + (i % 10) as f64,
                447_000.0 + (i / 10) as f64,
                1.0 + i as f64 * 0.01,
                2 + (i % 4) as u8,
            )
        })
        .collect();
    let fold = |f: fn(&(f64, f64, f64, u8)) -> f64, max: bool| {
        points.iter().map(f).fold(
            if max { f64::MIN } else { f64::MAX },
            if max { f64::max } else { f64::min },
        )
    };
    let mut h = Vec::with_capacity(227 + 20 * n);
    h.extend_from_slice(b"LASF");
    h.extend_from_slice(&[0u8; 4]); // file source id, global encoding
    h.extend_from_slice(&[0u8; 16]); // project GUID
    h.extend_from_slice(&[1, 2]); // version 1.2 (bytes 24, 25)
    h.extend_from_slice(&[0u8; 64]); // system identifier, generating software
    h.extend_from_slice(&1u16.to_le_bytes());
    h.extend_from_slice(&2026u16.to_le_bytes());
    h.extend_from_slice(&227u16.to_le_bytes()); // header size
    h.extend_from_slice(&227u32.to_le_bytes()); // offset to point data
    h.extend_from_slice(&0u32.to_le_bytes()); // VLRs
    h.push(0); // point format 0
    h.extend_from_slice(&20u16.to_le_bytes());
    h.extend_from_slice(&(n as u32).to_le_bytes()); // point count (byte 107)
    h.extend_from_slice(&(n as u32).to_le_bytes()); // all first returns
    h.extend_from_slice(&[0u8; 16]);
    // Scale (byte 131) and offset (byte 155).
    for v in [0.001, 0.001, 0.001, 85_000.0, 447_000.0, 0.0] {
        h.extend_from_slice(&f64::to_le_bytes(v));
    }
    // Bounds (byte 179): max x, min x, max y, min y, max z, min z.
    for v in [
        fold(|p| p.0, true),
        fold(|p| p.0, false),
        fold(|p| p.1, true),
        fold(|p| p.1, false),
        fold(|p| p.2, true),
        fold(|p| p.2, false),
    ] {
        h.extend_from_slice(&f64::to_le_bytes(if n == 0 { 0.0 } else { v }));
    }
    assert_eq!(h.len(), 227);
    for &(x, y, z, class) in &points {
        for (v, o) in [(x, 85_000.0), (y, 447_000.0), (z, 0.0)] {
            h.extend_from_slice(&(((v - o) / 0.001).round() as i32).to_le_bytes());
        }
        h.extend_from_slice(&100u16.to_le_bytes());
        h.push(1 | (1 << 3));
        h.push(class);
        h.extend_from_slice(&[0, 0, 0, 0]);
    }
    h
}

/// The bad-input table of issue 5: each broken LAS/LAZ is refused with a message naming the file and
/// what is wrong, without a panic, and the dataset stays at its last committed version; the two cases a
/// reader can get past (a stale header count, non-finite header bounds) ingest with a quality note.
#[test]
fn bad_point_files_are_refused_or_noted_and_leave_the_store_untouched() {
    let env = Env::new();
    let good = env.path("good.las");
    std::fs::write(&good, las_bytes(30)).expect("write");
    let ingest = |file: &std::path::Path, dataset: &str| {
        env.run(&[
            "ingest",
            file.to_str().expect("utf8"),
            "--dataset",
            dataset,
            "--crs",
            "EPSG:28992",
        ])
    };
    ingest(&good, "pts").ok();
    let before = env.info("pts");
    assert_eq!(before["rows"], 30, "{before}");
    let set = |b: &mut Vec<u8>, at: usize, v: &[u8]| b[at..at + v.len()].copy_from_slice(v);

    let mut refused: Vec<(&str, Vec<u8>, Vec<&str>)> = vec![];
    let base = las_bytes(30);
    let mut b = base.clone();
    b.truncate(base.len() - 7);
    refused.push(("truncated.las", b, vec!["truncated"]));
    let mut b = base.clone();
    set(&mut b, 107, &40u32.to_le_bytes());
    refused.push(("count-too-high.las", b, vec!["truncated"]));
    let mut b = base.clone();
    set(&mut b, 131, &0f64.to_le_bytes());
    refused.push(("zero-scale.las", b, vec!["x scale factor is 0"]));
    let mut b = base.clone();
    set(&mut b, 147, &f64::NAN.to_le_bytes());
    refused.push(("nan-scale.las", b, vec!["z scale factor is NaN"]));
    let mut b = base.clone();
    set(&mut b, 139, &(-0.001f64).to_le_bytes());
    refused.push(("negative-scale.las", b, vec!["y scale factor is -0.001"]));
    let mut b = base.clone();
    set(&mut b, 163, &f64::INFINITY.to_le_bytes());
    refused.push(("infinite-offset.las", b, vec!["y offset is inf"]));
    let mut b = base.clone();
    set(&mut b, 155, &f64::NAN.to_le_bytes());
    refused.push(("nan-offset.las", b, vec!["x offset is NaN"]));
    let mut b = base.clone();
    set(&mut b, 25, &[9]);
    refused.push(("version-1-9.las", b, vec!["1.9"]));
    let mut b = base.clone();
    set(&mut b, 24, &[2, 0]);
    refused.push(("version-2-0.las", b, vec!["2.0"]));
    refused.push(("empty-cloud.las", las_bytes(0), vec!["no points"]));
    if let Some(samples) =
        samples("bad_point_files_are_refused_or_noted_and_leave_the_store_untouched")
    {
        let laz = std::fs::read(samples.join("pointcloud/ahn3_cropped_2.laz")).expect("sample");
        refused.push((
            "truncated.laz",
            laz[..laz.len() * 2 / 3].to_vec(),
            vec!["truncated"],
        ));
    }
    for (name, bytes, needles) in refused {
        let path = env.path(name);
        std::fs::write(&path, bytes).expect("write");
        let run = ingest(&path, "pts");
        let mut want = vec![name];
        want.extend(needles);
        run.fails_with(&want);
        let after = env.info("pts");
        assert_eq!(
            after["version"], before["version"],
            "{name}: store untouched"
        );
        assert_eq!(after["rows"], 30, "{name}");
    }

    // A stale header count (fewer than the records present): the counted points, and a note.
    let mut b = base.clone();
    set(&mut b, 107, &25u32.to_le_bytes());
    let stale = env.path("count-too-low.las");
    std::fs::write(&stale, b).expect("write");
    ingest(&stale, "stale").ok();
    let info = env.info("stale");
    assert_eq!(info["rows"], 25, "{info}");
    assert!(info.to_string().contains("5 more point records"), "{info}");

    // NaN header bounds: the points are fine, their extent is measured, and a note says so.
    let mut b = base.clone();
    set(&mut b, 179, &f64::NAN.to_le_bytes());
    let nan = env.path("nan-bounds.las");
    std::fs::write(&nan, b).expect("write");
    ingest(&nan, "nanbounds").ok();
    let info = env.info("nanbounds");
    assert_eq!(info["rows"], 30, "{info}");
    assert!(info.to_string().contains("bounds are not finite"), "{info}");
    let extent = env
        .run(&[
            "sql",
            "SELECT min(x) AS x0, max(x) AS x1 FROM nanbounds",
            "--format",
            "json",
        ])
        .ok()
        .json();
    assert_eq!(extent[0]["x0"], 85_000.0, "{extent}");
    assert_eq!(extent[0]["x1"], 85_009.0, "{extent}");
}
