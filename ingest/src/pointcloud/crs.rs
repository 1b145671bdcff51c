//! The CRS of a LAS file: the OGC WKT record (LASF_Projection 2112, LAS 1.4 and later writers) or the
//! GeoTIFF keys (LASF_Projection 34735/34736/34737), and what `--crs` says.
//!
//! Rules, in order:
//! 1. `--crs` beats the file: files lie (`lone-star.copc.laz` declares geocentric WGS 84 for UTM metres).
//!    The coordinates are then taken as they are, in the given CRS's units.
//! 2. A WKT record that GDAL/PROJ can match to EPSG codes (compound WKT gives horizontal + vertical).
//! 3. GeoTIFF keys: ProjectedCSTypeGeoKey (3072) or GeographicTypeGeoKey (2048) for the horizontal code,
//!    VerticalCSTypeGeoKey (4096) for the vertical one. A ProjLinearUnitsGeoKey (3076) that differs from
//!    the EPSG CRS's own unit overrides it (`mvk-thin.las`: EPSG:26995 is metres, the file says US survey
//!    feet): x and y are multiplied by the unit ratio so the stored numbers are what the EPSG code means.
//!    The same goes for z with VerticalUnitsGeoKey (4099) when no vertical CRS code says otherwise: heights
//!    of unknown datum are stored in metres. Both are noted in the quality report.
//! 4. Nothing usable: refuse with [`Error::MissingCrs`] (never guess, DESIGN.md).
//!
//! A declared CRS is checked against the points: degrees must look like degrees, geocentric coordinates
//! must lie near the Earth's surface.

use std::path::Path;

use gdal::spatial_ref::SpatialRef;
use las::Header;
use las::crs::GeoTiffData;
use tvilling_core::crs::Crs;
use tvilling_core::wkb::Bbox;

use crate::{Error, Result};

/// What the file says about its CRS.
#[derive(Debug, Default)]
struct Declared {
    crs: Option<Crs>,
    /// Where it came from (`WKT VLR`, `GeoTIFF keys`).
    record: &'static str,
    /// The CRS's name when it has no EPSG identity, for the message.
    unidentified: Option<String>,
    /// Whether the declared CRS is geocentric (Earth-centred X/Y/Z).
    geocentric: bool,
    /// Multiply x and y by this to get the EPSG CRS's unit.
    xy_factor: f64,
    /// Multiply z by this.
    z_factor: f64,
    notes: Vec<String>,
}

/// The CRS the points are stored in and how it was decided.
#[derive(Debug)]
pub struct Decided {
    /// The stored CRS.
    pub crs: Crs,
    /// `--crs`, `WKT VLR` or `GeoTIFF keys`, for the quality report.
    pub source: String,
    /// Factor from file units to stored x/y.
    pub xy_factor: f64,
    /// Factor from file units to stored z.
    pub z_factor: f64,
    /// Findings for the quality report.
    pub notes: Vec<String>,
    /// What the file declares, for provenance.
    pub declared: serde_json::Value,
}

/// Decides the stored CRS of `path` from its header, `--crs` and the header bounds (file units).
pub fn decide(path: &Path, header: &Header, given: Option<Crs>, bounds: &Bbox) -> Result<Decided> {
    let d = declared(header);
    let declared_json = serde_json::json!({
        "record": d.record,
        "crs": d.crs.map(|c| c.to_string()),
        "name": d.unidentified,
        "geocentric": d.geocentric,
    });
    let decided = match (given, d.crs) {
        (Some(g), declared) => {
            let mut notes = vec![];
            match (declared, &d.unidentified) {
                (Some(c), _) if c != g => notes.push(format!(
                    "the file's {} declares {c}; --crs {g} was used instead",
                    d.record
                )),
                (None, Some(name)) => notes.push(format!(
                    "the file's {} declares '{name}' (no EPSG code); --crs {g} was used",
                    d.record
                )),
                _ => {}
            }
            Decided {
                crs: g,
                source: "--crs".into(),
                xy_factor: 1.0,
                z_factor: 1.0,
                notes,
                declared: declared_json,
            }
        }
        (None, Some(c)) => {
            check_declared(path, &d, c, bounds)?;
            Decided {
                crs: c,
                source: format!("source ({})", d.record),
                xy_factor: d.xy_factor,
                z_factor: d.z_factor,
                notes: d.notes,
                declared: declared_json,
            }
        }
        (None, None) => {
            if d.geocentric {
                check_geocentric(path, &d, "an unnamed CRS", bounds)?;
            }
            let why = match &d.unidentified {
                Some(name) => format!(
                    "its {} declares '{name}', which has no EPSG code tvilling can identify",
                    d.record
                ),
                None => {
                    "it has no CRS record (no OGC WKT VLR, no GeoTIFF GeoKeyDirectory VLR)".into()
                }
            };
            return Err(Error::MissingCrs {
                path: path.to_path_buf(),
                why,
            });
        }
    };
    decided.crs.validate().map_err(|e| {
        Error::BadInput(format!(
            "{}: {e}; pass the right one with --crs",
            path.display()
        ))
    })?;
    Ok(decided)
}

