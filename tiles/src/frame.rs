//! Where tile content sits on the globe: dataset coordinates → WGS 84 longitude/latitude (PROJ) →
//! ellipsoidal height (geoid grid) → ECEF (EPSG:4978) → a local east-north-up frame at the dataset centre,
//! whose inverse is the tileset's root `transform`.
//!
//! Heights: 3D Tiles are placed on the WGS 84 ellipsoid, while municipal heights are above a geoid
//! (RH 2000, NAP, DHHN…). The separation N (tens of metres in Europe) is taken from the vertical datum's
//! own grid when PROJ has it (`PROJ_DATA`), else from EGM96, which Debian's `proj-data` ships, and is
//! logged; a dataset without a declared vertical CRS is taken as heights above sea level too, since that
//! is what city models hold. Forgetting N is why buildings float or sink in other tools.
//!
//! Per vertex, PROJ does the horizontal step (datum shifts included) and closed formulas do the rest; N is
//! evaluated once per feature, since it changes by centimetres across a building. Point clouds, millions
//! of points at a time, go through a [`Lattice`] of exactly placed squares instead.

mod lattice;

use proj::Proj;
use tvilling_core::crs::Crs;

use crate::{Error, Result};
pub use lattice::Lattice;

/// WGS 84 semi-major axis (m) and flattening.
const WGS84_A: f64 = 6_378_137.0;
const WGS84_F: f64 = 1.0 / 298.257_223_563;

/// Geoid grids by vertical CRS, in order of preference: the datum's own model first. File names are those
/// of PROJ-data / the national agencies; a user installs them in `PROJ_DATA`.
const GEOID_GRIDS: &[(u32, &[&str])] = &[
    // RH 2000 (Sweden): SWEN17_RH2000 from Lantmäteriet.
    (
        5613,
        &["se_lantmateriet_SWEN17_RH2000.tif", "SWEN17_RH2000.gtx"],
    ),
    // NAP (Netherlands): NLGEO2018.
    (5709, &["nl_nsgi_nlgeo2018.tif"]),
    // DHHN92 / DHHN2016 (Germany): GCG2016.
    (5783, &["de_bkg_gcg2016.tif"]),
    (7837, &["de_bkg_gcg2016.tif"]),
];
/// The world-wide fallback (EGM96, 15'): Debian's proj-data ships `egm96_15.gtx`.
const EGM96: &[&str] = &["us_nga_egm96_15.tif", "egm96_15.gtx"];

/// How heights become ellipsoidal.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoidInfo {
    /// The grid file used, `None` when the data's heights are already ellipsoidal.
    pub grid: Option<String>,
    /// Why that grid (for the log and the tileset's `asset.extras`).
    pub note: String,
}

/// Picks the geoid grid for `crs` and says why.
///
/// Vertical codes of ellipsoidal heights (EPSG:4979-style 3D geographic CRSs carry no vertical code
/// here) never reach this: a dataset whose heights are ellipsoidal should declare no vertical CRS and pass
/// `ellipsoidal` — not supported yet, so every height is treated as orthometric.
pub fn choose_geoid(crs: Crs) -> GeoidInfo {
    let own: &[&str] = crs
        .vertical_code()
        .and_then(|v| GEOID_GRIDS.iter().find(|(c, _)| *c == v))
        .map_or(&[], |(_, g)| g);
    for g in own.iter().filter(|g| grid_installed(g)) {
        if geoid_pipeline(g).is_ok() {
            return GeoidInfo {
                grid: Some(g.to_string()),
                note: format!("heights {} → ellipsoidal with {g}", vertical_name(crs)),
            };
        }
    }
    for g in EGM96.iter().filter(|g| grid_installed(g)) {
        if geoid_pipeline(g).is_ok() {
            let hint = own.first().map_or(String::new(), |o| {
                format!("; install {o} in PROJ_DATA for the datum's own geoid")
            });
            return GeoidInfo {
                grid: Some(g.to_string()),
                note: format!(
                    "heights {} → ellipsoidal with EGM96 ({g}), which approximates a national geoid \
                     to about a metre{hint}",
                    vertical_name(crs)
                ),
            };
        }
    }
    GeoidInfo {
        grid: None,
        note: "no geoid grid found (install proj-data): heights are used as ellipsoidal, so content may \
               sit tens of metres too low"
            .into(),
    }
}

