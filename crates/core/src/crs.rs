//! Coordinate reference systems: parsing the forms users and files give, and the one place where
//! coordinates are transformed (PROJ, the same library GDAL links).
//!
//! Heights: a [`Crs`] carries the horizontal EPSG code and, when known, the vertical one (for example
//! SWEREF 99 TM + RH 2000 = `EPSG:3006+5613`, the compound `EPSG:5845`). [`Transformer`] changes the
//! horizontal CRS only; heights stay in their vertical datum (conversion to ellipsoidal heights for 3D Tiles
//! is the tiler's job, with a geoid grid).
//!
//! # Examples
//!
//! ```
//! use tvilling_core::crs::Crs;
//! let c: Crs = "EPSG:3006+5613".parse().unwrap();
//! assert_eq!(c.horizontal(), "EPSG:3006");
//! assert_eq!(c.vertical().as_deref(), Some("EPSG:5613"));
//! assert_eq!("urn:ogc:def:crs:EPSG::3006".parse::<Crs>().unwrap().horizontal(), "EPSG:3006");
//! ```

use std::fmt;
use std::str::FromStr;

use crate::wkb::Bbox;
use crate::{Error, Result};

/// A CRS identified by EPSG codes: horizontal, and optionally vertical.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Crs {
    horizontal: u32,
    vertical: Option<u32>,
}

impl Crs {
    /// A CRS from its EPSG codes.
    pub fn epsg(horizontal: u32, vertical: Option<u32>) -> Self {
        Crs {
            horizontal,
            vertical,
        }
    }
    /// The horizontal EPSG code.
    pub fn horizontal_code(&self) -> u32 {
        self.horizontal
    }
    /// The horizontal CRS as `EPSG:N`.
    pub fn horizontal(&self) -> String {
        format!("EPSG:{}", self.horizontal)
    }
    /// The vertical EPSG code, when known.
    pub fn vertical_code(&self) -> Option<u32> {
        self.vertical
    }
    /// The vertical CRS as `EPSG:N`, when known.
    pub fn vertical(&self) -> Option<String> {
        self.vertical.map(|v| format!("EPSG:{v}"))
    }
    /// Whether PROJ knows the horizontal code.
    pub fn validate(&self) -> Result<()> {
        proj::Proj::new(&self.horizontal()).map(|_| ()).map_err(|e| {
            Error::Crs(format!(
                "{} is not a CRS PROJ knows ({e}); check the code at https://epsg.org or with `projinfo {}`",
                self.horizontal(),
                self.horizontal()
            ))
        })
    }

    /// The area of use in degrees (west, south, east, north), when PROJ knows one.
    pub fn area_of_use(&self) -> Option<[f64; 4]> {
        let p = proj::Proj::new(&self.horizontal()).ok()?;
        let (area, _) = p.area_of_use().ok()?;
        area.map(|a| [a.west, a.south, a.east, a.north])
    }

    /// Whether this is a geographic (longitude/latitude) CRS.
    ///
    /// proj's Rust API exposes no CRS type, so this asks PROJ a question only a geographic CRS answers with
    /// "unchanged": a point inside the CRS's area of use (off-centre, since a world-wide projection maps
    /// 0,0 to itself), taken as coordinates of the CRS and converted to WGS 84 longitude/latitude, lands
    /// within a hundredth of a degree of itself (a datum shift at most). Read as metres of a projected CRS
    /// the same numbers land near the false origin, nowhere near.
    pub fn is_geographic(&self) -> bool {
        if self.horizontal == 4326 {
            return true;
        }
        let Some(a) = self.area_of_use() else {
            return false;
        };
        let (lon, lat) = (a[0] + (a[2] - a[0]) * 0.37, a[1] + (a[3] - a[1]) * 0.61);
        let Ok(t) = proj::Proj::new_known_crs(&self.horizontal(), "EPSG:4326", None) else {
            return false;
        };
        t.convert((lon, lat))
            .is_ok_and(|(x, y): (f64, f64)| (x - lon).abs() < 0.01 && (y - lat).abs() < 0.01)
    }
}

