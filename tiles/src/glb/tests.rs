//! Unit tests of the glb writer: a cube with two features and a property table of every type is written,
//! parsed back (header, chunks, JSON, binary columns) and checked; bad input must fail with a message.

use serde_json::Value;

use super::*;
use crate::metadata::{EnumDef, NULLABLE_BOOLEAN_ENUM, PropertyDef, PropertyType, Values};

/// A 2 m cube centred on the origin: 24 vertices (4 per face, so normals are flat), 12 triangles. The
/// three faces with a positive normal are feature 0, the others feature 1.
fn cube() -> Mesh {
    let mut mesh = Mesh::default();
    for axis in 0..3 {
        for sign in [1.0f32, -1.0] {
            let mut normal = [0.0f32; 3];
            normal[axis] = sign;
            let (u, v) = ((axis + 1) % 3, (axis + 2) % 3);
            let base = u32::try_from(mesh.positions.len()).expect("24 vertices");
            for (a, b) in [(-1.0f32, -1.0f32), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)] {
                let mut p = [0.0f32; 3];
                p[axis] = sign;
                p[u] = a;
                p[v] = b * sign; // keeps the winding counter-clockwise seen from outside
                mesh.positions.push(p);
                mesh.normals.push(normal);
                mesh.colors.push([200, 180, 160, 255]);
                mesh.feature_ids.push(u32::from(sign < 0.0));
            }
            mesh.indices
                .extend([base, base + 1, base + 2, base, base + 2, base + 3]);
        }
    }
    mesh
}

fn prop(id: &str, ty: PropertyType, nullable: bool) -> PropertyDef {
    PropertyDef {
        id: id.into(),
        name: format!("{id} column"),
        ty,
        nullable,
    }
}

/// One property of every type, each once required and once nullable.
fn schema() -> Schema {
    let kind = || PropertyType::Enum {
        enum_id: "purpose".into(),
    };
    Schema {
        id: "exempelby".into(),
        class_id: "building".into(),
        properties: vec![
            prop("name", PropertyType::String, false),
            prop("address", PropertyType::String, true),
            prop("listed", PropertyType::Boolean, false),
            prop("heated", PropertyType::Boolean, true),
            prop("floors", PropertyType::Int32, false),
            prop("apartments", PropertyType::Int32, true),
            prop("objectId", PropertyType::Int64, false),
            prop("propertyId", PropertyType::Int64, true),
            prop("height", PropertyType::Float64, false),
            prop("energy", PropertyType::Float64, true),
            prop("purpose", kind(), false),
            prop("formerPurpose", kind(), true),
        ],
        enums: vec![EnumDef {
            id: "purpose".into(),
            values: vec!["bostad".into(), "industri".into()],
        }],
    }
}

/// Two rows; row 1 is missing every nullable value.
fn table() -> PropertyTable {
    PropertyTable {
        count: 2,
        columns: vec![
            Values::String(vec![Some("Storgatan 1".into()), Some("".into())]),
            Values::String(vec![Some("Åvägen 2".into()), None]),
            Values::Boolean(vec![Some(true), Some(false)]),
            Values::Boolean(vec![Some(true), None]),
            Values::Int32(vec![Some(3), Some(-1)]),
            Values::Int32(vec![Some(12), None]),
            Values::Int64(vec![Some(1 << 40), Some(7)]),
            Values::Int64(vec![Some(-5), None]),
            Values::Float64(vec![Some(9.5), Some(0.0)]),
            Values::Float64(vec![Some(120.25), None]),
            Values::Enum(vec![Some(1), Some(0)]),
            Values::Enum(vec![Some(0), None]),
        ],
    }
}

