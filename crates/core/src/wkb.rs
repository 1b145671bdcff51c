//! ISO WKB normalisation: one pass over a WKB geometry that rewrites it as little-endian ISO WKB (Z and M
//! flags as `+1000`/`+2000`), optionally maps every coordinate (a CRS transform), and measures its 3D
//! bounding box.
//!
//! Why our own walker: GDAL, PostGIS (EWKB) and older writers (the `0x80000000` "2.5D" flag) disagree on how
//! Z is flagged; the store promises ISO WKB, and doing the transform and the envelope in the same pass means a
//! geometry is decoded once per ingest. Every OGC type is handled, including curves, polyhedral surfaces, TINs
//! and triangles (3D city models and BIM meshes use the last three).
//!
//! # Examples
//!
//! ```
//! use tvilling_core::wkb::normalize;
//! // A 2.5D point written with the old 0x80000000 Z flag (little endian).
//! let mut old = vec![1u8];
//! old.extend_from_slice(&(0x8000_0001u32).to_le_bytes());
//! for v in [1.0f64, 2.0, 3.0] { old.extend_from_slice(&v.to_le_bytes()); }
//! let n = normalize(&old, None).unwrap();
//! assert_eq!(u32::from_le_bytes([n.wkb[1], n.wkb[2], n.wkb[3], n.wkb[4]]), 1001); // ISO Point Z
//! assert_eq!(n.bbox.unwrap().zmax, Some(3.0));
//! ```

use crate::{Error, Result};

/// A 3D envelope; `zmin`/`zmax` are `None` for 2D geometries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    /// Minimum x (easting or longitude).
    pub xmin: f64,
    /// Minimum y (northing or latitude).
    pub ymin: f64,
    /// Maximum x.
    pub xmax: f64,
    /// Maximum y.
    pub ymax: f64,
    /// Minimum z, when the geometry has Z.
    pub zmin: Option<f64>,
    /// Maximum z, when the geometry has Z.
    pub zmax: Option<f64>,
}

impl Bbox {
    fn from_point(p: [f64; 3], has_z: bool) -> Self {
        let z = has_z.then_some(p[2]).filter(|z| z.is_finite());
        Bbox {
            xmin: p[0],
            ymin: p[1],
            xmax: p[0],
            ymax: p[1],
            zmin: z,
            zmax: z,
        }
    }

    /// The union of two envelopes.
    pub fn union(self, o: Bbox) -> Bbox {
        let zmin = match (self.zmin, o.zmin) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let zmax = match (self.zmax, o.zmax) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Bbox {
            xmin: self.xmin.min(o.xmin),
            ymin: self.ymin.min(o.ymin),
            xmax: self.xmax.max(o.xmax),
            ymax: self.ymax.max(o.ymax),
            zmin,
            zmax,
        }
    }
}

/// The result of [`normalize`].
#[derive(Debug, Clone)]
pub struct Normalized {
    /// Little-endian ISO WKB.
    pub wkb: Vec<u8>,
    /// The envelope of all finite coordinates; `None` for an empty geometry.
    pub bbox: Option<Bbox>,
    /// Whether the geometry has Z.
    pub has_z: bool,
    /// The ISO base type code (1 Point … 17 Triangle) of the outer geometry.
    pub base_type: u32,
}

/// A function applied to every coordinate (`[x, y, z]`; z is 0 for 2D input and ignored on output).
pub type CoordMap<'a> = &'a mut dyn FnMut(&mut [f64; 3]) -> Result<()>;

/// Rewrites `input` as ISO WKB, applying `map` to every coordinate and measuring the envelope.
pub fn normalize(input: &[u8], mut map: Option<CoordMap<'_>>) -> Result<Normalized> {
    let mut r = Reader { buf: input, pos: 0 };
    let mut out = Vec::with_capacity(input.len());
    let mut bbox = None;
    let (base_type, has_z) = geometry(&mut r, &mut out, &mut map, &mut bbox, 0)?;
    if r.pos != input.len() {
        return Err(bad(format!(
            "{} trailing bytes after the geometry",
            input.len() - r.pos
        )));
    }
    Ok(Normalized {
        wkb: out,
        bbox,
        has_z,
        base_type,
    })
}

/// The name of an ISO base type code, as used in messages and quality reports.
pub fn type_name(base_type: u32) -> &'static str {
    match base_type {
        1 => "Point",
        2 => "LineString",
        3 => "Polygon",
        4 => "MultiPoint",
        5 => "MultiLineString",
        6 => "MultiPolygon",
        7 => "GeometryCollection",
        8 => "CircularString",
        9 => "CompoundCurve",
        10 => "CurvePolygon",
        11 => "MultiCurve",
        12 => "MultiSurface",
        15 => "PolyhedralSurface",
        16 => "Tin",
        17 => "Triangle",
        _ => "Unknown",
    }
}

