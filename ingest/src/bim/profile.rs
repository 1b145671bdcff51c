//! 2D curves and profiles: what an extrusion sweeps. Curves become polylines (circles and arcs with
//! [`SEGMENTS`] segments per full turn); profiles become polygons with holes in the profile's plane
//! (z = 0), outer rings counter-clockwise and holes clockwise.
//!
//! Read: polylines, composite curves (with trimmed circles, ellipses and lines), indexed poly curves
//! (line and arc segments), circles and ellipses; rectangle, rounded rectangle (as a rectangle), hollow
//! rectangle, circle, hollow circle, ellipse, I, L, T and U shapes (without fillets), arbitrary closed
//! profiles with and without voids, derived and composite profiles.

use std::f64::consts::TAU;

use super::error::{StepError, StepResult};
use super::math::{Mat, V3, norm, sub};
use super::placement::{axis_placement, point, transformation_operator};
use super::step::{Entity, StepFile, Value, numbers};

/// Segments per full circle. IfcOpenShell's default deflection gives a similar count for building-sized
/// radii; bounding boxes differ by at most r·(1 − cos(π/32)) ≈ 0.5% of r.
pub const SEGMENTS: usize = 32;

/// A ring without its closing vertex.
pub type Ring = Vec<V3>;
/// A polygon: outer ring, then holes.
pub type Face = Vec<Ring>;

/// The polyline of a curve, in its own coordinates (2D curves get z = 0).
pub fn curve(f: &StepFile, id: u64, from: &Entity<'_>, angle_unit: f64) -> StepResult<Vec<V3>> {
    let e = f.entity(id, Some((from.id, from.ty)))?;
    match e.ty {
        "IFCPOLYLINE" => e.refs(0)?.into_iter().map(|p| point(f, p, &e)).collect(),
        "IFCCOMPOSITECURVE" | "IFCCOMPOSITECURVEONSURFACE" => {
            let mut out: Vec<V3> = vec![];
            for seg in e.refs(0)? {
                let s = f.entity(seg, Some((e.id, e.ty)))?;
                let mut pts = curve(f, s.reference(2)?, &s, angle_unit)?;
                if s.opt_bool(1) == Some(false) {
                    pts.reverse();
                }
                append(&mut out, pts);
            }
            Ok(out)
        }
        "IFCTRIMMEDCURVE" => trimmed(f, &e, angle_unit),
        "IFCCIRCLE" | "IFCELLIPSE" => {
            let (m, a, b) = conic(f, &e)?;
            Ok(arc(&m, a, b, 0.0, TAU, true, true))
        }
        "IFCINDEXEDPOLYCURVE" => indexed(f, &e),
        other => Err(StepError::Unsupported {
            id,
            ty: other.to_string(),
            what: "this curve type is not read in profiles".into(),
        }),
    }
}

/// Appends `pts`, dropping a first point that repeats the last one.
fn append(out: &mut Vec<V3>, pts: Vec<V3>) {
    for p in pts {
        if out.last().is_none_or(|l| norm(sub(*l, p)) > 1e-9) {
            out.push(p);
        }
    }
}

/// A circle's or ellipse's frame and semi-axes.
fn conic(f: &StepFile, e: &Entity<'_>) -> StepResult<(Mat, f64, f64)> {
    let m = axis_placement(f, e.reference(0)?, e)?;
    let a = e.f64(1)?;
    let b = if e.ty == "IFCELLIPSE" { e.f64(2)? } else { a };
    if a <= 0.0 || b <= 0.0 {
        return Err(StepError::Attribute {
            id: e.id,
            ty: e.ty.to_string(),
            what: format!("radius {a} must be positive"),
        });
    }
    Ok((m, a, b))
}