/// Compound CRS codes that files declare as one code, split into horizontal + vertical, since the
/// store keeps the two apart (a compound code alone would hide the height datum from the tiler).
/// Source: the EPSG registry entries of these codes.
const COMPOUND: &[(u32, u32, u32)] = &[
    (5845, 3006, 5613),  // SWEREF99 TM + RH2000 height
    (7415, 28992, 5709), // Amersfoort / RD New + NAP height
    (9286, 4258, 5613),  // ETRS89 + RH2000 (geographic)
    (5555, 25832, 5783), // ETRS89 / UTM 32N + DHHN92 height
    (5556, 25833, 5783), // ETRS89 / UTM 33N + DHHN92 height
    (7423, 25832, 7837), // ETRS89 / UTM 32N + DHHN2016 height (as used by German LoD2 data)
    (2056, 2056, 0),     // CH1903+ / LV95 is horizontal only; listed so the table documents it
];

/// The AdV (German surveying authorities) CRS names used in `urn:adv:crs:…` declarations.
const ADV: &[(&str, u32)] = &[
    ("ETRS89_UTM32", 25832),
    ("ETRS89_UTM33", 25833),
    ("DE_DHDN_3GK2", 31466),
    ("DE_DHDN_3GK3", 31467),
    ("DE_DHDN_3GK4", 31468),
    ("DE_DHDN_3GK5", 31469),
    ("DE_DHHN92_NH", 5783),
    ("DE_DHHN2016_NH", 7837),
    ("DE_DHHN2016", 7837),
];

impl Crs {
    /// Reads a CRS as city-model files declare it: `EPSG:7415`, OGC URNs (`urn:ogc:def:crs:EPSG::25833`),
    /// compound URNs (`urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783`), OGC URLs
    /// (`https://www.opengis.net/def/crs/EPSG/0/7415`) and AdV names
    /// (`urn:adv:crs:ETRS89_UTM32*DE_DHHN92_NH`). Known compound codes are split into horizontal and
    /// vertical. `None` when the text names no CRS tvilling can identify.
    ///
    /// # Examples
    ///
    /// ```
    /// use tvilling_core::crs::Crs;
    /// let d = |s| Crs::from_declaration(s).map(|c| c.to_string());
    /// assert_eq!(d("https://www.opengis.net/def/crs/EPSG/0/7415").as_deref(), Some("EPSG:28992+5709"));
    /// assert_eq!(d("urn:ogc:def:crs,crs:EPSG::25832,crs:EPSG::5783").as_deref(), Some("EPSG:25832+5783"));
    /// assert_eq!(d("urn:adv:crs:ETRS89_UTM32*DE_DHHN92_NH").as_deref(), Some("EPSG:25832+5783"));
    /// assert_eq!(d("EPSG:25833").as_deref(), Some("EPSG:25833"));
    /// assert_eq!(d("local grid"), None);
    /// ```
    pub fn from_declaration(text: &str) -> Option<Crs> {
        let t = text.trim();
        if let Some(rest) = t.strip_prefix("urn:adv:crs:") {
            let mut codes = rest.split('*').map(|name| {
                let name = name.split(':').next().unwrap_or(name);
                ADV.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
            });
            let h = codes.next().flatten()?;
            let v = codes.next().flatten();
            return Some(Crs::epsg(h, v));
        }
        // Every EPSG code in the text, in order: URLs end in `/EPSG/0/N`, URNs in `EPSG::N` or `EPSG:N`.
        let mut codes = vec![];
        for part in t.split([',', '/', '+', ' ']) {
            let code = part
                .rsplit("EPSG:")
                .next()
                .filter(|_| part.contains("EPSG:") || codes.is_empty() && !part.is_empty())
                // `EPSG::N`, `EPSG:N` and versioned `EPSG:6.12:N` all end in `:N`.
                .map(|c| c.rsplit(':').next().unwrap_or(c))
                .and_then(|c| c.parse::<u32>().ok())
                .filter(|c| *c > 0);
            if let Some(c) = code {
                codes.push(c);
            }
        }
        // A URL's path carries the registry version ("0") before the code; it was filtered as 0 above,
        // so the last number is the code.
        let (h, v) = match codes.as_slice() {
            [] => return None,
            [one] => (*one, None),
            [.., h, v] => (*h, Some(*v)),
        };
        if v.is_none()
            && let Some((_, ch, cv)) = COMPOUND.iter().find(|(c, _, _)| *c == h)
        {
            return Some(Crs::epsg(*ch, (*cv != 0).then_some(*cv)));
        }
        Some(Crs::epsg(h, v))
    }
}