/// A declared CRS must fit the points; a wrong one would put them on the wrong side of the globe.
fn check_declared(path: &Path, d: &Declared, crs: Crs, b: &Bbox) -> Result<()> {
    if d.geocentric {
        check_geocentric(path, d, &crs.to_string(), b)?;
    }
    crate::vector::crs::check_degrees(path, crs, b, false)
}

/// Geocentric (Earth-centred X/Y/Z) coordinates of surveyed points lie near the Earth's surface.
fn check_geocentric(path: &Path, d: &Declared, crs: &str, b: &Bbox) -> Result<()> {
    {
        let (cx, cy) = ((b.xmin + b.xmax) / 2.0, (b.ymin + b.ymax) / 2.0);
        let cz = (b.zmin.unwrap_or(0.0) + b.zmax.unwrap_or(0.0)) / 2.0;
        let r = (cx * cx + cy * cy + cz * cz).sqrt();
        // The Earth's radius is 6357–6378 km; 100 km either side covers any terrain and aircraft.
        if !(6_250_000.0..=6_480_000.0).contains(&r) {
            return Err(Error::MissingCrs {
                path: path.to_path_buf(),
                why: format!(
                    "its {} declares geocentric {crs}, but its points lie {:.0} km from the Earth's centre, \
                     not on its surface (about 6371 km): the declared CRS is wrong",
                    d.record,
                    r / 1000.0
                ),
            });
        }
    }
    Ok(())
}

fn declared(header: &Header) -> Declared {
    let from_wkt = header.get_wkt_crs_bytes().and_then(from_wkt);
    let from_geotiff = header.get_geotiff_crs().ok().flatten().map(from_geotiff);
    match (from_wkt, from_geotiff) {
        (Some(w), Some(g)) if w.crs.is_none() && g.crs.is_some() => g,
        (Some(mut w), Some(g)) => {
            if let (Some(a), Some(b)) = (w.crs, g.crs)
                && a.horizontal_code() != b.horizontal_code()
            {
                w.notes.push(format!(
                    "the WKT VLR says {a} and the GeoTIFF keys say {b}; the WKT VLR was used"
                ));
            }
            w
        }
        (Some(w), None) => w,
        (None, Some(g)) => g,
        (None, None) => Declared::default(),
    }
}

fn from_wkt(bytes: &[u8]) -> Option<Declared> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_end_matches('\0').trim();
    if text.is_empty() {
        return None;
    }
    let mut d = Declared {
        record: "WKT VLR",
        xy_factor: 1.0,
        z_factor: 1.0,
        ..Declared::default()
    };
    match SpatialRef::from_wkt(text) {
        Ok(srs) => {
            d.geocentric = srs.is_geocentric();
            match crate::vector::crs::identify(&srs) {
                Ok(c) => d.crs = Some(c),
                Err(name) => d.unidentified = Some(name),
            }
        }
        Err(_) => d.unidentified = Some(text.chars().take(80).collect()),
    }
    Some(d)
}

/// GeoTIFF key ids (GeoTIFF 1.1, OGC 19-008r4 §7).
const GEOGRAPHIC_TYPE: u16 = 2048;
const PROJECTED_CS_TYPE: u16 = 3072;
const PROJ_CITATION: u16 = 3073;
const PROJ_LINEAR_UNITS: u16 = 3076;
const PROJ_LINEAR_UNIT_SIZE: u16 = 3077;
const VERTICAL_CS_TYPE: u16 = 4096;
const VERTICAL_UNITS: u16 = 4099;
const GT_CITATION: u16 = 1026;

