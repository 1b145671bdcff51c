//! End-to-end tests of [`check_tileset`] on hand-made tilesets: one valid tileset, then one broken
//! copy per rule, each expected to report exactly that problem.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tempfile::TempDir;

use super::check_tileset;
use super::geodesy::tests::geodetic_to_ecef;
use super::test_glb::*;

fn valid() -> (TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let tileset = write_valid_tileset(dir.path());
    (dir, tileset)
}

fn rewrite(dir: &Path, tileset: &Value) -> PathBuf {
    let path = dir.join("tileset.json");
    write_json(&path, tileset);
    path
}

/// Runs the checker and asserts exactly one problem, containing every one of `needles`.
fn assert_one_problem(path: &Path, needles: &[&str]) {
    let report = check_tileset(path).unwrap();
    assert_eq!(report.problems.len(), 1, "{report}");
    for needle in needles {
        assert!(
            report.problems[0].contains(needle),
            "`{needle}` not in: {report}"
        );
    }
}

fn view_offset(g: &GlbBuilder, view: usize) -> usize {
    g.json["bufferViews"][view]["byteOffset"].as_u64().unwrap() as usize
}

#[test]
fn valid_tileset_passes_and_centres_on_its_enu_origin() {
    let (dir, _) = valid();
    let report = check_tileset(&dir.path().join("tileset.json")).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!((report.tiles, report.contents, report.max_depth), (3, 2, 1));
    assert_eq!(report.features, 2);
    let [lon, lat, h] = report.root_center_lon_lat_height.unwrap();
    // The box centre is 10 m up the ellipsoid normal from the origin.
    let got = geodetic_to_ecef(lon, lat, h);
    let want = geodetic_to_ecef(ORIGIN[0], ORIGIN[1], ORIGIN[2] + 10.0);
    let distance = (0..3)
        .map(|i| (got[i] - want[i]).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(distance < 1.0, "centre {lon} {lat} {h} is {distance} m off");
    assert!((lon - 16.0).abs() < 1e-6 && (lat - 59.3).abs() < 1e-6 && (h - 10.0).abs() < 1e-3);
}

#[test]
fn reports_content_outside_its_tile_box() {
    let (dir, mut t) = valid();
    // Shift the west child's box 50 m north and shorten it: it now spans n −5..105, so the building's
    // south wall (n = −10) is 5 m outside.
    t["root"]["children"][0]["boundingVolume"]["box"] =
        json!([-50, 50, 10, 50, 0, 0, 0, 55, 0, 0, 0, 10]);
    assert_one_problem(
        &rewrite(dir.path(), &t),
        &[
            "root/children[0] (west.glb)",
            "outside the tile's bounding box",
            "5.000 m",
        ],
    );
}

#[test]
fn reports_child_error_above_parent_error() {
    let (dir, mut t) = valid();
    t["root"]["children"][1]["geometricError"] = json!(60.0);
    assert_one_problem(
        &rewrite(dir.path(), &t),
        &[
            "root/children[1]",
            "geometricError 60 exceeds its parent's 50",
        ],
    );
}

#[test]
fn reports_root_error_above_tileset_error() {
    let (dir, mut t) = valid();
    t["geometricError"] = json!(40.0);
    assert_one_problem(
        &rewrite(dir.path(), &t),
        &["tileset.json", "root geometricError 50 exceeds"],
    );
}

#[test]
fn reports_missing_content_file() {
    let (dir, mut t) = valid();
    t["root"]["children"][0]["content"]["uri"] = json!("missing.glb");
    assert_one_problem(
        &rewrite(dir.path(), &t),
        &["root/children[0] (missing.glb)", "cannot be read"],
    );
}

#[test]
fn reports_uri_escaping_the_tileset_folder() {
    // The tileset sits in `inner/`; a copy of its content one level up exists but is out of bounds.
    let outer = tempfile::tempdir().unwrap();
    let inner = outer.path().join("inner");
    std::fs::create_dir(&inner).unwrap();
    let mut t = write_valid_tileset(&inner);
    std::fs::copy(inner.join("west.glb"), outer.path().join("west.glb")).unwrap();
    t["root"]["children"][0]["content"]["uri"] = json!("../west.glb");
    assert_one_problem(
        &rewrite(&inner, &t),
        &[
            "root/children[0] (../west.glb)",
            "escapes the tileset folder",
        ],
    );
    t["root"]["children"][0]["content"]["uri"] = json!("/tmp/west.glb");
    assert_one_problem(&rewrite(&inner, &t), &["absolute path"]);
}

#[test]
fn reports_truncated_glb() {
    let (dir, _) = valid();
    let path = dir.path().join("west.glb");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 8]).unwrap();
    assert_one_problem(
        &dir.path().join("tileset.json"),
        &["root/children[0] (west.glb)", "truncated"],
    );
}

