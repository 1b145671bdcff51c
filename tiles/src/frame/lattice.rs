//! Dataset coordinates → the local frame for many points: the exact chain of [`Projector`] evaluated at
//! the corners of a fixed lattice of small squares and interpolated between them.
//!
//! The exact chain (PROJ to WGS 84 with its datum shift, the geoid grid, ECEF, the local frame) costs
//! about a microsecond a point: most of a point tiler's reading time. Over a square a few tens of metres
//! wide it is so smooth that bilinear interpolation between the corners agrees with it to a fraction of a
//! millimetre — GDAL's approximate transformer does the same for raster warping. Only the horizontal part
//! is interpolated: ECEF is linear in ellipsoidal height along the ellipsoid normal, so a point's height
//! enters exactly. The geoid separation N is evaluated at every corner, so it follows the grid far more
//! closely than one N per run of points would.
//!
//! - **Checked.** Each square is compared with the exact chain at its centre and edge midpoints before
//!   use; one that is off by more than [`TOLERANCE`] (near a pole, at a projection's edge, outside the
//!   CRS's area) converts each of its points exactly, with the exact chain's own errors.
//! - **Deterministic.** The lattice is anchored at multiples of its step in dataset units and the step
//!   is a power of two, so a point's position depends on the point alone, not on its neighbours in a
//!   batch: tile content hashes survive edits elsewhere.

use rustc_hash::FxHashMap;

use super::{Enu, Projector, distance, geodetic_to_ecef};
use crate::Result;

/// The largest difference (m) a square may have from the exact chain at its check points.
pub const TOLERANCE: f64 = 1e-4;
/// Aimed-at edge of a square on the ground (m): interpolation error grows with its square (about
/// 0.02 mm at 32 m, from the Earth's curvature), the cost of the corners with its inverse.
const TARGET_STEP_M: f64 = 32.0;
/// Heights (m) the check scales the normal's error by: no point on Earth lies farther from the geoid.
const MAX_HEIGHT_M: f64 = 9_000.0;

/// The exact chain at a horizontal position: where ellipsoidal height 0 plus the geoid separation lands
/// in the local frame, and the local frame's components of the ellipsoid normal there.
#[derive(Debug, Clone, Copy)]
struct Surface {
    base: [f64; 3],
    up: [f64; 3],
}

/// One lattice square: the exact chain at its corners (lower left, lower right, upper left, upper
/// right).
#[derive(Debug, Clone, Copy)]
struct Square {
    lo: [f64; 2],
    corners: [Surface; 4],
}

impl Square {
    fn at(&self, p: [f64; 3], step: f64) -> [f64; 3] {
        let u = (p[0] - self.lo[0]) / step;
        let v = (p[1] - self.lo[1]) / step;
        let w = [(1.0 - u) * (1.0 - v), u * (1.0 - v), (1.0 - u) * v, u * v];
        let mut out = [0.0; 3];
        for (c, wi) in self.corners.iter().zip(w) {
            for ((o, b), u) in out.iter_mut().zip(c.base).zip(c.up) {
                *o += wi * (b + p[2] * u);
            }
        }
        out
    }

    fn surface_at(&self, x: f64, y: f64, step: f64) -> Surface {
        let base = self.at([x, y, 0.0], step);
        let top = self.at([x, y, 1.0], step);
        Surface {
            base,
            up: [0, 1, 2].map(|k| top[k] - base[k]),
        }
    }
}

/// Converts points through the lattice; one per thread, since it holds a [`Projector`].
pub struct Lattice<'a> {
    projector: &'a Projector,
    enu: &'a Enu,
    step: f64,
    /// Squares met so far by their lattice index; `None` for those converted exactly.
    squares: FxHashMap<[i64; 2], Option<Square>>,
    last: Option<([i64; 2], Option<Square>)>,
}

