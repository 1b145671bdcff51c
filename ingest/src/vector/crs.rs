//! Finding the EPSG codes behind an OGR spatial reference, and deciding which CRS a layer is stored in.

use std::path::Path;

use gdal::spatial_ref::SpatialRef;
use tvilling_core::crs::Crs;
use tvilling_core::wkb::Bbox;

use crate::{Error, Result};

/// The CRS the source declares, as EPSG codes; `Err` with the CRS name when it has no EPSG identity.
pub fn identify(srs: &SpatialRef) -> std::result::Result<Crs, String> {
    let name = srs.name().unwrap_or_else(|| "unnamed CRS".into());
    if srs.is_compound() {
        let code = |node: &str| {
            srs.get_attr_value(node, 1)
                .ok()
                .flatten()
                .and_then(|c| c.parse::<u32>().ok())
        };
        let h = code("COMPD_CS|PROJCS|AUTHORITY").or_else(|| code("COMPD_CS|GEOGCS|AUTHORITY"));
        let v = code("COMPD_CS|VERT_CS|AUTHORITY");
        return h.map(|h| Crs::epsg(h, v)).ok_or(name);
    }
    let epsg = |s: &SpatialRef| {
        (s.auth_name().as_deref() == Some("EPSG"))
            .then(|| s.auth_code().ok())
            .flatten()
            .and_then(|c| u32::try_from(c).ok())
    };
    if let Some(c) = epsg(srs) {
        return Ok(Crs::epsg(c, None));
    }
    // ESRI .prj files carry no authority; GDAL can match them against the EPSG database.
    let mut s = srs.clone();
    if s.auto_identify_epsg().is_ok()
        && let Some(c) = epsg(&s)
    {
        return Ok(Crs::epsg(c, None));
    }
    Err(name)
}

/// How the stored CRS was decided, for the quality report.
pub struct Decided {
    pub crs: Crs,
    pub source: String,
    pub notes: Vec<String>,
}

/// Decides the CRS of a layer from what it declares and what the user gave.
pub fn decide(
    path: &Path,
    declared: Option<&SpatialRef>,
    implicit_wgs84: bool,
    given: Option<Crs>,
    extent: Option<Bbox>,
) -> Result<Decided> {
    let declared_crs = declared.map(identify);
    let mut notes = vec![];
    let decided = match (given, declared_crs) {
        (Some(g), Some(Ok(d))) if g != d && !implicit_wgs84 => {
            notes.push(format!("the source declares {d}; --crs {g} overrides it"));
            Decided {
                crs: g,
                source: "--crs".into(),
                notes,
            }
        }
        (Some(g), Some(Err(name))) => {
            notes.push(format!(
                "the source declares '{name}' (no EPSG code); --crs {g} used"
            ));
            Decided {
                crs: g,
                source: "--crs".into(),
                notes,
            }
        }
        (Some(g), _) => Decided {
            crs: g,
            source: "--crs".into(),
            notes,
        },
        (None, Some(Ok(d))) => {
            if implicit_wgs84 {
                notes.push("GeoJSON without a crs member: WGS 84 (RFC 7946) assumed".into());
            }
            Decided {
                crs: d,
                source: if implicit_wgs84 {
                    "GeoJSON default".into()
                } else {
                    "source".into()
                },
                notes,
            }
        }
        (None, Some(Err(name))) => {
            return Err(Error::MissingCrs {
                path: path.to_path_buf(),
                why: format!("its CRS '{name}' has no EPSG code tvilling can identify"),
            });
        }
        (None, None) => {
            return Err(Error::MissingCrs {
                path: path.to_path_buf(),
                why: "the source declares no CRS".into(),
            });
        }
    };
    decided.crs.validate()?;
    if let Some(b) = extent {
        check_degrees(path, decided.crs, &b, implicit_wgs84)?;
    }
    Ok(decided)
}

/// Coordinates that cannot be degrees in a geographic CRS mean the CRS is missing or wrong; storing them
/// would put the data in the wrong place on the globe with no error anywhere.
pub fn check_degrees(path: &Path, crs: Crs, b: &Bbox, implicit_wgs84: bool) -> Result<()> {
    if crs.is_geographic() && (b.xmin < -180.5 || b.xmax > 360.5 || b.ymin < -90.5 || b.ymax > 90.5)
    {
        let why = if implicit_wgs84 {
            "it declares no CRS (GeoJSON then means WGS 84 degrees)".to_string()
        } else {
            format!("it is declared as {crs} (degrees)")
        };
        return Err(Error::MissingCrs {
            path: path.to_path_buf(),
            why: format!(
                "{why} but its coordinates ({:.0} … {:.0}, {:.0} … {:.0}) are not longitude/latitude",
                b.xmin, b.xmax, b.ymin, b.ymax
            ),
        });
    }
    Ok(())
}