/// Whether a grid file is in one of PROJ's search folders. Asked before PROJ tries to open it, since PROJ
/// prints its own error line to stderr for every grid it cannot find.
fn grid_installed(name: &str) -> bool {
    let mut dirs: Vec<std::path::PathBuf> = ["PROJ_DATA", "PROJ_LIB"]
        .iter()
        .filter_map(std::env::var_os)
        .flat_map(|v| std::env::split_paths(&v).collect::<Vec<_>>())
        .collect();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(std::path::Path::new(&home).join(".local/share/proj"));
    }
    dirs.extend(["/usr/share/proj", "/usr/local/share/proj"].map(std::path::PathBuf::from));
    dirs.iter().any(|d| d.join(name).is_file())
}

fn vertical_name(crs: Crs) -> String {
    crs.vertical()
        .unwrap_or_else(|| "(no vertical CRS declared; taken as above sea level)".into())
}

/// A PROJ pipeline that returns the geoid height N at (lon°, lat°) in its second output coordinate.
///
/// proj 0.25's API carries only x and y, so the pipeline adds N to a zero height (`vgridshift` with
/// multiplier 1) and swaps the height into y (`axisswap`).
fn geoid_pipeline(grid: &str) -> Result<Proj> {
    let def = format!(
        "+proj=pipeline +step +proj=unitconvert +xy_in=deg +xy_out=rad \
         +step +proj=vgridshift +grids={grid} +multiplier=1 +step +proj=axisswap +order=1,3,2"
    );
    Proj::new(&def).map_err(|e| Error::BadInput(format!("geoid grid {grid}: {e}")))
}

/// The local frame of a tileset: an east-north-up tangent frame at `origin` (ECEF metres).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Enu {
    /// The origin in ECEF.
    pub origin: [f64; 3],
    /// Rows: the east, north and up unit vectors in ECEF.
    pub axes: [[f64; 3]; 3],
}

impl Enu {
    /// The frame at geodetic `lon`/`lat` (degrees) and ellipsoidal height `h` (m).
    pub fn at(lon: f64, lat: f64, h: f64) -> Enu {
        let (l, p) = (lon.to_radians(), lat.to_radians());
        Enu {
            origin: geodetic_to_ecef(lon, lat, h),
            axes: [
                [-l.sin(), l.cos(), 0.0],
                [-p.sin() * l.cos(), -p.sin() * l.sin(), p.cos()],
                [p.cos() * l.cos(), p.cos() * l.sin(), p.sin()],
            ],
        }
    }

    /// ECEF → local east/north/up metres.
    pub fn local(&self, ecef: [f64; 3]) -> [f64; 3] {
        let d = [
            ecef[0] - self.origin[0],
            ecef[1] - self.origin[1],
            ecef[2] - self.origin[2],
        ];
        self.rotate(d)
    }

    /// An ECEF direction → its local east/north/up components.
    pub fn rotate(&self, v: [f64; 3]) -> [f64; 3] {
        self.axes.map(|a| a[0] * v[0] + a[1] * v[1] + a[2] * v[2])
    }

    /// The 4×4 matrix (column-major, as 3D Tiles `transform` wants) taking local metres to ECEF.
    pub fn to_ecef_matrix(&self) -> [f64; 16] {
        let [e, n, u] = self.axes;
        let o = self.origin;
        [
            e[0], e[1], e[2], 0.0, n[0], n[1], n[2], 0.0, u[0], u[1], u[2], 0.0, o[0], o[1], o[2],
            1.0,
        ]
    }
}

