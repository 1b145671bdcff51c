//! Tests of the CityJSON reader: the real samples in `../shared/data/cityjson` (skipped when absent) and
//! small documents written here for each edge case. Over 700 lines because every edge case is a table row
//! with its inline document; the reader's own files stay small.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tvilling_core::progress::NoProgress;

use super::read_cityjson;
use crate::Result;
use crate::citymodel::model::{CityModel, CityObject, SurfaceType};

/// A sample file, or `None` (with the skip line the test suite expects) when the data folder is absent.
fn sample(test: &str, name: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/cityjson");
    if !dir.is_dir() {
        eprintln!("skipped {test}: ../shared/data not present");
        return None;
    }
    Some(dir.join(name))
}

fn read(path: &Path) -> Result<CityModel> {
    read_cityjson(path, &NoProgress)
}

/// Writes `text` as `name` in a fresh temporary folder (kept alive by the returned guard).
fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Reads a document given as JSON from a temporary `.city.json`.
fn read_doc(doc: &Value) -> Result<CityModel> {
    let (_dir, path) = write("t.city.json", &doc.to_string());
    read(&path)
}

fn object<'a>(m: &'a CityModel, id: &str) -> &'a CityObject {
    m.objects.iter().find(|o| o.id == id).unwrap()
}

fn surface_count(m: &CityModel, lod: &str) -> usize {
    m.objects
        .iter()
        .filter_map(|o| o.lods.get(lod))
        .map(Vec::len)
        .sum()
}

fn close(a: [f64; 3], b: [f64; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
}

/// A one-building CityJSON 2.0 document around the given geometry, with a unit transform.
fn with_geometry(geometry: Value, vertices: Value) -> Value {
    json!({
        "type": "CityJSON", "version": "2.0",
        "transform": {"scale": [1.0, 1.0, 1.0], "translate": [0.0, 0.0, 0.0]},
        "CityObjects": {"b1": {"type": "Building", "geometry": [geometry]}},
        "vertices": vertices,
    })
}

/// The square 0-1-2-3 plus a far vertex 4.
fn square() -> Value {
    json!([[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0], [5, 5, 5]])
}

#[test]
fn reads_delft_buildings_counts_and_compound_crs() {
    let Some(p) = sample(
        "reads_delft_buildings_counts_and_compound_crs",
        "delft.city.json",
    ) else {
        return;
    };
    let m = read(&p).unwrap();
    assert_eq!(m.objects.len(), 160);
    assert!(m.objects.iter().all(|o| o.object_type == "Building"));
    let types: Vec<(&str, u64)> = m
        .object_types
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        types,
        [
            ("Bridge", 3),
            ("Building", 160),
            ("GenericCityObject", 54),
            ("LandUse", 81),
            ("PlantCover", 126),
            ("Road", 143),
            ("WaterBody", 3)
        ]
    );
    assert_eq!(m.object_types.values().sum::<u64>(), 570);
    assert_eq!(
        m.crs.map(|c| c.to_string()).as_deref(),
        Some("EPSG:28992+5709")
    );
    assert_eq!(
        m.crs_declared.as_deref(),
        Some("https://www.opengis.net/def/crs/EPSG/0/7415")
    );
    assert_eq!(surface_count(&m, "1"), 5563);
    assert!(m.issues.is_empty(), "{:?}", m.issues.first());
    assert_eq!(m.rejected, 0);
    assert_eq!(m.metadata["format"], "CityJSON");
    assert_eq!(m.metadata["version"], "2.0");
    assert_eq!(m.metadata["lods"], json!(["1"]));
    assert_eq!(m.metadata["object_types"]["Road"], 143);
    assert!(m.metadata["metadata"]["geographicalExtent"].is_array());
}

#[test]
fn applies_transform_to_integer_vertices() {
    let Some(p) = sample("applies_transform_to_integer_vertices", "delft.city.json") else {
        return;
    };
    let m = read(&p).unwrap();
    // python3: v = vertices[40] = [393347, 59669, 6452]; v * 0.001 + [84616.468, 447422.999, -0.452]
    let b = object(&m, "b1105d28c-00ba-11e6-b420-2bdcc4ab5d7f");
    let first = b.lods["1"][0].rings[0][0];
    assert!(close(first, [85009.815, 447482.668, 6.0]), "{first:?}");

    let Some(p) = sample(
        "applies_transform_to_integer_vertices",
        "zurich_subset_lod2.city.json",
    ) else {
        return;
    };
    let m = read(&p).unwrap();
    // python3: [7456404, 4485477, 448781] * 0.001 + [2677116.375, 1241839.025, 0.0]
    let part = object(&m, "UUID_64efac00-00cd-455d-a8ac-9602bd232330");
    assert!(close(
        part.lods["2"][0].rings[0][0],
        [2684572.779, 1246324.502, 448.781]
    ));
}

