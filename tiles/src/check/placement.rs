//! Is a glb's geometry inside its tile's bounding volume? (3D Tiles 1.1 §"Bounding volumes": a tile's
//! bounding volume encloses its content.)
//!
//! Each primitive's POSITION `min`/`max` box goes through the transforms 3D Tiles 1.1 §"glTF
//! transforms" lists, innermost first: the glTF node hierarchy (`matrix` or `T · R · S`), the y-up to
//! z-up rotation, the `CESIUM_RTC` centre, and the tile's frame (where `box` and `sphere` volumes
//! live; a `region` is compared in geodetic coordinates after the full chain to ECEF).
//!
//! The 8 corners of the min/max box are tested first. The box of rotated or curved content is larger
//! than the content, so when a corner falls outside, the vertices themselves decide (when the
//! accessor is plain float data); only vertices outside are reported.

use serde_json::Value;

use super::glb::{FLOAT, Glb, scene_roots};
use super::volume::{self, IDENTITY, Mat4, Volume, Y_UP_TO_Z_UP, mul, numbers, translation, trs};
use super::{field, index};

/// A volume the content must lie in, with a label for messages ("tile box", "content region").
pub(crate) struct Bound<'a> {
    /// What the volume is, for messages.
    pub label: String,
    /// The volume.
    pub volume: &'a Volume,
}

/// Checks every rendered primitive of the glb against each bound. `tile_to_ecef` maps the tile's
/// frame to ECEF (used by region volumes).
pub(crate) fn check_placement(
    glb: &Glb,
    bounds: &[Bound<'_>],
    tile_to_ecef: &Mat4,
    problems: &mut Vec<String>,
) {
    let json = &glb.json;
    // CESIUM_RTC's centre is in the z-up frame, applied after the axis rotation (as CesiumJS does).
    let rtc = match numbers::<3>(field(
        field(field(json, "extensions"), "CESIUM_RTC"),
        "center",
    )) {
        Some(c) => translation(c),
        None => IDENTITY,
    };
    let content_to_tile = mul(&rtc, &Y_UP_TO_Z_UP);
    let nodes = field(json, "nodes")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut stack: Vec<(usize, Mat4)> = scene_roots(json)
        .into_iter()
        .rev()
        .map(|n| (n, content_to_tile))
        .collect();
    // A malformed hierarchy (cycle, shared child) is reported by the structure check; the budget only
    // keeps this walk finite.
    let mut budget = nodes.len().saturating_mul(4) + 16;
    while let Some((n, parent)) = stack.pop() {
        if budget == 0 {
            break;
        }
        budget -= 1;
        let Some(node) = nodes.get(n) else { continue };
        let world = mul(&parent, &node_matrix(node));
        if let Some(m) = index(node, "mesh") {
            if field(field(node, "extensions"), "EXT_mesh_gpu_instancing").is_null() {
                check_mesh(glb, n, m, &world, bounds, tile_to_ecef, problems);
            } else {
                problems.push(format!(
                    "node {n} uses EXT_mesh_gpu_instancing, whose instances this checker does not place"
                ));
            }
        }
        for child in field(node, "children")
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .rev()
        {
            if let Some(c) = child.as_u64() {
                stack.push((c as usize, world));
            }
        }
    }
}

/// A node's local matrix: `matrix` when given, else `T · R · S` with glTF's defaults.
fn node_matrix(node: &Value) -> Mat4 {
    if let Some(m) = numbers::<16>(field(node, "matrix")) {
        return m;
    }
    let t = numbers::<3>(field(node, "translation")).unwrap_or([0.0; 3]);
    let r = numbers::<4>(field(node, "rotation")).unwrap_or([0.0, 0.0, 0.0, 1.0]);
    let s = numbers::<3>(field(node, "scale")).unwrap_or([1.0; 3]);
    trs(t, r, s)
}

fn check_mesh(
    glb: &Glb,
    node: usize,
    mesh: usize,
    to_tile: &Mat4,
    bounds: &[Bound<'_>],
    tile_to_ecef: &Mat4,
    problems: &mut Vec<String>,
) {
    let prims = field(&glb.json, "meshes")
        .get(mesh)
        .and_then(|m| field(m, "primitives").as_array())
        .map_or(&[][..], Vec::as_slice);
    for (p, prim) in prims.iter().enumerate() {
        let Some(position) = index(field(prim, "attributes"), "POSITION") else {
            continue;
        };
        let Some(acc) = field(&glb.json, "accessors").get(position) else {
            continue;
        };
        // Missing min/max is reported by the structure check; nothing to place without them.
        let (Some(min), Some(max)) = (
            numbers::<3>(field(acc, "min")),
            numbers::<3>(field(acc, "max")),
        ) else {
            continue;
        };
        let corners: Vec<[f64; 3]> = (0..8)
            .map(|k| {
                [
                    if k & 1 == 0 { min[0] } else { max[0] },
                    if k & 2 == 0 { min[1] } else { max[1] },
                    if k & 4 == 0 { min[2] } else { max[2] },
                ]
            })
            .collect();
        for bound in bounds {
            let tol = bound.volume.tolerance();
            let (corner_excess, corner_at) = worst(&corners, to_tile, bound.volume, tile_to_ecef);
            if corner_excess <= tol {
                continue;
            }
            // The corners stick out; let the vertices decide when they can be read.
            let vertices = glb
                .accessor(position)
                .ok()
                .filter(|d| d.component_type == FLOAT && d.components == 3 && !d.normalized);
            let (excess, at, what) = match vertices {
                Some(data) => {
                    let points: Vec<[f64; 3]> =
                        (0..data.count).filter_map(|i| data.vec3(i)).collect();
                    let (excess, at) = worst(&points, to_tile, bound.volume, tile_to_ecef);
                    (excess, at, "vertex")
                }
                None => (corner_excess, corner_at, "min/max corner"),
            };
            if excess > tol {
                let local = volume::apply(to_tile, at);
                problems.push(format!(
                    "mesh {mesh} primitive {p} (node {node}) lies up to {excess:.3} m outside the {} (tolerance {tol:.3} m); worst {what} {at:?} is at {local:.3?} in the tile frame",
                    bound.label
                ));
            }
        }
    }
}

/// The largest excess over `points` (content coordinates) and the point that has it.
fn worst(points: &[[f64; 3]], to_tile: &Mat4, v: &Volume, tile_to_ecef: &Mat4) -> (f64, [f64; 3]) {
    let mut best = (0.0, [0.0; 3]);
    for p in points {
        let e = v.outside_by(volume::apply(to_tile, *p), tile_to_ecef);
        // NaN (non-finite coordinates) counts as outside.
        if e.is_nan() || e > best.0 {
            best = (if e.is_nan() { f64::INFINITY } else { e }, *p);
        }
    }
    best
}