/// The straight-line distance between two ECEF points (m).
pub fn distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>().sqrt()
}

/// `v.floor() as i64`, inline. On the x86-64 baseline (no SSE4.1) `f64::floor` is a call into libm,
/// and the point tiler takes a floor for every point at every grid it bins into (a few percent of its
/// time). Same result for every input: NaN gives 0 and values beyond `i64` saturate.
#[inline]
pub fn floor_i64(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) > v {
        t.saturating_sub(1)
    } else {
        t
    }
}

/// WGS 84 geodetic (degrees, metres) → ECEF metres.
pub fn geodetic_to_ecef(lon: f64, lat: f64, h: f64) -> [f64; 3] {
    let (l, p) = (lon.to_radians(), lat.to_radians());
    let e2 = WGS84_F * (2.0 - WGS84_F);
    let n = WGS84_A / (1.0 - e2 * p.sin() * p.sin()).sqrt();
    [
        (n + h) * p.cos() * l.cos(),
        (n + h) * p.cos() * l.sin(),
        (n * (1.0 - e2) + h) * p.sin(),
    ]
}

/// Converts dataset coordinates to ECEF on one thread (PROJ handles are not `Send`: make one per
/// worker).
pub struct Projector {
    to_lonlat: Proj,
    geoid: Option<Proj>,
    crs: Crs,
}

impl Projector {
    /// A projector for data in `crs` using the geoid chosen by [`choose_geoid`].
    pub fn new(crs: Crs, geoid: &GeoidInfo) -> Result<Projector> {
        let to_lonlat = Proj::new_known_crs(&crs.horizontal(), "EPSG:4326", None).map_err(|e| {
            Error::BadInput(format!(
                "PROJ cannot transform {} to WGS 84 ({e}); is the dataset's CRS right? \
                 (`tvilling info` shows it; re-ingest with --crs to fix it)",
                crs.horizontal()
            ))
        })?;
        let geoid = geoid.grid.as_deref().map(geoid_pipeline).transpose()?;
        Ok(Projector {
            to_lonlat,
            geoid,
            crs,
        })
    }

    /// Runs `f` with this thread's projector for `crs` and `geoid`, made on first use. Creating a PROJ
    /// transformation searches PROJ's database (milliseconds); tilers that made one per chunk of points
    /// or per tile spent most of their time there.
    pub fn with<R>(
        crs: Crs,
        geoid: &GeoidInfo,
        f: impl FnOnce(&Projector) -> Result<R>,
    ) -> Result<R> {
        thread_local! {
            static CACHED: std::cell::RefCell<Option<(Crs, Option<String>, Projector)>> =
                const { std::cell::RefCell::new(None) };
        }
        CACHED.with(|cell| {
            let mut cached = cell.borrow_mut();
            let fresh = !matches!(&*cached, Some((c, g, _)) if *c == crs && *g == geoid.grid);
            if fresh {
                *cached = Some((crs, geoid.grid.clone(), Projector::new(crs, geoid)?));
            }
            match &*cached {
                Some((_, _, p)) => f(p),
                None => Err(Error::Internal(
                    "the projector cache is empty (a bug)".into(),
                )),
            }
        })
    }

    /// Longitude and latitude (degrees, WGS 84) of a dataset coordinate.
    pub fn lon_lat(&self, x: f64, y: f64) -> Result<(f64, f64)> {
        let (lon, lat) = self.to_lonlat.convert((x, y)).map_err(|e| {
            Error::BadInput(format!(
                "cannot transform ({x}, {y}) from {} to WGS 84: {e}",
                self.crs
            ))
        })?;
        if !(lon.is_finite() && lat.is_finite() && lat.abs() <= 90.0) {
            return Err(Error::BadInput(format!(
                "({x}, {y}) lies outside where {} is defined; check the dataset's CRS",
                self.crs
            )));
        }
        Ok((lon, lat))
    }

