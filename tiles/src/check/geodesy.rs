//! WGS 84 geodesy the checker needs: Earth-centred, Earth-fixed (ECEF) cartesian coordinates to geodetic
//! longitude, latitude and ellipsoidal height.
//!
//! 3D Tiles places content in ECEF metres (EPSG:4978) and defines `region` bounding volumes in geodetic
//! radians and metres above the WGS 84 ellipsoid (EPSG:4979), so both sides of a region check meet here.
//! The checker keeps its own conversion, rather than sharing the writer's, so that a mistake in one is
//! not silently repeated in the other.

/// WGS 84 semi-major axis, metres.
pub(crate) const WGS84_A: f64 = 6_378_137.0;
/// WGS 84 flattening.
pub(crate) const WGS84_F: f64 = 1.0 / 298.257_223_563;
/// WGS 84 first eccentricity squared, `f (2 - f)`.
pub(crate) const WGS84_E2: f64 = WGS84_F * (2.0 - WGS84_F);

/// Converts an ECEF position (metres, EPSG:4978) to WGS 84 geodetic coordinates
/// `[longitude °, latitude °, height m above the ellipsoid]` (EPSG:4979).
///
/// The latitude comes from the classic fixed-point iteration `φ = atan2(z, p (1 − e² N / (N + h)))`
/// (Heiskanen & Moritz, *Physical Geodesy*, 1967, §5-3). Each step shrinks the error by about `e²`
/// (≈ 0.0067), so a handful of steps reach 1e-15 rad anywhere outside the Earth's core; the loop stops
/// when a step changes the latitude by less than that, or after 20 steps. The height uses the form
/// `h = p cos φ + z sin φ − a √(1 − e² sin² φ)`, which stays exact at the poles where `p / cos φ − N`
/// would divide by zero. Non-finite input gives non-finite output.
///
/// # Examples
///
/// ```
/// use tvilling_tiles::check::ecef_to_geodetic;
///
/// // On the equator at the prime meridian, on the ellipsoid.
/// let [lon, lat, h] = ecef_to_geodetic([6_378_137.0, 0.0, 0.0]);
/// assert!(lon.abs() < 1e-12 && lat.abs() < 1e-12 && h.abs() < 1e-6);
/// ```
pub fn ecef_to_geodetic(p: [f64; 3]) -> [f64; 3] {
    let [x, y, z] = p;
    let lon = y.atan2(x);
    let horizontal = x.hypot(y);
    // Start from the latitude a point on the ellipsoid would have (h = 0).
    let mut lat = z.atan2(horizontal * (1.0 - WGS84_E2));
    let mut height = height_at(horizontal, z, lat);
    for _ in 0..20 {
        let n = prime_vertical_radius(lat);
        let denominator = n + height;
        // Deep inside the Earth (N + h ≤ 0) the iteration has no meaning; keep the last estimate.
        if denominator <= 0.0 || !denominator.is_finite() {
            break;
        }
        let next = z.atan2(horizontal * (1.0 - WGS84_E2 * n / denominator));
        height = height_at(horizontal, z, next);
        let step = (next - lat).abs();
        lat = next;
        if step < 1e-15 {
            break;
        }
    }
    [lon.to_degrees(), lat.to_degrees(), height]
}

/// Radius of curvature in the prime vertical, `N(φ) = a / √(1 − e² sin² φ)`, metres.
fn prime_vertical_radius(lat: f64) -> f64 {
    WGS84_A / (1.0 - WGS84_E2 * lat.sin().powi(2)).sqrt()
}

/// Ellipsoidal height of a point at distance `horizontal` from the polar axis and `z` along it, given
/// its geodetic latitude.
fn height_at(horizontal: f64, z: f64, lat: f64) -> f64 {
    let (sin, cos) = lat.sin_cos();
    horizontal * cos + z * sin - WGS84_A * (1.0 - WGS84_E2 * sin * sin).sqrt()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The forward formula (geodetic degrees and metres to ECEF metres), written out independently of
    /// the inverse under test.
    pub(crate) fn geodetic_to_ecef(lon_deg: f64, lat_deg: f64, h: f64) -> [f64; 3] {
        let (lon, lat) = (lon_deg.to_radians(), lat_deg.to_radians());
        let n = WGS84_A / (1.0 - WGS84_E2 * lat.sin() * lat.sin()).sqrt();
        [
            (n + h) * lat.cos() * lon.cos(),
            (n + h) * lat.cos() * lon.sin(),
            (n * (1.0 - WGS84_E2) + h) * lat.sin(),
        ]
    }

    fn assert_close(got: [f64; 3], want: [f64; 3]) {
        // 1e-9 ° is about 0.1 mm on the ground.
        assert!((got[0] - want[0]).abs() < 1e-9, "lon {got:?} vs {want:?}");
        assert!((got[1] - want[1]).abs() < 1e-9, "lat {got:?} vs {want:?}");
        assert!((got[2] - want[2]).abs() < 1e-4, "h {got:?} vs {want:?}");
    }

    #[test]
    fn equator_at_prime_meridian_is_zero_zero_zero() {
        assert_close(ecef_to_geodetic([WGS84_A, 0.0, 0.0]), [0.0, 0.0, 0.0]);
        assert_close(
            ecef_to_geodetic([WGS84_A + 100.0, 0.0, 0.0]),
            [0.0, 0.0, 100.0],
        );
    }

    #[test]
    fn north_pole_has_latitude_ninety_and_zero_height() {
        let b = WGS84_A * (1.0 - WGS84_F);
        let [_, lat, h] = ecef_to_geodetic([0.0, 0.0, b]);
        assert!((lat - 90.0).abs() < 1e-12);
        assert!(h.abs() < 1e-6, "{h}");
    }

    #[test]
    fn stockholm_city_hall_round_trips_through_the_forward_formula() {
        let want = [18.0546, 59.3275, 30.0];
        let p = geodetic_to_ecef(want[0], want[1], want[2]);
        assert_close(ecef_to_geodetic(p), want);
    }

    #[test]
    fn round_trips_in_all_quadrants_and_at_altitude() {
        for &(lon, lat, h) in &[
            (-179.9, -89.5, 0.0),
            (123.4, -33.3, -420.0),
            (-70.0, 10.0, 8_848.0),
            (45.0, 45.0, 400_000.0),
        ] {
            let p = geodetic_to_ecef(lon, lat, h);
            assert_close(ecef_to_geodetic(p), [lon, lat, h]);
        }
    }

    #[test]
    fn the_earths_centre_gives_finite_numbers() {
        let g = ecef_to_geodetic([0.0, 0.0, 0.0]);
        assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    }
}
