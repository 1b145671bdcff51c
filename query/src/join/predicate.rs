//! The exact spatial predicates the index join refines candidates with, and the prepared form of the build
//! side's geometries. They give the same answers as the SQL functions they stand for (`st_intersects`,
//! `st_contains`, `st_within`, `st_dwithin`, `st_distance(a, b) < d`), which the tests check by running every
//! join with and without the index.
//!
//! Points against polygons, the common case (addresses, sensors, laser points in parcels), skip DE-9IM: each
//! polygon keeps its edges bucketed by y-band, so a point is classified inside / on the boundary / outside
//! by looking at the few edges of its band, with robust orientation tests.

use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{Coord, Distance, Euclidean, Relate};

/// The spatial test of a join, with the build side as `a` or `b` of the SQL function.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Predicate {
    /// `st_intersects(a, b)`.
    Intersects,
    /// `st_contains(a, b)`.
    Contains,
    /// `st_within(a, b)`.
    Within,
    /// `st_dwithin(a, b, d)` (distance ≤ d).
    DWithin(f64),
    /// `st_distance(a, b) < d` (`inclusive`: ≤).
    DistanceBelow(f64, bool),
}

impl Predicate {
    /// How far the probe envelope must be grown to find every candidate.
    pub fn reach(&self) -> f64 {
        match self {
            Predicate::DWithin(d) | Predicate::DistanceBelow(d, _) => d.max(0.0),
            _ => 0.0,
        }
    }

    /// The predicate with its arguments swapped (`contains(a, b)` = `within(b, a)`).
    pub fn swapped(self) -> Predicate {
        match self {
            Predicate::Contains => Predicate::Within,
            Predicate::Within => Predicate::Contains,
            p => p,
        }
    }
}

/// Where a point lies relative to a polygonal geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Inside,
    Boundary,
    Outside,
}

/// Polygon edges in horizontal bands.
#[derive(Debug)]
struct EdgeBands {
    ymin: f64,
    height: f64,
    bands: Vec<Vec<(Coord, Coord)>>,
}

impl EdgeBands {
    fn new(mp: &geo::MultiPolygon) -> Option<EdgeBands> {
        let mut edges = Vec::new();
        for p in &mp.0 {
            for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
                edges.extend(ring.lines().map(|l| (l.start, l.end)));
            }
        }
        let (ymin, ymax) = edges
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), (a, b)| {
                (lo.min(a.y).min(b.y), hi.max(a.y).max(b.y))
            });
        if edges.is_empty() || ymax.partial_cmp(&ymin) != Some(std::cmp::Ordering::Greater) {
            return None;
        }
        // About four edges a band keeps each point test short without a large index.
        let n = (edges.len() / 4).clamp(1, 1 << 16);
        let height = (ymax - ymin) / n as f64;
        let mut bands = vec![Vec::new(); n];
        for (a, b) in edges {
            let lo = (((a.y.min(b.y) - ymin) / height) as usize).min(n - 1);
            let hi = (((a.y.max(b.y) - ymin) / height) as usize).min(n - 1);
            for band in &mut bands[lo..=hi] {
                band.push((a, b));
            }
        }
        Some(EdgeBands {
            ymin,
            height,
            bands,
        })
    }

    fn position(&self, p: Coord) -> Position {
        let i = ((p.y - self.ymin) / self.height).floor();
        // NaN or below the lowest edge; points above the top band are outside too.
        if i.is_nan() || i < 0.0 || i as usize > self.bands.len() {
            return Position::Outside;
        }
        let i = (i as usize).min(self.bands.len() - 1);
        let mut crossings = 0u32;
        for &(a, b) in &self.bands[i] {
            let o = RobustKernel::orient2d(a, b, p);
            if o == Orientation::Collinear
                && p.x >= a.x.min(b.x)
                && p.x <= a.x.max(b.x)
                && p.y >= a.y.min(b.y)
                && p.y <= a.y.max(b.y)
            {
                return Position::Boundary;
            }
            // Half-open rule: an edge counts when it spans p.y with one end strictly above.
            if (a.y <= p.y) != (b.y <= p.y) {
                let upward = b.y > a.y;
                if (upward && o == Orientation::CounterClockwise)
                    || (!upward && o == Orientation::Clockwise)
                {
                    crossings += 1;
                }
            }
        }
        if crossings % 2 == 1 {
            Position::Inside
        } else {
            Position::Outside
        }
    }
}

