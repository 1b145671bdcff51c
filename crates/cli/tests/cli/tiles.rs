//! `tvilling ingest` of city models and `tvilling tile`: real CityJSON/CityGML samples tile, validate with
//! Khronos glTF-Validator and tvilling's own tileset checker, and land at their city; property tables hold
//! the store's values; triangles cover the surfaces; re-tiling after one change rebuilds only its tiles.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tvilling_tiles::check::check_tileset;

use crate::util::{Env, samples};

/// Runs the checker and glTF-Validator over an exported tileset; returns the checker's root centre.
fn assert_valid(tileset: &Path) -> [f64; 3] {
    let report = check_tileset(tileset).expect("read tileset");
    assert!(report.is_ok(), "tileset checker:\n{report}");
    let glbs: Vec<PathBuf> = std::fs::read_dir(tileset.parent().unwrap().join("content"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!glbs.is_empty());
    let reports = tvilling_fixtures::gltf_validator::validate(&glbs).expect("glTF-Validator runs");
    for r in &reports {
        assert_eq!(r.errors, 0, "{}: {:?}", r.file, r.messages);
    }
    report.root_center_lon_lat_height.expect("root centre")
}

#[test]
fn tiles_every_real_city_model_sample_at_its_city() {
    let Some(data) = samples("tiles_every_real_city_model_sample_at_its_city") else {
        return;
    };
    // (file, extra ingest flags, longitude, latitude, tolerance in degrees, ellipsoidal height range of
    // the centre in metres: terrain height + geoid (~47 m in the Netherlands and Switzerland, ~40 m in
    // Berlin, ~50 m in Lyon and Karlsruhe) + half a building) from the places SOURCES.md describes.
    type Case<'a> = (&'a str, &'a [&'a str], f64, f64, f64, [f64; 2]);
    let cases: [Case; 6] = [
        (
            "cityjson/delft.city.json",
            &[],
            4.36,
            52.01,
            0.02,
            [30.0, 80.0],
        ),
        (
            "cityjson/zurich_subset_lod2.city.json",
            &[],
            8.54,
            47.37,
            0.05,
            [440.0, 650.0],
        ),
        (
            "citygml/berlin_open_data_sample_data.citygml",
            &[],
            13.4,
            52.52,
            0.2,
            [60.0, 150.0],
        ),
        (
            "citygml/Opera-Lyon_CityGML3.0_LOD2_with_xAL3_FullyStructured.gml",
            &[],
            4.836,
            45.767,
            0.01,
            [200.0, 300.0],
        ),
        (
            "citygml/Building_LOD2-EPSG25832_citygml2.gml",
            &[],
            8.43,
            49.1,
            0.05,
            [140.0, 220.0],
        ),
        (
            "cityjson/multi_lod.city.json",
            &["--crs", "EPSG:7415"],
            4.4,
            52.0,
            1.5,
            [-20.0, 150.0],
        ),
    ];
    let env = Env::new();
    for (i, (file, extra, lon, lat, tol, h)) in cases.iter().enumerate() {
        let dataset = format!("city{i}");
        let src = data.join(file);
        let mut args = vec!["ingest", src.to_str().unwrap(), "--dataset", &dataset];
        args.extend(extra.iter());
        env.run(&args).ok();
        let out = env.path(&format!("tiles{i}"));
        let r = env
            .run(&[
                "tile",
                &dataset,
                "--out",
                out.to_str().unwrap(),
                "--format",
                "json",
            ])
            .ok()
            .json();
        assert!(r["features"].as_u64().unwrap() > 0, "{file}: {r}");
        let c = assert_valid(&out.join("tileset.json"));
        assert!(
            (c[0] - lon).abs() < *tol && (c[1] - lat).abs() < *tol,
            "{file} lands at {c:?}, expected near {lon} E {lat} N"
        );
        // On the ground, not floating or buried.
        assert!(
            h[0] < c[2] && c[2] < h[1],
            "{file} centre height {} not in {h:?}",
            c[2]
        );
        eprintln!(
            "{file}: centre {:.5} E {:.5} N h {:.1} m; {}",
            c[0], c[1], c[2], r["heights"]
        );
    }
}