#[test]
fn every_truncation_of_a_glb_is_reported_without_panicking() {
    let bytes = buildings_glb(&EAST, true).build();
    let dir = tempfile::tempdir().unwrap();
    let mut t = write_valid_tileset(dir.path());
    t["root"]["children"].as_array_mut().unwrap().truncate(1);
    t["root"]["children"][0]["content"]["uri"] = json!("cut.glb");
    t["root"]["children"][0]["boundingVolume"] = json!({"sphere": [0, 0, 0, 1000]});
    let path = rewrite(dir.path(), &t);
    for len in 0..bytes.len() {
        std::fs::write(dir.path().join("cut.glb"), &bytes[..len]).unwrap();
        let report = check_tileset(&path).unwrap();
        assert!(!report.is_ok(), "truncated to {len} bytes yet no problem");
    }
}

#[test]
fn garbage_json_in_a_glb_is_a_problem_not_a_panic() {
    let (dir, _) = valid();
    let nasty = json!({"asset": 3, "accessors": [{"bufferView": 99, "count": -1}], "bufferViews": "x",
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}], "nodes": [{"children": [0], "mesh": 0}],
        "scene": 7, "extensions": {"EXT_structural_metadata": {"propertyTables": [{"class": 5}]}}});
    std::fs::write(dir.path().join("west.glb"), assemble(&nasty, &[])).unwrap();
    let report = check_tileset(&dir.path().join("tileset.json")).unwrap();
    assert!(!report.is_ok());
    assert!(
        report
            .problems
            .iter()
            .all(|p| p.starts_with("root/children[0] (west.glb)")),
        "{report}"
    );
}

#[test]
fn reports_property_table_missing_a_required_property() {
    let (dir, _) = valid();
    let mut g = buildings_glb(&EAST, true);
    let props =
        &mut g.json["extensions"]["EXT_structural_metadata"]["propertyTables"][0]["properties"];
    props.as_object_mut().unwrap().remove("height");
    std::fs::write(dir.path().join("east.glb"), g.build()).unwrap();
    assert_one_problem(
        &dir.path().join("tileset.json"),
        &[
            "root/children[1] (east.glb)",
            "lacks property `height`",
            "required",
        ],
    );
}

#[test]
fn reports_string_offsets_past_the_end() {
    let (dir, _) = valid();
    let mut g = buildings_glb(&EAST, true);
    let so = g.json["extensions"]["EXT_structural_metadata"]["propertyTables"][0]["properties"]["name"]["stringOffsets"]
        .as_u64()
        .unwrap() as usize;
    let last = view_offset(&g, so) + 4 * EAST.len();
    let past = u32::from_le_bytes(g.bin[last..last + 4].try_into().unwrap()) + 5;
    g.bin[last..last + 4].copy_from_slice(&past.to_le_bytes());
    std::fs::write(dir.path().join("east.glb"), g.build()).unwrap();
    assert_one_problem(
        &dir.path().join("tileset.json"),
        &["property `name`", "string offsets past the end"],
    );
}

#[test]
fn reports_feature_id_not_below_feature_count() {
    let (dir, _) = valid();
    let mut g = buildings_glb(&EAST, true);
    let fid = g.json["meshes"][0]["primitives"][0]["attributes"]["_FEATURE_ID_0"]
        .as_u64()
        .unwrap() as usize;
    let view = g.json["accessors"][fid]["bufferView"].as_u64().unwrap() as usize;
    let at = view_offset(&g, view) + 4 * 9;
    g.bin[at..at + 4].copy_from_slice(&2.0f32.to_le_bytes());
    std::fs::write(dir.path().join("east.glb"), g.build()).unwrap();
    assert_one_problem(
        &dir.path().join("tileset.json"),
        &["_FEATURE_ID_0", "below featureCount 2", "vertex 9 has 2"],
    );
}

#[test]
fn reports_glb_schema_differing_from_the_tileset_schema() {
    let (dir, mut t) = valid();
    t["schema"]["classes"]["building"]["properties"]["height"]["componentType"] = json!("FLOAT32");
    assert_one_problem(
        &rewrite(dir.path(), &t),
        &[
            "root/children[1] (east.glb)",
            "differs from the tileset schema at `classes.building.properties.height.componentType`",
        ],
    );
}

#[test]
fn reports_statistics_for_a_class_the_schema_lacks() {
    let (dir, mut t) = valid();
    t["statistics"]["classes"]["tree"] = json!({"count": 1});
    assert_one_problem(&rewrite(dir.path(), &t), &["statistics.classes has `tree`"]);
}

#[test]
fn reports_missing_position_min_max() {
    let (dir, _) = valid();
    let mut g = buildings_glb(&WEST, false);
    g.json["accessors"][0]
        .as_object_mut()
        .unwrap()
        .remove("min");
    std::fs::write(dir.path().join("west.glb"), g.build()).unwrap();
    assert_one_problem(
        &dir.path().join("tileset.json"),
        &["POSITION accessor 0 lacks min/max"],
    );
}

