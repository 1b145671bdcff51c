//! WKT and GeoJSON for [`Geom`], written the way PostGIS writes them (`POINT Z (1 2 3)`,
//! `POLYGON((0 0,1 0,1 1,0 0))`, shortest numbers, GeoJSON with at most 9 decimals) so scripts that
//! compare text with PostGIS output keep working.

use std::str::FromStr;

use deltalake::datafusion::common::{DataFusionError, Result};
use serde_json::Value;

use crate::shape::{C, Geom, Shape};

/// A number with at most `decimals` decimals and no trailing zeros (`1`, `0.3`, `6570000.25`).
pub fn number(v: f64, decimals: usize) -> String {
    let shortest = format!("{v}");
    let s = match shortest.split_once('.') {
        Some((_, frac)) if frac.len() > decimals => {
            let r = format!("{v:.decimals$}");
            r.trim_end_matches('0').trim_end_matches('.').to_string()
        }
        _ => shortest,
    };
    if s == "-0" { "0".to_string() } else { s }
}

/// PostGIS-style WKT (`ST_AsText`): ISO dimension tags, no space after commas, up to 15 decimals.
pub fn to_wkt(g: &Geom) -> String {
    let mut out = String::new();
    wkt_shape(&mut out, &g.shape, g.has_z, true);
    out
}

fn wkt_tag(s: &Shape) -> &'static str {
    match s {
        Shape::Point(_) => "POINT",
        Shape::LineString(_) => "LINESTRING",
        Shape::Polygon(_) => "POLYGON",
        Shape::Triangle(_) => "TRIANGLE",
        Shape::Multi(4, _) => "MULTIPOINT",
        Shape::Multi(5, _) => "MULTILINESTRING",
        Shape::Multi(6, _) => "MULTIPOLYGON",
        Shape::Multi(15, _) => "POLYHEDRALSURFACE",
        Shape::Multi(16, _) => "TIN",
        Shape::Multi(_, _) => "GEOMETRYCOLLECTION",
    }
}

fn wkt_coord(out: &mut String, c: &C, z: bool) {
    out.push_str(&number(c[0], 15));
    out.push(' ');
    out.push_str(&number(c[1], 15));
    if z {
        out.push(' ');
        out.push_str(&number(c[2], 15));
    }
}

fn wkt_coords(out: &mut String, cs: &[C], z: bool) {
    out.push('(');
    for (i, c) in cs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        wkt_coord(out, c, z);
    }
    out.push(')');
}

fn wkt_rings(out: &mut String, rings: &[Vec<C>], z: bool) {
    out.push('(');
    for (i, r) in rings.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        wkt_coords(out, r, z);
    }
    out.push(')');
}

fn wkt_shape(out: &mut String, s: &Shape, z: bool, tagged: bool) {
    // Inside MULTI* the parts are untagged; inside a GEOMETRYCOLLECTION they are tagged.
    if tagged {
        out.push_str(wkt_tag(s));
        if z {
            out.push_str(" Z ");
        }
    }
    if s.is_empty() {
        if !tagged {
            out.push_str("EMPTY");
        } else {
            if !z {
                out.push(' ');
            }
            out.push_str("EMPTY");
        }
        return;
    }
    match s {
        Shape::Point(Some(c)) => {
            out.push('(');
            wkt_coord(out, c, z);
            out.push(')');
        }
        Shape::Point(None) => {}
        Shape::LineString(cs) => wkt_coords(out, cs, z),
        Shape::Triangle(cs) => wkt_rings(out, std::slice::from_ref(cs), z),
        Shape::Polygon(rings) => wkt_rings(out, rings, z),
        Shape::Multi(code, parts) => {
            out.push('(');
            for (i, p) in parts.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                wkt_shape(out, p, z, *code == 7);
            }
            out.push(')');
        }
    }
}

/// Parses WKT (2D, Z, M or ZM; M is dropped). Like PostGIS, `POINT(1 2 3)` without a `Z` tag is 3D, and
/// polygon rings must be closed with at least four points.
pub fn from_wkt(text: &str) -> Result<Geom> {
    let parsed = wkt::Wkt::<f64>::from_str(text)
        .or_else(|e| implicit_dimensions(text).map_or(Err(e), |t| wkt::Wkt::<f64>::from_str(&t)))
        .map_err(|e| {
        DataFusionError::Execution(format!(
            "ST_GeomFromText: cannot parse {:?}: {e}; expected WKT like 'POINT(1 2)' or 'POLYGON Z ((…))'",
            shorten(text)
        ))
    })?;
    let mut has_z = false;
    let shape = from_wkt_geom(&parsed, &mut has_z);
    check_rings(&shape)?;
    Ok(Geom { shape, has_z })
}