/// Points on a conic from angle `t0` to `t1` (radians), counter-clockwise when `ccw`.
fn arc(m: &Mat, a: f64, b: f64, t0: f64, t1: f64, ccw: bool, full: bool) -> Vec<V3> {
    let mut sweep = if ccw { t1 - t0 } else { t0 - t1 };
    if !full {
        sweep = sweep.rem_euclid(TAU);
        if sweep < 1e-9 {
            sweep = TAU;
        }
    }
    let n = ((sweep / TAU * SEGMENTS as f64).ceil() as usize).max(2);
    let last = if full { n - 1 } else { n };
    (0..=last)
        .map(|i| {
            let t = if ccw {
                t0 + sweep * i as f64 / n as f64
            } else {
                t0 - sweep * i as f64 / n as f64
            };
            m.apply([a * t.cos(), b * t.sin(), 0.0])
        })
        .collect()
}

fn trimmed(f: &StepFile, e: &Entity<'_>, angle_unit: f64) -> StepResult<Vec<V3>> {
    let basis = f.entity(e.reference(0)?, Some((e.id, e.ty)))?;
    let sense = e.opt_bool(3).unwrap_or(true);
    // A trim is a list of a point and/or a parameter; points are preferred (exact), as IfcOpenShell does
    // when MasterRepresentation is CARTESIAN or both are given.
    let trim = |i: usize| -> StepResult<(Option<V3>, Option<f64>)> {
        let mut pt = None;
        let mut par = None;
        for v in e.get(i).as_list().unwrap_or(&[]) {
            match v {
                Value::Ref(r) => pt = Some(point(f, *r, e)?),
                Value::Typed(_, x) => par = x.as_f64(),
                other => par = other.as_f64(),
            }
        }
        Ok((pt, par))
    };
    let (t1, t2) = (trim(1)?, trim(2)?);
    match basis.ty {
        "IFCCIRCLE" | "IFCELLIPSE" => {
            let (m, a, b) = conic(f, &basis)?;
            let inv = m.inverse().ok_or_else(|| StepError::Attribute {
                id: basis.id,
                ty: basis.ty.to_string(),
                what: "degenerate placement".into(),
            })?;
            let angle = |t: (Option<V3>, Option<f64>)| -> StepResult<f64> {
                match t {
                    (Some(p), _) => {
                        let l = inv.apply(p);
                        Ok((l[1] / b).atan2(l[0] / a))
                    }
                    (None, Some(v)) => Ok(v * angle_unit),
                    _ => Err(StepError::Attribute {
                        id: e.id,
                        ty: e.ty.to_string(),
                        what: "a trim without point or parameter".into(),
                    }),
                }
            };
            Ok(arc(&m, a, b, angle(t1)?, angle(t2)?, sense, false))
        }
        "IFCLINE" => {
            let p0 = point(f, basis.reference(0)?, &basis)?;
            let v = f.entity(basis.reference(1)?, Some((basis.id, basis.ty)))?;
            let dir = super::placement::direction(f, v.reference(0)?, &v)?;
            let mag = v.f64(1)?;
            let at = |t: (Option<V3>, Option<f64>)| match t {
                (Some(p), _) => Some(p),
                (None, Some(s)) => Some(super::math::add(p0, super::math::scale(dir, s * mag))),
                _ => None,
            };
            let (a, b) = (at(t1), at(t2));
            match (a, b) {
                (Some(a), Some(b)) if sense => Ok(vec![a, b]),
                (Some(a), Some(b)) => Ok(vec![b, a]),
                _ => Err(StepError::Attribute {
                    id: e.id,
                    ty: e.ty.to_string(),
                    what: "a trimmed line without trims".into(),
                }),
            }
        }
        other => Err(StepError::Unsupported {
            id: basis.id,
            ty: other.to_string(),
            what: "trimmed curves are read on circles, ellipses and lines".into(),
        }),
    }
}

