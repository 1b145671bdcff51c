//! `tvilling sql`: output formats, statements from a file or stdin, read-only refusal.

use std::io::Write;
use std::process::Stdio;

use serde_json::Value;

use crate::util::Env;

fn town_env() -> Env {
    let env = Env::new();
    let town = env.town("town.gpkg", 50, 3);
    env.ingest_buildings(&town, "byggnader", &[]);
    env
}

#[test]
fn json_rows_carry_geojson_geometries() {
    let env = town_env();
    let out = env
        .run(&["sql", "SELECT id, \"vaningar\" AS floors, ST_Centroid(geometry) AS c FROM byggnader ORDER BY id LIMIT 3", "--format", "json"])
        .ok()
        .json();
    let rows = out.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows[0]["id"].is_string());
    assert!(rows[0]["floors"].is_number());
    assert_eq!(rows[0]["c"]["type"], "Point");
    // Columns keep their SELECT order in the text.
    let text = env
        .run(&["sql", "SELECT 2 AS b, 1 AS a", "--format", "json"])
        .ok()
        .stdout();
    assert!(
        text.find("\"b\"").unwrap() < text.find("\"a\"").unwrap(),
        "{text}"
    );
}

#[test]
fn csv_has_a_header_and_wkt() {
    let env = town_env();
    let out = env
        .run(&[
            "sql",
            "SELECT id, geometry FROM byggnader ORDER BY id LIMIT 2",
            "--format",
            "csv",
        ])
        .ok()
        .stdout();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("id,geometry"));
    let first = lines.next().unwrap();
    assert!(
        first.contains("POLYGON((") || first.contains("MULTIPOLYGON((("),
        "{first}"
    );
}

#[test]
fn geojson_is_a_feature_collection_in_the_dataset_crs() {
    let env = town_env();
    let path = env.path("near.geojson");
    env.run(&[
        "sql",
        "SELECT id, andamal, geometry FROM byggnader WHERE ST_DWithin(geometry, ST_Point(513000, 6570000, 3006), 400)",
        "--format",
        "geojson",
        "--out",
        path.to_str().unwrap(),
    ])
    .ok();
    let fc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(fc["type"], "FeatureCollection");
    assert_eq!(
        fc["crs"]["properties"]["name"],
        "urn:ogc:def:crs:EPSG::3006"
    );
    let features = fc["features"].as_array().unwrap();
    assert!(!features.is_empty());
    assert!(features[0]["properties"]["andamal"].is_string());
    // GDAL reads the file back in EPSG:3006 with the same number of features.
    let ds = gdal::Dataset::open(&path).unwrap();
    let layer = ds.layer(0).unwrap();
    use gdal::vector::LayerAccess;
    assert_eq!(layer.feature_count() as usize, features.len());
    assert_eq!(layer.spatial_ref().unwrap().auth_code().unwrap(), 3006);
}

#[test]
fn parquet_output_is_geoparquet() {
    let env = town_env();
    let path = env.path("r.parquet");
    env.run(&[
        "sql",
        "SELECT id, ST_Buffer(geometry, 2) AS zone FROM byggnader",
        "--format",
        "parquet",
        "--out",
        path.to_str().unwrap(),
    ])
    .ok();
    let file = std::fs::File::open(&path).unwrap();
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(file).unwrap();
    use parquet::file::reader::FileReader;
    let meta = reader.metadata().file_metadata();
    assert_eq!(meta.num_rows(), 50);
    let geo = meta
        .key_value_metadata()
        .unwrap()
        .iter()
        .find(|kv| kv.key == "geo")
        .unwrap();
    let geo: Value = serde_json::from_str(geo.value.as_ref().unwrap()).unwrap();
    assert_eq!(geo["primary_column"], "zone");
    assert_eq!(geo["columns"]["zone"]["crs"]["id"]["code"], 3006);
    env.run(&["sql", "SELECT 1", "--format", "parquet"])
        .fails_with(&["--out"]);
}

#[test]
fn statements_come_from_files_and_stdin() {
    let env = town_env();
    let file = env.path("q.sql");
    std::fs::write(
        &file,
        "SELECT count(*) AS n FROM byggnader;\nSELECT 'a;b' AS s;\n",
    )
    .unwrap();
    let out = env
        .run(&["sql", "-f", file.to_str().unwrap(), "--format", "csv"])
        .ok()
        .stdout();
    assert_eq!(out, "n\n50\ns\na;b\n");
    let mut child = env
        .command(&["sql", "--format", "csv"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SELECT count(*) AS n FROM byggnader")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "n\n50\n");
}

#[test]
fn writes_are_refused_and_errors_name_the_problem() {
    let env = town_env();
    env.run(&["sql", "DROP TABLE byggnader"])
        .fails_with(&["read-only"]);
    env.run(&["sql", "COPY (SELECT 1) TO 'x.csv'"])
        .fails_with(&["read-only", "COPY"]);
    env.run(&[
        "sql",
        "SELECT ST_Transform(geometry, 'EPSG:999999') FROM byggnader",
    ])
    .fails_with(&["ST_Transform"]);
    env.run(&["sql", "SELECT nosuchcolumn FROM byggnader"])
        .fails_with(&["nosuchcolumn"]);
    env.run(&["sql", "SELECT * FROM byggnader", "--memory-limit", "lots"])
        .fails_with(&["lots"]);
    assert_eq!(env.info("byggnader")["version"], 0);
}