/// `POINT(1 2 3)` → `POINT Z (1 2 3)`, `POINT(1 2 3 4)` → `POINT ZM (1 2 3 4)`: the dimension tag PostGIS infers
/// from the first coordinate.
fn implicit_dimensions(text: &str) -> Option<String> {
    let t = text.trim();
    let open = t.find('(')?;
    let tag = t[..open].trim();
    if tag.contains(' ') || tag.is_empty() {
        return None;
    }
    let first = t[open..].trim_start_matches(['(', ' ']);
    let coord = &first[..first.find([',', ')'])?];
    let dims = match coord.split_whitespace().count() {
        3 => "Z",
        4 => "ZM",
        _ => return None,
    };
    Some(format!("{tag} {dims} {}", &t[open..]))
}

fn check_rings(s: &Shape) -> Result<()> {
    let ring_ok = |r: &Vec<C>| {
        r.len() >= 4 && r.first().map(|c| [c[0], c[1]]) == r.last().map(|c| [c[0], c[1]])
    };
    match s {
        Shape::Polygon(rings) if !rings.iter().all(ring_ok) => Err(DataFusionError::Execution(
            "ST_GeomFromText: a polygon ring must be closed (first point = last) and have at least 4 points".into(),
        )),
        Shape::Multi(_, parts) => parts.iter().try_for_each(check_rings),
        _ => Ok(()),
    }
}

/// The CRS named by a GeoJSON text's `crs` member (`{"type":"name","properties":{"name":"EPSG:3006"}}`).
pub fn geojson_crs(text: &str) -> Option<String> {
    let v: Value = serde_json::from_str(text).ok()?;
    let name = v.get("crs")?.get("properties")?.get("name")?.as_str()?;
    let code = name.rsplit(':').next()?.parse::<u32>().ok()?;
    Some(format!("EPSG:{code}"))
}

fn shorten(s: &str) -> String {
    if s.len() > 80 {
        format!("{}…", &s[..s.floor_char_boundary(80)])
    } else {
        s.to_string()
    }
}

fn from_wkt_coords(cs: &[wkt::types::Coord<f64>], has_z: &mut bool) -> Vec<C> {
    cs.iter()
        .map(|c| {
            *has_z |= c.z.is_some();
            [c.x, c.y, c.z.unwrap_or(0.0)]
        })
        .collect()
}

fn from_wkt_polygon(p: &wkt::types::Polygon<f64>, has_z: &mut bool) -> Shape {
    Shape::Polygon(
        p.rings()
            .iter()
            .map(|r| from_wkt_coords(r.coords(), has_z))
            .collect(),
    )
}

fn from_wkt_geom(w: &wkt::Wkt<f64>, has_z: &mut bool) -> Shape {
    use wkt::Wkt as W;
    use wkt::types::Dimension as D;
    let dim = match w {
        W::Point(g) => g.dimension(),
        W::LineString(g) => g.dimension(),
        W::Polygon(g) => g.dimension(),
        W::MultiPoint(g) => g.dimension(),
        W::MultiLineString(g) => g.dimension(),
        W::MultiPolygon(g) => g.dimension(),
        W::GeometryCollection(g) => g.dimension(),
    };
    *has_z |= matches!(dim, D::XYZ | D::XYZM);
    match w {
        W::Point(p) => Shape::Point(p.coord().map(|c| {
            *has_z |= c.z.is_some();
            [c.x, c.y, c.z.unwrap_or(0.0)]
        })),
        W::LineString(l) => Shape::LineString(from_wkt_coords(l.coords(), has_z)),
        W::Polygon(p) => from_wkt_polygon(p, has_z),
        W::MultiPoint(m) => Shape::Multi(
            4,
            m.points()
                .iter()
                .map(|p| from_wkt_geom(&W::Point(p.clone()), has_z))
                .collect(),
        ),
        W::MultiLineString(m) => Shape::Multi(
            5,
            m.line_strings()
                .iter()
                .map(|l| Shape::LineString(from_wkt_coords(l.coords(), has_z)))
                .collect(),
        ),
        W::MultiPolygon(m) => Shape::Multi(
            6,
            m.polygons()
                .iter()
                .map(|p| from_wkt_polygon(p, has_z))
                .collect(),
        ),
        W::GeometryCollection(c) => Shape::Multi(
            7,
            c.geometries()
                .iter()
                .map(|g| from_wkt_geom(g, has_z))
                .collect(),
        ),
    }
}