/// A glb taken apart: the header's total length, the JSON document and the BIN chunk.
struct Parsed {
    json: Value,
    bin: Vec<u8>,
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

/// Parses the glb container, asserting its framing (glTF 2.0 §4.4).
fn parse(glb: &[u8]) -> Parsed {
    assert_eq!(&glb[0..4], b"glTF");
    assert_eq!(u32_at(glb, 4), 2, "version");
    assert_eq!(u32_at(glb, 8) as usize, glb.len(), "total length");
    let json_len = u32_at(glb, 12) as usize;
    assert_eq!(u32_at(glb, 16), 0x4E4F_534A, "JSON chunk type");
    assert_eq!(json_len % 4, 0, "JSON chunk padded to 4");
    let json_bytes = &glb[20..20 + json_len];
    let json: Value =
        serde_json::from_slice(json_bytes).expect("JSON chunk parses (trailing spaces are fine)");
    let at = 20 + json_len;
    let bin_len = u32_at(glb, at) as usize;
    assert_eq!(u32_at(glb, at + 4), 0x004E_4942, "BIN chunk type");
    assert_eq!(bin_len % 4, 0, "BIN chunk padded to 4");
    assert_eq!(at + 8 + bin_len, glb.len(), "nothing after the BIN chunk");
    Parsed {
        json,
        bin: glb[at + 8..].to_vec(),
    }
}

impl Parsed {
    /// The bytes of bufferView `i`.
    fn view(&self, i: &Value) -> &[u8] {
        let v = &self.json["bufferViews"][i.as_u64().expect("view index") as usize];
        let offset = v["byteOffset"].as_u64().unwrap_or(0) as usize;
        let len = v["byteLength"].as_u64().expect("byteLength") as usize;
        &self.bin[offset..offset + len]
    }

    fn table_property(&self, id: &str) -> &Value {
        &self.json["extensions"]["EXT_structural_metadata"]["propertyTables"][0]["properties"][id]
    }

    fn column(&self, id: &str) -> &[u8] {
        self.view(&self.table_property(id)["values"])
    }

