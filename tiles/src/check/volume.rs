//! Bounding volumes (3D Tiles 1.1 §"Bounding volumes") and the 4×4 matrices that place content in them.
//!
//! Matrices are column-major, as in both 3D Tiles (`tile.transform`) and glTF (`node.matrix`): element
//! `m[c * 4 + r]` is row `r` of column `c`.

use serde_json::Value;

use super::field;
use super::geodesy::{WGS84_A, ecef_to_geodetic};

/// A column-major 4×4 affine matrix.
pub(crate) type Mat4 = [f64; 16];

/// The identity matrix.
pub(crate) const IDENTITY: Mat4 = [
    1.0, 0.0, 0.0, 0.0, //
    0.0, 1.0, 0.0, 0.0, //
    0.0, 0.0, 1.0, 0.0, //
    0.0, 0.0, 0.0, 1.0,
];

/// glTF is y-up and 3D Tiles is z-up, so 3D Tiles 1.1 (§"glTF transforms") rotates glTF content by this
/// matrix after the node hierarchy and before any tile transform: `(x, y, z)` becomes `(x, −z, y)`.
pub(crate) const Y_UP_TO_Z_UP: Mat4 = [
    1.0, 0.0, 0.0, 0.0, //
    0.0, 0.0, 1.0, 0.0, //
    0.0, -1.0, 0.0, 0.0, //
    0.0, 0.0, 0.0, 1.0,
];

/// `a · b`: applies `b` first, then `a`.
pub(crate) fn mul(a: &Mat4, b: &Mat4) -> Mat4 {
    let mut out = [0.0; 16];
    for c in 0..4 {
        for r in 0..4 {
            out[c * 4 + r] = (0..4).map(|k| a[k * 4 + r] * b[c * 4 + k]).sum();
        }
    }
    out
}

/// Applies `m` to the point `p` (w = 1). Tiles and glTF allow only affine matrices, so the bottom row
/// is not used.
pub(crate) fn apply(m: &Mat4, p: [f64; 3]) -> [f64; 3] {
    let [x, y, z] = p;
    [
        m[0] * x + m[4] * y + m[8] * z + m[12],
        m[1] * x + m[5] * y + m[9] * z + m[13],
        m[2] * x + m[6] * y + m[10] * z + m[14],
    ]
}

/// A translation matrix.
pub(crate) fn translation(t: [f64; 3]) -> Mat4 {
    let mut m = IDENTITY;
    m[12] = t[0];
    m[13] = t[1];
    m[14] = t[2];
    m
}

/// glTF's `T · R · S` node matrix (glTF 2.0 §3.5.3) from a translation, a unit quaternion `[x, y, z, w]`
/// and a scale.
pub(crate) fn trs(t: [f64; 3], q: [f64; 4], s: [f64; 3]) -> Mat4 {
    let [x, y, z, w] = q;
    let rotation = [
        1.0 - 2.0 * (y * y + z * z),
        2.0 * (x * y + z * w),
        2.0 * (x * z - y * w),
        0.0,
        2.0 * (x * y - z * w),
        1.0 - 2.0 * (x * x + z * z),
        2.0 * (y * z + x * w),
        0.0,
        2.0 * (x * z + y * w),
        2.0 * (y * z - x * w),
        1.0 - 2.0 * (x * x + y * y),
        0.0,
        0.0,
        0.0,
        0.0,
        1.0,
    ];
    let mut scale = IDENTITY;
    scale[0] = s[0];
    scale[5] = s[1];
    scale[10] = s[2];
    mul(&translation(t), &mul(&rotation, &scale))
}

/// Reads exactly `N` finite numbers from a JSON array.
pub(crate) fn numbers<const N: usize>(v: &Value) -> Option<[f64; N]> {
    let items = v.as_array()?;
    if items.len() != N {
        return None;
    }
    let mut out = [0.0; N];
    for (slot, item) in out.iter_mut().zip(items) {
        *slot = item.as_f64().filter(|x| x.is_finite())?;
    }
    Some(out)
}