#[test]
fn reports_position_data_outside_its_declared_min_max() {
    let (dir, _) = valid();
    let mut g = buildings_glb(&WEST, false);
    g.json["accessors"][0]["max"][0] = json!(5.0);
    std::fs::write(dir.path().join("west.glb"), g.build()).unwrap();
    assert_one_problem(
        &dir.path().join("tileset.json"),
        &["outside its declared min"],
    );
}

#[test]
fn reports_accessor_running_past_its_buffer_view() {
    let (dir, _) = valid();
    let mut g = buildings_glb(&WEST, false);
    g.json["accessors"][0]["count"] = json!(9);
    std::fs::write(dir.path().join("west.glb"), g.build()).unwrap();
    let report = check_tileset(&dir.path().join("tileset.json")).unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("accessors[0] needs 108 bytes")),
        "{report}"
    );
}

#[test]
fn reports_missing_refine_and_unknown_version() {
    let (dir, mut t) = valid();
    t["root"].as_object_mut().unwrap().remove("refine");
    assert_one_problem(&rewrite(dir.path(), &t), &["root: refine is missing"]);
    let (dir, mut t) = valid();
    t["asset"]["version"] = json!("2.0");
    assert_one_problem(&rewrite(dir.path(), &t), &["asset.version is \"2.0\""]);
}

#[test]
fn external_tilesets_are_checked_with_the_referencing_transform() {
    let (dir, mut t) = valid();
    // Move the east child into an external tileset in a subfolder, whose content sits one level up.
    let east = t["root"]["children"][1].take();
    let mut sub_root = east.clone();
    sub_root["content"]["uri"] = json!("../east.glb");
    sub_root["refine"] = json!("ADD");
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let sub = json!({"asset": {"version": "1.1"}, "geometricError": 0.0, "root": sub_root});
    write_json(&dir.path().join("sub/tileset.json"), &sub);
    t["root"]["children"][1] = json!({
        "boundingVolume": east["boundingVolume"], "geometricError": 0.0,
        "content": {"uri": "sub/tileset.json"}
    });
    let report = check_tileset(&rewrite(dir.path(), &t)).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(
        (
            report.tiles,
            report.contents,
            report.max_depth,
            report.features
        ),
        (4, 3, 2, 2)
    );

    // The same content outside its box inside the external tileset names the whole path.
    let mut sub = sub;
    sub["root"]["boundingVolume"]["box"] = json!([50, 0, 10, 5, 0, 0, 0, 5, 0, 0, 0, 5]);
    write_json(&dir.path().join("sub/tileset.json"), &sub);
    assert_one_problem(
        &dir.path().join("tileset.json"),
        &[
            "root/children[1] (sub/tileset.json) → root (../east.glb)",
            "outside the tile's bounding box",
        ],
    );
}

#[test]
fn reports_external_tileset_cycles() {
    let (dir, mut t) = valid();
    t["root"]["children"][1]["content"]["uri"] = json!("tileset.json");
    t["root"]["children"][1]["refine"] = json!("ADD");
    assert_one_problem(
        &rewrite(dir.path(), &t),
        &["root/children[1] (tileset.json)", "cycle"],
    );
}

#[test]
fn region_volume_is_checked_in_geodetic_coordinates() {
    let (dir, mut t) = valid();
    // A region around the west building (e −60..−40, n −10..10, u 0..20 at lon 16°, lat 59.3°).
    // Metres per radian from the meridian and prime-vertical radii of curvature at 59.3°.
    let (a, e2) = (6_378_137.0_f64, 0.006_694_379_990_14_f64);
    let s2 = 59.3f64.to_radians().sin().powi(2);
    let m_per_rad_lat = a * (1.0 - e2) / (1.0 - e2 * s2).powf(1.5);
    let m_per_rad_lon = a / (1.0 - e2 * s2).sqrt() * 59.3f64.to_radians().cos();
    let (lon0, lat0) = (16f64.to_radians(), 59.3f64.to_radians());
    let region = |pad: f64| {
        json!({"region": [
            lon0 + (-60.0 - pad) / m_per_rad_lon, lat0 + (-10.0 - pad) / m_per_rad_lat,
            lon0 + (-40.0 + pad) / m_per_rad_lon, lat0 + (10.0 + pad) / m_per_rad_lat,
            -1.0, 21.0
        ]})
    };
    t["root"]["children"][0]["boundingVolume"] = region(1.0);
    let report = check_tileset(&rewrite(dir.path(), &t)).unwrap();
    assert!(report.is_ok(), "{report}");
    t["root"]["children"][0]["boundingVolume"] = region(-3.0);
    assert_one_problem(
        &rewrite(dir.path(), &t),
        &[
            "root/children[0] (west.glb)",
            "outside the tile's bounding region",
        ],
    );
}

