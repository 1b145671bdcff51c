//! Conformance: glb content from `write_glb` must pass the Khronos glTF-Validator with no errors (house
//! rule 20). Needs Node.js and `tools/validators/node_modules` (`scripts/bootstrap.sh` installs both); the
//! test fails, never skips, when they are missing.

use std::path::PathBuf;

use tvilling_tiles::glb::{Mesh, write_glb};
use tvilling_tiles::metadata::{EnumDef, PropertyDef, PropertyTable, PropertyType, Schema, Values};

/// A 2 m cube, 24 vertices, 12 triangles; faces with positive normals are feature 0, the rest feature 1.
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
                p[v] = b * sign;
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

/// A flat `w` x `h` vertex grid (1 m spacing, y up) with two triangles per cell; row `r` of cells is
/// feature `r / rows_per_feature`.
fn grid(w: u32, h: u32, rows_per_feature: u32) -> Mesh {
    let mut mesh = Mesh::default();
    for j in 0..h {
        for i in 0..w {
            mesh.positions.push([i as f32, 0.0, -(j as f32)]);
            mesh.normals.push([0.0, 1.0, 0.0]);
            mesh.colors
                .push([(i % 256) as u8, (j % 256) as u8, 128, 255]);
            mesh.feature_ids.push(j.min(h - 2) / rows_per_feature);
        }
    }
    for j in 0..h - 1 {
        for i in 0..w - 1 {
            let a = j * w + i;
            mesh.indices
                .extend([a, a + 1, a + w + 1, a, a + w + 1, a + w]);
        }
    }
    mesh
}

fn prop(id: &str, ty: PropertyType, nullable: bool) -> PropertyDef {
    PropertyDef {
        id: id.into(),
        name: id.replace('_', " "),
        ty,
        nullable,
    }
}

fn schema(properties: Vec<PropertyDef>, enums: Vec<EnumDef>) -> Schema {
    Schema {
        id: "exempelby".into(),
        class_id: "building".into(),
        properties,
        enums,
    }
}

fn heights(count: usize) -> (Schema, PropertyTable) {
    let s = schema(
        vec![
            prop("height", PropertyType::Float64, false),
            prop("name", PropertyType::String, true),
        ],
        vec![],
    );
    let t = PropertyTable {
        count,
        columns: vec![
            Values::Float64((0..count).map(|i| Some(3.0 + i as f64)).collect()),
            Values::String(
                (0..count)
                    .map(|i| (i % 3 != 0).then(|| format!("Hus {i}")))
                    .collect(),
            ),
        ],
    };
    (s, t)
}

fn purpose_enum() -> EnumDef {
    EnumDef {
        id: "purpose".into(),
        values: vec![
            "bostad".into(),
            "industri".into(),
            "samhällsfunktion".into(),
        ],
    }
}

/// Every property type, required and nullable, with nulls in row 1.
fn all_types() -> (Schema, PropertyTable) {
    let kind = || PropertyType::Enum {
        enum_id: "purpose".into(),
    };
    let s = schema(
        vec![
            prop("name", PropertyType::String, false),
            prop("address", PropertyType::String, true),
            prop("listed", PropertyType::Boolean, false),
            prop("heated", PropertyType::Boolean, true),
            prop("floors", PropertyType::Int32, false),
            prop("apartments", PropertyType::Int32, true),
            prop("object_id", PropertyType::Int64, false),
            prop("property_id", PropertyType::Int64, true),
            prop("height", PropertyType::Float64, false),
            prop("energy", PropertyType::Float64, true),
            prop("purpose", kind(), false),
            prop("former_purpose", kind(), true),
        ],
        vec![purpose_enum()],
    );
    let t = PropertyTable {
        count: 2,
        columns: vec![
            Values::String(vec![Some("Storgatan 1".into()), Some(String::new())]),
            Values::String(vec![Some("Åvägen 2".into()), None]),
            Values::Boolean(vec![Some(true), Some(false)]),
            Values::Boolean(vec![Some(true), None]),
            Values::Int32(vec![Some(3), Some(-1)]),
            Values::Int32(vec![Some(12), None]),
            Values::Int64(vec![Some(1 << 40), Some(7)]),
            Values::Int64(vec![Some(-5), None]),
            Values::Float64(vec![Some(9.5), Some(0.0)]),
            Values::Float64(vec![Some(120.25), None]),
            Values::Enum(vec![Some(2), Some(0)]),
            Values::Enum(vec![Some(1), None]),
        ],
    };
    (s, t)
}

#[test]
fn written_glbs_pass_gltf_validator_without_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut files: Vec<PathBuf> = Vec::new();
    let mut write = |name: &str, mesh: &Mesh, (s, t): (Schema, PropertyTable)| {
        let glb = write_glb(mesh, &s, &t).unwrap_or_else(|e| panic!("{name}: {e}"));
        let path = dir.path().join(name);
        std::fs::write(&path, glb).expect("write glb");
        files.push(path);
    };

    write("cube.glb", &cube(), heights(2));
    // 350 x 200 = 70 000 vertices: UNSIGNED_INT indices.
    write("large.glb", &grid(350, 200, 10), heights(20));
    write("all_types.glb", &cube(), all_types());
    let enums = schema(
        vec![
            prop(
                "purpose",
                PropertyType::Enum {
                    enum_id: "purpose".into(),
                },
                false,
            ),
            prop(
                "former",
                PropertyType::Enum {
                    enum_id: "purpose".into(),
                },
                true,
            ),
        ],
        vec![purpose_enum()],
    );
    let enum_table = PropertyTable {
        count: 2,
        columns: vec![
            Values::Enum(vec![Some(0), Some(2)]),
            Values::Enum(vec![None, Some(1)]),
        ],
    };
    write("enum.glb", &cube(), (enums, enum_table));
    let mut single = grid(2, 2, 1);
    single.feature_ids.fill(0);
    write("single_feature.glb", &single, heights(1));

    let reports = tvilling_fixtures::gltf_validator::validate(&files).unwrap_or_else(|e| {
        panic!("glTF-Validator did not run: {e}\nRun scripts/bootstrap.sh to install Node.js and tools/validators.")
    });
    assert_eq!(reports.len(), files.len());
    let mut failed = Vec::new();
    for r in &reports {
        eprintln!(
            "{}: {} errors, {} warnings, {} infos\n  {}\n  {}",
            r.file,
            r.errors,
            r.warnings,
            r.infos,
            r.messages.join("\n  "),
            r.info_messages.join("\n  ")
        );
        if r.errors > 0 {
            failed.push(format!("{}: {:?}", r.file, r.messages));
        }
    }
    assert!(
        failed.is_empty(),
        "glTF-Validator errors:\n{}",
        failed.join("\n")
    );
}
