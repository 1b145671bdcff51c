//! Boolean clipping by half-spaces (`IfcBooleanClippingResult` with `IfcHalfSpaceSolid`,
//! `IfcPolygonalBoundedHalfSpace`, `IfcBoxedHalfSpace`): the part of a polygonal boundary on one side of a
//! plane, with the cut closed by cap faces so solids stay closed.
//!
//! Each ring is clipped on its own (Sutherland–Hodgman: exact for a planar ring against a plane). The
//! edges a clip adds lie in the plane; chained into loops they bound the cap. A polygonal bounded half
//! space removes material only inside its prism: for a convex boundary polygon the faces are split into
//! the part inside the prism (clipped by the plane) and the parts outside it (kept), which is exact; a
//! non-convex boundary is treated as an unbounded half space (an approximation the reader notes).

use super::math::{V3, add, cross, dot, norm, scale, sub, unit};
use super::profile::{Face, Ring};

/// A plane: points `x` with `dot(x − p, n) = 0`; the kept side is `dot(x − p, n) ≥ 0`.
#[derive(Debug, Clone, Copy)]
pub struct Plane {
    /// A point on it.
    pub p: V3,
    /// Its normal, pointing to the kept side (unit).
    pub n: V3,
}

impl Plane {
    fn dist(&self, x: V3) -> f64 {
        dot(sub(x, self.p), self.n)
    }
}

/// Clips one ring; pushes the segments the clip adds (in the plane) to `cuts`.
fn clip_ring(r: &Ring, plane: &Plane, cuts: &mut Vec<(V3, V3)>) -> Ring {
    let n = r.len();
    let mut out: Ring = Vec::with_capacity(n + 2);
    let mut exit: Option<V3> = None;
    for i in 0..n {
        let (a, b) = (r[i], r[(i + 1) % n]);
        let (da, db) = (plane.dist(a), plane.dist(b));
        if da >= 0.0 {
            out.push(a);
        }
        if (da >= 0.0) != (db >= 0.0) {
            let t = da / (da - db);
            let x = add(a, scale(sub(b, a), t));
            out.push(x);
            if da >= 0.0 {
                exit = Some(x);
            } else if let Some(e) = exit.take() {
                cuts.push((e, x));
            } else {
                // Entered before the first exit: the exit comes at the end of the walk.
                cuts.push(([f64::NAN; 3], x));
            }
        }
    }
    // Pair a trailing exit with a leading entry.
    if let Some(e) = exit
        && let Some(c) = cuts.iter_mut().rev().find(|c| c.0[0].is_nan())
    {
        c.0 = e;
    }
    cuts.retain(|c| !c.0[0].is_nan());
    out
}

/// The faces on the kept side of `plane`, and the cut segments.
fn clip_faces(faces: &[Face], plane: &Plane) -> (Vec<Face>, Vec<(V3, V3)>) {
    let mut cuts = vec![];
    let mut out = vec![];
    for f in faces {
        let mut rings = f.iter();
        let Some(outer) = rings.next() else { continue };
        let o = clip_ring(outer, plane, &mut cuts);
        if o.len() < 3 {
            // Holes of a face that is gone are gone too; their cuts are not.
            for h in rings {
                clip_ring(h, plane, &mut cuts);
            }
            continue;
        }
        let mut face = vec![o];
        for h in rings {
            let h = clip_ring(h, plane, &mut cuts);
            if h.len() >= 3 {
                face.push(h);
            }
        }
        out.push(face);
    }
    (out, cuts)
}

