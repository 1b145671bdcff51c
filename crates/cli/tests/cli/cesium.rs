//! Tilesets that `tvilling tile` writes load in CesiumJS, the client they are for: headless Chromium runs
//! `tools/cesium-check`, and the tests assert that no tile fails and nothing is logged as an error, that
//! tiles render, that Cesium's bounding sphere sits at the dataset's place at a plausible ellipsoidal
//! height, and that a feature Cesium reads carries every attribute the store holds for it, with the
//! store's values.

use std::path::Path;

use gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use serde_json::Value;
use tvilling_fixtures::cesium_check::{Report, check_tileset};

use crate::util::{Env, samples};

/// The centre of a dataset's extent (from `tvilling info`) in WGS 84 degrees, transformed with GDAL:
/// a reference independent of the tiler's own PROJ pipeline.
fn extent_centre_lon_lat(info: &Value) -> [f64; 2] {
    let crs = info["crs"].as_str().expect("info has a CRS");
    let e: Vec<f64> = info["extent"]
        .as_array()
        .expect("info has an extent")
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let mut from = SpatialRef::from_definition(crs).unwrap();
    let mut to = SpatialRef::from_epsg(4326).unwrap();
    // x = easting / longitude whatever the CRS's declared axis order.
    from.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    to.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let t = CoordTransform::new(&from, &to).unwrap();
    let (mut x, mut y, mut z) = ([(e[0] + e[2]) / 2.0], [(e[1] + e[3]) / 2.0], [0.0]);
    t.transform_coords(&mut x, &mut y, &mut z).unwrap();
    [x[0], y[0]]
}

/// A store column's name as a 3D Tiles metadata property id: identifiers must match
/// `^[a-zA-Z_][a-zA-Z0-9_]*$` (3D Tiles 1.1 metadata schema), so other characters become `_`.
fn property_id(column: &str) -> String {
    column
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Whether a store value (SQL JSON output) and the value Cesium read are the same. Cesium returns
/// INT64 as BigInt, which the check prints as a string; a noData value reads as null.
fn same_value(store: &Value, cesium: &Value) -> bool {
    match (store, cesium) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            (a - b).abs() <= 1e-9 * a.abs().max(1.0)
        }
        (Value::Number(a), Value::String(b)) => a.to_string() == *b,
        (a, b) => a == b,
    }
}

/// Tiles `dataset` to `out`, loads it in Cesium and asserts what every tileset must satisfy; returns
/// the report for further checks.
fn tile_and_check(env: &Env, dataset: &str, tile_args: &[&str], heights: [f64; 2]) -> Report {
    let out = env.path(&format!("{dataset}-tiles"));
    let mut args = vec!["tile", dataset, "--out", out.to_str().unwrap()];
    args.extend(tile_args);
    env.run(&args).ok();
    let report = check_tileset(&out.join("tileset.json")).expect("the Cesium check runs");
    eprintln!("{dataset} in CesiumJS: {report:?}");

    assert!(
        report.errors.is_empty(),
        "{dataset}: Cesium reported {:#?}",
        report.errors
    );
    assert!(
        report.tiles_loaded > 0 && report.tiles_rendered > 0,
        "{report:?}"
    );
    assert!(report.root_content_ready, "root content not loaded");

    let info = env.info(dataset);
    let [lon, lat] = extent_centre_lon_lat(&info);
    let [clon, clat, h] = report.center_lon_lat_height;
    assert!(
        (clon - lon).abs() < 0.01 && (clat - lat).abs() < 0.01,
        "{dataset}: Cesium's bounding sphere centre is {clon:.5} E {clat:.5} N, the extent's {lon:.5} E {lat:.5} N"
    );
    assert!(
        heights[0] < h && h < heights[1],
        "{dataset}: bounding sphere centre at ellipsoidal height {h:.1} m, expected within {heights:?}"
    );

    assert!(report.features > 0 && report.distinct_ids > 0, "{report:?}");
    assert!(
        report
            .schema
            .values()
            .any(|props| props.contains(&"id".to_owned())),
        "schema {:?} has no id",
        report.schema
    );
    assert_feature_holds_the_stores_attributes(env, dataset, &report);
    report
}

