//! An owned geometry read from ISO WKB, keeping Z and the 3D types (`PolyhedralSurface`, `TIN`, `Triangle`)
//! that `geo` cannot hold. The 3D functions, the text formats and `ST_Collect` work on it; 2D overlay
//! functions convert to `geo` with [`Shape::to_geo`].

use deltalake::datafusion::common::{DataFusionError, Result};

/// One coordinate; `z` is 0 when the geometry is 2D.
pub type C = [f64; 3];

/// A geometry with its coordinate dimension.
#[derive(Debug, Clone, PartialEq)]
pub struct Geom {
    /// The geometry.
    pub shape: Shape,
    /// Whether coordinates carry Z.
    pub has_z: bool,
}

/// The geometry types of ISO WKB (curves excepted).
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    /// A point; `None` is `POINT EMPTY`.
    Point(Option<C>),
    /// A line string.
    LineString(Vec<C>),
    /// A polygon (first ring outer); also a triangle when `triangle` is set.
    Polygon(Vec<Vec<C>>),
    /// A triangle (a polygon of one closed 4-point ring).
    Triangle(Vec<C>),
    /// A collection: `MultiPoint` (4), `MultiLineString` (5), `MultiPolygon` (6), `GeometryCollection` (7),
    /// `PolyhedralSurface` (15) or `TIN` (16), by its WKB type code.
    Multi(u32, Vec<Shape>),
}

impl Shape {
    /// The ISO WKB base type code.
    pub fn code(&self) -> u32 {
        match self {
            Shape::Point(_) => 1,
            Shape::LineString(_) => 2,
            Shape::Polygon(_) => 3,
            Shape::Triangle(_) => 17,
            Shape::Multi(code, _) => *code,
        }
    }

    /// Whether the geometry has no coordinates.
    pub fn is_empty(&self) -> bool {
        match self {
            Shape::Point(p) => p.is_none(),
            Shape::LineString(c) | Shape::Triangle(c) => c.is_empty(),
            Shape::Polygon(r) => r.iter().all(Vec::is_empty),
            Shape::Multi(_, parts) => parts.iter().all(Shape::is_empty),
        }
    }

    /// Calls `f` on every coordinate.
    pub fn for_each_coord(&self, f: &mut dyn FnMut(&C)) {
        match self {
            Shape::Point(p) => p.iter().for_each(&mut *f),
            Shape::LineString(c) | Shape::Triangle(c) => c.iter().for_each(f),
            Shape::Polygon(r) => r.iter().flatten().for_each(f),
            Shape::Multi(_, parts) => parts.iter().for_each(|p| p.for_each_coord(f)),
        }
    }

    /// Applies `f` to every coordinate.
    pub fn map_coords(&mut self, f: &mut dyn FnMut(&mut C)) {
        match self {
            Shape::Point(p) => p.iter_mut().for_each(f),
            Shape::LineString(c) | Shape::Triangle(c) => c.iter_mut().for_each(f),
            Shape::Polygon(r) => r.iter_mut().flatten().for_each(f),
            Shape::Multi(_, parts) => parts.iter_mut().for_each(|p| p.map_coords(f)),
        }
    }

    /// The PostGIS type name (`Polygon`, `MultiPolygon`, `PolyhedralSurface`…).
    pub fn type_name(&self) -> &'static str {
        tvilling_core::wkb::type_name(self.code())
    }
}

fn bad(msg: impl Into<String>) -> DataFusionError {
    DataFusionError::Execution(format!("invalid WKB geometry: {}", msg.into()))
}

impl Geom {
    /// Reads ISO (or EWKB-flagged) WKB of either byte order.
    pub fn from_wkb(bytes: &[u8]) -> Result<Geom> {
        let mut r = Reader {
            buf: bytes,
            pos: 0,
            le: true,
        };
        let (shape, has_z) = r.geometry(0)?;
        Ok(Geom { shape, has_z })
    }

    /// Writes little-endian ISO WKB.
    pub fn to_wkb(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        write_shape(&mut out, &self.shape, self.has_z);
        out
    }

    /// The 2D `geo` geometry (Z dropped); `None` for an empty point, which `geo` cannot hold.
    pub fn to_geo(&self) -> Option<geo::Geometry> {
        to_geo(&self.shape)
    }