/// Reads a property-table column of a glb: strings for STRING, numbers for FLOAT64.
fn column(glb: &[u8], property: &str) -> Vec<Value> {
    let json_len = u32::from_le_bytes(glb[12..16].try_into().unwrap()) as usize;
    let doc: Value = serde_json::from_slice(&glb[20..20 + json_len]).unwrap();
    let bin = &glb[20 + json_len + 8..];
    let view = |i: &Value| {
        let v = &doc["bufferViews"][i.as_u64().unwrap() as usize];
        let off = v["byteOffset"].as_u64().unwrap_or(0) as usize;
        &bin[off..off + v["byteLength"].as_u64().unwrap() as usize]
    };
    let table = &doc["extensions"]["EXT_structural_metadata"]["propertyTables"][0];
    let count = table["count"].as_u64().unwrap() as usize;
    let p = &table["properties"][property];
    let values = view(&p["values"]);
    if let Some(offsets) = p.get("stringOffsets") {
        let o = view(offsets);
        let at = |k: usize| u32::from_le_bytes(o[4 * k..4 * k + 4].try_into().unwrap()) as usize;
        (0..count)
            .map(|k| Value::from(std::str::from_utf8(&values[at(k)..at(k + 1)]).unwrap()))
            .collect()
    } else {
        (0..count)
            .map(|k| {
                Value::from(f64::from_le_bytes(
                    values[8 * k..8 * k + 8].try_into().unwrap(),
                ))
            })
            .collect()
    }
}

/// Sum of triangle areas of a glb's mesh (m²).
fn triangle_area(glb: &[u8]) -> f64 {
    let json_len = u32::from_le_bytes(glb[12..16].try_into().unwrap()) as usize;
    let doc: Value = serde_json::from_slice(&glb[20..20 + json_len]).unwrap();
    let bin = &glb[20 + json_len + 8..];
    let prim = &doc["meshes"][0]["primitives"][0];
    let acc = |i: &Value| &doc["accessors"][i.as_u64().unwrap() as usize];
    let data = |a: &Value| {
        let v = &doc["bufferViews"][a["bufferView"].as_u64().unwrap() as usize];
        let off = v["byteOffset"].as_u64().unwrap_or(0) + a["byteOffset"].as_u64().unwrap_or(0);
        &bin[off as usize..]
    };
    let pos_acc = acc(&prim["attributes"]["POSITION"]);
    let pos = data(pos_acc);
    let p = |k: usize| -> [f64; 3] {
        [0, 1, 2].map(|c| {
            f32::from_le_bytes(pos[12 * k + 4 * c..12 * k + 4 * c + 4].try_into().unwrap()) as f64
        })
    };
    let idx_acc = acc(&prim["indices"]);
    let idx = data(idx_acc);
    let wide = idx_acc["componentType"] == 5125;
    let index = |k: usize| -> usize {
        if wide {
            u32::from_le_bytes(idx[4 * k..4 * k + 4].try_into().unwrap()) as usize
        } else {
            u16::from_le_bytes(idx[2 * k..2 * k + 2].try_into().unwrap()) as usize
        }
    };
    let n = idx_acc["count"].as_u64().unwrap() as usize;
    (0..n / 3)
        .map(|t| {
            let [a, b, c] = [p(index(3 * t)), p(index(3 * t + 1)), p(index(3 * t + 2))];
            let u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
            let v = [c[0] - a[0], c[1] - a[1], c[2] - a[2]];
            let x = [
                u[1] * v[2] - u[2] * v[1],
                u[2] * v[0] - u[0] * v[2],
                u[0] * v[1] - u[1] * v[0],
            ];
            (x[0] * x[0] + x[1] * x[1] + x[2] * x[2]).sqrt() / 2.0
        })
        .sum()
}

#[test]
fn property_tables_hold_the_stores_values_and_triangles_cover_the_surfaces() {
    let Some(data) =
        samples("property_tables_hold_the_stores_values_and_triangles_cover_the_surfaces")
    else {
        return;
    };
    let env = Env::new();
    let src = data.join("citygml/berlin_open_data_sample_data.citygml");
    env.run(&["ingest", src.to_str().unwrap(), "--dataset", "berlin"])
        .ok();
    let out = env.path("berlin-tiles");
    env.run(&["tile", "berlin", "--out", out.to_str().unwrap()])
        .ok();
    let tileset: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("tileset.json")).unwrap()).unwrap();
    // 61 buildings fit one tile: the root holds them all at full detail.
    let uri = tileset["root"]["content"]["uri"].as_str().unwrap();
    let glb = std::fs::read(out.join(uri)).unwrap();

    let sql = |q: &str| env.run(&["sql", q, "--format", "json"]).ok().json();
    let rows = sql("SELECT id, height, roof_area + wall_area + ground_area AS area FROM berlin");
    let rows = rows.as_array().expect("rows");
    let ids = column(&glb, "id");
    let heights = column(&glb, "height");
    assert_eq!(ids.len(), rows.len());
    for (id, h) in ids.iter().zip(&heights) {
        let row = rows
            .iter()
            .find(|r| &r["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in store"));
        // serde_json's float parsing may be off by one ulp: compare to 1e-12.
        let (a, b) = (row["height"].as_f64().unwrap(), h.as_f64().unwrap());
        assert!(
            (a - b).abs() <= 1e-12 * a.abs().max(1.0),
            "{id}: store {a}, tile {b}"
        );
    }
    // Triangles in metres vs surfaces in UTM 33N units: the projection's scale factor near Berlin
    // (~0.9996–1.0000) changes areas by under 0.1 %.
    let surfaces: f64 = rows.iter().filter_map(|r| r["area"].as_f64()).sum();
    let triangles = triangle_area(&glb);
    assert!(
        (triangles - surfaces).abs() / surfaces < 0.005,
        "triangles {triangles:.1} m² vs surfaces {surfaces:.1} m²"
    );
}