/// Chains cut segments into loops and makes cap faces facing away from the kept side.
fn caps(cuts: Vec<(V3, V3)>, plane: &Plane, scale_hint: f64) -> Vec<Face> {
    let tol = 1e-6 * scale_hint.max(1.0);
    let mut segs = cuts;
    let mut loops: Vec<Ring> = vec![];
    while let Some((a, b)) = segs.pop() {
        let mut ring = vec![a, b];
        while let Some(&last) = ring.last() {
            if ring.len() > 2 && norm(sub(last, ring[0])) < tol {
                ring.pop();
                break;
            }
            // The segment that starts where this one ends (either direction: shells from real files
            // are not always consistently oriented).
            let next = segs
                .iter()
                .position(|(s, e)| norm(sub(*s, last)) < tol || norm(sub(*e, last)) < tol);
            match next {
                Some(i) => {
                    let (s, e) = segs.swap_remove(i);
                    ring.push(if norm(sub(s, last)) < tol { e } else { s });
                }
                None => break,
            }
        }
        if ring.len() >= 3 {
            loops.push(ring);
        }
    }
    // Orient each loop against the kept side, then put loops inside others as holes.
    let normal_of = |r: &Ring| tvilling_core::surfaces::newell_normal(r);
    let want = scale(plane.n, -1.0);
    let (u, v) = basis(want);
    let to2 = |p: V3| [dot(p, u), dot(p, v)];
    let mut faces: Vec<(Face, f64)> = vec![];
    let mut loops: Vec<(Ring, f64)> = loops
        .into_iter()
        .map(|mut r| {
            let n = normal_of(&r);
            if dot(n, want) < 0.0 {
                r.reverse();
            }
            let area = norm(normal_of(&r)) / 2.0;
            (r, area)
        })
        .filter(|(_, a)| *a > tol * tol)
        .collect();
    loops.sort_by(|a, b| b.1.total_cmp(&a.1));
    for (r, area) in loops {
        let inside = faces.iter_mut().find(|(f, _)| {
            let outer: Vec<[f64; 2]> = f[0].iter().map(|p| to2(*p)).collect();
            contains(&outer, to2(r[0]))
        });
        match inside {
            Some((f, _)) => {
                let mut hole = r;
                hole.reverse();
                f.push(hole);
            }
            None => faces.push((vec![r], area)),
        }
    }
    faces.into_iter().map(|(f, _)| f).collect()
}

/// Two unit vectors spanning the plane perpendicular to `n`.
fn basis(n: V3) -> (V3, V3) {
    let a = if n[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let u = unit(cross(n, a)).unwrap_or([1.0, 0.0, 0.0]);
    (u, cross(n, u))
}

fn contains(poly: &[[f64; 2]], p: [f64; 2]) -> bool {
    let mut inside = false;
    let n = poly.len();
    for i in 0..n {
        let (a, b) = (poly[i], poly[(i + n - 1) % n]);
        if (a[1] > p[1]) != (b[1] > p[1])
            && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0]
        {
            inside = !inside;
        }
    }
    inside
}

