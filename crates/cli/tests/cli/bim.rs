//! `tvilling ingest` of IFC models and `tvilling tile` on them (issue 6): the FZK-Haus lands in Karlsruhe,
//! every glb passes glTF-Validator and the tileset checker, property tables carry the IFC properties and the
//! storey; a model without georeference is refused naming `--place`; bad files fail with nothing committed.

use std::path::{Path, PathBuf};

use serde_json::Value;
use tvilling_tiles::check::check_tileset;

use crate::util::{Env, samples};

fn glbs(tileset: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tileset.parent().unwrap().join("content"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

/// The glTF JSON chunk of a glb.
fn gltf_json(glb: &[u8]) -> Value {
    let len = u32::from_le_bytes(glb[12..16].try_into().unwrap()) as usize;
    serde_json::from_slice(&glb[20..20 + len]).unwrap()
}

#[test]
fn ingests_and_tiles_the_fzk_haus_in_karlsruhe_with_properties_and_storeys() {
    let Some(data) =
        samples("ingests_and_tiles_the_fzk_haus_in_karlsruhe_with_properties_and_storeys")
    else {
        return;
    };
    let env = Env::new();
    let src = data.join("ifc/AC20-FZK-Haus.ifc");
    let r = env
        .run(&[
            "ingest",
            src.to_str().unwrap(),
            "--dataset",
            "haus",
            "--format",
            "json",
        ])
        .ok()
        .json();
    eprintln!("ingest: {r}");
    let info = env.info("haus");
    assert_eq!(info["kind"], "bim", "{info}");
    assert_eq!(info["crs"], "EPSG:32632", "{info}");

    // The properties are typed SQL columns: every wall carries its U-value.
    let rows = env
        .run(&[
            "sql",
            "SELECT storey, count(*) AS n FROM haus WHERE \"Pset_WallCommon.ThermalTransmittance\" > 0 \
             AND ifc_class = 'IfcWallStandardCase' GROUP BY storey ORDER BY storey",
            "--format",
            "json",
        ])
        .ok()
        .json();
    let rows = rows.as_array().unwrap();
    let walls: u64 = rows.iter().map(|r| r["n"].as_u64().unwrap()).sum();
    assert_eq!(walls, 13, "{rows:?}");
    assert_eq!(rows.len(), 2, "walls on both storeys: {rows:?}");

    let out = env.path("tiles");
    let t = env
        .run(&[
            "tile",
            "haus",
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ])
        .ok()
        .json();
    // 90 products with a body (IfcOpenShell agrees, ingest/tests/expected/ifc.json).
    assert_eq!(t["features"].as_u64().unwrap(), 90, "{t}");
    let tileset = out.join("tileset.json");
    let report = check_tileset(&tileset).expect("read tileset");
    assert!(report.is_ok(), "tileset checker:\n{report}");
    let c = report.root_center_lon_lat_height.expect("root centre");
    assert!(
        (c[0] - 8.4366).abs() < 0.001 && (c[1] - 49.1004).abs() < 0.001,
        "lands at {c:?}"
    );
    // On the ground: about 110 m above sea level plus ~48 m of geoid in Karlsruhe, plus half the house.
    assert!(c[2] > 140.0 && c[2] < 190.0, "centre height {}", c[2]);

    let files = glbs(&tileset);
    let reports = tvilling_fixtures::gltf_validator::validate(&files).expect("glTF-Validator runs");
    for r in &reports {
        assert_eq!(r.errors, 0, "{}: {:?}", r.file, r.messages);
    }
    let mut names = vec![];
    let mut blended = false;
    for f in &files {
        let doc = gltf_json(&std::fs::read(f).unwrap());
        let class = &doc["extensions"]["EXT_structural_metadata"]["schema"]["classes"]["building"];
        for (id, p) in class["properties"].as_object().unwrap() {
            names.push(p["name"].as_str().unwrap_or(id).to_string());
        }
        blended |= doc["materials"][0]["alphaMode"] == "BLEND";
    }
    for want in [
        "storey",
        "ifc_class",
        "global_id",
        "Pset_WallCommon.ThermalTransmittance",
        "material",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "property {want} missing from {names:?}"
        );
    }
    assert!(blended, "windows are translucent");
}

#[test]
fn refuses_a_model_without_georeference_and_places_it_with_place() {
    let Some(data) = samples("refuses_a_model_without_georeference_and_places_it_with_place")
    else {
        return;
    };
    let env = Env::new();
    let src = data.join("ifc/IfcOpenHouse_IFC4.ifc");
    env.run(&["ingest", src.to_str().unwrap(), "--dataset", "house"])
        .fails_with(&["--place", "IfcOpenHouse_IFC4.ifc", "not georeferenced"]);
    assert!(!env.store().join("house").exists(), "nothing committed");
    env.run(&[
        "ingest",
        src.to_str().unwrap(),
        "--dataset",
        "house",
        "--place",
        "11.9746,57.7089,8,15",
    ])
    .ok();
    let info = env.info("house");
    assert_eq!(info["crs"], "EPSG:32632", "{info}");
    env.run(&[
        "ingest",
        src.to_str().unwrap(),
        "--dataset",
        "other",
        "--place",
        "11.97",
    ])
    .fails_with(&["--place"]);
}

#[test]
fn a_truncated_ifc_fails_with_its_location_and_commits_nothing() {
    let Some(data) = samples("a_truncated_ifc_fails_with_its_location_and_commits_nothing") else {
        return;
    };
    let env = Env::new();
    let bytes = std::fs::read(data.join("ifc/IfcOpenHouse_IFC4.ifc")).unwrap();
    let cut = env.path("cut.ifc");
    std::fs::write(&cut, &bytes[..bytes.len() / 3]).unwrap();
    env.run(&[
        "ingest",
        cut.to_str().unwrap(),
        "--dataset",
        "cut",
        "--place",
        "11.97,57.70",
    ])
    .fails_with(&["cut.ifc", "truncated", "line"]);
    let empty = env.path("empty.ifc");
    std::fs::write(&empty, b"").unwrap();
    env.run(&[
        "ingest",
        empty.to_str().unwrap(),
        "--dataset",
        "cut",
        "--place",
        "11.97,57.70",
    ])
    .fails_with(&["empty.ifc", "0 bytes"]);
    assert!(!env.store().join("cut").exists(), "nothing committed");
}