#[test]
fn retiling_after_one_change_rebuilds_only_the_changed_tiles() {
    let env = Env::new();
    let town = env.town("town.gpkg", 6000, 11);
    env.ingest_buildings(&town, "byggnader", &["--id-column", "objektidentitet"]);
    let out = env.path("www");
    let tile = || {
        env.run(&[
            "tile",
            "byggnader",
            "--height-attr",
            "hojd",
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ])
        .ok()
        .json()
    };
    let first = tile();
    let tiles = first["tiles"].as_u64().unwrap();
    assert!(tiles > 4, "{first}");
    assert_eq!(first["built"].as_u64().unwrap(), tiles);
    assert_valid(&out.join("tileset.json"));

    let again = tile();
    assert_eq!(again["built"], 0, "{again}");

    // One building grows a floor: a new version whose only change is that row.
    {
        use gdal::vector::LayerAccess;
        let ds = gdal::Dataset::open_ex(
            &town,
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .unwrap();
        let layer = ds.layer_by_name("byggnader").unwrap();
        let mut f = layer.feature(1).unwrap();
        f.set_field_double(f.field_index("hojd").unwrap(), 99.0)
            .unwrap();
        layer.set_feature(f).unwrap();
    }
    env.ingest_buildings(
        &town,
        "byggnader",
        &["--id-column", "objektidentitet", "--mode", "overwrite"],
    );
    let changed = tile();
    let built = changed["built"].as_u64().unwrap();
    assert!(
        built >= 1 && built < tiles / 2,
        "rebuilt {built} of {tiles}: {changed}"
    );
    assert_eq!(changed["version"], 1);
    assert_valid(&out.join("tileset.json"));
    eprintln!("after one change: {built} of {tiles} tiles rebuilt");
}

/// Total bytes of the glb files in an exported tileset's `content/`.
fn content_bytes(tileset: &Path) -> u64 {
    std::fs::read_dir(tileset.parent().unwrap().join("content"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[test]
fn the_generated_lod2_town_tiles_plain_and_meshopt_compressed() {
    let env = Env::new();
    let model = env.path("exempelby.city.jsonl");
    let spec = tvilling_fixtures::town::TownSpec {
        buildings: 400,
        seed: 5,
    };
    tvilling_fixtures::town3d::generate(&model, &spec).unwrap();
    env.run(&["ingest", model.to_str().unwrap(), "--dataset", "hus"])
        .ok();
    let rows = env
        .run(&[
            "sql",
            "SELECT count(*) AS n, sum(roof_area) AS roof, sum(footprint_area) AS foot, \
             min(z_min) AS z0, max(height) AS h FROM hus",
            "--format",
            "json",
        ])
        .ok()
        .json();
    let r = &rows[0];
    assert_eq!(r["n"], 400, "{rows}");
    // Pitched roofs are larger than the footprints they cover; flat ones equal them.
    assert!(
        r["roof"].as_f64().unwrap() > r["foot"].as_f64().unwrap(),
        "{rows}"
    );
    assert!(
        (30.0..50.0).contains(&r["z0"].as_f64().unwrap()),
        "RH 2000 ground heights: {rows}"
    );
    let columns = env.info("hus")["columns"].to_string();
    assert!(
        columns.contains("geometry_lod1") && columns.contains("geometry_lod2"),
        "{columns}"
    );

    let tile = |out: &str, extra: &[&str]| {
        let dir = env.path(out);
        let mut args = vec![
            "tile",
            "hus",
            "--out",
            dir.to_str().unwrap(),
            "--format",
            "json",
        ];
        args.extend(extra);
        env.run(&args).ok().json();
        dir.join("tileset.json")
    };
    let plain = tile("plain", &[]);
    let packed = tile("packed", &["--meshopt"]);
    // The checker decodes the meshopt streams (glTF-Validator cannot look inside them) and finds
    // every content inside its volume, with valid feature ids and property tables.
    let centre = assert_valid(&plain);
    assert_eq!(assert_valid(&packed), centre);
    let (a, b) = (content_bytes(&plain), content_bytes(&packed));
    assert!(
        b * 10 < a * 6,
        "meshopt content {b} bytes vs plain {a} bytes"
    );
    eprintln!(
        "LOD2 town, 400 buildings: plain {a} bytes, meshopt {b} bytes ({:.0} %)",
        100.0 * b as f64 / a as f64
    );
}

#[test]
fn tiling_footprints_without_heights_says_where_heights_come_from() {
    let env = Env::new();
    let town = env.town("town.gpkg", 50, 3);
    env.ingest_buildings(&town, "byggnader", &[]);
    env.run(&["tile", "byggnader"])
        .fails_with(&["--height-attr", "hojd", "--height-from-z"]);
    env.run(&["tile", "byggnader", "--height-attr", "hojdd"])
        .fails_with(&["no column 'hojdd'", "hojd"]);
}

#[test]
fn rejects_broken_city_models_with_a_clear_message() {
    let env = Env::new();
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "broken.city.json",
            "{\"type\": \"CityJSON\", \"CityObjects\": {",
            &["broken.city.json"],
        ),
        (
            "nocrs.city.json",
            r#"{"type":"CityJSON","version":"2.0","transform":{"scale":[1,1,1],"translate":[0,0,0]},"CityObjects":{"b":{"type":"Building","geometry":[{"type":"MultiSurface","lod":"1","boundaries":[[[0,1,2]]]}]}},"vertices":[[0,0,0],[1,0,0],[0,1,0]]}"#,
            &["--crs"],
        ),
        (
            "truncated.gml",
            "<?xml version=\"1.0\"?><core:CityModel xmlns:core=\"http://www.opengis.net/citygml/2.0\"><core:cityObjectMember>",
            &["truncated.gml"],
        ),
        ("empty.city.json", "", &["empty.city.json"]),
    ];
    for (name, text, needles) in cases {
        let p = env.path(name);
        std::fs::write(&p, text).unwrap();
        env.run(&["ingest", p.to_str().unwrap(), "--dataset", "bad"])
            .fails_with(needles);
    }
}

/// Issue 4, bad input: a building with a bow-tie roof facet, a sliver wall and a facet with a huge
/// coordinate ingests with each problem in the quality report, and still tiles to valid glb.
#[test]
fn flawed_surfaces_are_reported_and_never_break_a_tile() {
    let env = Env::new();
    // A 10 m cube in SWEREF 99 TM / RH 2000 (vertices 0–7), plus a bow-tie over the roof (8–11), three
    // collinear vertices (12–14) and one vertex 5e12 m away (15).
    let (x, y): (f64, f64) = (513_000.0, 6_570_000.0);
    let mut v = vec![];
    for z in [20.0, 30.0] {
        v.extend([
            [x, y, z],
            [x + 10.0, y, z],
            [x + 10.0, y + 10.0, z],
            [x, y + 10.0, z],
        ]);
    }
    v.extend([
        [x, y, 31.0],
        [x + 10.0, y + 10.0, 31.0],
        [x + 10.0, y, 31.0],
        [x, y + 10.0, 31.0],
    ]);
    v.extend([[x, y, 20.0], [x + 5.0, y, 25.0], [x + 10.0, y, 30.0]]);
    v.push([5e12, y, 20.0]);
    let doc = serde_json::json!({
        "type": "CityJSON", "version": "2.0",
        "transform": {"scale": [0.001, 0.001, 0.001], "translate": [0, 0, 0]},
        "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/5845"},
        "CityObjects": {"hus": {"type": "Building", "attributes": {"namn": "Provhuset"},
            "geometry": [{"type": "MultiSurface", "lod": "2", "boundaries": [
                [[0, 3, 2, 1]], [[4, 5, 6, 7]], [[0, 1, 5, 4]], [[1, 2, 6, 5]], [[2, 3, 7, 6]],
                [[3, 0, 4, 7]], [[8, 9, 10, 11]], [[12, 13, 14]], [[0, 1, 15]]
            ]}]}},
        "vertices": v.iter().map(|p| p.map(|c| (c * 1000.0).round() as i64)).collect::<Vec<_>>(),
    });
    let path = env.path("flawed.city.json");
    std::fs::write(&path, doc.to_string()).unwrap();
    env.run(&["ingest", path.to_str().unwrap(), "--dataset", "flawed"])
        .ok();
    let q = &env.info("flawed")["last_quality"]["logical_consistency"];
    let reasons: Vec<&str> = q["invalid_examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["reason"].as_str().unwrap())
        .collect();
    for needle in [
        "LOD 2 surface 6: the exterior ring crosses itself",
        "LOD 2 surface 7 has no area",
        "refers to vertex 15, whose coordinates",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(needle)),
            "'{needle}' not in {reasons:?}"
        );
    }
    assert_eq!(q["invalid_geometries"], 3, "{q}");

    let out = env.path("www");
    env.run(&["tile", "flawed", "--out", out.to_str().unwrap()])
        .ok();
    assert_valid(&out.join("tileset.json"));
}