    fn strings(&self, id: &str) -> Vec<String> {
        let values = self.column(id);
        let offsets: Vec<usize> = self
            .view(&self.table_property(id)["stringOffsets"])
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")) as usize)
            .collect();
        offsets
            .windows(2)
            .map(|w| String::from_utf8(values[w[0]..w[1]].to_vec()).expect("UTF-8"))
            .collect()
    }
}

#[test]
fn cube_has_exact_accessors_material_and_feature_ids() {
    let glb = write_glb(&cube(), &schema(), &table()).expect("valid input");
    let p = parse(&glb);
    let json = &p.json;
    assert_eq!(json["asset"]["version"], "2.0");
    assert_eq!(json["scene"], 0);
    assert_eq!(
        json["buffers"][0]["byteLength"].as_u64(),
        Some(p.bin.len() as u64)
    );

    let primitive = &json["meshes"][0]["primitives"][0];
    assert_eq!(
        json["meshes"][0]["primitives"].as_array().map(Vec::len),
        Some(1)
    );
    // gltf-json omits `mode` when it is the default, 4 = TRIANGLES (glTF 2.0 mesh.primitive schema).
    assert!(primitive.get("mode").is_none_or(|m| m == 4), "TRIANGLES");
    let accessor = |name: &str| {
        &json["accessors"][primitive["attributes"][name].as_u64().expect(name) as usize]
    };
    for (name, component, ty) in [
        ("POSITION", 5126, "VEC3"),
        ("NORMAL", 5126, "VEC3"),
        ("COLOR_0", 5121, "VEC4"),
        ("_FEATURE_ID_0", 5126, "SCALAR"),
    ] {
        assert_eq!(accessor(name)["count"], 24, "{name}");
        assert_eq!(accessor(name)["componentType"], component, "{name}");
        assert_eq!(accessor(name)["type"], ty, "{name}");
    }
    assert_eq!(accessor("COLOR_0")["normalized"], true);
    assert_eq!(
        accessor("POSITION")["min"],
        serde_json::json!([-1.0, -1.0, -1.0])
    );
    assert_eq!(
        accessor("POSITION")["max"],
        serde_json::json!([1.0, 1.0, 1.0])
    );
    let indices = &json["accessors"][primitive["indices"].as_u64().expect("indices") as usize];
    assert_eq!(indices["count"], 36);
    assert_eq!(
        indices["componentType"], 5123,
        "UNSIGNED_SHORT for 24 vertices"
    );
    assert_eq!(
        json["bufferViews"][indices["bufferView"].as_u64().expect("view") as usize]["target"],
        34963
    );
    assert_eq!(
        json["bufferViews"][accessor("POSITION")["bufferView"].as_u64().expect("view") as usize]["target"],
        34962
    );

    let ids: Vec<f32> = p
        .view(&accessor("_FEATURE_ID_0")["bufferView"])
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect();
    assert_eq!(ids.iter().filter(|id| **id == 0.0).count(), 12);
    assert_eq!(ids.iter().filter(|id| **id == 1.0).count(), 12);
    // sRGB 200 is linear 0.578 -> 147; alpha is copied.
    assert_eq!(
        &p.view(&accessor("COLOR_0")["bufferView"])[..4],
        &[147, 116, 90, 255]
    );

    let material = &json["materials"][primitive["material"].as_u64().expect("material") as usize];
    assert_eq!(material["doubleSided"], true);
    assert_eq!(material["pbrMetallicRoughness"]["metallicFactor"], 0.0);
    assert!(
        material["pbrMetallicRoughness"]["roughnessFactor"]
            .as_f64()
            .is_some_and(|r| (r - 0.9).abs() < 1e-6)
    );

    assert_eq!(
        json["extensionsUsed"],
        serde_json::json!(["EXT_mesh_features", "EXT_structural_metadata"])
    );
    assert!(json.get("extensionsRequired").is_none());
    assert_eq!(
        primitive["extensions"]["EXT_mesh_features"],
        serde_json::json!({ "featureIds": [{ "featureCount": 2, "attribute": 0, "propertyTable": 0 }] })
    );
}

#[test]
fn property_table_stores_every_type_with_no_data_sentinels() {
    let glb = write_glb(&cube(), &schema(), &table()).expect("valid input");
    let p = parse(&glb);
    let metadata = &p.json["extensions"]["EXT_structural_metadata"];
    assert_eq!(metadata["schema"], schema().to_json());
    let t = &metadata["propertyTables"][0];
    assert_eq!(t["class"], "building");
    assert_eq!(t["count"], 2);
    assert_eq!(t["properties"].as_object().map(|o| o.len()), Some(12));
    for view in p.json["bufferViews"].as_array().expect("views") {
        assert_eq!(
            view["byteOffset"].as_u64().unwrap_or(0) % 8,
            0,
            "8-byte aligned: {view}"
        );
    }

    assert_eq!(p.strings("name"), ["Storgatan 1", ""]);
    assert_eq!(p.strings("address"), ["Åvägen 2", "\u{0}"]);
    assert_eq!(p.table_property("address")["stringOffsetType"], "UINT32");
    assert_eq!(p.column("listed"), &[0b01], "bitstream, LSB first");
    assert_eq!(
        p.column("heated"),
        &[1, 2],
        "nullable boolean as UINT8 enum: true, null"
    );
    let class = &metadata["schema"]["classes"]["building"]["properties"];
    assert_eq!(class["heated"]["enumType"], NULLABLE_BOOLEAN_ENUM);
    assert_eq!(class["listed"]["type"], "BOOLEAN");
    assert_eq!(
        p.column("floors"),
        [3i32.to_le_bytes(), (-1i32).to_le_bytes()].concat()
    );
    assert_eq!(
        p.column("apartments"),
        [12i32.to_le_bytes(), i32::MIN.to_le_bytes()].concat()
    );
    assert_eq!(class["apartments"]["noData"], i32::MIN);
    assert_eq!(
        p.column("objectId"),
        [(1i64 << 40).to_le_bytes(), 7i64.to_le_bytes()].concat()
    );
    assert_eq!(
        p.column("propertyId"),
        [(-5i64).to_le_bytes(), i64::MIN.to_le_bytes()].concat()
    );
    assert_eq!(class["propertyId"]["noData"], i64::MIN);
    assert_eq!(
        p.column("height"),
        [9.5f64.to_le_bytes(), 0.0f64.to_le_bytes()].concat()
    );
    assert_eq!(
        p.column("energy"),
        [120.25f64.to_le_bytes(), f64::MIN.to_le_bytes()].concat()
    );
    assert_eq!(class["energy"]["noData"], f64::MIN);
    assert_eq!(
        p.column("purpose"),
        [1u16.to_le_bytes(), 0u16.to_le_bytes()].concat()
    );
    assert_eq!(
        p.column("formerPurpose"),
        [0u16.to_le_bytes(), 2u16.to_le_bytes()].concat()
    );
    assert_eq!(class["formerPurpose"]["noData"], "null");
    assert_eq!(class["purpose"]["required"], true);
    assert_eq!(class["formerPurpose"]["required"], false);
    assert_eq!(
        metadata["schema"]["enums"]["purpose"]["values"][2]["name"],
        "null"
    );
}

#[test]
fn same_input_gives_identical_bytes() {
    let a = write_glb(&cube(), &schema(), &table()).expect("valid input");
    let b = write_glb(&cube(), &schema(), &table()).expect("valid input");
    assert_eq!(a, b);
}

#[test]
fn uses_unsigned_int_indices_above_65535_vertices() {
    let mut mesh = Mesh::default();
    for i in 0..65_536u32 {
        mesh.positions.push([i as f32, 0.0, 0.0]);
        mesh.normals.push([0.0, 1.0, 0.0]);
        mesh.colors.push([0, 0, 0, 255]);
        mesh.feature_ids.push(0);
    }
    mesh.indices = vec![0, 1, 65_535];
    let s = Schema {
        id: "s".into(),
        class_id: "c".into(),
        properties: vec![],
        enums: vec![],
    };
    let t = PropertyTable {
        count: 1,
        columns: vec![],
    };
    let p = parse(&write_glb(&mesh, &s, &t).expect("valid input"));
    assert_eq!(p.json["accessors"][4]["componentType"], 5125);
    assert_eq!(
        p.json["accessors"][0]["max"],
        serde_json::json!([65535.0, 0.0, 0.0])
    );
}

#[test]
fn all_empty_strings_still_get_a_non_empty_buffer_view() {
    let s = Schema {
        id: "s".into(),
        class_id: "c".into(),
        properties: vec![prop("x", PropertyType::String, false)],
        enums: vec![],
    };
    let t = PropertyTable {
        count: 2,
        columns: vec![Values::String(vec![
            Some(String::new()),
            Some(String::new()),
        ])],
    };
    let mut mesh = cube();
    mesh.feature_ids.fill(0);
    let p = parse(&write_glb(&mesh, &s, &t).expect("valid input"));
    assert_eq!(p.strings("x"), ["", ""]);
    assert!(!p.column("x").is_empty());
}

#[test]
fn rejects_bad_meshes_and_tables_with_a_message() {
    let s = schema();
    let t = table();
    let mut cases: Vec<(Mesh, PropertyTable, &str)> = Vec::new();
    cases.push((Mesh::default(), t.clone(), "empty"));
    let mut m = cube();
    m.normals.pop();
    cases.push((m, t.clone(), "23 normals"));
    let mut m = cube();
    m.colors.push([0; 4]);
    cases.push((m, t.clone(), "25 colors"));
    let mut m = cube();
    m.feature_ids.truncate(3);
    cases.push((m, t.clone(), "3 feature ids"));
    let mut m = cube();
    m.feature_ids[5] = 2;
    cases.push((m, t.clone(), "feature id 2"));
    let mut m = cube();
    m.indices.push(0);
    cases.push((m, t.clone(), "multiple of 3"));
    let mut m = cube();
    m.indices[7] = 24;
    cases.push((m, t.clone(), "index 7 is 24"));
    let mut m = cube();
    m.normals[4] = [0.0, 0.0, 0.0];
    cases.push((m, t.clone(), "vertex 4 has normal"));
    let mut m = cube();
    m.positions[2][1] = f32::NAN;
    cases.push((m, t.clone(), "non-finite"));
    let mut short = t.clone();
    short.columns.pop();
    cases.push((cube(), short, "11 columns"));
    let mut wrong = t.clone();
    wrong.columns[4] = Values::Float64(vec![Some(1.0), Some(2.0)]);
    cases.push((cube(), wrong, "declared Int32"));
    for (mesh, table, want) in cases {
        match write_glb(&mesh, &s, &table) {
            Err(Error::BadInput(m)) => assert!(m.contains(want), "{m:?} should mention {want:?}"),
            other => panic!("expected BadInput mentioning {want:?}, got {other:?}"),
        }
    }
}

#[test]
fn srgb_to_linear_keeps_the_ends_and_darkens_the_middle() {
    assert_eq!(srgb_to_linear(0), 0);
    assert_eq!(srgb_to_linear(255), 255);
    assert_eq!(srgb_to_linear(128), 55);
}