    /// A 2D geometry from `geo`.
    pub fn from_geo(g: &geo::Geometry) -> Geom {
        Geom {
            shape: from_geo(g),
            has_z: false,
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    le: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end = self.pos + N;
        let bytes = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| bad("truncated"))?;
        self.pos = end;
        let mut a = [0u8; N];
        a.copy_from_slice(bytes);
        Ok(a)
    }
    fn u32(&mut self) -> Result<u32> {
        let b = self.take::<4>()?;
        Ok(if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    fn f64(&mut self) -> Result<f64> {
        let b = self.take::<8>()?;
        Ok(if self.le {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }
    fn count(&mut self, min_bytes_each: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_bytes_each) > self.buf.len() - self.pos {
            return Err(bad(format!("count {n} exceeds the remaining bytes")));
        }
        Ok(n)
    }
    fn coord(&mut self, dims: usize, has_z: bool) -> Result<C> {
        let x = self.f64()?;
        let y = self.f64()?;
        let z = if has_z { self.f64()? } else { 0.0 };
        for _ in (2 + usize::from(has_z))..dims {
            self.f64()?; // M is dropped
        }
        Ok([x, y, z])
    }
    fn coords(&mut self, dims: usize, has_z: bool) -> Result<Vec<C>> {
        let n = self.count(dims * 8)?;
        (0..n).map(|_| self.coord(dims, has_z)).collect()
    }
    fn geometry(&mut self, depth: u32) -> Result<(Shape, bool)> {
        if depth > 32 {
            return Err(bad("nested more than 32 levels"));
        }
        self.le = match self.take::<1>()?[0] {
            0 => false,
            1 => true,
            b => return Err(bad(format!("byte order {b}"))),
        };
        let raw = self.u32()?;
        // EWKB flags (PostGIS) or ISO +1000/+2000/+3000.
        let ewkb_z = raw & 0x8000_0000 != 0;
        let ewkb_m = raw & 0x4000_0000 != 0;
        if raw & 0x2000_0000 != 0 {
            self.u32()?; // EWKB SRID: the CRS lives on the column, not in the value
        }
        let t = raw & 0x0FFF_FFFF;
        let (base, iso_z, iso_m) = (
            t % 1000,
            matches!(t / 1000, 1 | 3),
            matches!(t / 1000, 2 | 3),
        );
        let has_z = ewkb_z || iso_z;
        let dims = 2 + usize::from(has_z) + usize::from(ewkb_m || iso_m);
        let shape = match base {
            1 => {
                let c = self.coord(dims, has_z)?;
                Shape::Point((!(c[0].is_nan() && c[1].is_nan())).then_some(c))
            }
            2 => Shape::LineString(self.coords(dims, has_z)?),
            3 | 17 => {
                let n = self.count(4)?;
                let rings = (0..n)
                    .map(|_| self.coords(dims, has_z))
                    .collect::<Result<Vec<_>>>()?;
                if base == 17 {
                    Shape::Triangle(rings.into_iter().next().unwrap_or_default())
                } else {
                    Shape::Polygon(rings)
                }
            }
            4..=7 | 15 | 16 => {
                let n = self.count(5)?;
                let parts = (0..n)
                    .map(|_| self.geometry(depth + 1).map(|(s, _)| s))
                    .collect::<Result<Vec<_>>>()?;
                Shape::Multi(base, parts)
            }
            other => {
                return Err(bad(format!(
                    "type {other} ({}) is not supported in SQL functions",
                    tvilling_core::wkb::type_name(other)
                )));
            }
        };
        Ok((shape, has_z))
    }
}

fn write_shape(out: &mut Vec<u8>, shape: &Shape, has_z: bool) {
    out.push(1);
    let code = shape.code() + if has_z { 1000 } else { 0 };
    out.extend_from_slice(&code.to_le_bytes());
    let coord = |out: &mut Vec<u8>, c: &C| {
        out.extend_from_slice(&c[0].to_le_bytes());
        out.extend_from_slice(&c[1].to_le_bytes());
        if has_z {
            out.extend_from_slice(&c[2].to_le_bytes());
        }
    };
    let coords = |out: &mut Vec<u8>, cs: &[C]| {
        out.extend_from_slice(&(cs.len() as u32).to_le_bytes());
        cs.iter().for_each(|c| coord(out, c));
    };
    match shape {
        Shape::Point(Some(c)) => coord(out, c),
        Shape::Point(None) => coord(out, &[f64::NAN; 3]),
        Shape::LineString(cs) => coords(out, cs),
        Shape::Triangle(cs) => {
            out.extend_from_slice(&u32::from(!cs.is_empty()).to_le_bytes());
            if !cs.is_empty() {
                coords(out, cs);
            }
        }
        Shape::Polygon(rings) => {
            out.extend_from_slice(&(rings.len() as u32).to_le_bytes());
            rings.iter().for_each(|r| coords(out, r));
        }
        Shape::Multi(_, parts) => {
            out.extend_from_slice(&(parts.len() as u32).to_le_bytes());
            parts.iter().for_each(|p| write_shape(out, p, has_z));
        }
    }
}

fn coord2(c: &C) -> geo::Coord {
    geo::Coord { x: c[0], y: c[1] }
}

fn line(cs: &[C]) -> geo::LineString {
    geo::LineString(cs.iter().map(coord2).collect())
}

fn polygon(rings: &[Vec<C>]) -> geo::Polygon {
    let mut it = rings.iter();
    let outer = it
        .next()
        .map(|r| line(r))
        .unwrap_or_else(|| geo::LineString(vec![]));
    geo::Polygon::new(outer, it.map(|r| line(r)).collect())
}

fn to_geo(shape: &Shape) -> Option<geo::Geometry> {
    Some(match shape {
        Shape::Point(p) => geo::Geometry::Point(geo::Point(coord2(p.as_ref()?))),
        Shape::LineString(cs) => geo::Geometry::LineString(line(cs)),
        Shape::Polygon(rings) => geo::Geometry::Polygon(polygon(rings)),
        Shape::Triangle(cs) => geo::Geometry::Polygon(polygon(std::slice::from_ref(cs))),
        Shape::Multi(4, parts) => geo::Geometry::MultiPoint(geo::MultiPoint(
            parts
                .iter()
                .filter_map(|p| match p {
                    Shape::Point(Some(c)) => Some(geo::Point(coord2(c))),
                    _ => None,
                })
                .collect(),
        )),
        Shape::Multi(5, parts) => geo::Geometry::MultiLineString(geo::MultiLineString(
            parts
                .iter()
                .filter_map(|p| match p {
                    Shape::LineString(cs) => Some(line(cs)),
                    _ => None,
                })
                .collect(),
        )),
        Shape::Multi(6 | 15 | 16, parts) => geo::Geometry::MultiPolygon(geo::MultiPolygon(
            parts
                .iter()
                .filter_map(|p| match p {
                    Shape::Polygon(r) => Some(polygon(r)),
                    Shape::Triangle(cs) => Some(polygon(std::slice::from_ref(cs))),
                    _ => None,
                })
                .collect(),
        )),
        Shape::Multi(_, parts) => geo::Geometry::GeometryCollection(geo::GeometryCollection(
            parts.iter().filter_map(to_geo).collect(),
        )),
    })
}

fn c3(c: &geo::Coord) -> C {
    [c.x, c.y, 0.0]
}

fn ring(l: &geo::LineString) -> Vec<C> {
    l.0.iter().map(c3).collect()
}

fn poly_rings(p: &geo::Polygon) -> Vec<Vec<C>> {
    if p.exterior().0.is_empty() {
        return vec![];
    }
    std::iter::once(ring(p.exterior()))
        .chain(p.interiors().iter().map(ring))
        .collect()
}

fn from_geo(g: &geo::Geometry) -> Shape {
    use geo::Geometry as G;
    match g {
        G::Point(p) => Shape::Point(Some(c3(&p.0))),
        G::Line(l) => Shape::LineString(vec![c3(&l.start), c3(&l.end)]),
        G::LineString(l) => Shape::LineString(ring(l)),
        G::Polygon(p) => Shape::Polygon(poly_rings(p)),
        G::MultiPoint(m) => Shape::Multi(
            4,
            m.0.iter().map(|p| Shape::Point(Some(c3(&p.0)))).collect(),
        ),
        G::MultiLineString(m) => {
            Shape::Multi(5, m.0.iter().map(|l| Shape::LineString(ring(l))).collect())
        }
        G::MultiPolygon(m) => Shape::Multi(
            6,
            m.0.iter().map(|p| Shape::Polygon(poly_rings(p))).collect(),
        ),
        G::GeometryCollection(c) => Shape::Multi(7, c.0.iter().map(from_geo).collect()),
        G::Rect(r) => Shape::Polygon(poly_rings(&r.to_polygon())),
        G::Triangle(t) => Shape::Polygon(poly_rings(&t.to_polygon())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wkb_round_trips_3d_and_polyhedral_surfaces() {
        let tri = vec![
            [0.0, 0.0, 1.0],
            [1.0, 0.0, 1.0],
            [0.0, 1.0, 2.0],
            [0.0, 0.0, 1.0],
        ];
        let g = Geom {
            shape: Shape::Multi(
                15,
                vec![Shape::Polygon(vec![tri.clone()]), Shape::Polygon(vec![tri])],
            ),
            has_z: true,
        };
        let back = Geom::from_wkb(&g.to_wkb()).expect("parses");
        assert_eq!(back, g);
        assert_eq!(back.shape.type_name(), "PolyhedralSurface");
    }

    #[test]
    fn rejects_truncated_and_absurd_counts() {
        let mut w = Geom {
            shape: Shape::LineString(vec![[0.0; 3]; 3]),
            has_z: false,
        }
        .to_wkb();
        w.truncate(w.len() - 1);
        assert!(Geom::from_wkb(&w).is_err());
        let mut huge = vec![1u8, 2, 0, 0, 0];
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(Geom::from_wkb(&huge).is_err());
    }
}