    /// The geoid height N (m) at a place: ellipsoidal = orthometric + N.
    pub fn geoid_height(&self, lon: f64, lat: f64) -> f64 {
        // Outside the grid PROJ reports an error; the height then stays as it is (N = 0) rather than
        // failing the whole tileset, and the caller's log shows the N it used.
        self.geoid
            .as_ref()
            .and_then(|g| g.convert((lon, lat)).ok())
            .map_or(0.0, |(_, n)| if n.is_finite() { n } else { 0.0 })
    }

    /// A dataset coordinate → ECEF, with the geoid height `n` already looked up for this feature.
    pub fn ecef(&self, p: [f64; 3], n: f64) -> Result<[f64; 3]> {
        let (lon, lat) = self.lon_lat(p[0], p[1])?;
        Ok(geodetic_to_ecef(lon, lat, p[2] + n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_stockholm_city_hall_in_ecef_and_back_to_a_local_frame() {
        // SWEREF 99 TM of Stockholm City Hall; ~18.054 E, 59.327 N.
        let crs = Crs::epsg(3006, Some(5613));
        let geoid = choose_geoid(crs);
        let p = Projector::new(crs, &geoid).unwrap();
        let (lon, lat) = p.lon_lat(674032.0, 6580821.0).unwrap();
        assert!((lon - 18.054).abs() < 0.01 && (lat - 59.327).abs() < 0.01);
        let n = p.geoid_height(lon, lat);
        // EGM96 and SWEN17 both put the geoid 22–26 m above the ellipsoid in Stockholm.
        assert!((20.0..28.0).contains(&n), "N = {n}");
        let enu = Enu::at(lon, lat, 0.0);
        let local = enu.local(p.ecef([674032.0, 6580821.0, 10.0], n).unwrap());
        assert!(local[0].abs() < 1e-3 && local[1].abs() < 1e-3, "{local:?}");
        assert!((local[2] - (10.0 + n)).abs() < 1e-3);
        // 100 m along SWEREF 99 TM's grid east is 100 m on the ground but turned by the grid
        // convergence, (18.05° − 15°) × sin(59.3°) ≈ 2.6°: about 4.6 m of local north.
        let east = enu.local(p.ecef([674132.0, 6580821.0, 10.0], n).unwrap());
        let turned = east[1].atan2(east[0]).to_degrees();
        assert!((east[0].hypot(east[1]) - 100.0).abs() < 0.1, "{east:?}");
        assert!((turned.abs() - 2.6).abs() < 0.2, "{turned}");
    }

    #[test]
    fn root_matrix_maps_local_origin_to_ecef_origin() {
        let enu = Enu::at(16.0, 59.3, 30.0);
        let m = enu.to_ecef_matrix();
        assert_eq!([m[12], m[13], m[14]], enu.origin);
        // The up column is the ellipsoid normal: unit length, pointing away from the centre.
        let up = [m[8], m[9], m[10]];
        let len = (up[0] * up[0] + up[1] * up[1] + up[2] * up[2]).sqrt();
        assert!((len - 1.0).abs() < 1e-12);
        assert!(up[0] * enu.origin[0] + up[1] * enu.origin[1] + up[2] * enu.origin[2] > 0.0);
    }

    #[test]
    fn floor_i64_is_floor_as_i64_for_every_kind_of_input() {
        let mut values = vec![
            0.0,
            -0.0,
            0.5,
            -0.5,
            1.0,
            -1.0,
            2.999_999,
            -2.000_001,
            1e-300,
            -1e-300,
            4_503_599_627_370_496.5,
            -4_503_599_627_370_497.0,
            9.3e18,
            -9.3e18,
            1e300,
            -1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            f64::MIN_POSITIVE,
            -f64::MIN_POSITIVE,
        ];
        // A sweep across cell walls at a power-of-two edge, as the tiler's grids have.
        values.extend((-2000..2000).map(|i| f64::from(i) * 0.37 / 8.0));
        for v in values {
            assert_eq!(floor_i64(v), v.floor() as i64, "{v}");
        }
    }
}