#[test]
fn counts_semantic_surface_types_on_zurich() {
    let Some(p) = sample(
        "counts_semantic_surface_types_on_zurich",
        "zurich_subset_lod2.city.json",
    ) else {
        return;
    };
    let m = read(&p).unwrap();
    assert_eq!(m.objects.len(), 210);
    assert_eq!(m.object_types["Building"], 49);
    assert_eq!(m.object_types["BuildingPart"], 161);
    assert_eq!(m.metadata["version"], "1.1");
    assert_eq!(m.crs.map(|c| c.to_string()).as_deref(), Some("EPSG:2056"));
    let count = |t| {
        m.objects
            .iter()
            .flat_map(|o| o.lods.values().flatten())
            .filter(|s| s.semantic == Some(t))
            .count()
    };
    assert_eq!(count(SurfaceType::Wall), 1340);
    assert_eq!(count(SurfaceType::Roof), 644);
    assert_eq!(count(SurfaceType::Ground), 55);
    assert_eq!(surface_count(&m, "2"), 2039);
    let holes: usize = m
        .objects
        .iter()
        .flat_map(|o| o.lods.values().flatten())
        .map(|s| s.rings.len() - 1)
        .sum();
    assert_eq!(holes, 4);
    // Buildings carry no geometry of their own here, but all have parts: no issue for them.
    assert!(m.issues.is_empty(), "{:?}", m.issues.first());
    let first = object(&m, "UUID_64efac00-00cd-455d-a8ac-9602bd232330");
    assert_eq!(
        first.attributes,
        [
            ("creationDate".to_owned(), json!("2017-01-23")),
            ("Geomtype".to_owned(), json!(2))
        ]
    );
}

#[test]
fn reads_all_three_lods_of_multi_lod() {
    let Some(p) = sample("reads_all_three_lods_of_multi_lod", "multi_lod.city.json") else {
        return;
    };
    let m = read(&p).unwrap();
    assert_eq!(m.objects.len(), 10);
    for o in &m.objects {
        assert_eq!(
            o.lods.keys().collect::<Vec<_>>(),
            ["1.2", "1.3", "2.2"],
            "{}",
            o.id
        );
    }
    assert_eq!(surface_count(&m, "1.2"), 180);
    assert_eq!(surface_count(&m, "1.3"), 224);
    assert_eq!(surface_count(&m, "2.2"), 348);
    assert_eq!(m.metadata["lods"], json!(["1.2", "1.3", "2.2"]));
    assert!(m.crs.is_none() && m.crs_declared.is_none());
    // Only LOD 2.2 has semantics.
    let o = object(&m, "6751773");
    assert!(o.lods["1.2"].iter().all(|s| s.semantic.is_none()));
    assert!(o.lods["2.2"].iter().all(|s| s.semantic.is_some()));
    // Attributes keep the file's order (serde_json's own maps would sort them).
    let keys: Vec<&str> = o
        .attributes
        .iter()
        .take(4)
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        keys,
        ["fid", "identificatie", "oorspronkelijk_bouwjaar", "status"]
    );
    let eind = o.attributes.iter().find(|(k, _)| k == "eindgeldigheid");
    assert_eq!(eind.map(|(_, v)| v), Some(&Value::Null));
}