fn indexed(f: &StepFile, e: &Entity<'_>) -> StepResult<Vec<V3>> {
    let list = f.entity(e.reference(0)?, Some((e.id, e.ty)))?;
    let pts: Vec<V3> = match list.get(0).as_list() {
        Some(l) => l
            .iter()
            .map(|c| match numbers(c).as_deref() {
                Some([x, y]) => Some([*x, *y, 0.0]),
                Some([x, y, z]) => Some([*x, *y, *z]),
                _ => None,
            })
            .collect::<Option<_>>()
            .ok_or_else(|| StepError::Attribute {
                id: list.id,
                ty: list.ty.to_string(),
                what: "coordinates are not lists of 2 or 3 numbers".into(),
            })?,
        None => vec![],
    };
    let get = |i: f64| -> StepResult<V3> {
        pts.get((i as usize).wrapping_sub(1))
            .copied()
            .ok_or_else(|| StepError::Attribute {
                id: e.id,
                ty: e.ty.to_string(),
                what: format!("index {i} is outside the {} points", pts.len()),
            })
    };
    let Some(segments) = e.get(1).as_list() else {
        return Ok(pts.clone());
    };
    let mut out = vec![];
    for s in segments {
        let (kind, idx) = match s {
            Value::Typed(k, v) => (k.as_str(), numbers(v).unwrap_or_default()),
            _ => ("", vec![]),
        };
        match (kind, idx.as_slice()) {
            ("IFCARCINDEX", [a, b, c]) => {
                let (a, b, c) = (get(*a)?, get(*b)?, get(*c)?);
                append(&mut out, arc3(a, b, c));
            }
            ("IFCLINEINDEX", ix) => {
                let p: Vec<V3> = ix.iter().map(|i| get(*i)).collect::<StepResult<_>>()?;
                append(&mut out, p);
            }
            _ => {
                return Err(StepError::Attribute {
                    id: e.id,
                    ty: e.ty.to_string(),
                    what: "segments must be IfcLineIndex or IfcArcIndex".into(),
                });
            }
        }
    }
    Ok(out)
}

/// An arc through three points (2D, in the xy plane); a straight line when they are collinear.
fn arc3(a: V3, b: V3, c: V3) -> Vec<V3> {
    let d = 2.0 * (a[0] * (b[1] - c[1]) + b[0] * (c[1] - a[1]) + c[0] * (a[1] - b[1]));
    if d.abs() < 1e-12 {
        return vec![a, c];
    }
    let sq = |p: V3| p[0] * p[0] + p[1] * p[1];
    let ux = (sq(a) * (b[1] - c[1]) + sq(b) * (c[1] - a[1]) + sq(c) * (a[1] - b[1])) / d;
    let uy = (sq(a) * (c[0] - b[0]) + sq(b) * (a[0] - c[0]) + sq(c) * (b[0] - a[0])) / d;
    let r = ((a[0] - ux).powi(2) + (a[1] - uy).powi(2)).sqrt();
    let ang = |p: V3| (p[1] - uy).atan2(p[0] - ux);
    let (t0, tm, t1) = (ang(a), ang(b), ang(c));
    // Counter-clockwise when the middle point lies on the ccw sweep from a to c.
    let ccw = (tm - t0).rem_euclid(TAU) < (t1 - t0).rem_euclid(TAU);
    let m = Mat {
        t: [ux, uy, 0.0],
        ..Mat::IDENTITY
    };
    let mut pts = arc(&m, r, r, t0, t1, ccw, false);
    if let Some(first) = pts.first_mut() {
        *first = a;
    }
    if let Some(last) = pts.last_mut() {
        *last = c;
    }
    pts
}

/// Signed area of a ring in the xy plane (positive counter-clockwise).
pub fn signed_area(r: &[V3]) -> f64 {
    let n = r.len();
    (0..n)
        .map(|i| {
            let (a, b) = (r[i], r[(i + 1) % n]);
            a[0] * b[1] - b[0] * a[1]
        })
        .sum::<f64>()
        / 2.0
}

/// A closed ring from a curve: the repeated closing vertex dropped, oriented ccw (`outer`) or cw.
fn ring(pts: Vec<V3>, outer: bool) -> Ring {
    // Repeated vertices (exporters close polylines twice, or repeat a point) make zero-length edges.
    let mut out: Ring = Vec::with_capacity(pts.len());
    append(&mut out, pts);
    while out.len() > 1
        && out
            .first()
            .zip(out.last())
            .is_some_and(|(a, b)| norm(sub(*a, *b)) < 1e-9)
    {
        out.pop();
    }
    if (signed_area(&out) > 0.0) != outer {
        out.reverse();
    }
    out
}

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Ring {
    vec![[x0, y0, 0.0], [x1, y0, 0.0], [x1, y1, 0.0], [x0, y1, 0.0]]
}

