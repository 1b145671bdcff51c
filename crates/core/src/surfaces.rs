//! Polygonal geometry as plain rings, the form 3D city models and the tiler work in: every polygon read
//! out of a WKB geometry (Polygon, MultiPolygon, PolyhedralSurface, TIN, Triangle and collections of
//! them), and MultiPolygon (Z) written back as ISO WKB.
//!
//! A polygon is `Vec<Ring>`, exterior first, holes after; a ring is its vertices with the closing vertex
//! repeated, as WKB stores it. 2D input gets z = 0.
//!
//! # Examples
//!
//! ```
//! use tvilling_core::surfaces::{multipolygon_wkb, polygons};
//! let square = vec![vec![[0.0, 0.0, 5.0], [4.0, 0.0, 5.0], [4.0, 4.0, 5.0], [0.0, 4.0, 5.0], [0.0, 0.0, 5.0]]];
//! let wkb = multipolygon_wkb(&[square.clone()], true);
//! assert_eq!(polygons(&wkb).unwrap(), vec![square]);
//! ```

use crate::wkb::{Reader, normalize};
use crate::{Error, Result};

/// A ring's vertices, closing vertex included.
pub type Ring = Vec<[f64; 3]>;
/// A polygon: exterior ring, then holes.
pub type Polygon = Vec<Ring>;

/// Every polygon in `wkb`, in order. Points and lines are skipped (they have no surface); curves are not
/// supported and give an error that says so.
pub fn polygons(wkb: &[u8]) -> Result<Vec<Polygon>> {
    // normalize() checks the structure and gives little-endian ISO WKB, so the walk below needs no
    // byte-order or flag handling and cannot read past the end.
    let iso = normalize(wkb, None)?.wkb;
    let mut r = Reader { buf: &iso, pos: 0 };
    let mut out = vec![];
    walk(&mut r, &mut out)?;
    Ok(out)
}

/// ISO WKB of a MultiPolygon (Z when `with_z`) holding `polygons`.
pub fn multipolygon_wkb(polygons: &[Polygon], with_z: bool) -> Vec<u8> {
    let dims = if with_z { 1000 } else { 0 };
    let per_coord = if with_z { 24 } else { 16 };
    let coords: usize = polygons.iter().flatten().map(Vec::len).sum();
    let mut w = Vec::with_capacity(9 + polygons.len() * 9 + coords * per_coord);
    header(&mut w, 6 + dims, polygons.len());
    for p in polygons {
        header(&mut w, 3 + dims, p.len());
        for ring in p {
            w.extend_from_slice(&(ring.len() as u32).to_le_bytes());
            for c in ring {
                w.extend_from_slice(&c[0].to_le_bytes());
                w.extend_from_slice(&c[1].to_le_bytes());
                if with_z {
                    w.extend_from_slice(&c[2].to_le_bytes());
                }
            }
        }
    }
    w
}

/// The Newell normal of a ring: perpendicular to its best-fit plane, pointing to the side from which the
/// ring runs counter-clockwise, with length twice the ring's area. Robust for non-convex and slightly
/// non-planar rings, unlike the cross product of two edges.
pub fn newell_normal(ring: &[[f64; 3]]) -> [f64; 3] {
    let mut n = [0.0; 3];
    let Some(first) = ring.first() else {
        return n;
    };
    // Relative to the first vertex: world coordinates (6.5e6 m northings) would lose the small
    // differences that make up the cross products.
    for (a, b) in ring
        .iter()
        .zip(ring.iter().skip(1).chain(std::iter::once(first)))
    {
        let (a, b) = (sub(*a, *first), sub(*b, *first));
        n[0] += (a[1] - b[1]) * (a[2] + b[2]);
        n[1] += (a[2] - b[2]) * (a[0] + b[0]);
        n[2] += (a[0] - b[0]) * (a[1] + b[1]);
    }
    n
}