#[test]
fn sets_parent_ids_of_building_parts() {
    let Some(p) = sample("sets_parent_ids_of_building_parts", "DH_01_subs.city.json") else {
        return;
    };
    let m = read(&p).unwrap();
    assert_eq!(m.objects.len(), 12);
    assert_eq!(m.object_types["Building"], 4);
    assert_eq!(m.object_types["BuildingPart"], 8);
    let part = object(&m, "GUID_8CE54418-E2F7-49A7-9A8D-C3D172BA62C4_1");
    assert_eq!(part.object_type, "BuildingPart");
    assert_eq!(
        part.parent_id.as_deref(),
        Some("GUID_8CE54418-E2F7-49A7-9A8D-C3D172BA62C4")
    );
    assert!(close(
        part.lods["2"][0].rings[0][0],
        [78640.38, 458143.506, 12.871]
    ));
    for o in &m.objects {
        match o.object_type.as_str() {
            "BuildingPart" => assert!(o.parent_id.is_some() && o.lods.contains_key("2")),
            _ => assert!(o.parent_id.is_none()),
        }
    }
    assert!(m.issues.is_empty(), "{:?}", m.issues.first());
}

#[test]
fn reads_rotterdam_lod2_multisurfaces() {
    let Some(p) = sample(
        "reads_rotterdam_lod2_multisurfaces",
        "rotterdam_subset.city.json",
    ) else {
        return;
    };
    let m = read(&p).unwrap();
    assert_eq!(m.objects.len(), 16);
    // 248 surfaces in the file; python3 finds 12 whose ring repeats two points ([66, 66, 84, 84]).
    assert_eq!(surface_count(&m, "2"), 236);
    assert_eq!(m.issues.len(), 12);
    let i = &m.issues[0];
    assert_eq!(
        i.id.as_deref(),
        Some("{6271F75F-E8D8-4EE4-AC46-9DB02771A031}")
    );
    assert!(
        i.reason
            .contains("surface 5: the exterior ring has 2 distinct vertices"),
        "{}",
        i.reason
    );
    assert!(m.crs.is_none());
    let b = object(&m, "{C9D4A5CF-094A-47DA-97E4-4A3BFD75D3AE}");
    assert!(close(
        b.lods["2"][0].rings[0][0],
        [90988.791, 435638.657, 10.652]
    ));
    assert_eq!(b.attributes[0], ("TerrainHeight".to_owned(), json!(3.03)));
}

#[test]
fn reads_cityjsonseq_line_by_line_with_header_transform() {
    let header = json!({
        "type": "CityJSON", "version": "2.0",
        "transform": {"scale": [0.5, 0.5, 0.5], "translate": [100.0, 200.0, 10.0]},
        "metadata": {"referenceSystem": "https://www.opengis.net/def/crs/EPSG/0/3006"},
        "CityObjects": {}, "vertices": []
    });
    let feature = |id: &str, part: &str| {
        json!({
            "type": "CityJSONFeature", "id": id,
            "CityObjects": {
                id: {"type": "Building", "attributes": {"name": id}, "children": [part]},
                part: {"type": "BuildingPart", "parents": [id], "geometry": [{
                    "type": "MultiSurface", "lod": "2.2",
                    "boundaries": [[[0, 1, 2, 3]]],
                    "semantics": {"surfaces": [{"type": "RoofSurface"}], "values": [0]}
                }]}
            },
            "vertices": [[0, 0, 0], [2, 0, 0], [2, 2, 0], [0, 2, 0]]
        })
    };
    let text = format!(
        "{header}\n{}\n\n{}\n",
        feature("a", "a-1"),
        feature("b", "b-1")
    );
    let (_dir, path) = write("city.city.jsonl", &text);
    let m = read(&path).unwrap();
    let ids: Vec<&str> = m.objects.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["a", "a-1", "b", "b-1"]);
    assert_eq!(m.crs.map(|c| c.to_string()).as_deref(), Some("EPSG:3006"));
    let part = object(&m, "b-1");
    assert_eq!(part.parent_id.as_deref(), Some("b"));
    let s = &part.lods["2.2"][0];
    assert_eq!(s.semantic, Some(SurfaceType::Roof));
    assert!(close(s.rings[0][2], [101.0, 201.0, 10.0]));
    assert_eq!(m.metadata["sequence"], true);
    assert_eq!(m.object_types["BuildingPart"], 2);
    assert!(m.issues.is_empty(), "{:?}", m.issues);
}

