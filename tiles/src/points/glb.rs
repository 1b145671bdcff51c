//! glb content of one point tile: one `POINTS` primitive, no indices, no material.
//!
//! Layout, and why:
//!
//! - `POSITION`: `UNSIGNED_SHORT` `VEC3`, not normalized (`KHR_mesh_quantization`, required), padded to
//!   an 8-byte stride since vertex attribute elements start on 4-byte boundaries (glTF 2.0 §3.6.2.4).
//!   The node's `translation` (the content's lower corner) and `scale` (the step per axis) turn the
//!   integers back into metres. 16 bits over a tile's extent: a 1 km root has 1.5 cm steps, far below
//!   its sample spacing of 8 m; leaves are metres across, so steps are sub-millimetre.
//! - `COLOR_0`: `UNSIGNED_BYTE` normalized `VEC4`, linear (glTF's `COLOR_0` is linear, §3.7.2.1).
//! - `_INTENSITY` (`UNSIGNED_SHORT`) and `_CLASSIFICATION` (`UNSIGNED_BYTE`) `SCALAR`, each padded to
//!   a 4-byte stride, bound to the properties `intensity` and `classification` of the class `point`
//!   through an `EXT_structural_metadata` property attribute. That is how 3D Tiles 1.1 carries per-point
//!   values (what CesiumJS's own pnts → glTF conversion produces); CesiumJS exposes them to
//!   `Cesium3DTileStyle` expressions (`${classification} === 6`) and to custom shaders
//!   (`vsInput.metadata.intensity`).
//! - every stream goes through the shared buffer builder of [`crate::glb`], so
//!   `EXT_meshopt_compression` (mode `ATTRIBUTES`) works as for buildings.

use std::collections::BTreeMap;

use gltf_json::accessor::{ComponentType, Type};
use gltf_json::mesh::{Mode, Primitive, Semantic};
use gltf_json::validation::Checked;
use gltf_json::{Asset, Node, Root, Scene};
use serde_json::{Value, json};

use super::{CLASS, schema_json};
use crate::glb::writer::{BinBuilder, accessor, container, index};
use crate::glb::{Compression, EXT_STRUCTURAL_METADATA, srgb_to_linear};
use crate::{Error, Result};

/// Name of the glTF extension for quantized vertex attributes.
pub const KHR_MESH_QUANTIZATION: &str = "KHR_mesh_quantization";
/// Largest quantized coordinate.
const Q: f64 = 65_535.0;

/// The points of one tile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cloud {
    /// Positions in metres, in glTF's y-up axes (east, up, −north), relative to the tile's origin.
    pub positions: Vec<[f64; 3]>,
    /// sRGB colours (stored linear).
    pub colors: Vec<[u8; 3]>,
    /// LAS intensity.
    pub intensity: Vec<u16>,
    /// LAS classification code.
    pub classification: Vec<u8>,
}