/// A GeoJSON geometry object as PostGIS writes it: `type` first, then `crs` when `crs` is given (PostGIS names
/// any CRS but WGS 84), then `coordinates`; numbers with at most `decimals` decimals.
pub fn to_geojson(g: &Geom, decimals: usize, crs: Option<&str>) -> String {
    let mut out = String::with_capacity(64);
    geojson_object(&mut out, &g.shape, g.has_z, decimals, crs);
    out
}

fn geojson_type(s: &Shape) -> &'static str {
    match s {
        Shape::Point(_) => "Point",
        Shape::LineString(_) => "LineString",
        Shape::Polygon(_) | Shape::Triangle(_) => "Polygon",
        Shape::Multi(4, _) => "MultiPoint",
        Shape::Multi(5, _) => "MultiLineString",
        Shape::Multi(6 | 15 | 16, _) => "MultiPolygon",
        Shape::Multi(_, _) => "GeometryCollection",
    }
}

fn geojson_object(out: &mut String, s: &Shape, z: bool, decimals: usize, crs: Option<&str>) {
    out.push_str("{\"type\":\"");
    out.push_str(geojson_type(s));
    out.push('"');
    if let Some(crs) = crs {
        out.push_str(",\"crs\":{\"type\":\"name\",\"properties\":{\"name\":");
        out.push_str(&Value::String(crs.to_string()).to_string());
        out.push_str("}}");
    }
    if let Shape::Multi(code, parts) = s
        && !matches!(code, 4 | 5 | 6 | 15 | 16)
    {
        out.push_str(",\"geometries\":[");
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            geojson_object(out, p, z, decimals, None);
        }
        out.push_str("]}");
        return;
    }
    out.push_str(",\"coordinates\":");
    geojson_coords(out, s, z, decimals);
    out.push('}');
}

fn geojson_position(out: &mut String, c: &C, z: bool, decimals: usize) {
    out.push('[');
    out.push_str(&number(c[0], decimals));
    out.push(',');
    out.push_str(&number(c[1], decimals));
    if z {
        out.push(',');
        out.push_str(&number(c[2], decimals));
    }
    out.push(']');
}

fn geojson_list<T>(out: &mut String, items: &[T], mut f: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        f(out, item);
    }
    out.push(']');
}

fn geojson_coords(out: &mut String, s: &Shape, z: bool, d: usize) {
    match s {
        Shape::Point(Some(c)) => geojson_position(out, c, z, d),
        Shape::Point(None) => out.push_str("[]"),
        Shape::LineString(cs) => geojson_list(out, cs, |o, c| geojson_position(o, c, z, d)),
        Shape::Triangle(cs) => geojson_list(out, std::slice::from_ref(cs), |o, r| {
            geojson_list(o, r, |o, c| geojson_position(o, c, z, d))
        }),
        Shape::Polygon(rings) => geojson_list(out, rings, |o, r| {
            geojson_list(o, r, |o, c| geojson_position(o, c, z, d))
        }),
        Shape::Multi(_, parts) => geojson_list(out, parts, |o, p| geojson_coords(o, p, z, d)),
    }
}

fn geojson_error(msg: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("ST_GeomFromGeoJSON: {msg}"))
}

/// Parses a GeoJSON geometry object (a Feature's `geometry` is accepted too).
pub fn from_geojson(text: &str) -> Result<Geom> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| geojson_error(format!("not JSON: {e}")))?;
    let v = if v.get("type").and_then(Value::as_str) == Some("Feature") {
        v.get("geometry").cloned().unwrap_or(Value::Null)
    } else {
        v
    };
    let mut has_z = false;
    let shape = geojson_shape(&v, &mut has_z)?;
    Ok(Geom { shape, has_z })
}