#[test]
fn rejects_bad_files_with_actionable_errors() {
    let seq_bad_line = format!(
        "{}\n{{\"type\": \"CityJSONFeature\", \"CityObjects\": {{\n",
        json!({"type": "CityJSON", "version": "2.0", "CityObjects": {}, "vertices": []})
    );
    let seq_two_headers = format!(
        "{0}\n{0}\n",
        json!({"type": "CityJSON", "version": "2.0", "CityObjects": {}, "vertices": []})
    );
    let seq = r#"{"type": "CityJSON", "version": "2.0", "CityObjects": {}, "vertices": []}"#;
    // (case, file name, content, every part the message must contain)
    let cases: &[(&str, &str, String, &[&str])] = &[
        ("empty file", "a.city.json", String::new(), &["0 bytes"]),
        (
            "empty sequence",
            "a.city.jsonl",
            String::new(),
            &["0 bytes"],
        ),
        (
            "malformed JSON",
            "a.city.json",
            "{\"type\": \"CityJSON\",\n \"version\": }".into(),
            &["malformed JSON", "line 2 column"],
        ),
        (
            "truncated JSON",
            "a.city.json",
            "{\"type\": \"CityJSON\", \"CityObjects\": {".into(),
            &["ends early", "truncated"],
        ),
        (
            "GeoJSON",
            "a.json",
            r#"{"type": "FeatureCollection", "features": []}"#.into(),
            &["not a CityJSON file", "FeatureCollection"],
        ),
        (
            "top-level array",
            "a.json",
            "[1, 2]".into(),
            &["not a CityJSON"],
        ),
        (
            "CityObjects not an object",
            "a.json",
            r#"{"type": "CityJSON", "version": "2.0", "CityObjects": [1], "vertices": []}"#.into(),
            &["not a CityJSON document", "line 1 column"],
        ),
        (
            "single feature",
            "a.json",
            r#"{"type": "CityJSONFeature", "CityObjects": {}, "vertices": []}"#.into(),
            &["single CityJSONFeature", ".city.jsonl"],
        ),
        (
            "unsupported version",
            "a.json",
            r#"{"type": "CityJSON", "version": "0.9", "CityObjects": {}, "vertices": []}"#.into(),
            &["version 0.9 is not supported", "1.0, 1.1, 2.0"],
        ),
        (
            "missing version",
            "a.json",
            r#"{"type": "CityJSON", "CityObjects": {}, "vertices": []}"#.into(),
            &["no \"version\""],
        ),
        (
            "bad transform",
            "a.json",
            r#"{"type": "CityJSON", "version": "2.0", "transform": {"scale": [1]},
                "CityObjects": {}, "vertices": []}"#
                .into(),
            &["\"transform\" must be"],
        ),
        (
            "sequence in a .json",
            "a.city.json",
            format!("{seq}\n{seq}\n"),
            &["trailing characters", ".city.jsonl"],
        ),
        (
            "bad sequence line",
            "a.city.jsonl",
            seq_bad_line,
            &["line 2 column", "ends early"],
        ),
        (
            "second sequence header",
            "a.jsonl",
            seq_two_headers,
            &["line 2", "second CityJSON header"],
        ),
        (
            "sequence without header",
            "a.jsonl",
            r#"{"type": "CityJSONFeature", "CityObjects": {}, "vertices": []}"#.into(),
            &["line 1", "must start with the CityJSON header"],
        ),
        (
            "blank sequence",
            "a.jsonl",
            "\n\n".into(),
            &["only blank lines"],
        ),
    ];
    for (case, name, text, parts) in cases {
        let (_dir, path) = write(name, text);
        let err = match read(&path) {
            Ok(_) => panic!("{case}: read a bad file"),
            Err(e) => e,
        };
        assert!(err.is_bad_input(), "{case}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(&path.display().to_string()), "{case}: {msg}");
        for part in *parts {
            assert!(msg.contains(part), "{case}: '{part}' not in: {msg}");
        }
    }
}