/// A tile or content bounding volume, in the frame the spec defines it in: `box` and `sphere` in the
/// tile's local frame (after its own `transform`), `region` in EPSG:4979 regardless of transforms.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Volume {
    /// Oriented box: centre and the three half-axis vectors (each direction × half-length), metres.
    Box {
        /// Centre.
        center: [f64; 3],
        /// Half-axis vectors x, y, z.
        half_axes: [[f64; 3]; 3],
    },
    /// Sphere: centre and radius, metres.
    Sphere {
        /// Centre.
        center: [f64; 3],
        /// Radius.
        radius: f64,
    },
    /// Geographic region: west, south, east, north in radians, heights in metres above WGS 84.
    Region {
        /// West, south, east, north (radians).
        wsen: [f64; 4],
        /// Minimum and maximum ellipsoidal height (metres).
        heights: [f64; 2],
    },
}

impl Volume {
    /// Parses a `boundingVolume` object. Exactly one of `box`, `region`, `sphere` is expected; when a
    /// writer gives more than one we report it, because readers disagree on which wins.
    pub(crate) fn parse(v: &Value) -> Result<Volume, String> {
        let Some(obj) = v.as_object() else {
            return Err("boundingVolume is not an object".into());
        };
        let present: Vec<&str> = ["box", "region", "sphere"]
            .into_iter()
            .filter(|k| obj.contains_key(*k))
            .collect();
        match present.as_slice() {
            [] => Err("boundingVolume has none of box, region, sphere".into()),
            ["box"] => {
                let b = numbers::<12>(field(v, "box"))
                    .ok_or("boundingVolume.box is not an array of 12 finite numbers")?;
                Ok(Volume::Box {
                    center: [b[0], b[1], b[2]],
                    half_axes: [[b[3], b[4], b[5]], [b[6], b[7], b[8]], [b[9], b[10], b[11]]],
                })
            }
            ["sphere"] => {
                let s = numbers::<4>(field(v, "sphere"))
                    .ok_or("boundingVolume.sphere is not an array of 4 finite numbers")?;
                if s[3] < 0.0 {
                    return Err(format!(
                        "boundingVolume.sphere has negative radius {}",
                        s[3]
                    ));
                }
                Ok(Volume::Sphere {
                    center: [s[0], s[1], s[2]],
                    radius: s[3],
                })
            }
            ["region"] => {
                let r = numbers::<6>(field(v, "region"))
                    .ok_or("boundingVolume.region is not an array of 6 finite numbers")?;
                let [w, s, e, n, lo, hi] = r;
                let pi = std::f64::consts::PI;
                let half_pi = std::f64::consts::FRAC_PI_2;
                // Region values are radians ([-π, π] × [-π/2, π/2]); degrees are the usual mistake.
                if [w, e].iter().any(|x| x.abs() > pi + 1e-12)
                    || [s, n].iter().any(|x| x.abs() > half_pi + 1e-12)
                {
                    return Err(format!(
                        "boundingVolume.region {r:?} is outside [-π, π] × [-π/2, π/2]; region angles are radians, not degrees"
                    ));
                }
                if s > n {
                    return Err(format!("boundingVolume.region has south {s} > north {n}"));
                }
                if lo > hi {
                    return Err(format!(
                        "boundingVolume.region has minimum height {lo} > maximum height {hi}"
                    ));
                }
                Ok(Volume::Region {
                    wsen: [w, s, e, n],
                    heights: [lo, hi],
                })
            }
            more => Err(format!(
                "boundingVolume has {} at once; give exactly one",
                more.join(" and ")
            )),
        }
    }