impl FromStr for Crs {
    type Err = Error;
    /// Accepts `EPSG:3006`, `epsg:3006`, `3006`, `EPSG:3006+5613`, `EPSG:3006+EPSG:5613` and OGC URNs
    /// (`urn:ogc:def:crs:EPSG::3006`).
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let err = || {
            Error::Crs(format!(
                "'{s}' is not a CRS tvilling understands: give an EPSG code such as EPSG:3006 (SWEREF 99 TM), \
                 or horizontal+vertical such as EPSG:3006+5613 (with RH 2000 heights)"
            ))
        };
        let t = t.strip_prefix("urn:ogc:def:crs:EPSG::").unwrap_or(t);
        let mut parts = t.split('+');
        let code = |p: &str| -> Result<u32> {
            let p = p.trim();
            let p = p
                .strip_prefix("EPSG:")
                .or_else(|| p.strip_prefix("epsg:"))
                .unwrap_or(p);
            p.parse::<u32>().ok().filter(|c| *c > 0).ok_or_else(err)
        };
        let horizontal = code(parts.next().ok_or_else(err)?)?;
        let vertical = parts.next().map(code).transpose()?;
        if parts.next().is_some() {
            return Err(err());
        }
        Ok(Crs {
            horizontal,
            vertical,
        })
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.vertical {
            Some(v) => write!(f, "EPSG:{}+{v}", self.horizontal),
            None => write!(f, "EPSG:{}", self.horizontal),
        }
    }
}

/// How many CRS pairs [`Transformer::cached`] keeps per thread.
pub const CACHED_TRANSFORMERS: usize = 16;

/// Transforms horizontal coordinates between two CRSs with PROJ, in traditional GIS axis order
/// (easting/longitude first) whatever the CRS definitions say.
pub struct Transformer {
    proj: proj::Proj,
    from: Crs,
    to: Crs,
}

impl fmt::Debug for Transformer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Transformer({} -> {})", self.from, self.to)
    }
}

impl Transformer {
    /// A transformer from `from` to `to`.
    pub fn new(from: Crs, to: Crs) -> Result<Self> {
        // new_known_crs normalises axis order for visualisation (x = east), which is what WKB stores.
        let proj =
            proj::Proj::new_known_crs(&from.horizontal(), &to.horizontal(), None).map_err(|e| {
                Error::Crs(format!(
                    "PROJ cannot transform {} to {}: {e}",
                    from.horizontal(),
                    to.horizontal()
                ))
            })?;
        Ok(Transformer { proj, from, to })
    }