fn extent(faces: &[Face]) -> f64 {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in faces.iter().flatten().flatten() {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    (0..3).map(|k| hi[k] - lo[k]).fold(0.0, f64::max)
}

/// `plane` moved `eps` against its normal: what lies within `eps` of the plane counts as kept. Exporters
/// put faces exactly on clipping planes, and coordinates computed two ways differ in the last bits; such
/// a face must stay, or the solid gets a hole no cap closes.
fn tolerant(plane: &Plane, eps: f64) -> Plane {
    Plane {
        p: sub(plane.p, scale(plane.n, eps)),
        n: plane.n,
    }
}

/// Distance below which points count as on a plane: a millionth of the geometry's size (a micrometre on
/// a building).
fn tolerance(size: f64) -> f64 {
    1e-6 * size.max(1.0)
}

/// The part of `faces` on the kept side of `plane`, capped.
pub fn clip(faces: &[Face], plane: &Plane) -> Vec<Face> {
    let size = extent(faces);
    let plane = tolerant(plane, tolerance(size));
    let (mut kept, cuts) = clip_faces(faces, &plane);
    kept.extend(caps(cuts, &plane, size));
    kept
}

/// Keeps the `keep` side of the plane only inside the prism over the convex polygon `boundary` (points in
/// 3D; the prism runs along `axis`); outside the prism everything stays. Where the solid reaches out of
/// the prism across the cut, the step on the prism's side is closed by the solid's cross-section there,
/// limited to the removed part. Returns `None` when the boundary is not convex (the caller falls back to
/// [`clip`]).
pub fn clip_bounded(faces: &[Face], keep: &Plane, boundary: &[V3], axis: V3) -> Option<Vec<Face>> {
    let n = boundary.len();
    if n < 3 {
        return None;
    }
    // Inward planes of the prism's sides; convex means every other vertex is on the inner side.
    let ccw = dot(tvilling_core::surfaces::newell_normal(boundary), axis) > 0.0;
    let mut sides = vec![];
    for i in 0..n {
        let (a, b) = (boundary[i], boundary[(i + 1) % n]);
        let edge = sub(b, a);
        let inward = if ccw {
            cross(axis, edge)
        } else {
            cross(edge, axis)
        };
        let inward = unit(inward)?;
        let side = Plane { p: a, n: inward };
        let size = norm(edge).max(1e-9);
        if boundary.iter().any(|q| side.dist(*q) < -1e-7 * size) {
            return None;
        }
        sides.push(side);
    }
    let size = extent(faces);
    // Faces lying in a side plane (a wall whose end is where the prism ends, which is how exporters write
    // them) belong to the inside part only: uncut in the outside part they would hide the cut.
    let eps = tolerance(size);
    let mut out = vec![];
    let mut inside: Vec<Face> = faces.to_vec();
    for side in &sides {
        let side = tolerant(side, eps);
        // What lies outside this side (and inside the earlier ones) is kept as it is.
        let outer = Plane {
            p: side.p,
            n: scale(side.n, -1.0),
        };
        let (outside, _) = clip_faces(&inside, &outer);
        out.extend(outside);
        inside = clip_faces(&inside, &side).0;
    }
    let keep = tolerant(keep, eps);
    out.extend(clip_faces(&inside, &keep).0);
    // The cap: the whole solid's cross-section in the cut plane (the inside part alone is open at the
    // prism's sides, so its cut edges do not close), limited to the prism.
    let (_, cuts) = clip_faces(faces, &keep);
    let mut cap = caps(cuts, &keep, size);
    for side in &sides {
        cap = clip_faces(&cap, &tolerant(side, eps)).0;
    }
    out.extend(cap);
    // Steps: the solid's cross-section in each side plane, where it lies in the removed part (inside the
    // other sides, behind the cut plane), facing into the prism, where the material now ends.
    let removed = Plane {
        p: keep.p,
        n: scale(keep.n, -1.0),
    };
    for (i, side) in sides.iter().enumerate() {
        let side = tolerant(side, eps);
        let (_, cuts) = clip_faces(faces, &side);
        let mut step: Vec<Face> = caps(cuts, &side, size)
            .into_iter()
            .map(|f| {
                f.into_iter()
                    .map(|mut r| {
                        r.reverse();
                        r
                    })
                    .collect()
            })
            .collect();
        for (j, other) in sides.iter().enumerate() {
            if j != i {
                step = clip_faces(&step, &tolerant(other, eps)).0;
            }
        }
        out.extend(clip_faces(&step, &removed).0);
    }
    Some(out)
}

/// `faces` minus the convex solid `cutter` (an opening): the parts outside each of the cutter's face
/// planes (and inside the earlier ones) are kept, and the solid's cross-section in each face plane,
/// inside the cutter's other planes, closes the hole (the reveal). `None` when the cutter is not a closed
/// convex polyhedron (the caller keeps the solid whole and notes it).
pub fn subtract_convex(faces: &[Face], cutter: &[Face]) -> Option<Vec<Face>> {
    let size = extent(faces).max(extent(cutter));
    let eps = tolerance(size);
    let points: Vec<V3> = cutter.iter().flatten().flatten().copied().collect();
    // Inward planes of the cutter's faces, one per distinct plane.
    let mut planes: Vec<Plane> = vec![];
    for f in cutter {
        let ring = f.first()?;
        // Degenerate faces (a repeated vertex makes a side of zero area) bound nothing.
        let Some(n) = unit(tvilling_core::surfaces::newell_normal(ring)) else {
            continue;
        };
        let plane = Plane {
            p: ring[0],
            n: scale(n, -1.0),
        };
        if points.iter().any(|q| plane.dist(*q) < -eps * 10.0) {
            return None;
        }
        let same = planes
            .iter()
            .any(|o| dot(o.n, plane.n) > 1.0 - 1e-9 && o.dist(plane.p).abs() < eps);
        if !same {
            planes.push(plane);
        }
    }
    if planes.len() < 4 {
        return None;
    }
    let mut out = vec![];
    let mut inside: Vec<Face> = faces.to_vec();
    for plane in &planes {
        // Strictly outside this plane: faces lying in it (a wall face flush with the opening) go with
        // the inside, which is removed.
        let outer = Plane {
            p: sub(plane.p, scale(plane.n, eps)),
            n: scale(plane.n, -1.0),
        };
        out.extend(clip_faces(&inside, &outer).0);
        inside = clip_faces(&inside, &tolerant(plane, eps)).0;
        if inside.is_empty() {
            // The cutter misses the rest of the solid: nothing more to remove, no reveal.
            break;
        }
    }
    if inside.is_empty() && out.len() >= faces.len() {
        return Some(faces.to_vec());
    }
    for (i, plane) in planes.iter().enumerate() {
        // A hair outside the cutter: where the solid only touches this plane from inside (a wall face
        // flush with the opening) there is no section and so no reveal.
        let shifted = tolerant(plane, eps);
        let (_, cuts) = clip_faces(faces, &shifted);
        // caps() faces away from the kept side (into the solid's remaining material outside the
        // cutter); the reveal faces into the hole.
        let mut reveal: Vec<Face> = caps(cuts, &shifted, size)
            .into_iter()
            .map(|f| {
                f.into_iter()
                    .map(|mut r| {
                        r.reverse();
                        r
                    })
                    .collect()
            })
            .collect();
        for (j, other) in planes.iter().enumerate() {
            if j != i {
                reveal = clip_faces(&reveal, &tolerant(other, eps)).0;
            }
        }
        out.extend(reveal);
    }
    Some(out)
}

/// The faces of the smallest convex solid bounded by the parts' own face planes, when the parts fill it:
/// an opening written as two overlapping boxes (one from each side of the wall) is one box. `None` when
/// the parts leave gaps in it (their volumes add up to less than the hull's).
pub fn merged_convex(parts: &[&[Face]]) -> Option<Vec<Face>> {
    let points: Vec<V3> = parts
        .iter()
        .flat_map(|p| p.iter().flatten().flatten())
        .copied()
        .collect();
    let all: Vec<Face> = parts.iter().flat_map(|p| p.iter().cloned()).collect();
    let size = extent(&all);
    let eps = tolerance(size);
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in &points {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k] - size);
            hi[k] = hi[k].max(p[k] + size);
        }
    }
    // Start from a box around everything and cut it down by every face plane that has all points on
    // its inner side.
    let c = |x: usize, y: usize, z: usize| [[lo, hi][x][0], [lo, hi][y][1], [lo, hi][z][2]];
    let mut hull: Vec<Face> = vec![
        vec![vec![c(0, 0, 0), c(0, 1, 0), c(1, 1, 0), c(1, 0, 0)]],
        vec![vec![c(0, 0, 1), c(1, 0, 1), c(1, 1, 1), c(0, 1, 1)]],
        vec![vec![c(0, 0, 0), c(1, 0, 0), c(1, 0, 1), c(0, 0, 1)]],
        vec![vec![c(1, 0, 0), c(1, 1, 0), c(1, 1, 1), c(1, 0, 1)]],
        vec![vec![c(1, 1, 0), c(0, 1, 0), c(0, 1, 1), c(1, 1, 1)]],
        vec![vec![c(0, 1, 0), c(0, 0, 0), c(0, 0, 1), c(0, 1, 1)]],
    ];
    for f in &all {
        let Some(ring) = f.first() else { continue };
        let Some(n) = unit(tvilling_core::surfaces::newell_normal(ring)) else {
            continue;
        };
        let inward = Plane {
            p: ring[0],
            n: scale(n, -1.0),
        };
        if points.iter().all(|q| inward.dist(*q) >= -eps * 10.0) {
            hull = clip(&hull, &inward);
        }
    }
    let filled: f64 = parts.iter().map(|p| volume_of(p)).sum();
    // 0.1 %: the hull is built with the clip tolerance, a micrometre larger on every side.
    (volume_of(&hull) <= filled * 1.001).then_some(hull)
}