fn bad(msg: String) -> Error {
    Error::BadInput(format!("invalid WKB geometry: {msg}"))
}

/// A bounds-checked reader over WKB bytes (also used by `surfaces` to walk normalised WKB).
pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
}

impl Reader<'_> {
    pub(crate) fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end = self.pos.checked_add(N).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| bad(format!("truncated at byte {}", self.pos)))?;
        let mut a = [0u8; N];
        a.copy_from_slice(&self.buf[self.pos..end]);
        self.pos = end;
        Ok(a)
    }
    pub(crate) fn u32(&mut self, le: bool) -> Result<u32> {
        let b = self.take::<4>()?;
        Ok(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    pub(crate) fn f64(&mut self, le: bool) -> Result<f64> {
        let b = self.take::<8>()?;
        Ok(if le {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }
}

const MAX_DEPTH: usize = 32;

fn geometry(
    r: &mut Reader<'_>,
    out: &mut Vec<u8>,
    map: &mut Option<CoordMap<'_>>,
    bbox: &mut Option<Bbox>,
    depth: usize,
) -> Result<(u32, bool)> {
    if depth > MAX_DEPTH {
        return Err(bad(format!("collections nested deeper than {MAX_DEPTH}")));
    }
    let le = match r.take::<1>()?[0] {
        0 => false,
        1 => true,
        b => {
            return Err(bad(format!(
                "byte order marker {b} at byte {} (expected 0 or 1)",
                r.pos - 1
            )));
        }
    };
    let raw = r.u32(le)?;
    // Old "2.5D" and EWKB flags in the high bits; ISO dimensions as thousands.
    let (mut has_z, mut has_m) = (raw & 0x8000_0000 != 0, raw & 0x4000_0000 != 0);
    if raw & 0x2000_0000 != 0 {
        r.u32(le)?; // EWKB SRID: the CRS is a dataset property, not per geometry.
    }
    let code = raw & 0x0FFF_FFFF;
    let base = code % 1000;
    match code / 1000 {
        0 => {}
        1 => has_z = true,
        2 => has_m = true,
        3 => (has_z, has_m) = (true, true),
        _ => return Err(bad(format!("unknown geometry type code {raw}"))),
    }
    let iso = base + if has_z { 1000 } else { 0 } + if has_m { 2000 } else { 0 };
    out.push(1);
    out.extend_from_slice(&iso.to_le_bytes());
    let dims = Dims { le, has_z, has_m };
    match base {
        1 => coords(r, out, map, bbox, dims, 1)?,
        2 | 8 => {
            let n = r.u32(le)?;
            out.extend_from_slice(&n.to_le_bytes());
            coords(r, out, map, bbox, dims, n)?;
        }
        3 | 17 => {
            let rings = r.u32(le)?;
            out.extend_from_slice(&rings.to_le_bytes());
            for _ in 0..rings {
                let n = r.u32(le)?;
                out.extend_from_slice(&n.to_le_bytes());
                coords(r, out, map, bbox, dims, n)?;
            }
        }
        4..=7 | 9..=12 | 15 | 16 => {
            let n = r.u32(le)?;
            out.extend_from_slice(&n.to_le_bytes());
            for _ in 0..n {
                geometry(r, out, map, bbox, depth + 1)?;
            }
        }
        _ => return Err(bad(format!("unsupported geometry type code {raw}"))),
    }
    Ok((base, has_z))
}

#[derive(Clone, Copy)]
struct Dims {
    le: bool,
    has_z: bool,
    has_m: bool,
}

fn coords(
    r: &mut Reader<'_>,
    out: &mut Vec<u8>,
    map: &mut Option<CoordMap<'_>>,
    bbox: &mut Option<Bbox>,
    d: Dims,
    n: u32,
) -> Result<()> {
    // A count larger than the remaining bytes is a corrupt geometry, not a reason to allocate.
    let per = 16 + 8 * (usize::from(d.has_z) + usize::from(d.has_m));
    if (n as usize).saturating_mul(per) > r.buf.len() - r.pos {
        return Err(bad(format!(
            "{n} coordinates claimed but only {} bytes remain",
            r.buf.len() - r.pos
        )));
    }
    for _ in 0..n {
        let mut p = [r.f64(d.le)?, r.f64(d.le)?, 0.0];
        if d.has_z {
            p[2] = r.f64(d.le)?;
        }
        let m = if d.has_m { Some(r.f64(d.le)?) } else { None };
        // An empty point is written as NaN coordinates; it takes no part in transforms or envelopes.
        if p[0].is_finite() && p[1].is_finite() {
            if let Some(f) = map.as_mut() {
                f(&mut p)?;
            }
            let b = Bbox::from_point(p, d.has_z);
            *bbox = Some(match *bbox {
                Some(acc) => acc.union(b),
                None => b,
            });
        }
        out.extend_from_slice(&p[0].to_le_bytes());
        out.extend_from_slice(&p[1].to_le_bytes());
        if d.has_z {
            out.extend_from_slice(&p[2].to_le_bytes());
        }
        if let Some(m) = m {
            out.extend_from_slice(&m.to_le_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le_header(code: u32) -> Vec<u8> {
        let mut v = vec![1u8];
        v.extend_from_slice(&code.to_le_bytes());
        v
    }
    fn push(v: &mut Vec<u8>, xs: &[f64]) {
        for x in xs {
            v.extend_from_slice(&x.to_le_bytes());
        }
    }

    #[test]
    fn measures_a_polygon_and_keeps_it_byte_identical() {
        let mut w = le_header(3);
        w.extend_from_slice(&1u32.to_le_bytes());
        w.extend_from_slice(&4u32.to_le_bytes());
        push(&mut w, &[0.0, 0.0, 10.0, 0.0, 10.0, 5.0, 0.0, 0.0]);
        let n = normalize(&w, None).unwrap();
        assert_eq!(n.wkb, w);
        let b = n.bbox.unwrap();
        assert_eq!(
            (b.xmin, b.ymin, b.xmax, b.ymax, b.zmin),
            (0.0, 0.0, 10.0, 5.0, None)
        );
        assert_eq!(type_name(n.base_type), "Polygon");
    }

    #[test]
    fn converts_big_endian_ewkb_with_srid_to_iso() {
        let mut w = vec![0u8];
        w.extend_from_slice(&(0x2000_0000u32 | 0x8000_0000 | 1).to_be_bytes());
        w.extend_from_slice(&3006u32.to_be_bytes());
        for x in [1.0f64, 2.0, 3.0] {
            w.extend_from_slice(&x.to_be_bytes());
        }
        let n = normalize(&w, None).unwrap();
        let mut want = le_header(1001);
        push(&mut want, &[1.0, 2.0, 3.0]);
        assert_eq!(n.wkb, want);
        assert!(n.has_z);
    }

    #[test]
    fn maps_every_coordinate_of_a_multi_geometry() {
        let mut w = le_header(5);
        w.extend_from_slice(&2u32.to_le_bytes());
        for _ in 0..2 {
            w.extend(le_header(2));
            w.extend_from_slice(&2u32.to_le_bytes());
            push(&mut w, &[1.0, 1.0, 2.0, 2.0]);
        }
        let mut shift = |p: &mut [f64; 3]| {
            p[0] += 100.0;
            Ok(())
        };
        let n = normalize(&w, Some(&mut shift)).unwrap();
        assert_eq!(n.bbox.unwrap().xmin, 101.0);
        assert_eq!(n.bbox.unwrap().xmax, 102.0);
    }

    #[test]
    fn rejects_truncated_and_lying_geometries_without_panicking() {
        let mut w = le_header(2);
        w.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(normalize(&w, None).is_err());
        assert!(normalize(&[1, 3, 0], None).is_err());
        assert!(normalize(&[7], None).is_err());
        let mut p = le_header(1);
        push(&mut p, &[1.0, 2.0]);
        p.push(0);
        assert!(
            normalize(&p, None)
                .unwrap_err()
                .to_string()
                .contains("trailing")
        );
    }

    #[test]
    fn empty_point_has_no_bbox() {
        let mut w = le_header(1);
        push(&mut w, &[f64::NAN, f64::NAN]);
        assert!(normalize(&w, None).unwrap().bbox.is_none());
    }

    #[test]
    fn never_panics_on_mutated_or_truncated_input() {
        // A deterministic mutation fuzzer (nightly cargo-fuzz is not available everywhere tests run):
        // flip, overwrite and cut bytes of valid geometries of every shape and check only for no panic.
        let mut seeds = vec![];
        let mut poly = le_header(1003);
        poly.extend_from_slice(&1u32.to_le_bytes());
        poly.extend_from_slice(&4u32.to_le_bytes());
        push(
            &mut poly,
            &[0.0, 0.0, 1.0, 1.0, 0.0, 2.0, 1.0, 1.0, 3.0, 0.0, 0.0, 1.0],
        );
        seeds.push(poly.clone());
        let mut coll = le_header(7);
        coll.extend_from_slice(&2u32.to_le_bytes());
        coll.extend(poly);
        let mut pt = le_header(1);
        push(&mut pt, &[5.0, 6.0]);
        coll.extend(pt.clone());
        seeds.push(coll);
        seeds.push(pt);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut w = seeds[(next() % seeds.len() as u64) as usize].clone();
            for _ in 0..=(next() % 4) {
                let i = (next() % w.len() as u64) as usize;
                match next() % 3 {
                    0 => w[i] ^= 1 << (next() % 8),
                    1 => w[i] = next() as u8,
                    _ => w.truncate(i),
                }
                if w.is_empty() {
                    break;
                }
            }
            let _ = normalize(&w, None);
        }
    }
}