/// The area of a polygon in 3D (exterior minus holes), in square units of the coordinates.
pub fn area_3d(polygon: &[Ring]) -> f64 {
    let len = |v: [f64; 3]| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
    let mut rings = polygon.iter();
    let outer = rings.next().map_or(0.0, |r| len(newell_normal(r)) / 2.0);
    let holes: f64 = rings.map(|r| len(newell_normal(r)) / 2.0).sum();
    (outer - holes).max(0.0)
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn header(w: &mut Vec<u8>, code: u32, n: usize) {
    w.push(1);
    w.extend_from_slice(&code.to_le_bytes());
    w.extend_from_slice(&(n as u32).to_le_bytes());
}

fn walk(r: &mut Reader<'_>, out: &mut Vec<Polygon>) -> Result<()> {
    r.pos += 1; // byte order: always little endian after normalize()
    let code = r.u32(true)?;
    let (base, dims) = (code % 1000, code / 1000);
    let (has_z, has_m) = (dims == 1 || dims == 3, dims >= 2);
    let coord = |r: &mut Reader<'_>| -> Result<[f64; 3]> {
        let x = r.f64(true)?;
        let y = r.f64(true)?;
        let z = if has_z { r.f64(true)? } else { 0.0 };
        if has_m {
            r.f64(true)?;
        }
        Ok([x, y, z])
    };
    match base {
        1 => {
            coord(r)?;
        }
        2 => {
            let n = r.u32(true)?;
            for _ in 0..n {
                coord(r)?;
            }
        }
        3 | 17 => {
            let rings = r.u32(true)?;
            let mut poly = Vec::with_capacity(rings as usize);
            for _ in 0..rings {
                let n = r.u32(true)?;
                let mut ring = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    ring.push(coord(r)?);
                }
                poly.push(ring);
            }
            out.push(poly);
        }
        4..=7 | 15 | 16 => {
            let n = r.u32(true)?;
            for _ in 0..n {
                walk(r, out)?;
            }
        }
        other => {
            return Err(Error::BadInput(format!(
                "{} geometries cannot be meshed; convert curves to linear geometry (for example with \
                 ogr2ogr -nlt CONVERT_TO_LINEAR) before ingesting",
                crate::wkb::type_name(other)
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_polygon_of_a_polyhedral_surface() {
        // PolyhedralSurface Z with two triangles-as-polygons.
        let tri = |z: f64| {
            vec![vec![
                [0.0, 0.0, z],
                [1.0, 0.0, z],
                [0.0, 1.0, z],
                [0.0, 0.0, z],
            ]]
        };
        let mut w = vec![1u8];
        w.extend_from_slice(&1015u32.to_le_bytes());
        w.extend_from_slice(&2u32.to_le_bytes());
        for z in [1.0, 2.0] {
            let one = multipolygon_wkb(&[tri(z)], true);
            // Skip the MultiPolygon header (9 bytes): what follows is one Polygon Z.
            w.extend_from_slice(&one[9..]);
        }
        assert_eq!(polygons(&w).unwrap(), vec![tri(1.0), tri(2.0)]);
    }

    #[test]
    fn gives_2d_polygons_zero_height_and_skips_points() {
        let sq = vec![vec![
            [0.0, 0.0, 0.0],
            [2.0, 0.0, 0.0],
            [2.0, 2.0, 0.0],
            [0.0, 0.0, 0.0],
        ]];
        let w = multipolygon_wkb(std::slice::from_ref(&sq), false);
        assert_eq!(polygons(&w).unwrap(), vec![sq]);
        let mut point = vec![1u8];
        point.extend_from_slice(&1u32.to_le_bytes());
        point.extend_from_slice(&1f64.to_le_bytes());
        point.extend_from_slice(&2f64.to_le_bytes());
        assert!(polygons(&point).unwrap().is_empty());
    }

    #[test]
    fn measures_area_and_normal_of_a_tilted_roof() {
        // A 4 m x 5 m roof plane rising 3 m over its 4 m width: slope length 5 m, area 25 m².
        let roof = vec![vec![
            [0.0, 0.0, 10.0],
            [4.0, 0.0, 13.0],
            [4.0, 5.0, 13.0],
            [0.0, 5.0, 10.0],
            [0.0, 0.0, 10.0],
        ]];
        assert!((area_3d(&roof) - 25.0).abs() < 1e-9);
        let n = newell_normal(&roof[0]);
        assert!(n[2] > 0.0 && n[0] < 0.0 && n[1].abs() < 1e-9, "{n:?}");
    }

    #[test]
    fn rejects_truncated_wkb_without_panicking() {
        let sq = vec![vec![
            [0.0, 0.0, 1.0],
            [2.0, 0.0, 1.0],
            [2.0, 2.0, 1.0],
            [0.0, 0.0, 1.0],
        ]];
        let w = multipolygon_wkb(&[sq], true);
        for cut in 0..w.len() {
            assert!(polygons(&w[..cut]).is_err(), "cut at {cut}");
        }
    }
}