fn volume_of(faces: &[Face]) -> f64 {
    super::solid::volume(faces).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cube() -> Vec<Face> {
        let p = |x: f64, y: f64, z: f64| [x, y, z];
        vec![
            vec![vec![
                p(0., 0., 0.),
                p(0., 1., 0.),
                p(1., 1., 0.),
                p(1., 0., 0.),
            ]],
            vec![vec![
                p(0., 0., 1.),
                p(1., 0., 1.),
                p(1., 1., 1.),
                p(0., 1., 1.),
            ]],
            vec![vec![
                p(0., 0., 0.),
                p(1., 0., 0.),
                p(1., 0., 1.),
                p(0., 0., 1.),
            ]],
            vec![vec![
                p(1., 0., 0.),
                p(1., 1., 0.),
                p(1., 1., 1.),
                p(1., 0., 1.),
            ]],
            vec![vec![
                p(1., 1., 0.),
                p(0., 1., 0.),
                p(0., 1., 1.),
                p(1., 1., 1.),
            ]],
            vec![vec![
                p(0., 1., 0.),
                p(0., 0., 0.),
                p(0., 0., 1.),
                p(0., 1., 1.),
            ]],
        ]
    }

    fn volume(faces: &[Face]) -> f64 {
        faces
            .iter()
            .flatten()
            .map(|r| dot(r[0], tvilling_core::surfaces::newell_normal(r)) / 6.0)
            .sum()
    }

    #[test]
    fn plane_clip_keeps_a_closed_solid() {
        assert!((volume(&cube()) - 1.0).abs() < 1e-12);
        let plane = Plane {
            p: [0.0, 0.0, 0.25],
            n: [0.0, 0.0, -1.0],
        };
        let half = clip(&cube(), &plane);
        // Within the clip tolerance (a millionth of the size).
        assert!((volume(&half) - 0.25).abs() < 1e-5, "{}", volume(&half));
        let slanted = Plane {
            p: [0.0, 0.0, 0.5],
            n: unit([0.0, 1.0, -1.0]).unwrap(),
        };
        let wedge = clip(&cube(), &slanted);
        // Kept: z <= y + 0.5, i.e. 1 - (1/2 · 1/2 · 1/2) = 0.875.
        assert!((volume(&wedge) - 0.875).abs() < 1e-5, "{}", volume(&wedge));
    }

    #[test]
    fn subtracts_a_convex_opening_with_its_reveal() {
        let shift = |faces: Vec<Face>, d: V3, k: V3| -> Vec<Face> {
            faces
                .into_iter()
                .map(|f| {
                    f.into_iter()
                        .map(|r| {
                            r.into_iter()
                                .map(|p| {
                                    [p[0] * k[0] + d[0], p[1] * k[1] + d[1], p[2] * k[2] + d[2]]
                                })
                                .collect()
                        })
                        .collect()
                })
                .collect()
        };
        // A 1 × 1 × 1 "wall" and a 0.4 × 2 × 0.5 opening through it (y sticks out on both sides).
        let hole = shift(cube(), [0.3, -0.5, 0.2], [0.4, 2.0, 0.5]);
        let cut = subtract_convex(&cube(), &hole).unwrap();
        assert!(
            (volume(&cut) - (1.0 - 0.2)).abs() < 1e-5,
            "{}",
            volume(&cut)
        );
        // Flush with both wall faces, as many exporters write openings.
        let flush = shift(cube(), [0.3, 0.0, 0.2], [0.4, 1.0, 0.5]);
        let cut = subtract_convex(&cube(), &flush).unwrap();
        assert!(
            (volume(&cut) - (1.0 - 0.2)).abs() < 1e-5,
            "{}",
            volume(&cut)
        );
        // An opening that misses leaves the solid as it is.
        let away = shift(cube(), [5.0, 0.0, 0.0], [1.0, 1.0, 1.0]);
        assert!((volume(&subtract_convex(&cube(), &away).unwrap()) - 1.0).abs() < 1e-9);
        // A notch from the top edge: 0.2 × 1 × 0.3 removed.
        let notch = shift(cube(), [0.4, -0.5, 0.7], [0.2, 2.0, 1.0]);
        let cut = subtract_convex(&cube(), &notch).unwrap();
        assert!(
            (volume(&cut) - (1.0 - 0.06)).abs() < 1e-5,
            "{}",
            volume(&cut)
        );
    }

    #[test]
    fn bounded_half_space_cuts_only_inside_its_prism() {
        let keep = Plane {
            p: [0.0, 0.0, 0.5],
            n: [0.0, 0.0, -1.0],
        };
        // The prism covers x in [0.5, 2]: only that half loses its top half.
        let boundary = vec![
            [0.5, -1.0, 0.0],
            [2.0, -1.0, 0.0],
            [2.0, 2.0, 0.0],
            [0.5, 2.0, 0.0],
        ];
        let cut = clip_bounded(&cube(), &keep, &boundary, [0.0, 0.0, 1.0]).unwrap();
        // Closed, step face included: the top half of x in [0.5, 1] is gone.
        assert!((volume(&cut) - 0.75).abs() < 1e-5, "{}", volume(&cut));
        let pts: Vec<V3> = cut.iter().flatten().flatten().copied().collect();
        assert!(pts.iter().all(|p| p[0] <= 0.5 + 1e-5 || p[2] <= 0.5 + 1e-5));
        assert!(pts.iter().any(|p| p[0] < 0.5 && p[2] > 0.99));
        assert!(pts.iter().any(|p| p[0] > 0.99 && (p[2] - 0.5).abs() < 1e-5));
    }
}