    /// A characteristic size in metres (the diagonal), used to scale the containment tolerance.
    pub(crate) fn size(&self) -> f64 {
        match self {
            Volume::Box { half_axes, .. } => {
                2.0 * half_axes.iter().map(|a| dot(*a, *a)).sum::<f64>().sqrt()
            }
            Volume::Sphere { radius, .. } => 2.0 * radius,
            Volume::Region { wsen, heights } => {
                let [_, s, _, n] = *wsen;
                let ew = lon_span(wsen) * WGS84_A * s.cos().max(n.cos());
                let ns = (n - s) * WGS84_A;
                let up = heights[1] - heights[0];
                (ew * ew + ns * ns + up * up).sqrt()
            }
        }
    }

    /// How far content may stick out before it is reported: 1 cm plus one part per million of the
    /// volume's size, which absorbs float32 vertex rounding and f64 transform round-off but not a
    /// misplaced building.
    pub(crate) fn tolerance(&self) -> f64 {
        0.01 + 1e-6 * self.size()
    }

    /// How far (metres) a point lies outside this volume; 0 when inside. `local` is the point in the
    /// tile's frame; `tile_to_ecef` takes that frame to ECEF and is used only by regions, which the
    /// spec defines in EPSG:4979 independent of tile transforms.
    pub(crate) fn outside_by(&self, local: [f64; 3], tile_to_ecef: &Mat4) -> f64 {
        match self {
            Volume::Box { center, half_axes } => box_excess(*center, half_axes, local),
            Volume::Sphere { center, radius } => {
                let d = sub(local, *center);
                (dot(d, d).sqrt() - radius).max(0.0)
            }
            Volume::Region { wsen, heights } => {
                let [lon, lat, h] = ecef_to_geodetic(apply(tile_to_ecef, local));
                let (lon, lat) = (lon.to_radians(), lat.to_radians());
                let [_, s, _, n] = *wsen;
                let lat_excess = (s - lat).max(lat - n).max(0.0) * WGS84_A;
                let lon_excess = lon_outside_by(wsen, lon) * WGS84_A * lat.cos().abs();
                let h_excess = (heights[0] - h).max(h - heights[1]).max(0.0);
                lat_excess.max(lon_excess).max(h_excess)
            }
        }
    }

    /// The centre of the volume in ECEF metres, given the transform from the tile's frame to ECEF.
    pub(crate) fn center_ecef(&self, tile_to_ecef: &Mat4) -> Option<[f64; 3]> {
        match self {
            Volume::Box { center, .. } | Volume::Sphere { center, .. } => {
                Some(apply(tile_to_ecef, *center))
            }
            Volume::Region { .. } => None,
        }
    }

    /// The centre as `[lon °, lat °, h m]`: the region's own midpoint, or the ECEF centre converted.
    pub(crate) fn center_geodetic(&self, tile_to_ecef: &Mat4) -> [f64; 3] {
        match self {
            Volume::Region { wsen, heights } => {
                let [w, s, _, n] = *wsen;
                let mut lon = w + lon_span(wsen) / 2.0;
                if lon > std::f64::consts::PI {
                    lon -= std::f64::consts::TAU;
                }
                [
                    lon.to_degrees(),
                    ((s + n) / 2.0).to_degrees(),
                    (heights[0] + heights[1]) / 2.0,
                ]
            }
            _ => match self.center_ecef(tile_to_ecef) {
                Some(p) => ecef_to_geodetic(p),
                None => [f64::NAN; 3],
            },
        }
    }

    /// A short name for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Volume::Box { .. } => "box",
            Volume::Sphere { .. } => "sphere",
            Volume::Region { .. } => "region",
        }
    }
}

/// How far `p` lies outside an oriented box. The spec's box axes are orthogonal, so the point is
/// projected on each non-degenerate axis and whatever remains (a component along a zero-length axis
/// of a flat box) counts as excess too.
fn box_excess(center: [f64; 3], half_axes: &[[f64; 3]; 3], p: [f64; 3]) -> f64 {
    let d = sub(p, center);
    let mut residual = d;
    let mut excess: f64 = 0.0;
    for axis in half_axes {
        let len = dot(*axis, *axis).sqrt();
        if len < 1e-12 {
            continue;
        }
        let unit = [axis[0] / len, axis[1] / len, axis[2] / len];
        let along = dot(d, unit);
        excess = excess.max(along.abs() - len);
        residual = sub(
            residual,
            [unit[0] * along, unit[1] * along, unit[2] * along],
        );
    }
    excess.max(dot(residual, residual).sqrt()).max(0.0)
}

