//! Solids and surfaces as polygons: extrusions of profiles, faceted B-reps and shells (`IfcFacetedBrep`,
//! `IfcShellBasedSurfaceModel`, `IfcFaceBasedSurfaceModel`), tessellations (`IfcTriangulatedFaceSet`,
//! `IfcPolygonalFaceSet`) and CSG primitives (block, cylinder, cone, sphere, rectangular pyramid).
//!
//! Outward-facing polygons wherever the source is a solid: outer rings counter-clockwise seen from
//! outside, holes clockwise. Coordinates are the item's own, in file length units.

use std::f64::consts::{PI, TAU};

use super::error::{StepError, StepResult};
use super::math::{Mat, V3, add, dot, scale};
use super::placement::{axis_placement, direction, point};
use super::profile::{Face, Ring, SEGMENTS, profile};
use super::step::{Entity, StepFile, Value, numbers};

/// `IfcExtrudedAreaSolid` (and the tapered variant, read untapered).
pub fn extrusion(f: &StepFile, e: &Entity<'_>, angle_unit: f64) -> StepResult<Vec<Face>> {
    let faces = profile(f, e.reference(0)?, e, angle_unit)?;
    let m = match e.opt_ref(1)? {
        Some(p) => axis_placement(f, p, e)?,
        None => Mat::IDENTITY,
    };
    let dir = direction(f, e.reference(2)?, e)?;
    let depth = e.f64(3)?;
    let dir = super::math::unit(dir).ok_or_else(|| StepError::Attribute {
        id: e.id,
        ty: e.ty.to_string(),
        what: "extrusion direction has no length".into(),
    })?;
    if depth <= 0.0 {
        return Err(StepError::Attribute {
            id: e.id,
            ty: e.ty.to_string(),
            what: format!("extrusion depth {depth} must be positive"),
        });
    }
    let d = scale(dir, depth);
    // Profiles run counter-clockwise around +z; extruded downwards they would face inwards.
    let flip = d[2] < 0.0;
    let mut out: Vec<Face> = vec![];
    for face in faces {
        let top: Face = face
            .iter()
            .map(|r| r.iter().map(|p| add(*p, d)).collect())
            .collect();
        let bottom: Face = face
            .iter()
            .map(|r| r.iter().rev().copied().collect())
            .collect();
        for r in &face {
            let n = r.len();
            for i in 0..n {
                let (a, b) = (r[i], r[(i + 1) % n]);
                out.push(vec![vec![a, b, add(b, d), add(a, d)]]);
            }
        }
        out.push(bottom);
        out.push(top);
    }
    let mirrored = m.det() < 0.0;
    Ok(transform(out, &m, flip != mirrored))
}

/// Applies `m` to every vertex, reversing rings when `flip`.
pub fn transform(faces: Vec<Face>, m: &Mat, flip: bool) -> Vec<Face> {
    faces
        .into_iter()
        .map(|face| {
            face.into_iter()
                .map(|r| {
                    let mut r: Ring = r.into_iter().map(|p| m.apply(p)).collect();
                    if flip {
                        r.reverse();
                    }
                    r
                })
                .collect()
        })
        .collect()
}

/// The faces of an `IfcConnectedFaceSet` / `IfcClosedShell` / `IfcOpenShell`.
pub fn shell(f: &StepFile, id: u64, from: &Entity<'_>) -> StepResult<Vec<Face>> {
    let s = f.entity(id, Some((from.id, from.ty)))?;
    let mut out = vec![];
    for face in s.refs(0)? {
        if let Some(fc) = face_of(f, face, &s)? {
            out.push(fc);
        }
    }
    Ok(out)
}

/// One `IfcFace`: the outer bound first (`IfcFaceOuterBound`, else the largest), bounds with
/// `Orientation = .F.` reversed.
fn face_of(f: &StepFile, id: u64, from: &Entity<'_>) -> StepResult<Option<Face>> {
    let e = f.entity(id, Some((from.id, from.ty)))?;
    if e.ty != "IFCFACE" {
        return Err(StepError::Unsupported {
            id,
            ty: e.ty.to_string(),
            what: "only planar IfcFace with poly loops is read (no advanced faces)".into(),
        });
    }
    let mut outer: Option<Ring> = None;
    let mut rings: Vec<Ring> = vec![];
    for b in e.refs(0)? {
        let bound = f.entity(b, Some((e.id, e.ty)))?;
        let lp = f.entity(bound.reference(0)?, Some((bound.id, bound.ty)))?;
        if lp.ty != "IFCPOLYLOOP" {
            return Err(StepError::Unsupported {
                id: lp.id,
                ty: lp.ty.to_string(),
                what: "face bounds are read as IfcPolyLoop".into(),
            });
        }
        let mut r: Ring = lp
            .refs(0)?
            .into_iter()
            .map(|p| point(f, p, &lp))
            .collect::<StepResult<_>>()?;
        if bound.opt_bool(1) == Some(false) {
            r.reverse();
        }
        if r.len() < 3 {
            continue;
        }
        if bound.ty == "IFCFACEOUTERBOUND" && outer.is_none() {
            outer = Some(r);
        } else {
            rings.push(r);
        }
    }
    let outer = match outer {
        Some(o) => o,
        None => {
            let area = |r: &Ring| super::math::norm(tvilling_core::surfaces::newell_normal(r));
            let Some(i) =
                (0..rings.len()).max_by(|a, b| area(&rings[*a]).total_cmp(&area(&rings[*b])))
            else {
                return Ok(None);
            };
            rings.remove(i)
        }
    };
    let mut face = vec![outer];
    face.extend(rings);
    Ok(Some(face))
}

