//! True 3D distance and intersection (`ST_3DDistance`, `ST_3DIntersects`, `ST_3DDWithin`).
//!
//! A geometry is broken into points, segments and triangles; polygons and the faces of polyhedral surfaces
//! are triangulated in their own plane (ear clipping), so a polygon is a filled surface as in PostGIS. The
//! distance between two geometries is the least distance between any two primitives; two geometries
//! intersect when that distance is zero, which a segment piercing a triangle gives exactly. 2D inputs lie
//! at z = 0, as in PostGIS. A closed polyhedral surface is a shell, not a solid (PostGIS without SFCGAL
//! does the same): a point inside a closed building shell is at a positive distance from it.

use crate::shape::{C, Shape};

/// A primitive of a decomposed geometry.
#[derive(Debug, Clone, Copy)]
enum Prim {
    Point(C),
    Segment(C, C),
    Triangle(C, C, C),
}

/// Distances below this count as touching: coordinates in metres with ~7 significant digits before the
/// point keep about 1e-9 of precision.
const TOUCH: f64 = 1e-9;

fn sub(a: C, b: C) -> C {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn add(a: C, b: C) -> C {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
fn mul(a: C, s: f64) -> C {
    [a[0] * s, a[1] * s, a[2] * s]
}
fn dot(a: C, b: C) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross(a: C, b: C) -> C {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn dist(a: C, b: C) -> f64 {
    let d = sub(a, b);
    dot(d, d).sqrt()
}

fn decompose(shape: &Shape, out: &mut Vec<Prim>) {
    match shape {
        Shape::Point(Some(c)) => out.push(Prim::Point(*c)),
        Shape::Point(None) => {}
        Shape::LineString(cs) => match cs.as_slice() {
            [] => {}
            [c] => out.push(Prim::Point(*c)),
            _ => out.extend(cs.windows(2).map(|w| Prim::Segment(w[0], w[1]))),
        },
        Shape::Triangle(cs) => triangulate(std::slice::from_ref(cs), out),
        Shape::Polygon(rings) => triangulate(rings, out),
        Shape::Multi(_, parts) => parts.iter().for_each(|p| decompose(p, out)),
    }
}

/// Triangulates a planar 3D polygon with holes; degenerate polygons fall back to their boundary segments.
fn triangulate(rings: &[Vec<C>], out: &mut Vec<Prim>) {
    let Some(outer) = rings.first().filter(|r| r.len() >= 3) else {
        rings
            .iter()
            .for_each(|r| decompose(&Shape::LineString(r.clone()), out));
        return;
    };
    // Newell's normal: its largest component names the axis to drop when projecting to 2D.
    let mut n = [0.0; 3];
    for w in outer.windows(2) {
        let (a, b) = (w[0], w[1]);
        n[0] += (a[1] - b[1]) * (a[2] + b[2]);
        n[1] += (a[2] - b[2]) * (a[0] + b[0]);
        n[2] += (a[0] - b[0]) * (a[1] + b[1]);
    }
    let drop = (0..3)
        .max_by(|&i, &j| n[i].abs().total_cmp(&n[j].abs()))
        .unwrap_or(2);
    let (u, v) = match drop {
        0 => (1, 2),
        1 => (2, 0),
        _ => (0, 1),
    };
    let mut flat = Vec::new();
    let mut verts = Vec::new();
    let mut holes = Vec::new();
    for (i, ring) in rings.iter().enumerate() {
        // Rings are closed; earcut wants the closing vertex left out.
        let open = match ring.as_slice() {
            [first, .., last] if first == last => &ring[..ring.len() - 1],
            r => r,
        };
        if i > 0 {
            holes.push(verts.len());
        }
        for c in open {
            flat.extend([c[u], c[v]]);
            verts.push(*c);
        }
    }
    match earcutr::earcut(&flat, &holes, 2) {
        Ok(idx) if !idx.is_empty() => {
            for t in idx.chunks_exact(3) {
                out.push(Prim::Triangle(verts[t[0]], verts[t[1]], verts[t[2]]));
            }
        }
        // A polygon with no area (all points on a line) is still its boundary.
        _ => rings
            .iter()
            .for_each(|r| decompose(&Shape::LineString(r.clone()), out)),
    }
}

fn point_segment(p: C, a: C, b: C) -> f64 {
    let ab = sub(b, a);
    let len2 = dot(ab, ab);
    let t = if len2 > 0.0 {
        (dot(sub(p, a), ab) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    dist(p, add(a, mul(ab, t)))
}

/// Closest distance between segments p1q1 and p2q2 (Ericson, Real-Time Collision Detection 5.1.9).
fn segment_segment(p1: C, q1: C, p2: C, q2: C) -> f64 {
    let (d1, d2, r) = (sub(q1, p1), sub(q2, p2), sub(p1, p2));
    let (a, e, f) = (dot(d1, d1), dot(d2, d2), dot(d2, r));
    if a <= f64::EPSILON && e <= f64::EPSILON {
        return dist(p1, p2);
    }
    if a <= f64::EPSILON {
        return point_segment(p1, p2, q2);
    }
    let c = dot(d1, r);
    if e <= f64::EPSILON {
        return point_segment(p2, p1, q1);
    }
    let b = dot(d1, d2);
    let denom = a * e - b * b;
    let mut s = if denom > 0.0 {
        ((b * f - c * e) / denom).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mut t = (b * s + f) / e;
    if t < 0.0 {
        t = 0.0;
        s = (-c / a).clamp(0.0, 1.0);
    } else if t > 1.0 {
        t = 1.0;
        s = ((b - c) / a).clamp(0.0, 1.0);
    }
    dist(add(p1, mul(d1, s)), add(p2, mul(d2, t)))
}

/// Closest point on triangle abc to p (Ericson 5.1.5).
fn point_triangle(p: C, a: C, b: C, c: C) -> f64 {
    let (ab, ac, ap) = (sub(b, a), sub(c, a), sub(p, a));
    let (d1, d2) = (dot(ab, ap), dot(ac, ap));
    if d1 <= 0.0 && d2 <= 0.0 {
        return dist(p, a);
    }
    let bp = sub(p, b);
    let (d3, d4) = (dot(ab, bp), dot(ac, bp));
    if d3 >= 0.0 && d4 <= d3 {
        return dist(p, b);
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        return dist(p, add(a, mul(ab, d1 / (d1 - d3))));
    }
    let cp = sub(p, c);
    let (d5, d6) = (dot(ab, cp), dot(ac, cp));
    if d6 >= 0.0 && d5 <= d6 {
        return dist(p, c);
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        return dist(p, add(a, mul(ac, d2 / (d2 - d6))));
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        return dist(
            p,
            add(b, mul(sub(c, b), (d4 - d3) / ((d4 - d3) + (d5 - d6)))),
        );
    }
    let denom = va + vb + vc;
    if denom == 0.0 {
        // Degenerate (zero-area) triangle: its edges.
        return point_segment(p, a, b)
            .min(point_segment(p, b, c))
            .min(point_segment(p, a, c));
    }
    let (v, w) = (vb / denom, vc / denom);
    dist(p, add(a, add(mul(ab, v), mul(ac, w))))
}

/// Whether segment pq crosses triangle abc (Möller–Trumbore on the segment's parameter range).
fn segment_pierces_triangle(p: C, q: C, a: C, b: C, c: C) -> bool {
    let d = sub(q, p);
    let (e1, e2) = (sub(b, a), sub(c, a));
    let h = cross(d, e2);
    let det = dot(e1, h);
    if det.abs() < f64::EPSILON * dot(e1, e1).max(1.0) {
        return false; // parallel: the edge and endpoint distances decide
    }
    let inv = 1.0 / det;
    let s = sub(p, a);
    let u = inv * dot(s, h);
    if !(0.0..=1.0).contains(&u) {
        return false;
    }
    let qv = cross(s, e1);
    let v = inv * dot(d, qv);
    if v < 0.0 || u + v > 1.0 {
        return false;
    }
    (0.0..=1.0).contains(&(inv * dot(e2, qv)))
}

fn segment_triangle(p: C, q: C, a: C, b: C, c: C) -> f64 {
    if segment_pierces_triangle(p, q, a, b, c) {
        return 0.0;
    }
    point_triangle(p, a, b, c)
        .min(point_triangle(q, a, b, c))
        .min(segment_segment(p, q, a, b))
        .min(segment_segment(p, q, b, c))
        .min(segment_segment(p, q, c, a))
}

fn prim_distance(x: Prim, y: Prim) -> f64 {
    use Prim::*;
    match (x, y) {
        (Point(p), Point(q)) => dist(p, q),
        (Point(p), Segment(a, b)) | (Segment(a, b), Point(p)) => point_segment(p, a, b),
        (Point(p), Triangle(a, b, c)) | (Triangle(a, b, c), Point(p)) => point_triangle(p, a, b, c),
        (Segment(p, q), Segment(a, b)) => segment_segment(p, q, a, b),
        (Segment(p, q), Triangle(a, b, c)) | (Triangle(a, b, c), Segment(p, q)) => {
            segment_triangle(p, q, a, b, c)
        }
        (Triangle(a, b, c), Triangle(d, e, f)) => segment_triangle(a, b, d, e, f)
            .min(segment_triangle(b, c, d, e, f))
            .min(segment_triangle(c, a, d, e, f))
            .min(segment_triangle(d, e, a, b, c))
            .min(segment_triangle(e, f, a, b, c))
            .min(segment_triangle(f, d, a, b, c)),
    }
}

/// The least 3D distance between two geometries, stopping early once it is below `stop`; `None` when either
/// is empty.
pub fn distance(a: &Shape, b: &Shape, stop: f64) -> Option<f64> {
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    decompose(a, &mut pa);
    decompose(b, &mut pb);
    let mut best: Option<f64> = None;
    for x in &pa {
        for y in &pb {
            let d = prim_distance(*x, *y);
            if best.is_none_or(|b| d < b) {
                best = Some(d);
                if d <= stop {
                    return best;
                }
            }
        }
    }
    best
}

/// Whether two geometries share a point in 3D.
pub fn intersects(a: &Shape, b: &Shape) -> bool {
    distance(a, b, TOUCH).is_some_and(|d| d <= TOUCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square_at(z: f64) -> Shape {
        Shape::Polygon(vec![vec![
            [0.0, 0.0, z],
            [2.0, 0.0, z],
            [2.0, 2.0, z],
            [0.0, 2.0, z],
            [0.0, 0.0, z],
        ]])
    }

    #[test]
    fn stacked_squares_do_not_intersect_in_3d() {
        assert!(!intersects(&square_at(0.0), &square_at(3.0)));
        assert_eq!(distance(&square_at(0.0), &square_at(3.0), 0.0), Some(3.0));
    }

    #[test]
    fn a_line_through_a_face_intersects_it() {
        let pierce = Shape::LineString(vec![[1.0, 1.0, -1.0], [1.0, 1.0, 1.0]]);
        assert!(intersects(&pierce, &square_at(0.0)));
        let beside = Shape::LineString(vec![[3.0, 1.0, -1.0], [3.0, 1.0, 1.0]]);
        assert!(!intersects(&beside, &square_at(0.0)));
        assert_eq!(distance(&beside, &square_at(0.0), 0.0), Some(1.0));
    }

    #[test]
    fn point_above_a_vertical_wall() {
        let wall = Shape::Polygon(vec![vec![
            [0.0, 0.0, 0.0],
            [4.0, 0.0, 0.0],
            [4.0, 0.0, 3.0],
            [0.0, 0.0, 3.0],
            [0.0, 0.0, 0.0],
        ]]);
        let d = distance(&Shape::Point(Some([2.0, 5.0, 1.0])), &wall, 0.0).expect("non-empty");
        assert!((d - 5.0).abs() < 1e-12);
        assert_eq!(distance(&Shape::Point(None), &wall, 0.0), None);
    }
}