/// The feature Cesium read has every non-geometry column of its store row, with the same value.
fn assert_feature_holds_the_stores_attributes(env: &Env, dataset: &str, report: &Report) {
    let id = report.feature.get("id").and_then(Value::as_str);
    let id = id.unwrap_or_else(|| panic!("feature without a string id: {:?}", report.feature));
    let sql = format!(
        "SELECT * FROM {dataset} WHERE id = '{}'",
        id.replace('\'', "''")
    );
    let rows = env.run(&["sql", &sql, "--format", "json"]).ok().json();
    let row = rows[0]
        .as_object()
        .unwrap_or_else(|| panic!("feature id {id} not in the store: {rows}"));
    let mut wrong = Vec::new();
    for (column, value) in row {
        // Geometry columns come back as GeoJSON objects; they are the mesh, not properties.
        let is_geometry = value.get("coordinates").is_some() || value.get("geometries").is_some();
        if is_geometry || column.starts_with("bbox_") {
            continue;
        }
        match report.feature.get(&property_id(column)) {
            None => wrong.push(format!("{column}: missing (store {value})")),
            Some(v) if !same_value(value, v) => {
                wrong.push(format!("{column}: store {value}, Cesium {v}"))
            }
            Some(_) => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "{dataset} feature {id} as Cesium reads it differs from the store:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn generated_town_loads_in_cesium_at_its_place_with_its_attributes() {
    let env = Env::new();
    // Enough buildings for a tree (LOD1 parents, full-detail leaves), so Cesium refines.
    let town = env.town("town.gpkg", 4000, 5);
    // The town's heights are RH 2000, as `tvilling demo` declares them.
    env.ingest_buildings(&town, "byggnader", &["--crs", "EPSG:3006+5613"]);
    // Ground at 20–60 m RH 2000 near Örebro, + the geoid (~28 m), + half a building.
    let report = tile_and_check(&env, "byggnader", &["--height-attr", "hojd"], [30.0, 130.0]);
    assert!(report.tiles_total > 1, "expected a tree: {report:?}");
    assert_eq!(
        report.schema.get("building").map(Vec::len),
        Some(14),
        "{:?}",
        report.schema
    );
}

#[test]
fn delft_cityjson_loads_in_cesium_at_delft_with_its_attributes() {
    let Some(data) = samples("delft_cityjson_loads_in_cesium_at_delft_with_its_attributes") else {
        return;
    };
    let env = Env::new();
    let src = data.join("cityjson/delft.city.json");
    env.run(&["ingest", src.to_str().unwrap(), "--dataset", "delft"])
        .ok();
    // NAP heights near 0 m + the geoid (~43 m) + half a building.
    let report = tile_and_check(&env, "delft", &[], [30.0, 80.0]);
    let [lon, lat, _] = report.center_lon_lat_height;
    assert!((lon - 4.367).abs() < 0.01 && (lat - 52.012).abs() < 0.01);
    assert_eq!(report.distinct_ids, 160, "every building of the sample");
}

/// Not a tileset test: the check itself fails loudly on a broken tileset instead of passing it.
#[test]
fn cesium_check_reports_a_tileset_whose_content_is_missing() {
    let env = Env::new();
    let dir = env.path("broken");
    std::fs::create_dir_all(&dir).unwrap();
    let tileset = r#"{"asset":{"version":"1.1"},"geometricError":100,
      "root":{"boundingVolume":{"region":[0.2659,1.0345,0.2661,1.0347,0,50]},"geometricError":0,
              "refine":"ADD","content":{"uri":"content/missing.glb"}}}"#;
    std::fs::write(dir.join("tileset.json"), tileset).unwrap();
    let report = check_tileset(Path::new(&dir)).expect("the Cesium check runs");
    assert!(
        report.errors.iter().any(|e| e.contains("missing.glb")),
        "{report:?}"
    );
    assert_eq!(report.tiles_loaded, 0);
}

#[test]
fn viewer_lists_loads_picks_styles_and_switches_versions_of_a_tiled_town() {
    let env = Env::new();
    let town = env.town("town.gpkg", 600, 8);
    env.ingest_buildings(&town, "byggnader", &["--crs", "EPSG:3006+5613"]);
    let out = env.path("www");
    env.run(&[
        "tile",
        "byggnader",
        "--height-attr",
        "hojd",
        "--out",
        out.to_str().unwrap(),
    ])
    .ok();
    let report =
        tvilling_fixtures::cesium_check::check_viewer(&out).expect("the viewer check runs");
    eprintln!("viewer: {report:?}");
    assert!(report.failures.is_empty(), "{:#?}", report.failures);
    assert!(report.picked.contains_key("id") && report.picked.contains_key("hojd"));
    assert!(report.legend.len() > 2, "{:?}", report.legend);
}