/// Points of an `IfcCartesianPointList3D`.
fn point_list(f: &StepFile, id: u64, from: &Entity<'_>) -> StepResult<Vec<V3>> {
    let e = f.entity(id, Some((from.id, from.ty)))?;
    e.get(0)
        .as_list()
        .unwrap_or(&[])
        .iter()
        .map(|c| match numbers(c).as_deref() {
            Some([x, y, z]) => Ok([*x, *y, *z]),
            Some([x, y]) => Ok([*x, *y, 0.0]),
            _ => Err(StepError::Attribute {
                id: e.id,
                ty: e.ty.to_string(),
                what: "coordinates must be lists of 3 numbers".into(),
            }),
        })
        .collect()
}

/// Index lists (1-based) to points, through `PnIndex` when given.
fn indexed_ring(e: &Entity<'_>, idx: &Value, pts: &[V3], pn: Option<&[f64]>) -> StepResult<Ring> {
    let ix = numbers(idx).ok_or_else(|| StepError::Attribute {
        id: e.id,
        ty: e.ty.to_string(),
        what: "an index list is not a list of integers".into(),
    })?;
    ix.iter()
        .map(|i| {
            let mut k = *i as usize;
            if let Some(pn) = pn {
                k = pn.get(k.wrapping_sub(1)).map_or(0, |v| *v as usize);
            }
            pts.get(k.wrapping_sub(1))
                .copied()
                .ok_or_else(|| StepError::Attribute {
                    id: e.id,
                    ty: e.ty.to_string(),
                    what: format!("index {i} is outside the {} coordinates", pts.len()),
                })
        })
        .collect()
}

/// `IfcTriangulatedFaceSet` and `IfcPolygonalFaceSet` (IFC4 and IFC4X3 keep `Coordinates` first,
/// `CoordIndex`/`Faces` fourth or third and `PnIndex` last, whatever sits between).
pub fn face_set(f: &StepFile, e: &Entity<'_>) -> StepResult<Vec<Face>> {
    let pts = point_list(f, e.reference(0)?, e)?;
    let pn = |i: usize| numbers(e.get(i)).filter(|v| !v.is_empty());
    let mut out = vec![];
    if e.ty == "IFCTRIANGULATEDFACESET" || e.ty == "IFCTRIANGULATEDIRREGULARNETWORK" {
        let pn = pn(4);
        for t in e.get(3).as_list().unwrap_or(&[]) {
            out.push(vec![indexed_ring(e, t, &pts, pn.as_deref())?]);
        }
    } else {
        let pn = pn(3);
        for face in e.refs(2)? {
            let fe = f.entity(face, Some((e.id, e.ty)))?;
            let mut rings = vec![indexed_ring(&fe, fe.get(0), &pts, pn.as_deref())?];
            for inner in fe.get(1).as_list().unwrap_or(&[]) {
                rings.push(indexed_ring(&fe, inner, &pts, pn.as_deref())?);
            }
            out.push(rings);
        }
    }
    Ok(out)
}