impl<'a> Lattice<'a> {
    /// A lattice of `step` dataset units (from [`Lattice::step_near`]).
    pub fn new(projector: &'a Projector, enu: &'a Enu, step: f64) -> Lattice<'a> {
        Lattice {
            projector,
            enu,
            step,
            squares: FxHashMap::default(),
            last: None,
        }
    }

    /// The lattice step for data around dataset coordinate (`x`, `y`): the power of two of dataset units
    /// closest to [`TARGET_STEP_M`] on the ground there. A power of two so that it stays put while the
    /// data's centre moves a little.
    pub fn step_near(projector: &Projector, x: f64, y: f64) -> Result<f64> {
        // A thousandth of a unit: a whole degree could leave a geographic CRS's range.
        const D: f64 = 1e-3;
        let a = projector.ecef([x, y, 0.0], 0.0)?;
        let b = projector.ecef([x + D, y, 0.0], 0.0)?;
        let metres_per_unit = distance(a, b) / D;
        let exp = (TARGET_STEP_M / metres_per_unit).log2().round();
        Ok(if exp.is_finite() {
            2f64.powi(exp as i32)
        } else {
            1.0
        })
    }

    /// `p` (dataset x, y and orthometric height) in the local frame.
    pub fn local(&mut self, p: [f64; 3]) -> Result<[f64; 3]> {
        let key = [p[0], p[1]].map(|v| super::floor_i64(v / self.step));
        let square = match self.last {
            Some((k, s)) if k == key => s,
            _ => {
                let s = match self.squares.get(&key) {
                    Some(s) => *s,
                    None => {
                        let s = self.fit(key);
                        self.squares.insert(key, s);
                        s
                    }
                };
                self.last = Some((key, s));
                s
            }
        };
        match square {
            Some(s) => Ok(s.at(p, self.step)),
            None => self.exact(p),
        }
    }

    /// The exact chain for one point.
    fn exact(&self, p: [f64; 3]) -> Result<[f64; 3]> {
        let s = self.surface(p[0], p[1])?;
        Ok([0, 1, 2].map(|k| s.base[k] + p[2] * s.up[k]))
    }

    fn surface(&self, x: f64, y: f64) -> Result<Surface> {
        let (lon, lat) = self.projector.lon_lat(x, y)?;
        let n = self.projector.geoid_height(lon, lat);
        let base = geodetic_to_ecef(lon, lat, n);
        let top = geodetic_to_ecef(lon, lat, n + 1.0);
        let up = [0, 1, 2].map(|k| top[k] - base[k]);
        Ok(Surface {
            base: self.enu.local(base),
            up: self.enu.rotate(up),
        })
    }

    /// The square at lattice index `key`, or `None` when interpolation there is not within
    /// [`TOLERANCE`] of the exact chain (or the exact chain fails at a corner).
    fn fit(&self, key: [i64; 2]) -> Option<Square> {
        let step = self.step;
        let lo = key.map(|i| i as f64 * step);
        let at = |dx: f64, dy: f64| self.surface(lo[0] + dx * step, lo[1] + dy * step).ok();
        let square = Square {
            lo,
            corners: [at(0.0, 0.0)?, at(1.0, 0.0)?, at(0.0, 1.0)?, at(1.0, 1.0)?],
        };
        for (dx, dy) in [(0.5, 0.5), (0.5, 0.0), (0.0, 0.5), (1.0, 0.5), (0.5, 1.0)] {
            let exact = at(dx, dy)?;
            let near = square.surface_at(lo[0] + dx * step, lo[1] + dy * step, step);
            let off = (0..3)
                .map(|k| {
                    (exact.base[k] - near.base[k]).abs()
                        + MAX_HEIGHT_M * (exact.up[k] - near.up[k]).abs()
                })
                .fold(0.0, f64::max);
            if off.is_nan() || off > TOLERANCE {
                return None;
            }
        }
        Some(square)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::choose_geoid;
    use tvilling_core::crs::Crs;

    /// Points spread over `extent` dataset units around (`x`, `y`), at heights from −50 to 500.
    fn spread(x: f64, y: f64, extent: f64) -> Vec<[f64; 3]> {
        // A fixed sequence (golden-ratio steps), so the test is reproducible without a random crate.
        (0..5_000)
            .map(|i| {
                let f = |k: f64| (i as f64 * k).fract();
                [
                    x + (f(0.618_033_988) - 0.5) * extent,
                    y + (f(0.754_877_666) - 0.5) * extent,
                    -50.0 + 550.0 * f(0.569_840_29),
                ]
            })
            .collect()
    }

    fn check_against_exact(crs: Crs, x: f64, y: f64, extent: f64) {
        let geoid = choose_geoid(crs);
        let projector = Projector::new(crs, &geoid).unwrap();
        let (lon, lat) = projector.lon_lat(x, y).unwrap();
        let enu = Enu::at(lon, lat, 0.0);
        let step = Lattice::step_near(&projector, x, y).unwrap();
        let mut lattice = Lattice::new(&projector, &enu, step);
        let mut worst: f64 = 0.0;
        for p in spread(x, y, extent) {
            let near = lattice.local(p).unwrap();
            // The exact chain as the building tiler runs it.
            let (lon, lat) = projector.lon_lat(p[0], p[1]).unwrap();
            let n = projector.geoid_height(lon, lat);
            let exact = enu.local(projector.ecef(p, n).unwrap());
            for k in 0..3 {
                worst = worst.max((near[k] - exact[k]).abs());
            }
        }
        assert!(worst <= TOLERANCE, "{crs}: {worst} m from the exact chain");
        assert!(
            lattice.squares.values().all(Option::is_some),
            "{crs}: some squares were converted exactly"
        );
    }

    #[test]
    fn interpolation_stays_within_the_tolerance_of_the_exact_chain() {
        // SWEREF 99 TM + RH 2000, metres: 2 km around Stockholm City Hall.
        check_against_exact(Crs::epsg(3006, Some(5613)), 674_032.0, 6_580_821.0, 2_000.0);
        // Oregon GIC Lambert in international feet on NAD83(HARN), a datum shift: autzen.
        check_against_exact(Crs::epsg(2994, None), 637_000.0, 851_000.0, 6_000.0);
        // Degrees: 0.02° around Delft.
        check_against_exact(Crs::epsg(4326, None), 4.36, 52.0, 0.02);
    }

    #[test]
    fn a_point_lands_in_the_same_place_whatever_came_before_it() {
        let crs = Crs::epsg(3006, Some(5613));
        let geoid = choose_geoid(crs);
        let projector = Projector::new(crs, &geoid).unwrap();
        let enu = Enu::at(18.05, 59.33, 0.0);
        let step = Lattice::step_near(&projector, 674_032.0, 6_580_821.0).unwrap();
        assert_eq!(step, 32.0, "SWEREF 99 TM metres give 32 m squares");
        let points = spread(674_032.0, 6_580_821.0, 500.0);
        let mut forward = Lattice::new(&projector, &enu, step);
        let mut backward = Lattice::new(&projector, &enu, step);
        let a: Vec<_> = points.iter().map(|&p| forward.local(p).unwrap()).collect();
        let mut b: Vec<_> = points
            .iter()
            .rev()
            .map(|&p| backward.local(p).unwrap())
            .collect();
        b.reverse();
        assert_eq!(a, b);
    }

    #[test]
    fn squares_outside_the_crs_area_fall_back_to_the_exact_chain_and_its_error() {
        let crs = Crs::epsg(4326, None);
        let projector = Projector::new(crs, &choose_geoid(crs)).unwrap();
        let enu = Enu::at(0.0, 89.9, 0.0);
        let mut lattice = Lattice::new(&projector, &enu, 0.25);
        // Latitude 90.2°: the square's upper corners do not exist, so the point is converted exactly and
        // fails as the exact chain does.
        let err = lattice.local([10.0, 90.1, 0.0]).unwrap_err().to_string();
        assert!(err.contains("outside"), "{err}");
        // The square below it is fine.
        assert!(lattice.local([10.0, 89.6, 0.0]).is_ok());
    }
}