/// A build-side geometry, ready to be tested many times.
pub struct Prepared {
    geom: geo::Geometry,
    bands: Option<EdgeBands>,
}

impl std::fmt::Debug for Prepared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prepared")
            .field("geom", &self.geom)
            .finish_non_exhaustive()
    }
}

impl Prepared {
    /// Prepares `geom` (edge bands for polygons).
    pub fn new(geom: geo::Geometry) -> Prepared {
        let bands = match &geom {
            geo::Geometry::Polygon(p) => EdgeBands::new(&geo::MultiPolygon(vec![p.clone()])),
            geo::Geometry::MultiPolygon(m) => EdgeBands::new(m),
            _ => None,
        };
        Prepared { geom, bands }
    }

    /// DE-9IM of build against probe. geo's `PreparedGeometry` would cache the build graph, but it is not
    /// `Send`, and the build side is shared by all partitions.
    fn relate(&self, other: &geo::Geometry) -> geo::relate::IntersectionMatrix {
        self.geom.relate(other)
    }

    /// Evaluates `predicate(build, probe)` when `build_is_a`, else `predicate(probe, build)`.
    pub fn test(&self, predicate: Predicate, probe: &geo::Geometry, build_is_a: bool) -> bool {
        let p = if build_is_a {
            predicate
        } else {
            predicate.swapped()
        };
        // p is now "build <p> probe".
        match p {
            Predicate::DWithin(d) => Euclidean.distance(&self.geom, probe) <= d,
            Predicate::DistanceBelow(d, inclusive) => {
                let x = Euclidean.distance(&self.geom, probe);
                if inclusive { x <= d } else { x < d }
            }
            Predicate::Intersects | Predicate::Contains | Predicate::Within => {
                if let (Some(bands), geo::Geometry::Point(pt)) = (&self.bands, probe) {
                    let pos = bands.position(pt.0);
                    return match p {
                        Predicate::Intersects => pos != Position::Outside,
                        Predicate::Contains => pos == Position::Inside,
                        // A polygon is never within a point.
                        _ => false,
                    };
                }
                let m = self.relate(probe);
                match p {
                    Predicate::Intersects => m.is_intersects(),
                    Predicate::Contains => m.is_contains(),
                    _ => m.is_within(),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, Intersects};

    #[test]
    fn banded_point_tests_agree_with_geo() {
        let poly: geo::Polygon = geo::wkt! { POLYGON((0. 0.,10. 0.,10. 10.,5. 4.,0. 10.,0. 0.),(2. 1.,3. 1.,3. 2.,2. 1.)) };
        let prepared = Prepared::new(geo::Geometry::Polygon(poly.clone()));
        for x in -2..=24 {
            for y in -2..=24 {
                let pt = geo::Point::new(x as f64 * 0.5, y as f64 * 0.5);
                let g = geo::Geometry::Point(pt);
                assert_eq!(
                    prepared.test(Predicate::Intersects, &g, true),
                    poly.intersects(&pt),
                    "{pt:?}"
                );
                assert_eq!(
                    prepared.test(Predicate::Contains, &g, true),
                    poly.contains(&pt),
                    "{pt:?}"
                );
                assert_eq!(
                    prepared.test(Predicate::Within, &g, false),
                    poly.contains(&pt),
                    "{pt:?}"
                );
            }
        }
    }
}
