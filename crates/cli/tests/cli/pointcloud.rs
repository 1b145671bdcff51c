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
