//! Checks made while reading: deterministic content ids, the CRS area-of-use test, and near-miss hints.

use sha2::{Digest, Sha256};
use tvilling_core::crs::{Crs, Transformer};
use tvilling_core::wkb::Bbox;

use super::fields::text;

/// A deterministic id from the layer, geometry and attribute values: the same feature gets the same id in
/// every version, so clients can follow it.
pub fn content_id(
    layer: &str,
    wkb: Option<&[u8]>,
    values: &[Option<gdal::vector::FieldValue>],
) -> String {
    let mut h = Sha256::new();
    h.update(layer.as_bytes());
    h.update([0]);
    h.update(wkb.unwrap_or_default());
    for v in values {
        h.update([0]);
        if let Some(v) = v {
            h.update(text(v.clone()).as_bytes());
        }
    }
    hex::encode(&h.finalize()[..10])
}

/// Whether the data lies within the CRS's area of use. The area (degrees) is projected into the data's CRS
/// rather than the data's box into degrees: a projected box's corners reach far outside the data (a box
/// around all of Sweden in SWEREF 99 TM has corners in Finland and Norway), the other way round does not.
pub fn within_area_of_use(crs: Crs, bbox: Option<Bbox>, notes: &mut Vec<String>) -> Option<bool> {
    let bbox = bbox?;
    let area = crs.area_of_use()?;
    let area_box = Bbox {
        xmin: area[0],
        ymin: area[1],
        xmax: area[2],
        ymax: area[3],
        zmin: None,
        zmax: None,
    };
    let allowed = if crs.is_geographic() {
        area_box
    } else {
        Transformer::new(Crs::epsg(4326, None), crs)
            .ok()?
            .bbox(&area_box)
            .ok()?
    };
    // One percent of slack: areas of use are drawn around land and data may reach a little offshore.
    let (tx, ty) = (
        (allowed.xmax - allowed.xmin) * 0.01,
        (allowed.ymax - allowed.ymin) * 0.01,
    );
    let inside = bbox.xmin >= allowed.xmin - tx
        && bbox.xmax <= allowed.xmax + tx
        && bbox.ymin >= allowed.ymin - ty
        && bbox.ymax <= allowed.ymax + ty;
    if !inside {
        notes.push(format!(
            "extent ({:.3} … {:.3}, {:.3} … {:.3}) reaches outside the area of use of {crs} \
             (longitude {:.2} … {:.2}, latitude {:.2} … {:.2}): the CRS may be wrong",
            bbox.xmin, bbox.xmax, bbox.ymin, bbox.ymax, area[0], area[2], area[1], area[3]
        ));
    }
    Some(inside)
}

pub fn suggest(wanted: &str, names: &[&str]) -> String {
    let close: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| {
            n.eq_ignore_ascii_case(wanted) || n.to_lowercase().contains(&wanted.to_lowercase())
        })
        .collect();
    if close.is_empty() {
        format!("; its attributes are: {}", names.join(", "))
    } else {
        format!("; did you mean {}?", close.join(" or "))
    }
}