#[test]
fn drops_broken_rings_and_surfaces_with_issues() {
    let ms =
        |boundaries: Value| json!({"type": "MultiSurface", "lod": "2", "boundaries": boundaries});
    // (case, geometry, vertices, surfaces kept, rings of the first kept surface, text in the issue)
    let cases: &[(&str, Value, Value, usize, usize, &str)] = &[
        (
            "vertex index out of range",
            ms(json!([[[0, 1, 2, 3]], [[0, 1, 99]]])),
            square(),
            1,
            1,
            "surface 1: the exterior ring refers to vertex 99, but \"vertices\" has only 5",
        ),
        (
            "two distinct vertices",
            ms(json!([[[0, 1, 0, 1]], [[0, 1, 2]]])),
            square(),
            1,
            1,
            "surface 0: the exterior ring has 2 distinct vertices",
        ),
        (
            "closing vertex repeated is fine, a degenerate hole is dropped",
            ms(json!([[[0, 1, 2, 3, 0], [4, 4, 4]]])),
            square(),
            1,
            1,
            "surface 0: hole 1 has 1 distinct vertices; a ring needs at least 3; the hole is left out",
        ),
        (
            "huge coordinate",
            ms(json!([[[0, 1, 4]], [[0, 1, 2]]])),
            json!([[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0], [5e12, 5, 5]]),
            1,
            1,
            "refers to vertex 4, whose coordinates",
        ),
        (
            "vertex that is not three numbers",
            ms(json!([[[0, 1, 4]], [[0, 1, 2]]])),
            json!([[0, 0, 0], [10, 0, 0], [10, 10, 0], [0, 10, 0], [5, "x"]]),
            1,
            1,
            "refers to vertex 4, whose coordinates",
        ),
        (
            "negative and fractional indices",
            ms(json!([[[0, -1, 2]], [[0, 1.5, 2]], [[0, 1, 2]]])),
            square(),
            1,
            1,
            "surface 1: the exterior ring holds a value that is not a vertex index",
        ),
        (
            "wrong nesting for a Solid",
            json!({"type": "Solid", "lod": "2", "boundaries": [7, [[[0, 1, 2]]]]}),
            square(),
            1,
            1,
            "is not nested as a Solid requires",
        ),
    ];
    for (case, geometry, vertices, kept, rings, reason) in cases {
        let m = read_doc(&with_geometry(geometry.clone(), vertices.clone())).unwrap();
        let b = object(&m, "b1");
        let surfaces = b.lods.get("2").map_or(&[][..], Vec::as_slice);
        assert_eq!(surfaces.len(), *kept, "{case}");
        assert_eq!(
            surfaces.first().map(|s| s.rings.len()),
            Some(*rings),
            "{case}"
        );
        let issue = m.issues.iter().find(|i| i.reason.contains(reason));
        let issue =
            issue.unwrap_or_else(|| panic!("{case}: no issue '{reason}' in {:?}", m.issues));
        assert_eq!(issue.id.as_deref(), Some("b1"), "{case}");
        assert_eq!(issue.feature, Some(0), "{case}");
        assert!(
            issue.reason.starts_with("Building b1: geometry 0"),
            "{case}: {}",
            issue.reason
        );
    }
}

#[test]
fn keeps_objects_without_geometry_and_reports_broken_objects() {
    let doc = json!({
        "type": "CityJSON", "version": "2.0",
        "transform": {"scale": [1.0, 1.0, 1.0], "translate": [0.0, 0.0, 0.0]},
        "CityObjects": {
            "lonely": {"type": "Building", "attributes": {"h": 3}},
            "broken": 42,
            "untyped": {"attributes": {}},
            "parent": {"type": "Building"},
            "part": {"type": "BuildingPart", "parents": ["parent"],
                     "geometry": [{"type": "MultiSurface", "lod": "1", "boundaries": [[[0, 1, 2]]]}]},
            "onlybad": {"type": "Building", "geometry": [
                {"type": "MultiSurface", "lod": "1", "boundaries": [[[0, 1, 7]]]},
                {"type": "MultiPoint", "lod": "1", "boundaries": [0]},
                {"type": "Blob", "lod": "1", "boundaries": []},
                {"type": "MultiSurface", "boundaries": [[[0, 1, 2]]]},
                "nope"
            ], "attributes": "not an object"},
            "install": {"type": "BuildingInstallation", "parents": ["parent"]}
        },
        "vertices": [[0, 0, 0], [1, 0, 0], [1, 1, 0]]
    });
    let m = read_doc(&doc).unwrap();
    // json! sorts keys, so this is also the file's order.
    let ids: Vec<&str> = m.objects.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["lonely", "onlybad", "parent", "part"]);
    assert_eq!(m.rejected, 2);
    assert_eq!(m.object_types["BuildingInstallation"], 1);
    assert_eq!(m.object_types["Building"], 3);
    assert_eq!(
        object(&m, "lonely").attributes,
        [("h".to_owned(), json!(3))]
    );
    let has = |id: &str, text: &str| {
        m.issues
            .iter()
            .any(|i| i.id.as_deref() == Some(id) && i.reason.contains(text))
    };
    assert!(has("lonely", "has no usable geometry and no parts"));
    assert!(
        !has("parent", "has no usable geometry"),
        "a parent has parts"
    );
    assert!(has("broken", "is not a JSON object"));
    assert!(has("untyped", "has no \"type\""));
    assert!(has("onlybad", "MultiPoint, which has no surfaces"));
    assert!(has("onlybad", "not a CityJSON geometry type"));
    assert!(has("onlybad", "has no usable \"lod\""));
    assert!(has("onlybad", "geometry 4 is not a JSON object"));
    assert!(has("onlybad", "\"attributes\" is not a JSON object"));
    assert!(has("onlybad", "has no usable geometry and no parts"));
    let feature = m.issues.iter().find(|i| i.id.as_deref() == Some("broken"));
    assert_eq!(feature.and_then(|i| i.feature), Some(0));
}