/// The faces of a profile in its plane (z = 0), in the profile definition's coordinates.
pub fn profile(f: &StepFile, id: u64, from: &Entity<'_>, angle_unit: f64) -> StepResult<Vec<Face>> {
    let e = f.entity(id, Some((from.id, from.ty)))?;
    let position = |i: usize| -> StepResult<Mat> {
        match e.opt_ref(i)? {
            Some(p) => axis_placement(f, p, &e),
            None => Ok(Mat::IDENTITY),
        }
    };
    let positive = |v: f64, what: &str| -> StepResult<f64> {
        if v > 0.0 {
            Ok(v)
        } else {
            Err(StepError::Attribute {
                id: e.id,
                ty: e.ty.to_string(),
                what: format!("{what} is {v}; it must be positive"),
            })
        }
    };
    let (faces, m): (Vec<Face>, Mat) = match e.ty {
        "IFCRECTANGLEPROFILEDEF" | "IFCROUNDEDRECTANGLEPROFILEDEF" => {
            let (x, y) = (
                positive(e.f64(3)?, "XDim")? / 2.0,
                positive(e.f64(4)?, "YDim")? / 2.0,
            );
            (vec![vec![rect(-x, -y, x, y)]], position(2)?)
        }
        "IFCRECTANGLEHOLLOWPROFILEDEF" => {
            let (x, y) = (
                positive(e.f64(3)?, "XDim")? / 2.0,
                positive(e.f64(4)?, "YDim")? / 2.0,
            );
            let t = positive(e.f64(5)?, "WallThickness")?;
            let mut hole = rect(-x + t, -y + t, x - t, y - t);
            hole.reverse();
            (vec![vec![rect(-x, -y, x, y), hole]], position(2)?)
        }
        "IFCCIRCLEPROFILEDEF" | "IFCCIRCLEHOLLOWPROFILEDEF" | "IFCELLIPSEPROFILEDEF" => {
            let a = positive(e.f64(3)?, "Radius")?;
            let b = if e.ty == "IFCELLIPSEPROFILEDEF" {
                positive(e.f64(4)?, "SemiAxis2")?
            } else {
                a
            };
            let mut face = vec![arc(&Mat::IDENTITY, a, b, 0.0, TAU, true, true)];
            if e.ty == "IFCCIRCLEHOLLOWPROFILEDEF" {
                let t = positive(e.f64(4)?, "WallThickness")?;
                if t < a {
                    let mut hole = arc(&Mat::IDENTITY, a - t, a - t, 0.0, TAU, true, true);
                    hole.reverse();
                    face.push(hole);
                }
            }
            (vec![face], position(2)?)
        }
        "IFCISHAPEPROFILEDEF" | "IFCASYMMETRICISHAPEPROFILEDEF" => {
            let (w, d) = (
                positive(e.f64(3)?, "OverallWidth")? / 2.0,
                positive(e.f64(4)?, "OverallDepth")? / 2.0,
            );
            let (tw, tf) = (e.f64(5)? / 2.0, e.f64(6)?);
            let ring = vec![
                [-w, -d, 0.0],
                [w, -d, 0.0],
                [w, -d + tf, 0.0],
                [tw, -d + tf, 0.0],
                [tw, d - tf, 0.0],
                [w, d - tf, 0.0],
                [w, d, 0.0],
                [-w, d, 0.0],
                [-w, d - tf, 0.0],
                [-tw, d - tf, 0.0],
                [-tw, -d + tf, 0.0],
                [-w, -d + tf, 0.0],
            ];
            (vec![vec![ring]], position(2)?)
        }
        "IFCLSHAPEPROFILEDEF" => {
            let d = positive(e.f64(3)?, "Depth")?;
            let w = e.opt_f64(4)?.unwrap_or(d);
            let t = positive(e.f64(5)?, "Thickness")?;
            // Centred on the bounding box as IFC defines the position for L shapes.
            let (cx, cy) = (w / 2.0, d / 2.0);
            let ring = vec![
                [-cx, -cy, 0.0],
                [w - cx, -cy, 0.0],
                [w - cx, t - cy, 0.0],
                [t - cx, t - cy, 0.0],
                [t - cx, d - cy, 0.0],
                [-cx, d - cy, 0.0],
            ];
            (vec![vec![ring]], position(2)?)
        }
        "IFCTSHAPEPROFILEDEF" => {
            let (d, fw) = (
                positive(e.f64(3)?, "Depth")?,
                positive(e.f64(4)?, "FlangeWidth")?,
            );
            let (tw, tf) = (e.f64(5)? / 2.0, e.f64(6)?);
            let (h, w) = (d / 2.0, fw / 2.0);
            let ring = vec![
                [-tw, -h, 0.0],
                [tw, -h, 0.0],
                [tw, h - tf, 0.0],
                [w, h - tf, 0.0],
                [w, h, 0.0],
                [-w, h, 0.0],
                [-w, h - tf, 0.0],
                [-tw, h - tf, 0.0],
            ];
            (vec![vec![ring]], position(2)?)
        }
        "IFCUSHAPEPROFILEDEF" => {
            let (d, fw) = (
                positive(e.f64(3)?, "Depth")?,
                positive(e.f64(4)?, "FlangeWidth")?,
            );
            let (tw, tf) = (e.f64(5)?, e.f64(6)?);
            let (h, w) = (d / 2.0, fw / 2.0);
            let ring = vec![
                [-w, -h, 0.0],
                [w, -h, 0.0],
                [w, -h + tf, 0.0],
                [-w + tw, -h + tf, 0.0],
                [-w + tw, h - tf, 0.0],
                [w, h - tf, 0.0],
                [w, h, 0.0],
                [-w, h, 0.0],
            ];
            (vec![vec![ring]], position(2)?)
        }
        "IFCARBITRARYCLOSEDPROFILEDEF" | "IFCARBITRARYPROFILEDEFWITHVOIDS" => {
            let outer = ring(curve(f, e.reference(2)?, &e, angle_unit)?, true);
            let mut face = vec![outer];
            if e.ty == "IFCARBITRARYPROFILEDEFWITHVOIDS" {
                for c in e.refs(3)? {
                    face.push(ring(curve(f, c, &e, angle_unit)?, false));
                }
            }
            (vec![face], Mat::IDENTITY)
        }
        "IFCDERIVEDPROFILEDEF" => {
            let parent = profile(f, e.reference(2)?, &e, angle_unit)?;
            (parent, transformation_operator(f, e.reference(3)?, &e)?)
        }
        "IFCCOMPOSITEPROFILEDEF" => {
            let mut all = vec![];
            for p in e.refs(2)? {
                all.extend(profile(f, p, &e, angle_unit)?);
            }
            (all, Mat::IDENTITY)
        }
        other => {
            return Err(StepError::Unsupported {
                id,
                ty: other.to_string(),
                what: "this profile type is not read (open profiles have no area to extrude)"
                    .into(),
            });
        }
    };
    let mirrored = m.det() < 0.0;
    Ok(faces
        .into_iter()
        .map(|face| {
            face.into_iter()
                .map(|r| {
                    let mut r: Ring = r.into_iter().map(|p| m.apply(p)).collect();
                    if mirrored {
                        r.reverse();
                    }
                    r
                })
                .filter(|r| r.len() >= 3)
                .collect::<Face>()
        })
        .filter(|f: &Face| !f.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arc_through_three_points_passes_the_middle_side() {
        let pts = arc3([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]);
        assert!(pts.iter().all(|p| p[1] >= -1e-9), "{pts:?}");
        assert!(pts.len() >= 16);
        let cw = arc3([1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [-1.0, 0.0, 0.0]);
        assert!(cw.iter().all(|p| p[1] <= 1e-9));
    }

    #[test]
    fn orients_rings() {
        let r = ring(
            vec![
                [0.0, 0.0, 0.0],
                [0.0, 1.0, 0.0],
                [1.0, 1.0, 0.0],
                [0.0, 0.0, 0.0],
            ],
            true,
        );
        assert_eq!(r.len(), 3);
        assert!(signed_area(&r) > 0.0);
        assert!(signed_area(&ring(r, false)) < 0.0);
    }
}
