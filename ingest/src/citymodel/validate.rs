//! Surface checks both city-model readers share, after reading: zero-area surfaces are left out and
//! self-intersecting ones are reported, each as a quality issue naming the object, the LOD and the surface.
//!
//! The readers already drop rings with fewer than three distinct vertices and non-finite or absurd
//! coordinates; what is left can still be a sliver (three collinear vertices) or a bow-tie. A sliver has
//! no area to draw and no plane, so it is dropped here (as val3dity's error 204 / degenerate surface). A
//! self-intersecting ring (val3dity 104, ISO 19107) still triangulates to something drawable, so it is
//! kept as surveyed and only reported: the planner sees the building, the data owner gets the list.
//!
//! Each polygon is checked in its own plane: projected onto two axes perpendicular to its Newell normal,
//! relative to its first vertex (world coordinates of 6.5e6 m would swamp the small differences).

use geo::algorithm::Validation;
use geo::{Coord, Line, LineString, Polygon};
use tvilling_core::provenance::Issue;
use tvilling_core::surfaces::newell_normal;

use super::model::{CityModel, Surface};

/// A ring whose vertices all lie within this fraction of its length from one line is a sliver. Relative,
/// so the test is the same in metres, feet or degrees: a 10 m wall would need to be thinner than 1 µm.
const SLIVER: f64 = 1e-7;

/// Rings up to this many vertices are checked pair by pair (allocation-free, the common case: walls and
/// roof facets have 4–8); longer rings and polygons with holes go through geo's full OGC validation.
const PAIRWISE_MAX: usize = 64;

/// Checks every surface of every object; drops slivers and records an issue for each problem.
pub fn surfaces(model: &mut CityModel) {
    let mut issues = vec![];
    for (index, object) in model.objects.iter_mut().enumerate() {
        for (lod, surfaces) in object.lods.iter_mut() {
            let mut k = 0usize;
            surfaces.retain(|s| {
                let at = format!(
                    "{} {}: LOD {lod} surface {k}",
                    object.object_type, object.id
                );
                k += 1;
                match check(s) {
                    Verdict::Fine => true,
                    Verdict::Sliver => {
                        issues.push(issue(index, &object.id, format!(
                            "{at} has no area (its vertices lie on a line); the surface is left out"
                        )));
                        false
                    }
                    Verdict::Invalid(why) => {
                        issues.push(issue(
                            index,
                            &object.id,
                            format!(
                                "{at}: {why}; kept as surveyed (fix the surface in the source)"
                            ),
                        ));
                        true
                    }
                }
            });
        }
        object.lods.retain(|_, s| !s.is_empty());
    }
    model.issues.extend(issues);
}

fn issue(index: usize, id: &str, reason: String) -> Issue {
    Issue {
        feature: Some(index as i64),
        id: Some(id.to_owned()),
        reason,
    }
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Fine,
    Sliver,
    Invalid(String),
}

fn check(surface: &Surface) -> Verdict {
    let Some(exterior) = surface.rings.first() else {
        return Verdict::Sliver;
    };
    let Some(normal) = plane(exterior) else {
        return Verdict::Sliver;
    };
    let frame = Frame::new(exterior[0], normal);
    let rings: Vec<Vec<Coord>> = surface
        .rings
        .iter()
        .map(|r| r.iter().map(|p| frame.project(*p)).collect())
        .collect();
    if rings.len() == 1 && exterior.len() <= PAIRWISE_MAX {
        return match crossing(&rings[0]) {
            Some((i, j)) => Verdict::Invalid(format!(
                "the exterior ring crosses itself (edges {i} and {j})"
            )),
            None => Verdict::Fine,
        };
    }
    let mut rings = rings.into_iter().map(LineString::new);
    let outer = rings.next().unwrap_or_else(|| LineString::new(vec![]));
    let polygon = Polygon::new(outer, rings.collect());
    let problems: Vec<String> = polygon
        .validation_errors()
        .iter()
        .map(ToString::to_string)
        .collect();
    if problems.is_empty() {
        Verdict::Fine
    } else {
        Verdict::Invalid(problems.join("; "))
    }
}

