//! Test-only builders: a tiny glb writer (positions, float feature IDs, a property table) and a
//! hand-made tileset, written from the specs like the checker and independent of the crate's writer.

use std::path::Path;

use serde_json::{Value, json};

use super::geodesy::tests::geodetic_to_ecef;

/// A glb under construction: its JSON and its BIN chunk.
pub(super) struct GlbBuilder {
    pub json: Value,
    pub bin: Vec<u8>,
}

impl GlbBuilder {
    pub fn new() -> Self {
        GlbBuilder {
            json: json!({
                "asset": {"version": "2.0"},
                "buffers": [], "bufferViews": [], "accessors": [], "meshes": [], "nodes": [],
                "scenes": [{"nodes": []}], "scene": 0
            }),
            bin: Vec::new(),
        }
    }

    fn push(&mut self, list: &str, item: Value) -> usize {
        let arr = self.json[list].as_array_mut().unwrap();
        arr.push(item);
        arr.len() - 1
    }

    /// Appends bytes as a buffer view starting on an 8-byte boundary.
    pub fn view(&mut self, bytes: &[u8]) -> usize {
        while !self.bin.len().is_multiple_of(8) {
            self.bin.push(0);
        }
        let offset = self.bin.len();
        self.bin.extend_from_slice(bytes);
        self.push(
            "bufferViews",
            json!({"buffer": 0, "byteOffset": offset, "byteLength": bytes.len()}),
        )
    }

    /// A float VEC3 POSITION accessor with min/max.
    pub fn positions(&mut self, pts: &[[f32; 3]]) -> usize {
        let bytes: Vec<u8> = pts.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
        let view = self.view(&bytes);
        let mut min = [f32::MAX; 3];
        let mut max = [f32::MIN; 3];
        for p in pts {
            for c in 0..3 {
                min[c] = min[c].min(p[c]);
                max[c] = max[c].max(p[c]);
            }
        }
        self.push(
            "accessors",
            json!({"bufferView": view, "componentType": 5126, "type": "VEC3",
                   "count": pts.len(), "min": min, "max": max}),
        )
    }

    /// A float SCALAR accessor (feature IDs).
    pub fn floats(&mut self, values: &[f32]) -> usize {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let view = self.view(&bytes);
        self.push(
            "accessors",
            json!({"bufferView": view, "componentType": 5126, "type": "SCALAR", "count": values.len()}),
        )
    }

    /// A mesh with one primitive and a root node showing it, optionally translated.
    pub fn mesh_node(&mut self, primitive: Value, translation: Option<[f64; 3]>) -> usize {
        let mesh = self.push("meshes", json!({"primitives": [primitive]}));
        let mut node = json!({"mesh": mesh});
        if let Some(t) = translation {
            node["translation"] = json!(t);
        }
        let n = self.push("nodes", node);
        self.json["scenes"][0]["nodes"]
            .as_array_mut()
            .unwrap()
            .push(json!(n));
        n
    }

    pub fn build(mut self) -> Vec<u8> {
        if !self.bin.is_empty() {
            self.json["buffers"] = json!([{"byteLength": self.bin.len()}]);
        }
        assemble(&self.json, &self.bin)
    }
}

/// Writes a GLB: header, space-padded JSON chunk, zero-padded BIN chunk (glTF 2.0 §4.4).
pub(super) fn assemble(json: &Value, bin: &[u8]) -> Vec<u8> {
    let mut j = serde_json::to_vec(json).unwrap();
    while !j.len().is_multiple_of(4) {
        j.push(b' ');
    }
    let mut b = bin.to_vec();
    while !b.len().is_multiple_of(4) {
        b.push(0);
    }
    let total = 12 + 8 + j.len() + if b.is_empty() { 0 } else { 8 + b.len() };
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(j.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&j);
    if !b.is_empty() {
        out.extend_from_slice(&(b.len() as u32).to_le_bytes());
        out.extend_from_slice(b"BIN\0");
        out.extend_from_slice(&b);
    }
    out
}

/// East-north-up (metres) to glTF's y-up axes: 3D Tiles turns glTF (x, y, z) into (x, −z, y), so the
/// inverse takes (e, n, u) to (e, u, −n).
pub(super) fn enu_to_gltf(p: [f64; 3]) -> [f32; 3] {
    [p[0] as f32, p[2] as f32, -p[1] as f32]
}

/// The 8 corners of an axis-aligned box in ENU metres, as glTF positions.
pub(super) fn box_corners(min: [f64; 3], max: [f64; 3]) -> Vec<[f32; 3]> {
    (0..8)
        .map(|k| {
            enu_to_gltf([
                if k & 1 == 0 { min[0] } else { max[0] },
                if k & 2 == 0 { min[1] } else { max[1] },
                if k & 4 == 0 { min[2] } else { max[2] },
            ])
        })
        .collect()
}

/// Column-major ENU → ECEF transform at a geodetic origin.
pub(super) fn enu_frame(lon_deg: f64, lat_deg: f64, h: f64) -> [f64; 16] {
    let (lon, lat) = (lon_deg.to_radians(), lat_deg.to_radians());
    let o = geodetic_to_ecef(lon_deg, lat_deg, h);
    let e = [-lon.sin(), lon.cos(), 0.0];
    let n = [-lat.sin() * lon.cos(), -lat.sin() * lon.sin(), lat.cos()];
    let u = [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()];
    [
        e[0], e[1], e[2], 0.0, n[0], n[1], n[2], 0.0, u[0], u[1], u[2], 0.0, o[0], o[1], o[2], 1.0,
    ]
}

