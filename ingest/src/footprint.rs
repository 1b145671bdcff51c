//! Footprints of 3D geometry seen from above, shared by the city-model and BIM row builders: surfaces
//! flattened to their x/y rings, unioned, and written as 2D MultiPolygon WKB for SQL.

use geo::{Area, Coord, LineString, MultiPolygon};
use tvilling_core::surfaces::{Polygon, multipolygon_wkb};

/// `rings` (exterior first, then holes) with z dropped; `None` without an exterior ring.
pub(crate) fn plan_polygon(rings: &[Vec<[f64; 3]>]) -> Option<geo::Polygon<f64>> {
    let ring = |r: &Vec<[f64; 3]>| {
        LineString::from(
            r.iter()
                .map(|c| Coord { x: c[0], y: c[1] })
                .collect::<Vec<_>>(),
        )
    };
    let mut rings = rings.iter();
    let exterior = ring(rings.next()?);
    Some(geo::Polygon::new(exterior, rings.map(ring).collect()))
}

/// The union of the plan polygons with more than `min_area` (CRS units²); one polygon is kept as it is.
pub(crate) fn union(
    polys: impl IntoIterator<Item = geo::Polygon<f64>>,
    min_area: f64,
) -> MultiPolygon<f64> {
    let polys: Vec<geo::Polygon<f64>> = polys
        .into_iter()
        .filter(|p| p.unsigned_area() > min_area)
        .collect();
    match polys.len() {
        0 => MultiPolygon(vec![]),
        1 => MultiPolygon(polys),
        _ => geo::unary_union(&polys),
    }
}

/// ISO WKB of a 2D footprint.
pub(crate) fn wkb(fp: &MultiPolygon<f64>) -> Vec<u8> {
    let polys: Vec<Polygon> =
        fp.0.iter()
            .map(|p| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(|r| r.0.iter().map(|c| [c.x, c.y, 0.0]).collect())
                    .collect()
            })
            .collect();
    multipolygon_wkb(&polys, false)
}