#[test]
fn flattens_nested_attributes_and_resolves_address_locations() {
    // A literal, not json!: serde_json's maps would sort the keys this test is about.
    let text = r#"{
        "type": "CityJSON", "version": "2.0",
        "transform": {"scale": [0.01, 0.01, 0.01], "translate": [1000.0, 2000.0, 0.0]},
        "CityObjects": {"b": {
            "type": "Building",
            "attributes": {"z": 1, "address": {"street": "Storgatan", "nr": {"a": 1, "b": null}},
                           "tags": ["x", {"k": 2}], "empty": {}, "none": null, "a": true},
            "address": [
                {"Country": "SE", "location": {"type": "MultiPoint", "lod": "1", "boundaries": [0]}},
                {"Country": "SE", "location": {"type": "MultiPoint", "lod": "1", "boundaries": [9]}}
            ]
        }},
        "vertices": [[100, 200, 300]]
    }"#;
    let (_dir, path) = write("a.city.json", text);
    let m = read(&path).unwrap();
    let b = object(&m, "b");
    let keys: Vec<&str> = b.attributes.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "z",
            "address.street",
            "address.nr.a",
            "address.nr.b",
            "tags",
            "empty",
            "none",
            "a",
            "address"
        ]
    );
    assert_eq!(b.attributes[4].1, json!(["x", {"k": 2}]));
    assert_eq!(b.attributes[5].1, json!({}));
    assert_eq!(b.attributes[3].1, Value::Null);
    let address = &b.attributes[8].1;
    assert_eq!(
        address[0]["location"]["boundaries"],
        json!([[1001.0, 2002.0, 3.0]])
    );
    assert!(address[1].get("location").is_none());
    assert_eq!(address[1]["Country"], "SE");
    assert!(
        m.issues
            .iter()
            .any(|i| i.reason.contains("address location"))
    );
}

#[test]
fn resolves_geometry_instances_with_matrix_and_reference_point() {
    let doc = json!({
        "type": "CityJSON", "version": "2.0",
        "transform": {"scale": [1.0, 1.0, 1.0], "translate": [100.0, 0.0, 0.0]},
        "geometry-templates": {
            "templates": [{"type": "MultiSurface", "lod": "2.1", "boundaries": [[[0, 1, 2]]],
                           "semantics": {"surfaces": [{"type": "WallSurface"}], "values": [0]}}],
            "vertices-templates": [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
        },
        "CityObjects": {"b": {"type": "Building", "geometry": [
            {"type": "GeometryInstance", "template": 0, "boundaries": [1],
             "transformationMatrix": [2.0, 0.0, 0.0, 0.0,  0.0, 2.0, 0.0, 0.0,
                                      0.0, 0.0, 1.0, 5.0,  0.0, 0.0, 0.0, 1.0]},
            {"type": "GeometryInstance", "template": 3, "boundaries": [1],
             "transformationMatrix": [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]}
        ]}},
        "vertices": [[0, 0, 0], [10, 20, 30]]
    });
    let m = read_doc(&doc).unwrap();
    let s = &object(&m, "b").lods["2.1"];
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].semantic, Some(SurfaceType::Wall));
    // Template vertex · matrix + reference vertex (110, 20, 30).
    assert_eq!(
        s[0].rings[0],
        [
            [110.0, 20.0, 35.0],
            [112.0, 20.0, 35.0],
            [110.0, 22.0, 35.0]
        ]
    );
    assert!(
        m.issues
            .iter()
            .any(|i| i.reason.contains("uses template 3"))
    );
}