/// The metadata schema shared by the test tileset and its glb.
pub(super) fn schema() -> Value {
    json!({
        "id": "tvilling_test",
        "classes": {"building": {"properties": {
            "height": {"type": "SCALAR", "componentType": "FLOAT64", "required": true},
            "name": {"type": "STRING"},
            "kind": {"type": "ENUM", "enumType": "kind"}
        }}},
        "enums": {"kind": {"valueType": "UINT8", "values": [
            {"name": "house", "value": 0}, {"name": "shed", "value": 1}
        ]}}
    })
}

/// One glb with a box-shaped building per `(min, max)` ENU box. With `metadata`, every vertex carries
/// its building's feature ID and a property table holds height, name and kind per building. The mesh
/// is placed through a node translation so the node path is exercised: positions are stored relative
/// to the first box's minimum corner.
pub(super) fn buildings_glb(boxes: &[([f64; 3], [f64; 3])], metadata: bool) -> GlbBuilder {
    let mut g = GlbBuilder::new();
    let origin = boxes[0].0;
    let shift = |p: [f64; 3]| [p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]];
    let mut pts = Vec::new();
    let mut ids = Vec::new();
    for (i, (min, max)) in boxes.iter().enumerate() {
        pts.extend(box_corners(shift(*min), shift(*max)));
        ids.extend(std::iter::repeat_n(i as f32, 8));
    }
    let position = g.positions(&pts);
    let mut prim = json!({"attributes": {"POSITION": position}, "mode": 0});
    if metadata {
        let fid = g.floats(&ids);
        prim["attributes"]["_FEATURE_ID_0"] = json!(fid);
        prim["extensions"] = json!({"EXT_mesh_features": {"featureIds": [
            {"featureCount": boxes.len(), "attribute": 0, "propertyTable": 0}
        ]}});
        let heights: Vec<u8> = boxes
            .iter()
            .flat_map(|(a, b)| (b[2] - a[2]).to_le_bytes())
            .collect();
        let names: Vec<String> = (0..boxes.len()).map(|i| format!("hus {i} å")).collect();
        let mut offsets = vec![0u32];
        for n in &names {
            offsets.push(offsets.last().unwrap() + n.len() as u32);
        }
        let offset_bytes: Vec<u8> = offsets.iter().flat_map(|o| o.to_le_bytes()).collect();
        let kinds: Vec<u8> = (0..boxes.len()).map(|i| (i % 2) as u8).collect();
        let h = g.view(&heights);
        let s = g.view(names.concat().as_bytes());
        let so = g.view(&offset_bytes);
        let k = g.view(&kinds);
        g.json["extensionsUsed"] = json!(["EXT_mesh_features", "EXT_structural_metadata"]);
        g.json["extensions"] = json!({"EXT_structural_metadata": {
            "schema": schema(),
            "propertyTables": [{"class": "building", "count": boxes.len(), "properties": {
                "height": {"values": h},
                "name": {"values": s, "stringOffsets": so},
                "kind": {"values": k}
            }}]
        }});
    }
    // ENU origin shift becomes a glTF node translation (in glTF's y-up axes).
    let t = enu_to_gltf(origin);
    g.mesh_node(
        prim,
        Some([f64::from(t[0]), f64::from(t[1]), f64::from(t[2])]),
    );
    g
}

/// The boxes of the test tileset: one building in the west child, two in the east child (ENU metres
/// around the root origin).
pub(super) const WEST: [([f64; 3], [f64; 3]); 1] = [([-60.0, -10.0, 0.0], [-40.0, 10.0, 20.0])];
pub(super) const EAST: [([f64; 3], [f64; 3]); 2] = [
    ([20.0, -30.0, 0.0], [40.0, -10.0, 12.0]),
    ([60.0, 40.0, 0.0], [90.0, 90.0, 18.0]),
];

/// Origin of the test tileset's ENU frame: Stockholm-ish, lon 16.0°, lat 59.3°, on the ellipsoid.
pub(super) const ORIGIN: [f64; 3] = [16.0, 59.3, 0.0];

/// A valid tileset: a root box in an ENU frame at [`ORIGIN`], two children with glb content; the east
/// one carries metadata. Returns the tileset JSON for tests to corrupt and rewrite.
pub(super) fn write_valid_tileset(dir: &Path) -> Value {
    std::fs::write(dir.join("west.glb"), buildings_glb(&WEST, false).build()).unwrap();
    std::fs::write(dir.join("east.glb"), buildings_glb(&EAST, true).build()).unwrap();
    let tileset = json!({
        "asset": {"version": "1.1"},
        "geometricError": 100.0,
        "schema": schema(),
        "statistics": {"classes": {"building": {"count": 3, "properties": {"height": {"min": 12, "max": 20}}}}},
        "root": {
            "transform": enu_frame(ORIGIN[0], ORIGIN[1], ORIGIN[2]),
            "boundingVolume": {"box": [0, 0, 10, 100, 0, 0, 0, 100, 0, 0, 0, 10]},
            "geometricError": 50.0,
            "refine": "ADD",
            "children": [
                {
                    "boundingVolume": {"box": [-50, 0, 10, 50, 0, 0, 0, 100, 0, 0, 0, 10]},
                    "geometricError": 0.0,
                    "content": {"uri": "west.glb"}
                },
                {
                    "boundingVolume": {"box": [50, 0, 10, 50, 0, 0, 0, 100, 0, 0, 0, 10]},
                    "geometricError": 0.0,
                    "content": {"uri": "east.glb"}
                }
            ]
        }
    });
    write_json(&dir.join("tileset.json"), &tileset);
    tileset
}

pub(super) fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}