fn from_geotiff(keys: las::crs::GeoTiffCrs) -> Declared {
    let short = |id: u16| {
        keys.entries
            .iter()
            .find(|k| k.id == id)
            .and_then(|k| match k.data {
                GeoTiffData::U16(v) => Some(v),
                _ => None,
            })
    };
    let text = |id: u16| {
        keys.entries
            .iter()
            .find(|k| k.id == id)
            .and_then(|k| match &k.data {
                GeoTiffData::String(s) => Some(s.trim_end_matches(['|', '\0']).to_string()),
                _ => None,
            })
    };
    let double = |id: u16| {
        keys.entries
            .iter()
            .find(|k| k.id == id)
            .and_then(|k| match &k.data {
                GeoTiffData::Doubles(v) => v.first().copied(),
                _ => None,
            })
    };
    // 1024..=32766 are EPSG codes; 0 is "omitted", 32767 "user-defined", the rest reserved or private.
    let epsg = |v: Option<u16>| v.filter(|c| (1024..=32766).contains(c)).map(u32::from);
    let mut d = Declared {
        record: "GeoTIFF keys",
        xy_factor: 1.0,
        z_factor: 1.0,
        ..Declared::default()
    };
    let projected = epsg(short(PROJECTED_CS_TYPE));
    let horizontal = projected.or(epsg(short(GEOGRAPHIC_TYPE)));
    let vertical = epsg(short(VERTICAL_CS_TYPE));
    let Some(h) = horizontal else {
        d.unidentified = Some(
            text(PROJ_CITATION)
                .or(text(GT_CITATION))
                .unwrap_or_else(|| "a user-defined CRS".into()),
        );
        return d;
    };
    d.crs = Some(Crs::epsg(h, vertical));
    // Unit overrides only make sense for projected CRSs (geographic ones are in degrees).
    if let Some(p) = projected {
        let declared = short(PROJ_LINEAR_UNITS)
            .and_then(unit_metres)
            .or(double(PROJ_LINEAR_UNIT_SIZE));
        let native = SpatialRef::from_epsg(p).map(|s| s.linear_units()).ok();
        if let (Some(file), Some(native)) = (declared, native)
            && native > 0.0
            && ((file / native) - 1.0).abs() > 1e-9
        {
            d.xy_factor = file / native;
            d.notes.push(format!(
                "the GeoTIFF ProjLinearUnitsGeoKey overrides EPSG:{p}'s unit ({native} m) with {} ({file} m): \
                 x and y were multiplied by {} so they are in EPSG:{p}'s unit",
                unit_name(short(PROJ_LINEAR_UNITS)),
                d.xy_factor
            ));
        }
    }
    let z_unit = short(VERTICAL_UNITS).and_then(unit_metres);
    match (vertical, z_unit) {
        (None, Some(f)) if (f - 1.0).abs() > 1e-9 => {
            d.z_factor = f;
            d.notes.push(format!(
                "the GeoTIFF VerticalUnitsGeoKey gives heights in {} and no vertical CRS code: z was \
                 multiplied by {f} and is stored in metres (vertical datum unknown{})",
                unit_name(short(VERTICAL_UNITS)),
                text(4097)
                    .map(|c| format!("; the file's citation says '{c}'"))
                    .unwrap_or_default()
            ));
        }
        (Some(v), Some(f)) => {
            let native = SpatialRef::from_epsg(v).map(|s| s.linear_units()).ok();
            if let Some(n) = native.filter(|n| *n > 0.0 && ((f / n) - 1.0).abs() > 1e-9) {
                d.z_factor = f / n;
                d.notes.push(format!(
                    "the GeoTIFF VerticalUnitsGeoKey overrides EPSG:{v}'s unit ({n} m) with {}: z was \
                     multiplied by {}",
                    unit_name(short(VERTICAL_UNITS)),
                    d.z_factor
                ));
            }
        }
        _ => {}
    }
    if let Some(c) = text(PROJ_CITATION).or(text(GT_CITATION)) {
        d.unidentified = None;
        d.notes.push(format!("GeoTIFF citation: '{c}'"));
    }
    d
}

/// Metres per unit for the EPSG linear unit codes LAS files use.
fn unit_metres(code: u16) -> Option<f64> {
    match code {
        9001 => Some(1.0),
        9002 => Some(0.3048),
        9003 => Some(1200.0 / 3937.0),
        9005 => Some(0.3047972654),
        9014 => Some(1.8288),
        9030 => Some(1852.0),
        9036 => Some(1000.0),
        9093 => Some(1609.344),
        _ => None,
    }
}

fn unit_name(code: Option<u16>) -> &'static str {
    match code {
        Some(9001) => "metre",
        Some(9002) => "international foot",
        Some(9003) => "US survey foot",
        Some(9005) => "Clarke's foot",
        _ => "another unit",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_feet() {
        assert_eq!(unit_metres(9002), Some(0.3048));
        assert!((unit_metres(9003).unwrap_or(0.0) - 0.304_800_609_601_219_2).abs() < 1e-15);
        assert_eq!(unit_metres(1), None);
    }
}