/// CSG primitives, in their `Position` frame.
pub fn primitive(f: &StepFile, e: &Entity<'_>) -> StepResult<Vec<Face>> {
    let m = axis_placement(f, e.reference(0)?, e)?;
    let positive = |i: usize| -> StepResult<f64> {
        let v = e.f64(i)?;
        if v > 0.0 {
            Ok(v)
        } else {
            Err(StepError::Attribute {
                id: e.id,
                ty: e.ty.to_string(),
                what: format!("dimension {v} must be positive"),
            })
        }
    };
    let circle = |r: f64, z: f64| -> Ring {
        (0..SEGMENTS)
            .map(|i| {
                let t = TAU * i as f64 / SEGMENTS as f64;
                [r * t.cos(), r * t.sin(), z]
            })
            .collect()
    };
    let faces: Vec<Face> = match e.ty {
        "IFCBLOCK" => {
            let (x, y, z) = (positive(1)?, positive(2)?, positive(3)?);
            let base = vec![[0.0, 0.0, 0.0], [x, 0.0, 0.0], [x, y, 0.0], [0.0, y, 0.0]];
            prism(&base, z)
        }
        "IFCRECTANGULARPYRAMID" => {
            let (x, y, h) = (positive(1)?, positive(2)?, positive(3)?);
            let base = vec![[0.0, 0.0, 0.0], [x, 0.0, 0.0], [x, y, 0.0], [0.0, y, 0.0]];
            apex(&base, [x / 2.0, y / 2.0, h])
        }
        "IFCRIGHTCIRCULARCYLINDER" => prism(&circle(positive(2)?, 0.0), positive(1)?),
        "IFCRIGHTCIRCULARCONE" => apex(&circle(positive(2)?, 0.0), [0.0, 0.0, positive(1)?]),
        "IFCSPHERE" => {
            let r = positive(1)?;
            let rows = SEGMENTS / 2;
            let at = |i: usize, j: usize| {
                let (phi, th) = (
                    PI * i as f64 / rows as f64 - PI / 2.0,
                    TAU * j as f64 / SEGMENTS as f64,
                );
                [
                    r * phi.cos() * th.cos(),
                    r * phi.cos() * th.sin(),
                    r * phi.sin(),
                ]
            };
            let mut out = vec![];
            for i in 0..rows {
                for j in 0..SEGMENTS {
                    let q = vec![at(i, j), at(i, j + 1), at(i + 1, j + 1), at(i + 1, j)];
                    let mut ring: Ring = vec![];
                    for p in q {
                        if ring
                            .last()
                            .is_none_or(|l| super::math::norm(super::math::sub(*l, p)) > 1e-12)
                        {
                            ring.push(p);
                        }
                    }
                    if ring.len() >= 3 {
                        out.push(vec![ring]);
                    }
                }
            }
            out
        }
        other => {
            return Err(StepError::Unsupported {
                id: e.id,
                ty: other.to_string(),
                what: "this CSG primitive is not read".into(),
            });
        }
    };
    Ok(transform(faces, &m, false))
}

/// A prism over a counter-clockwise base at z = 0, height `h`.
fn prism(base: &[V3], h: f64) -> Vec<Face> {
    let d = [0.0, 0.0, h];
    let n = base.len();
    let mut out: Vec<Face> = (0..n)
        .map(|i| {
            let (a, b) = (base[i], base[(i + 1) % n]);
            vec![vec![a, b, add(b, d), add(a, d)]]
        })
        .collect();
    out.push(vec![base.iter().rev().copied().collect()]);
    out.push(vec![base.iter().map(|p| add(*p, d)).collect()]);
    out
}

/// A pyramid or cone: a counter-clockwise base at z = 0 and an apex above it.
fn apex(base: &[V3], top: V3) -> Vec<Face> {
    let n = base.len();
    let mut out: Vec<Face> = (0..n)
        .map(|i| vec![vec![base[i], base[(i + 1) % n], top]])
        .collect();
    out.push(vec![base.iter().rev().copied().collect()]);
    out
}

/// Signed volume of closed, outward-facing polygons (divergence theorem over each ring's Newell normal),
/// in cubic units of the coordinates.
pub fn volume(faces: &[Face]) -> f64 {
    let mut origin = None;
    let mut v = 0.0;
    for r in faces.iter().flatten() {
        let Some(first) = r.first() else { continue };
        let o = *origin.get_or_insert(*first);
        let local: Ring = r.iter().map(|p| super::math::sub(*p, o)).collect();
        v += dot(local[0], tvilling_core::surfaces::newell_normal(&local)) / 6.0;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primitives_close_with_the_right_volume() {
        let cube = prism(
            &[
                [0.0, 0.0, 0.0],
                [2.0, 0.0, 0.0],
                [2.0, 3.0, 0.0],
                [0.0, 3.0, 0.0],
            ],
            4.0,
        );
        assert!((volume(&cube) - 24.0).abs() < 1e-9);
        let pyramid = apex(
            &[
                [0.0, 0.0, 0.0],
                [2.0, 0.0, 0.0],
                [2.0, 3.0, 0.0],
                [0.0, 3.0, 0.0],
            ],
            [1.0, 1.5, 4.0],
        );
        assert!((volume(&pyramid) - 8.0).abs() < 1e-9);
    }
}