#[test]
fn reports_content_with_both_content_and_contents() {
    let (dir, mut t) = valid();
    t["root"]["children"][0]["contents"] = json!([{"uri": "west.glb"}]);
    assert_one_problem(&rewrite(dir.path(), &t), &["both content and contents"]);
}

#[test]
fn unreadable_tileset_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(check_tileset(&dir.path().join("nope.json")).is_err());
    std::fs::write(dir.path().join("bad.json"), b"{not json").unwrap();
    let report = check_tileset(&dir.path().join("bad.json")).unwrap();
    assert!(report.problems[0].contains("does not parse"), "{report}");
}

/// The writer's meshopt-compressed content decodes (through meshoptimizer's decoder, as a viewer does)
/// to exactly the data of the uncompressed content, and is smaller.
#[test]
fn meshopt_content_decodes_to_the_uncompressed_data() {
    use crate::glb::{Compression, Mesh, write_glb_with};
    use crate::metadata::{PropertyDef, PropertyTable, PropertyType, Schema, Values};

    // 400 flat-shaded boxes (24 vertices each) on a street grid: a small town's tile.
    let mut mesh = Mesh::default();
    for b in 0..400u32 {
        let (x, z) = (f64::from(b % 20) * 30.0, f64::from(b / 20) * 30.0);
        let corners = box_corners([x, z, 0.0], [x + 12.0, z + 9.0, 6.0 + f64::from(b % 7)]);
        for (face, normal) in [
            [0usize, 1, 3, 2],
            [4, 6, 7, 5],
            [0, 4, 5, 1],
            [2, 3, 7, 6],
            [0, 2, 6, 4],
            [1, 5, 7, 3],
        ]
        .iter()
        .zip([
            [0.0f32, -1.0, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.0, 1.0],
            [0.0, 0.0, -1.0],
            [-1.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
        ]) {
            let base = mesh.positions.len() as u32;
            for &c in face {
                mesh.positions.push(corners[c]);
                mesh.normals.push(normal);
                mesh.colors.push([200, 190, 180, 255]);
                mesh.feature_ids.push(b);
            }
            mesh.indices
                .extend([base, base + 1, base + 2, base, base + 2, base + 3]);
        }
    }
    let schema = Schema {
        id: "town".into(),
        class_id: "building".into(),
        properties: vec![PropertyDef {
            id: "n".into(),
            name: "n".into(),
            ty: PropertyType::Int32,
            nullable: false,
        }],
        enums: vec![],
    };
    let table = PropertyTable {
        count: 400,
        columns: vec![Values::Int32((0..400).map(Some).collect())],
    };
    let plain = write_glb_with(&mesh, &schema, &table, Compression::None).unwrap();
    let packed = write_glb_with(&mesh, &schema, &table, Compression::Meshopt).unwrap();
    assert!(
        packed.len() * 2 < plain.len(),
        "meshopt should at least halve this content: {} vs {} bytes",
        packed.len(),
        plain.len()
    );
    let (mut p, mut q) = (vec![], vec![]);
    let a = super::glb::parse(&plain, Path::new("."), &mut p).unwrap();
    let b = super::glb::parse(&packed, Path::new("."), &mut q).unwrap();
    assert!(p.is_empty() && q.is_empty(), "{p:?} {q:?}");
    assert_eq!(
        b.json["extensionsRequired"],
        json!(["EXT_meshopt_compression"])
    );
    let accessors = a.json["accessors"].as_array().unwrap().len();
    for i in 0..accessors {
        let (x, y) = (a.accessor(i).unwrap(), b.accessor(i).unwrap());
        assert_eq!((x.count, x.components), (y.count, y.components));
        for e in 0..x.count {
            for c in 0..x.components {
                assert_eq!(
                    x.get(e, c),
                    y.get(e, c),
                    "accessor {i}, element {e}, component {c}"
                );
            }
        }
    }
    // A corrupted stream is reported, not a crash: break the header byte of the positions' stream.
    let json_len = u32::from_le_bytes(packed[12..16].try_into().unwrap()) as usize;
    let bin_start = 12 + 8 + json_len + 8;
    let at = b.json["bufferViews"][0]["extensions"]["EXT_meshopt_compression"]["byteOffset"]
        .as_u64()
        .unwrap() as usize;
    let mut broken = packed.clone();
    broken[bin_start + at] = 0x00;
    let mut r = vec![];
    let _ = super::glb::parse(&broken, Path::new("."), &mut r);
    assert!(
        r.iter()
            .any(|m| m.contains("bufferViews[0]") && m.contains("does not decode")),
        "{r:?}"
    );
}