fn geojson_pos(v: &Value, has_z: &mut bool) -> Result<C> {
    let a = v
        .as_array()
        .ok_or_else(|| geojson_error(format!("a position must be an array, got {v}")))?;
    let n = |i: usize| a.get(i).and_then(Value::as_f64);
    match (n(0), n(1)) {
        (Some(x), Some(y)) => {
            let z = n(2);
            *has_z |= z.is_some();
            Ok([x, y, z.unwrap_or(0.0)])
        }
        _ => Err(geojson_error(format!(
            "a position needs two numbers, got {v}"
        ))),
    }
}

fn parse_list<T>(v: &Value, f: &mut dyn FnMut(&Value) -> Result<T>) -> Result<Vec<T>> {
    v.as_array()
        .ok_or_else(|| geojson_error(format!("expected an array, got {v}")))?
        .iter()
        .map(f)
        .collect()
}

fn geojson_shape(v: &Value, has_z: &mut bool) -> Result<Shape> {
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| geojson_error("missing \"type\""))?;
    let coords = || {
        v.get("coordinates")
            .ok_or_else(|| geojson_error(format!("{kind} without \"coordinates\"")))
    };
    let line = |v: &Value, has_z: &mut bool| parse_list(v, &mut |p| geojson_pos(p, has_z));
    Ok(match kind {
        "Point" => {
            let c = coords()?;
            if c.as_array().is_some_and(Vec::is_empty) {
                Shape::Point(None)
            } else {
                Shape::Point(Some(geojson_pos(c, has_z)?))
            }
        }
        "LineString" => Shape::LineString(line(coords()?, has_z)?),
        "Polygon" => Shape::Polygon(parse_list(coords()?, &mut |r| line(r, has_z))?),
        "MultiPoint" => Shape::Multi(
            4,
            parse_list(coords()?, &mut |p| {
                Ok(Shape::Point(Some(geojson_pos(p, has_z)?)))
            })?,
        ),
        "MultiLineString" => Shape::Multi(
            5,
            parse_list(coords()?, &mut |l| Ok(Shape::LineString(line(l, has_z)?)))?,
        ),
        "MultiPolygon" => Shape::Multi(
            6,
            parse_list(coords()?, &mut |p| {
                Ok(Shape::Polygon(parse_list(p, &mut |r| line(r, has_z))?))
            })?,
        ),
        "GeometryCollection" => Shape::Multi(
            7,
            parse_list(
                v.get("geometries")
                    .ok_or_else(|| geojson_error("GeometryCollection without \"geometries\""))?,
                &mut |g| geojson_shape(g, has_z),
            )?,
        ),
        other => return Err(geojson_error(format!("unknown geometry type {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_shortest_and_capped() {
        assert_eq!(number(1.0, 15), "1");
        assert_eq!(number(0.1 + 0.2, 15), "0.3");
        assert_eq!(number(6_570_000.25, 9), "6570000.25");
        assert_eq!(number(-0.0, 9), "0");
        assert_eq!(number(1.0 / 3.0, 9), "0.333333333");
    }

    #[test]
    fn wkt_is_written_like_postgis() {
        for wkt in [
            "POINT(1 2)",
            "POINT Z (1 2 3)",
            "POLYGON((0 0,1 0,1 1,0 0))",
            "MULTIPOINT((1 2),(3 4))",
            "GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1))",
            "POLYGON EMPTY",
            "POINT EMPTY",
        ] {
            assert_eq!(to_wkt(&from_wkt(wkt).expect(wkt)), wkt);
        }
    }

    #[test]
    fn geojson_round_trips_with_z() {
        let g =
            from_geojson(r#"{"type":"Polygon","coordinates":[[[0,0,5],[1,0,5],[1,1,6],[0,0,5]]]}"#)
                .expect("parses");
        assert!(g.has_z);
        assert_eq!(
            to_geojson(&g, 9, Some("EPSG:3006")),
            r#"{"type":"Polygon","crs":{"type":"name","properties":{"name":"EPSG:3006"}},"coordinates":[[[0,0,5],[1,0,5],[1,1,6],[0,0,5]]]}"#
        );
        assert!(from_geojson(r#"{"type":"Blob"}"#).is_err());
    }
}