/// Writes the glb.
pub fn write(cloud: &Cloud, compression: Compression) -> Result<Vec<u8>> {
    let n = cloud.positions.len();
    if n == 0
        || cloud.colors.len() != n
        || cloud.intensity.len() != n
        || cloud.classification.len() != n
    {
        return Err(Error::Internal(format!(
            "point tile with {n} positions, {} colours, {} intensities, {} classes",
            cloud.colors.len(),
            cloud.intensity.len(),
            cloud.classification.len()
        )));
    }
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in &cloud.positions {
        for k in 0..3 {
            if !p[k].is_finite() {
                return Err(Error::Internal(format!("non-finite point position {p:?}")));
            }
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    // One step per axis; a flat axis keeps step 1 (every value quantizes to 0).
    let step = [0, 1, 2].map(|k| {
        let s = (hi[k] - lo[k]) / Q;
        if s > 0.0 { s } else { 1.0 }
    });
    let mut qmin = [u16::MAX; 3];
    let mut qmax = [0u16; 3];
    let mut pos = Vec::with_capacity(n * 8);
    for p in &cloud.positions {
        for k in 0..3 {
            // In 0..=65535 by construction of lo and step; the clamp only guards rounding.
            let q = ((p[k] - lo[k]) / step[k]).round().clamp(0.0, Q) as u16;
            qmin[k] = qmin[k].min(q);
            qmax[k] = qmax[k].max(q);
            pos.extend_from_slice(&q.to_le_bytes());
        }
        pos.extend_from_slice(&[0, 0]);
    }
    let mut bin = BinBuilder::new(compression);
    let mut root = Root {
        asset: Asset {
            generator: Some("tvilling".into()),
            version: "2.0".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let view = bin.push_attribute::<8>(&pos)?;
    bin.set_stride(view, 8);
    let mut positions = accessor(view, n, ComponentType::U16, Type::Vec3, false);
    positions.min = Some(json!(qmin));
    positions.max = Some(json!(qmax));
    root.accessors.push(positions);

    // One transfer-function evaluation per byte value, not three per point.
    let linear: [u8; 256] = std::array::from_fn(|i| srgb_to_linear(i as u8));
    let colors: Vec<u8> = cloud
        .colors
        .iter()
        .flat_map(|c| {
            [
                linear[usize::from(c[0])],
                linear[usize::from(c[1])],
                linear[usize::from(c[2])],
                255,
            ]
        })
        .collect();
    let view = bin.push_attribute::<4>(&colors)?;
    root.accessors
        .push(accessor(view, n, ComponentType::U8, Type::Vec4, true));

    let intensity: Vec<u8> = cloud
        .intensity
        .iter()
        .flat_map(|i| {
            let [a, b] = i.to_le_bytes();
            [a, b, 0, 0]
        })
        .collect();
    let view = bin.push_attribute::<4>(&intensity)?;
    bin.set_stride(view, 4);
    root.accessors
        .push(accessor(view, n, ComponentType::U16, Type::Scalar, false));

    let classes: Vec<u8> = cloud
        .classification
        .iter()
        .flat_map(|c| [*c, 0, 0, 0])
        .collect();
    let view = bin.push_attribute::<4>(&classes)?;
    bin.set_stride(view, 4);
    root.accessors
        .push(accessor(view, n, ComponentType::U8, Type::Scalar, false));

    let mut attributes = BTreeMap::new();
    attributes.insert(Checked::Valid(Semantic::Positions), index(0)?);
    attributes.insert(Checked::Valid(Semantic::Colors(0)), index(1)?);
    let mut primitive_extensions = gltf_json::extensions::mesh::Primitive::default();
    primitive_extensions.others.insert(
        EXT_STRUCTURAL_METADATA.into(),
        json!({ "propertyAttributes": [0] }),
    );
    root.meshes.push(gltf_json::Mesh {
        extensions: None,
        extras: Default::default(),
        primitives: vec![Primitive {
            attributes,
            extensions: Some(primitive_extensions),
            extras: Default::default(),
            indices: None,
            material: None,
            mode: Checked::Valid(Mode::Points),
            targets: None,
        }],
        weights: None,
    });
    // Dequantization (KHR_mesh_quantization): position = translation + scale × stored integer.
    root.nodes.push(Node {
        mesh: Some(index(0)?),
        translation: Some(lo.map(|v| v as f32)),
        scale: Some(step.map(|v| v as f32)),
        ..Default::default()
    });
    root.scenes.push(Scene {
        extensions: None,
        extras: Default::default(),
        nodes: vec![index(0)?],
    });
    root.scene = Some(index(0)?);
    let mut root_extensions = gltf_json::extensions::root::Root::default();
    root_extensions.others.insert(
        EXT_STRUCTURAL_METADATA.into(),
        json!({
            "schema": schema_json(),
            "propertyAttributes": [{
                "class": CLASS,
                "properties": {
                    "intensity": { "attribute": "_INTENSITY" },
                    "classification": { "attribute": "_CLASSIFICATION" },
                },
            }],
        }),
    );
    root.extensions = Some(root_extensions);
    root.extensions_used = vec![KHR_MESH_QUANTIZATION.into(), EXT_STRUCTURAL_METADATA.into()];
    // Without dequantization the integers are no positions: the extension is required.
    root.extensions_required = vec![KHR_MESH_QUANTIZATION.into()];
    let data = bin.finish(&mut root);

    let mut json = serde_json::to_value(&root)
        .map_err(|e| Error::Internal(format!("cannot serialise the glTF document: {e}")))?;
    // Application-specific attribute names (`_NAME`) are not in gltf-json's `Semantic` without its
    // `extras` feature (see glb/writer.rs): added to the JSON here.
    let attrs = json
        .pointer_mut("/meshes/0/primitives/0/attributes")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| Error::Internal("serialised glTF has no primitive attributes".into()))?;
    attrs.insert("_INTENSITY".into(), json!(2));
    attrs.insert("_CLASSIFICATION".into(), json!(3));
    let json = serde_json::to_vec(&json)
        .map_err(|e| Error::Internal(format!("cannot serialise the glTF document: {e}")))?;
    container(json, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::check_tileset;

    fn cloud() -> Cloud {
        Cloud {
            positions: vec![[-1.0, 0.5, 2.0], [1.0, -0.5, -2.0], [0.25, 0.0, 0.0]],
            colors: vec![[255, 0, 0], [0, 255, 0], [0, 0, 255]],
            intensity: vec![1, 40_000, 65_535],
            classification: vec![2, 6, 9],
        }
    }

    /// A one-tile tileset around `glb` at 0° E 0° N whose box is the cloud's extent in z-up axes.
    fn tileset_with(glb: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("t.glb"), glb).expect("write glb");
        let enu = crate::frame::Enu::at(0.0, 0.0, 0.0);
        let tileset = json!({
            "asset": {"version": "1.1"},
            "schema": schema_json(),
            "geometricError": 10.0,
            "root": {
                "transform": enu.to_ecef_matrix(),
                // glTF (x, y, z) = (east, up, −north): east ±1, north ±2, up ±0.5.
                "boundingVolume": {"box": [0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0.5]},
                "geometricError": 0.0,
                "refine": "ADD",
                "content": {"uri": "t.glb"},
            },
        });
        let path = dir.path().join("tileset.json");
        std::fs::write(&path, tileset.to_string()).expect("write tileset");
        (dir, path)
    }

    #[test]
    fn quantized_points_with_property_attributes_pass_the_checker() {
        for compression in [Compression::None, Compression::Meshopt] {
            let glb = write(&cloud(), compression).expect("glb");
            let (_dir, path) = tileset_with(&glb);
            let report = check_tileset(&path).expect("check");
            assert!(report.is_ok(), "{compression:?}: {report}");
        }
    }

    #[test]
    fn checker_reports_a_property_attribute_without_its_vertex_attribute() {
        let glb = write(&cloud(), Compression::None).expect("glb");
        // Rename the attribute in the JSON chunk (same length, so the container stays valid).
        let mut glb = glb;
        let needle = b"\"_INTENSITY\":2";
        let at = glb
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("attribute in the JSON chunk");
        glb[at + 10] = b'Z';
        let (_dir, path) = tileset_with(&glb);
        let report = check_tileset(&path).expect("check");
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.contains("_INTENSITY") && p.contains("does not have")),
            "{report}"
        );
    }

    #[test]
    fn refuses_mismatched_attribute_lengths() {
        let mut c = cloud();
        c.intensity.pop();
        assert!(write(&c, Compression::None).is_err());
    }
}