    /// This thread's transformer from `from` to `to`, made on first use and kept. Creating a PROJ
    /// transformation searches PROJ's database (milliseconds): an SQL function that made one per batch
    /// spent more time there than transforming a page of features. A thread keeps at most
    /// [`CACHED_TRANSFORMERS`] pairs (more are made afresh and dropped).
    pub fn cached(from: Crs, to: Crs) -> Result<std::rc::Rc<Transformer>> {
        thread_local! {
            static CACHE: std::cell::RefCell<Vec<std::rc::Rc<Transformer>>> =
                const { std::cell::RefCell::new(Vec::new()) };
        }
        let hit = CACHE.with(|c| {
            c.borrow()
                .iter()
                .find(|t| t.from == from && t.to == to)
                .cloned()
        });
        if let Some(t) = hit {
            return Ok(t);
        }
        let t = std::rc::Rc::new(Transformer::new(from, to)?);
        CACHE.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() < CACHED_TRANSFORMERS {
                c.push(t.clone());
            }
        });
        Ok(t)
    }

    /// Transforms one coordinate in place; `z` is left as it is.
    pub fn apply(&self, p: &mut [f64; 3]) -> Result<()> {
        let (x, y) = self.proj.convert((p[0], p[1])).map_err(|e| {
            Error::Crs(format!(
                "cannot transform ({}, {}) from {} to {}: {e}",
                p[0], p[1], self.from, self.to
            ))
        })?;
        if !(x.is_finite() && y.is_finite()) {
            return Err(Error::Crs(format!(
                "({}, {}) lies outside where {} -> {} is defined",
                p[0], p[1], self.from, self.to
            )));
        }
        p[0] = x;
        p[1] = y;
        Ok(())
    }

    /// Transforms an envelope by sampling its edges (17 points each), so curved edges of the result are
    /// covered: the returned box contains the image of the whole input box.
    pub fn bbox(&self, b: &Bbox) -> Result<Bbox> {
        const STEPS: usize = 16;
        let mut acc: Option<Bbox> = None;
        for i in 0..=STEPS {
            let t = i as f64 / STEPS as f64;
            let (x, y) = (
                b.xmin + t * (b.xmax - b.xmin),
                b.ymin + t * (b.ymax - b.ymin),
            );
            for (px, py) in [(x, b.ymin), (x, b.ymax), (b.xmin, y), (b.xmax, y)] {
                let mut p = [px, py, 0.0];
                self.apply(&mut p)?;
                let pb = Bbox {
                    xmin: p[0],
                    ymin: p[1],
                    xmax: p[0],
                    ymax: p[1],
                    zmin: b.zmin,
                    zmax: b.zmax,
                };
                acc = Some(acc.map_or(pb, |a| a.union(pb)));
            }
        }
        acc.ok_or_else(|| Error::Internal("bbox transform visited no points".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_crs_forms_users_write() {
        for (input, h, v) in [
            ("EPSG:3006", 3006, None),
            ("epsg:3011", 3011, None),
            ("3006", 3006, None),
            ("EPSG:3006+5613", 3006, Some(5613)),
            ("EPSG:3006+EPSG:5613", 3006, Some(5613)),
            ("urn:ogc:def:crs:EPSG::28992", 28992, None),
        ] {
            assert_eq!(input.parse::<Crs>().unwrap(), Crs::epsg(h, v), "{input}");
        }
        for bad in ["", "EPSG:", "WGS84", "EPSG:0", "EPSG:1+2+3"] {
            assert!(bad.parse::<Crs>().is_err(), "{bad}");
        }
    }

    #[test]
    fn transforms_sweref99tm_to_wgs84_in_lon_lat_order() {
        // Stockholm City Hall, SWEREF 99 TM (E, N) per Lantmäteriet: about 18.054 E, 59.327 N.
        let t = Transformer::new(Crs::epsg(3006, None), Crs::epsg(4326, None)).unwrap();
        let mut p = [674032.0, 6580821.0, 12.0];
        t.apply(&mut p).unwrap();
        assert!(
            (p[0] - 18.054).abs() < 0.01 && (p[1] - 59.327).abs() < 0.01,
            "{p:?}"
        );
        assert_eq!(p[2], 12.0);
    }

    #[test]
    fn knows_sweref_is_projected_and_wgs84_geographic() {
        for geographic in [4326, 4258, 4619] {
            assert!(Crs::epsg(geographic, None).is_geographic(), "{geographic}");
        }
        for projected in [3006, 3011, 28992, 3857, 25833] {
            assert!(!Crs::epsg(projected, None).is_geographic(), "{projected}");
        }
        let a = Crs::epsg(3006, None).area_of_use().unwrap();
        assert!(a[0] < 12.0 && a[2] > 23.0, "{a:?}");
    }
}