/// The unit normal of the ring's plane, or `None` when every vertex lies on one line (within `SLIVER` of
/// the ring's length). The Newell normal is the best fit, but it vanishes for a symmetric bow-tie, whose
/// two lobes cancel: then the widest triangle of the ring gives the plane, so the crossing is still found.
fn plane(ring: &[[f64; 3]]) -> Option<[f64; 3]> {
    let p0 = *ring.first()?;
    let far = ring
        .iter()
        .map(|p| sub(*p, p0))
        .max_by(|a, b| dot(*a, *a).total_cmp(&dot(*b, *b)))?;
    let length = dot(far, far).sqrt();
    let wide = ring
        .iter()
        .map(|p| cross(far, sub(*p, p0)))
        .max_by(|a, b| dot(*a, *a).total_cmp(&dot(*b, *b)))?;
    // |far × (p - p0)| / |far| is p's distance from the line.
    if length == 0.0 || dot(wide, wide).sqrt() / length <= SLIVER * length {
        return None;
    }
    let n = newell_normal(ring);
    let len = dot(n, n).sqrt();
    Some(if len / 2.0 > SLIVER * length * length {
        [n[0] / len, n[1] / len, n[2] / len]
    } else {
        normalise(wide)
    })
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// Two axes in a polygon's plane, for 2D checks.
struct Frame {
    origin: [f64; 3],
    u: [f64; 3],
    v: [f64; 3],
}

impl Frame {
    fn new(origin: [f64; 3], normal: [f64; 3]) -> Frame {
        // Any vector not parallel to the normal gives a first axis; the least aligned world axis is the
        // best conditioned.
        let helper = if normal[0].abs() < 0.9 {
            [1.0, 0.0, 0.0]
        } else {
            [0.0, 1.0, 0.0]
        };
        let u = normalise(cross(helper, normal));
        let v = cross(normal, u);
        Frame { origin, u, v }
    }

    fn project(&self, p: [f64; 3]) -> Coord {
        let d = [
            p[0] - self.origin[0],
            p[1] - self.origin[1],
            p[2] - self.origin[2],
        ];
        Coord {
            x: dot(d, self.u),
            y: dot(d, self.v),
        }
    }
}

/// The first pair of non-adjacent edges of a closed ring that touch or cross; `None` for a simple ring.
/// The ring may or may not repeat its first vertex at the end.
fn crossing(ring: &[Coord]) -> Option<(usize, usize)> {
    let mut pts: &[Coord] = ring;
    if pts.len() > 1 && pts.first() == pts.last() {
        pts = &pts[..pts.len() - 1];
    }
    let n = pts.len();
    if n < 4 {
        return None; // a triangle cannot cross itself
    }
    let edge = |i: usize| Line::new(pts[i], pts[(i + 1) % n]);
    for i in 0..n {
        // Skip the edge itself and its two neighbours (they share a vertex by construction); the pair
        // (0, n-1) is adjacent too.
        for j in i + 2..n {
            if i == 0 && j == n - 1 {
                continue;
            }
            if geo::line_intersection::line_intersection(edge(i), edge(j)).is_some() {
                return Some((i, j));
            }
        }
    }
    None
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn normalise(a: [f64; 3]) -> [f64; 3] {
    let l = dot(a, a).sqrt();
    [a[0] / l, a[1] / l, a[2] / l]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::citymodel::model::CityObject;

    fn surface(rings: &[&[[f64; 3]]]) -> Surface {
        Surface {
            rings: rings.iter().map(|r| r.to_vec()).collect(),
            semantic: None,
        }
    }

    // A vertical wall 10 m wide and 3 m high at SWEREF 99 TM magnitudes: the frame must cope with both.
    const X: f64 = 513_000.0;
    const Y: f64 = 6_570_000.0;

    #[test]
    fn judges_surfaces_by_area_and_self_intersection() {
        let wall: &[[f64; 3]] = &[
            [X, Y, 0.0],
            [X + 10.0, Y, 0.0],
            [X + 10.0, Y, 3.0],
            [X, Y, 3.0],
            [X, Y, 0.0],
        ];
        let bow_tie: &[[f64; 3]] = &[
            [X, Y, 0.0],
            [X + 10.0, Y, 3.0],
            [X + 10.0, Y, 0.0],
            [X, Y, 3.0],
        ];
        let sliver: &[[f64; 3]] = &[[X, Y, 0.0], [X + 5.0, Y, 0.0], [X + 10.0, Y, 0.0]];
        let hole_outside: &[[f64; 3]] =
            &[[X + 20.0, Y, 1.0], [X + 21.0, Y, 1.0], [X + 21.0, Y, 2.0]];
        let hole_inside: &[[f64; 3]] = &[
            [X + 1.0, Y, 1.0],
            [X + 1.0, Y, 2.0],
            [X + 2.0, Y, 2.0],
            [X + 1.0, Y, 1.0],
        ];
        let cases: [(&str, Surface, &str); 6] = [
            ("wall", surface(&[wall]), ""),
            ("wall with a hole", surface(&[wall, hole_inside]), ""),
            (
                "bow tie",
                surface(&[bow_tie]),
                "crosses itself (edges 0 and 2)",
            ),
            ("sliver", surface(&[sliver]), "sliver"),
            ("no rings", surface(&[]), "sliver"),
            (
                "hole outside",
                surface(&[wall, hole_outside]),
                "not contained within the polygon's exterior",
            ),
        ];
        for (case, s, want) in cases {
            match (check(&s), want) {
                (Verdict::Fine, "") | (Verdict::Sliver, "sliver") => {}
                (Verdict::Invalid(why), w) if !w.is_empty() && why.contains(w) => {}
                (got, _) => panic!("{case}: got {got:?}, wanted '{want}'"),
            }
        }
    }

    #[test]
    fn drops_slivers_keeps_bow_ties_and_names_object_lod_and_surface() {
        let ok = surface(&[&[[0.0, 0.0, 0.0], [4.0, 0.0, 0.0], [4.0, 4.0, 0.0]]]);
        let sliver = surface(&[&[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]]);
        let bow_tie = surface(&[&[
            [0.0, 0.0, 5.0],
            [4.0, 4.0, 5.0],
            [4.0, 0.0, 5.0],
            [0.0, 4.0, 5.0],
        ]]);
        let mut model = CityModel::default();
        model.objects.push(CityObject {
            id: "b1".into(),
            object_type: "Building".into(),
            lods: [("2".to_string(), vec![ok, sliver, bow_tie])].into(),
            ..Default::default()
        });
        model.objects.push(CityObject {
            id: "b2".into(),
            object_type: "BuildingPart".into(),
            lods: [(
                "1".to_string(),
                vec![surface(&[&[[0.0; 3], [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]])],
            )]
            .into(),
            ..Default::default()
        });
        surfaces(&mut model);
        assert_eq!(model.objects[0].lods["2"].len(), 2, "sliver dropped");
        assert!(model.objects[1].lods.is_empty(), "a LOD left empty goes");
        let reasons: Vec<&str> = model.issues.iter().map(|i| i.reason.as_str()).collect();
        assert_eq!(
            reasons,
            [
                "Building b1: LOD 2 surface 1 has no area (its vertices lie on a line); the surface is \
                 left out",
                "Building b1: LOD 2 surface 2: the exterior ring crosses itself (edges 0 and 2); kept \
                 as surveyed (fix the surface in the source)",
                "BuildingPart b2: LOD 1 surface 0 has no area (its vertices lie on a line); the surface \
                 is left out",
            ]
        );
        assert_eq!(model.issues[2].feature, Some(1));
        assert_eq!(model.issues[2].id.as_deref(), Some("b2"));
    }
}