/// Width of the region in longitude, radians; a region whose west edge is east of its east edge
/// crosses the antimeridian (3D Tiles 1.1 §"Region").
fn lon_span(wsen: &[f64; 4]) -> f64 {
    let [w, _, e, _] = *wsen;
    if e >= w {
        e - w
    } else {
        e - w + std::f64::consts::TAU
    }
}

/// Angular distance (radians) from `lon` to the nearer edge of the region's longitude band; 0 inside.
fn lon_outside_by(wsen: &[f64; 4], lon: f64) -> f64 {
    let span = lon_span(wsen);
    if span >= std::f64::consts::TAU - 1e-12 {
        return 0.0;
    }
    let offset = (lon - wsen[0]).rem_euclid(std::f64::consts::TAU);
    if offset <= span {
        0.0
    } else {
        (offset - span).min(std::f64::consts::TAU - offset)
    }
}

pub(crate) fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

pub(crate) fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn y_up_to_z_up_sends_gltf_y_to_tiles_z_and_gltf_z_to_minus_y() {
        assert_eq!(apply(&Y_UP_TO_Z_UP, [1.0, 2.0, 3.0]), [1.0, -3.0, 2.0]);
    }

    #[test]
    fn trs_applies_scale_then_rotation_then_translation() {
        // 90° about z: quaternion (0, 0, sin 45°, cos 45°).
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let m = trs([10.0, 0.0, 0.0], [0.0, 0.0, h, h], [2.0, 2.0, 2.0]);
        let p = apply(&m, [1.0, 0.0, 0.0]);
        assert!(
            (p[0] - 10.0).abs() < 1e-12 && (p[1] - 2.0).abs() < 1e-12,
            "{p:?}"
        );
    }

    #[test]
    fn rotated_box_contains_its_corners_and_rejects_points_beyond() {
        let v = Volume::parse(&json!({"box": [0, 0, 0, 1, 1, 0, -1, 1, 0, 0, 0, 1]})).unwrap();
        assert!(v.outside_by([2.0, 0.0, 1.0], &IDENTITY) < 1e-12);
        assert!(v.outside_by([2.0, 0.1, 0.0], &IDENTITY) > 0.05);
    }

    #[test]
    fn flat_box_rejects_points_off_its_plane() {
        let v = Volume::parse(&json!({"box": [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]})).unwrap();
        assert_eq!(v.outside_by([0.5, 0.5, 0.0], &IDENTITY), 0.0);
        assert!((v.outside_by([0.5, 0.5, 0.3], &IDENTITY) - 0.3).abs() < 1e-12);
    }

    #[test]
    fn region_across_the_antimeridian_contains_both_sides() {
        let pi = std::f64::consts::PI;
        let wsen = [pi - 0.1, -0.1, -pi + 0.1, 0.1];
        assert_eq!(lon_outside_by(&wsen, pi - 0.05), 0.0);
        assert_eq!(lon_outside_by(&wsen, -pi + 0.05), 0.0);
        assert!((lon_outside_by(&wsen, 0.0) - (pi - 0.1)).abs() < 1e-12);
    }

    #[test]
    fn rejects_region_given_in_degrees() {
        let err = Volume::parse(&json!({"region": [16.0, 59.0, 16.1, 59.1, 0, 10]})).unwrap_err();
        assert!(err.contains("radians"), "{err}");
    }

    #[test]
    fn rejects_volume_with_two_shapes() {
        let err = Volume::parse(&json!({"box": [0,0,0,1,0,0,0,1,0,0,0,1], "sphere": [0,0,0,1]}))
            .unwrap_err();
        assert!(err.contains("box and sphere"), "{err}");
    }
}