#[test]
fn reads_cityjson_1_0_numeric_lods_without_transform() {
    let doc = json!({
        "type": "CityJSON", "version": "1.0",
        "metadata": {"referenceSystem": "urn:ogc:def:crs:EPSG::7415"},
        "CityObjects": {"b": {"type": "Building", "geometry": [
            {"type": "MultiSurface", "lod": 2, "boundaries": [[[0, 1, 2]]]},
            {"type": "MultiSurface", "lod": 1.3, "boundaries": [[[0, 1, 2]]]}
        ]}},
        "vertices": [[84616.5, 447423.25, 1.5], [84617.5, 447423.25, 1.5], [84617.5, 447424.25, 1.5]]
    });
    let m = read_doc(&doc).unwrap();
    let b = object(&m, "b");
    assert_eq!(b.lods.keys().collect::<Vec<_>>(), ["1.3", "2"]);
    assert_eq!(b.lods["2"][0].rings[0][0], [84616.5, 447423.25, 1.5]);
    assert_eq!(
        m.crs.map(|c| c.to_string()).as_deref(),
        Some("EPSG:28992+5709")
    );
    assert_eq!(
        m.crs_declared.as_deref(),
        Some("urn:ogc:def:crs:EPSG::7415")
    );
    assert!(m.metadata["transform"].is_null());
}

#[test]
fn flattens_solids_shells_and_multisolids_with_null_semantics() {
    let shell = json!([[[0, 1, 2]], [[0, 2, 3]]]);
    let doc = json!({
        "type": "CityJSON", "version": "2.0",
        "transform": {"scale": [1.0, 1.0, 1.0], "translate": [0.0, 0.0, 0.0]},
        "CityObjects": {"b": {"type": "Building", "geometry": [
            {"type": "Solid", "lod": "2", "boundaries": [shell, shell],
             "semantics": {"surfaces": [{"type": "RoofSurface"}, {"type": "InteriorWallSurface"}],
                           "values": [[0, null], [1, 5]]}},
            {"type": "CompositeSolid", "lod": "3", "boundaries": [[shell], [shell, shell]],
             "semantics": {"surfaces": [{"type": "GroundSurface"}], "values": [null, [[0, 0], null]]}}
        ]}},
        "vertices": square()
    });
    let m = read_doc(&doc).unwrap();
    let b = object(&m, "b");
    let sem = |lod: &str| b.lods[lod].iter().map(|s| s.semantic).collect::<Vec<_>>();
    use SurfaceType::*;
    assert_eq!(sem("2"), [Some(Roof), None, Some(Other), None]);
    assert_eq!(
        sem("3"),
        [None, None, Some(Ground), Some(Ground), None, None]
    );
    assert!(
        m.issues
            .iter()
            .any(|i| i.reason.contains("semantic value 5"))
    );
}

#[test]
fn unrecognised_reference_system_is_kept_as_declared_with_an_issue() {
    let doc = json!({
        "type": "CityJSON", "version": "1.1",
        "metadata": {"referenceSystem": "local grid"},
        "CityObjects": {}, "vertices": []
    });
    let m = read_doc(&doc).unwrap();
    assert!(m.crs.is_none());
    assert_eq!(m.crs_declared.as_deref(), Some("local grid"));
    assert!(m.issues.iter().any(|i| i.reason.contains("--crs")));
}

#[test]
fn names_address_member_apart_from_an_address_attribute() {
    let doc = json!({
        "type": "CityJSON", "version": "2.0",
        "CityObjects": {"b": {"type": "Building", "attributes": {"address": "Storgatan 1"},
                              "address": [{"Country": "SE"}]}},
        "vertices": []
    });
    let m = read_doc(&doc).unwrap();
    let b = object(&m, "b");
    assert_eq!(
        b.attributes,
        [
            ("address".to_owned(), json!("Storgatan 1")),
            (
                "address (CityJSON member)".to_owned(),
                json!([{"Country": "SE"}])
            )
        ]
    );
}
