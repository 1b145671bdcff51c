//! CRS identifiers of OGC API Features Part 2: `http://www.opengis.net/def/crs/OGC/1.3/CRS84` (the default,
//! longitude/latitude) and `http://www.opengis.net/def/crs/EPSG/0/{code}` in the axis order the EPSG
//! registry gives the code. The transform itself is the query engine's `ST_Transform` (PROJ), which works in
//! GIS order (x = east); this module only says which codes list the north axis first, so the server can
//! swap the first two numbers on the way in and out.

/// The CRS84 URI (WGS 84 longitude/latitude).
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";
/// The CRS84h URI (WGS 84 longitude/latitude/ellipsoidal height).
pub const CRS84H: &str = "http://www.opengis.net/def/crs/OGC/0/CRS84h";
const EPSG_PREFIX: &str = "http://www.opengis.net/def/crs/EPSG/0/";

/// EPSG codes offered for every collection besides CRS84 and the dataset's own (storage) CRS: WGS 84
/// (latitude first), Web Mercator and SWEREF 99 TM.
pub const OFFERED: [u32; 3] = [4326, 3857, 3006];

/// A CRS the server can answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crs {
    /// WGS 84 with longitude first (OGC CRS84).
    Crs84,
    /// An EPSG code, in the registry's axis order.
    Epsg(u32),
}

impl Crs {
    /// Reads a CRS URI; also accepts `EPSG:N`, `urn:ogc:def:crs:EPSG::N` and the `[EPSG:N]` safe CURIE.
    pub fn parse(s: &str) -> Option<Crs> {
        let s = s.trim().trim_start_matches('[').trim_end_matches(']');
        if s == CRS84
            || s == CRS84H
            || s.eq_ignore_ascii_case("CRS84")
            || s == "urn:ogc:def:crs:OGC:1.3:CRS84"
        {
            return Some(Crs::Crs84);
        }
        let code = s
            .strip_prefix(EPSG_PREFIX)
            .or_else(|| s.strip_prefix("https://www.opengis.net/def/crs/EPSG/0/"))
            .or_else(|| s.strip_prefix("EPSG:"))
            .or_else(|| s.strip_prefix("epsg:"))
            .or_else(|| s.strip_prefix("urn:ogc:def:crs:EPSG::"))?;
        code.parse().ok().filter(|c| *c > 0).map(Crs::Epsg)
    }

    /// The URI of this CRS.
    pub fn uri(self) -> String {
        match self {
            Crs::Crs84 => CRS84.to_string(),
            Crs::Epsg(c) => format!("{EPSG_PREFIX}{c}"),
        }
    }

    /// The CRS as the query engine names it (`EPSG:N`; CRS84 is EPSG:4326 in GIS order there).
    pub fn sql_name(self) -> String {
        match self {
            Crs::Crs84 => "EPSG:4326".into(),
            Crs::Epsg(c) => format!("EPSG:{c}"),
        }
    }

    /// Whether the registry lists latitude or northing as the first axis, so coordinates must be swapped
    /// against the engine's GIS order. Geographic WGS 84 / ETRS89 / SWEREF 99 and the Swedish projected
    /// systems (SWEREF 99 TM and its local zones, RT 90) are north-first; Web Mercator and UTM are not.
    /// A code missing from this list is taken as east-first, the order most projected CRSs use.
    pub fn north_first(self) -> bool {
        match self {
            Crs::Crs84 => false,
            Crs::Epsg(c) => matches!(c, 4326 | 4258 | 4619 | 4124 | 3006..=3018 | 3021..=3024),
        }
    }

    /// Parses a dataset's `EPSG:N` property.
    pub fn from_dataset(crs: &str) -> Option<Crs> {
        crs.strip_prefix("EPSG:")?.parse().ok().map(Crs::Epsg)
    }
}

/// The CRS URIs a collection offers: CRS84, its storage CRS, then [`OFFERED`].
pub fn offered(storage: Option<Crs>) -> Vec<Crs> {
    let mut out = vec![Crs::Crs84];
    for c in storage.into_iter().chain(OFFERED.map(Crs::Epsg)) {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_crs_identifiers() {
        let cases = [
            (CRS84, Some(Crs::Crs84)),
            (
                "http://www.opengis.net/def/crs/EPSG/0/3006",
                Some(Crs::Epsg(3006)),
            ),
            ("EPSG:4326", Some(Crs::Epsg(4326))),
            ("[EPSG:3857]", Some(Crs::Epsg(3857))),
            ("urn:ogc:def:crs:EPSG::3006", Some(Crs::Epsg(3006))),
            ("http://www.opengis.net/def/crs/EPSG/0/abc", None),
            ("EPSG:0", None),
            ("WGS84", None),
        ];
        for (s, want) in cases {
            assert_eq!(Crs::parse(s), want, "{s}");
        }
        assert!(Crs::Epsg(4326).north_first());
        assert!(Crs::Epsg(3006).north_first());
        assert!(!Crs::Epsg(3857).north_first());
        assert!(!Crs::Crs84.north_first());
        assert_eq!(offered(Crs::from_dataset("EPSG:3011")).len(), 5);
        assert_eq!(offered(Crs::from_dataset("EPSG:3006")).len(), 4);
    }
}
