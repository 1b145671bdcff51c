//! The `ST_` functions tvilling adds to geodatafusion's, or replaces where ours must keep Z, the CRS or
//! PostGIS' text formats. One table entry per function; `docs/sql.md` lists them with PostGIS differences.

use deltalake::datafusion::common::{DataFusionError, Result};
use geo::{BooleanOps, Buffer, Distance, Euclidean, Intersects};

use super::scalar::{CrsRule, Ctx, Kind, Out, Res, StFunction, Val};
use crate::geom::srid;
use crate::shape::{Geom, Shape};
use crate::{text, three_d};

const G: (&str, Kind) = ("geom", Kind::Geom);
const A: (&str, Kind) = ("geomA", Kind::Geom);
const B: (&str, Kind) = ("geomB", Kind::Geom);

/// PostGIS' spelling of a function name, for messages (`st_asgeojson` → `ST_AsGeoJSON`).
pub fn display_name(name: &str) -> String {
    const KNOWN: &[&str] = &[
        "ST_GeomFromText",
        "ST_GeomFromGeoJSON",
        "ST_AsText",
        "ST_AsGeoJSON",
        "ST_MakeEnvelope",
        "ST_Point",
        "ST_PointZ",
        "ST_MakePoint",
        "ST_SetSRID",
        "ST_SRID",
        "ST_Transform",
        "ST_Force2D",
        "ST_X",
        "ST_Y",
        "ST_Z",
        "ST_ZMin",
        "ST_ZMax",
        "ST_3DDistance",
        "ST_3DIntersects",
        "ST_3DDWithin",
        "ST_DWithin",
        "ST_Buffer",
        "ST_Intersection",
        "ST_Union",
        "ST_Difference",
        "ST_SymDifference",
        "ST_Collect",
        "ST_Extent",
        "ST_Union_Agg",
        "ST_Collect_Agg",
        "ST_Intersects",
        "ST_Contains",
        "ST_Within",
        "ST_Distance",
        "ST_Area",
        "ST_Length",
        "ST_IsEmpty",
        "ST_NPoints",
        "ST_GeometryType",
        "ST_IsValid",
        "ST_Disjoint",
        "ST_Covers",
        "ST_CoveredBy",
        "ST_Touches",
        "ST_Overlaps",
        "ST_Crosses",
        "ST_Equals",
    ];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .map(|k| k.to_string())
        .unwrap_or_else(|| name.to_string())
}

fn parse(v: &Val<'_>) -> Result<Geom> {
    Geom::from_wkb(v.geom()?)
}

fn geom(g: Geom) -> Result<Res> {
    Ok(Res::Geom(g.to_wkb()))
}

fn exec(function: &str, msg: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Execution(format!("{function}: {msg}"))
}

/// Every function in this table, for registration and docs.
pub fn functions() -> Vec<StFunction> {
    use Kind::{Float, Int, Srid, Style, Text};
    vec![
        StFunction::new("st_geomfromtext", &[("wkt", Text), ("srid", Srid)], 1, Out::Geom(CrsRule::Arg(1)),
            |_, v| geom(text::from_wkt(v[0].text()?)?),
            "Geometry from WKT (Z kept), with an optional SRID: ST_GeomFromText('POINT(1 2)', 3006)."),
        StFunction::new("st_geomfromgeojson", &[("geojson", Text)], 1, Out::Geom(CrsRule::GeoJson),
            |_, v| geom(text::from_geojson(v[0].text()?)?),
            "Geometry from a GeoJSON geometry (Z kept); the CRS is its `crs` member's, else EPSG:4326 (RFC 7946, PostGIS 3)."),
        StFunction::new("st_astext", &[G], 1, Out::Text,
            |_, v| Ok(Res::Text(text::to_wkt(&parse(&v[0])?))),
            "WKT as PostGIS writes it: POINT Z (1 2 3), no space after commas, up to 15 decimals."),
        StFunction::new("st_asgeojson", &[G, ("maxdecimaldigits", Int)], 1, Out::Text,
            |ctx, v| {
                let digits = v.get(1).map(Val::int).transpose()?.unwrap_or(9).clamp(0, 15) as usize;
                let crs = ctx.crs.first().cloned().flatten().filter(|c| c != "EPSG:4326");
                Ok(Res::Text(text::to_geojson(&parse(&v[0])?, digits, crs.as_deref())))
            },
            "GeoJSON geometry object, Z kept, at most maxdecimaldigits (default 9) decimals; a CRS other than \
             EPSG:4326 is named in a `crs` member, as PostGIS does."),
        StFunction::new("st_makeenvelope", &[("xmin", Float), ("ymin", Float), ("xmax", Float), ("ymax", Float), ("srid", Srid)],
            4, Out::Geom(CrsRule::Arg(4)),
            |_, v| {
                let (x0, y0, x1, y1) = (v[0].float()?, v[1].float()?, v[2].float()?, v[3].float()?);
                geom(envelope(x0, y0, x1, y1))
            },
            "Rectangle polygon from its bounds, with an optional SRID."),
        StFunction::new("st_point", &[("x", Float), ("y", Float), ("srid", Srid)], 2, Out::Geom(CrsRule::Arg(2)),
            |_, v| geom(Geom { shape: Shape::Point(Some([v[0].float()?, v[1].float()?, 0.0])), has_z: false }),
            "2D point, with an optional SRID."),
        StFunction::new("st_pointz", &[("x", Float), ("y", Float), ("z", Float), ("srid", Srid)], 3, Out::Geom(CrsRule::Arg(3)),
            |_, v| geom(Geom { shape: Shape::Point(Some([v[0].float()?, v[1].float()?, v[2].float()?])), has_z: true }),
            "3D point, with an optional SRID."),
        StFunction::new("st_makepoint", &[("x", Float), ("y", Float), ("z", Float)], 2, Out::Geom(CrsRule::Inputs),
            |_, v| {
                let z = v.get(2).map(Val::float).transpose()?;
                geom(Geom { shape: Shape::Point(Some([v[0].float()?, v[1].float()?, z.unwrap_or(0.0)])), has_z: z.is_some() })
            },
            "2D or 3D point with an unknown CRS (SRID 0)."),
        StFunction::new("st_setsrid", &[G, ("srid", Srid)], 2, Out::Geom(CrsRule::Arg(1)),
            |_, v| Ok(Res::Geom(v[0].geom()?.to_vec())),
            "Same coordinates, labelled with another CRS (no transformation)."),
        StFunction::new("st_srid", &[G], 1, Out::Int,
            |ctx, _| Ok(Res::Int(srid(ctx.crs.first().and_then(|c| c.as_deref())))),
            "EPSG code of the geometry's CRS; 0 when unknown."),
        StFunction::new("st_transform", &[G, ("srid", Srid)], 2, Out::Geom(CrsRule::Arg(1)),
            |ctx, v| {
                if ctx.crs.first().cloned().flatten() == ctx.out_crs {
                    return Ok(Res::Geom(v[0].geom()?.to_vec()));
                }
                let t = ctx.transformer("ST_Transform")?;
                let n = tvilling_core::wkb::normalize(v[0].geom()?, Some(&mut |c: &mut [f64; 3]| t.apply(c)))
                    .map_err(|e| exec("ST_Transform", e))?;
                Ok(Res::Geom(n.wkb))
            },
            "Reprojects with PROJ (x/y in GIS order; Z kept as it is)."),
        StFunction::new("st_force2d", &[G], 1, Out::Geom(CrsRule::Inputs),
            |_, v| geom(Geom { has_z: false, ..parse(&v[0])? }),
            "Drops Z."),
        StFunction::new("st_x", &[G], 1, Out::Float, |_, v| point_ordinate(&v[0], 0, "ST_X"), "X of a point."),
        StFunction::new("st_y", &[G], 1, Out::Float, |_, v| point_ordinate(&v[0], 1, "ST_Y"), "Y of a point."),
        StFunction::new("st_z", &[G], 1, Out::Float, |_, v| point_ordinate(&v[0], 2, "ST_Z"), "Z of a point; NULL for a 2D point."),
        StFunction::new("st_zmin", &[G], 1, Out::Float, |_, v| z_extreme(&v[0], f64::min), "Lowest Z; 0 for 2D geometries as in PostGIS."),
        StFunction::new("st_zmax", &[G], 1, Out::Float, |_, v| z_extreme(&v[0], f64::max), "Highest Z; 0 for 2D geometries as in PostGIS."),
        StFunction::new("st_3ddistance", &[A, B], 2, Out::Float,
            |_, v| {
                let (a, b) = pair3d(v)?;
                Ok(three_d::distance(&a, &b, 0.0).map_or(Res::Null, Res::Float))
            },
            "Least 3D distance; polygons and polyhedral faces are surfaces; 2D when either input is 2D."),
        StFunction::new("st_3dintersects", &[A, B], 2, Out::Bool,
            |_, v| {
                let (a, b) = pair3d(v)?;
                Ok(Res::Bool(three_d::intersects(&a, &b)))
            },
            "Whether the geometries share a point in 3D (not just in plan)."),
        StFunction::new("st_3ddwithin", &[A, B, ("distance", Float)], 3, Out::Bool,
            |_, v| {
                let (a, b) = pair3d(v)?;
                let d = v[2].float()?;
                Ok(Res::Bool(three_d::distance(&a, &b, d).is_some_and(|x| x <= d)))
            },
            "Whether the 3D distance is at most `distance`."),
        StFunction::new("st_dwithin", &[A, B, ("distance", Float)], 3, Out::Bool,
            |_, v| Ok(Res::Bool(distance2d(&v[0], &v[1])?.is_some_and(|x| x <= v[2].float().unwrap_or(f64::NAN)))),
            "Whether the 2D distance is at most `distance` (CRS units; inclusive, as PostGIS)."),
        StFunction::new("st_buffer", &[G, ("radius", Float), ("quad_segs", Style)], 2, Out::Geom(CrsRule::Inputs),
            buffer,
            "Buffer with round joins; quad_segs (default 8) segments per quarter circle, as PostGIS."),
        StFunction::new("st_intersection", &[A, B], 2, Out::Geom(CrsRule::Inputs),
            |_, v| overlay(&v[0], &v[1], Op::Intersection), "Shared part of two geometries."),
        StFunction::new("st_union", &[A, B], 2, Out::Geom(CrsRule::Inputs),
            |_, v| overlay(&v[0], &v[1], Op::Union), "Union of two geometries; the aggregate is ST_Union(geom) too."),
        StFunction::new("st_difference", &[A, B], 2, Out::Geom(CrsRule::Inputs),
            |_, v| overlay(&v[0], &v[1], Op::Difference), "Part of geomA outside geomB."),
        StFunction::new("st_symdifference", &[A, B], 2, Out::Geom(CrsRule::Inputs),
            |_, v| overlay(&v[0], &v[1], Op::SymDifference), "Parts of either geometry outside the other."),
        StFunction::new("st_collect", &[A, B], 2, Out::Geom(CrsRule::Inputs),
            |_, v| match v {
                [one] => Ok(Res::Geom(one.geom()?.to_vec())),
                _ => geom(collect(vec![parse(&v[0])?, parse(&v[1])?])),
            },
            "Collection of two geometries (Multi* when they share a type; a NULL side gives the other); \
             the aggregate is ST_Collect(geom).")
            .skipping_nulls(),
    ]
}

/// PostGIS' box-to-geometry: a polygon `(xmin ymin, xmin ymax, xmax ymax, xmax ymin)`, collapsing to a line
/// or point when the box has no width or height.
pub fn envelope(x0: f64, y0: f64, x1: f64, y1: f64) -> Geom {
    let shape = if x0 == x1 && y0 == y1 {
        Shape::Point(Some([x0, y0, 0.0]))
    } else if x0 == x1 || y0 == y1 {
        Shape::LineString(vec![[x0, y0, 0.0], [x1, y1, 0.0]])
    } else {
        Shape::Polygon(vec![vec![
            [x0, y0, 0.0],
            [x0, y1, 0.0],
            [x1, y1, 0.0],
            [x1, y0, 0.0],
            [x0, y0, 0.0],
        ]])
    };
    Geom {
        shape,
        has_z: false,
    }
}

/// Two geometries for a 3D function. As in PostGIS, a missing Z means "any height": when either input is 2D
/// both are flattened, which makes the 3D functions answer in 2D.
fn pair3d(v: &[Val<'_>]) -> Result<(Shape, Shape)> {
    let (mut a, mut b) = (parse(&v[0])?, parse(&v[1])?);
    if !(a.has_z && b.has_z) {
        for g in [&mut a, &mut b] {
            g.shape.map_coords(&mut |c| c[2] = 0.0);
        }
    }
    Ok((a.shape, b.shape))
}

fn point_ordinate(v: &Val<'_>, i: usize, function: &str) -> Result<Res> {
    let g = parse(v)?;
    match g.shape {
        Shape::Point(None) => Ok(Res::Null),
        Shape::Point(Some(_)) if i == 2 && !g.has_z => Ok(Res::Null),
        Shape::Point(Some(c)) => Ok(Res::Float(c[i])),
        other => Err(exec(
            function,
            format!("the argument must be a POINT, got {}", other.type_name()),
        )),
    }
}

fn z_extreme(v: &Val<'_>, pick: fn(f64, f64) -> f64) -> Result<Res> {
    let g = parse(v)?;
    if g.shape.is_empty() {
        return Ok(Res::Null);
    }
    if !g.has_z {
        return Ok(Res::Float(0.0));
    }
    let mut acc: Option<f64> = None;
    g.shape
        .for_each_coord(&mut |c| acc = Some(acc.map_or(c[2], |a| pick(a, c[2]))));
    Ok(acc.map_or(Res::Null, Res::Float))
}

fn to_geo(v: &Val<'_>) -> Result<Option<geo::Geometry>> {
    let g = parse(v)?;
    Ok(if g.shape.is_empty() { None } else { g.to_geo() })
}

/// 2D distance; `None` when either geometry is empty (PostGIS returns NULL there).
fn distance2d(a: &Val<'_>, b: &Val<'_>) -> Result<Option<f64>> {
    Ok(match (to_geo(a)?, to_geo(b)?) {
        (Some(a), Some(b)) => Some(Euclidean.distance(&a, &b)),
        _ => None,
    })
}

fn buffer(_: &Ctx, v: &[Val<'_>]) -> Result<Res> {
    let r = v[1].float()?;
    let quad_segs = match v.get(2) {
        None => 8,
        Some(Val::Int(n)) => *n,
        Some(Val::Text(s)) => style_quad_segs(s)?,
        Some(other) => return Err(exec("ST_Buffer", format!("unexpected style {other:?}"))),
    };
    if quad_segs < 1 {
        return Err(exec(
            "ST_Buffer",
            format!("quad_segs must be at least 1, got {quad_segs}"),
        ));
    }
    let Some(g) = to_geo(&v[0])? else {
        return geom(Geom {
            shape: Shape::Polygon(vec![]),
            has_z: false,
        });
    };
    let angle = std::f64::consts::FRAC_PI_2 / quad_segs as f64;
    let style = geo::algorithm::buffer::BufferStyle::new(r)
        .line_join(geo::algorithm::buffer::LineJoin::Round(angle))
        .line_cap(geo::algorithm::buffer::LineCap::Round(angle));
    geom(simplest(geo::Geometry::MultiPolygon(
        g.buffer_with_style(style),
    )))
}

/// `'quad_segs=4'` from PostGIS' buffer style string; other style keys are refused by name.
fn style_quad_segs(s: &str) -> Result<i64> {
    let mut quad = 8;
    for part in s.split_whitespace() {
        match part.split_once('=') {
            Some(("quad_segs", n)) => {
                quad = n
                    .parse()
                    .map_err(|_| exec("ST_Buffer", format!("quad_segs={n} is not an integer")))?;
            }
            Some(("endcap", "round")) | Some(("join", "round")) => {}
            _ => {
                return Err(exec(
                    "ST_Buffer",
                    format!(
                        "buffer style {part:?} is not supported; tvilling buffers with round joins and caps ('quad_segs=N')"
                    ),
                ));
            }
        }
    }
    Ok(quad)
}

/// A one-part Multi* becomes its part, as PostGIS/GEOS return overlay results; empty polygons stay
/// `POLYGON EMPTY`.
fn simplest(g: geo::Geometry) -> Geom {
    use geo::Geometry as Gg;
    let g = match g {
        Gg::MultiPolygon(mut m) if m.0.len() == 1 => Gg::Polygon(m.0.remove(0)),
        Gg::MultiPolygon(m) if m.0.is_empty() => {
            return Geom {
                shape: Shape::Polygon(vec![]),
                has_z: false,
            };
        }
        Gg::MultiLineString(mut m) if m.0.len() == 1 => Gg::LineString(m.0.remove(0)),
        Gg::MultiLineString(m) if m.0.is_empty() => {
            return Geom {
                shape: Shape::LineString(vec![]),
                has_z: false,
            };
        }
        Gg::MultiPoint(mut m) if m.0.len() == 1 => Gg::Point(m.0.remove(0)),
        Gg::MultiPoint(m) if m.0.is_empty() => {
            return Geom {
                shape: Shape::Point(None),
                has_z: false,
            };
        }
        g => g,
    };
    Geom::from_geo(&g)
}

#[derive(Clone, Copy)]
enum Op {
    Intersection,
    Union,
    Difference,
    SymDifference,
}

fn polygonal(g: &geo::Geometry) -> Option<geo::MultiPolygon> {
    use geo::Geometry as Gg;
    match g {
        Gg::Polygon(p) => Some(geo::MultiPolygon(vec![p.clone()])),
        Gg::MultiPolygon(m) => Some(m.clone()),
        Gg::Rect(r) => Some(geo::MultiPolygon(vec![r.to_polygon()])),
        Gg::Triangle(t) => Some(geo::MultiPolygon(vec![t.to_polygon()])),
        _ => None,
    }
}

fn lineal(g: &geo::Geometry) -> Option<geo::MultiLineString> {
    use geo::Geometry as Gg;
    match g {
        Gg::LineString(l) => Some(geo::MultiLineString(vec![l.clone()])),
        Gg::MultiLineString(m) => Some(m.clone()),
        Gg::Line(l) => Some(geo::MultiLineString(vec![geo::LineString(vec![
            l.start, l.end,
        ])])),
        _ => None,
    }
}

fn points(g: &geo::Geometry) -> Option<Vec<geo::Point>> {
    match g {
        geo::Geometry::Point(p) => Some(vec![*p]),
        geo::Geometry::MultiPoint(m) => Some(m.0.clone()),
        _ => None,
    }
}

fn overlay(a: &Val<'_>, b: &Val<'_>, op: Op) -> Result<Res> {
    let (ga, gb) = (parse(a)?, parse(b)?);
    let name = match op {
        Op::Intersection => "ST_Intersection",
        Op::Union => "ST_Union",
        Op::Difference => "ST_Difference",
        Op::SymDifference => "ST_SymDifference",
    };
    let (ea, eb) = (ga.shape.is_empty(), gb.shape.is_empty());
    let (Some(x), Some(y)) = (ga.to_geo().filter(|_| !ea), gb.to_geo().filter(|_| !eb)) else {
        // An empty operand: PostGIS returns the other (union, difference) or an empty result.
        return match op {
            Op::Union | Op::SymDifference => geom(if ea { gb } else { ga }),
            Op::Difference => geom(ga),
            Op::Intersection => geom(Geom {
                shape: Shape::Multi(7, vec![]),
                has_z: false,
            }),
        };
    };
    if let (Some(p), Some(q)) = (polygonal(&x), polygonal(&y)) {
        // GEOS refuses invalid polygons (TopologyException); so do we, rather than return a wrong shape.
        for (g, which) in [(&x, "geomA"), (&y, "geomB")] {
            if let Err(why) = super::measure::valid(g) {
                return Err(exec(
                    name,
                    format!(
                        "{which} is not a valid polygon ({why}); repair it, e.g. re-ingest with --make-valid"
                    ),
                ));
            }
        }
        let r = match op {
            Op::Intersection => p.intersection(&q),
            Op::Union => p.union(&q),
            Op::Difference => p.difference(&q),
            Op::SymDifference => p.xor(&q),
        };
        return geom(simplest(geo::Geometry::MultiPolygon(r)));
    }
    let keep_points = |pts: Vec<geo::Point>, other: &geo::Geometry, inside: bool| {
        let kept: Vec<_> = pts
            .into_iter()
            .filter(|p| p.intersects(other) == inside)
            .collect();
        simplest(geo::Geometry::MultiPoint(geo::MultiPoint(kept)))
    };
    match op {
        Op::Intersection => {
            if let (Some(l), Some(p)) = (lineal(&x), polygonal(&y)) {
                return geom(simplest(geo::Geometry::MultiLineString(p.clip(&l, false))));
            }
            if let (Some(p), Some(l)) = (polygonal(&x), lineal(&y)) {
                return geom(simplest(geo::Geometry::MultiLineString(p.clip(&l, false))));
            }
            if let (Some(l), Some(m)) = (lineal(&x), lineal(&y)) {
                return geom(line_intersection(&l, &m));
            }
            if let Some(pts) = points(&x) {
                return geom(keep_points(pts, &y, true));
            }
            if let Some(pts) = points(&y) {
                return geom(keep_points(pts, &x, true));
            }
        }
        Op::Difference => {
            if let (Some(l), Some(p)) = (lineal(&x), polygonal(&y)) {
                return geom(simplest(geo::Geometry::MultiLineString(p.clip(&l, true))));
            }
            if let Some(pts) = points(&x) {
                return geom(keep_points(pts, &y, false));
            }
            // Subtracting a lower-dimensional geometry leaves the polygon as it is.
            if polygonal(&x).is_some() {
                return geom(ga);
            }
        }
        Op::Union => {
            if let (Some(l), Some(m)) = (lineal(&x), lineal(&y)) {
                return geom(line_union(l.0.into_iter().chain(m.0)));
            }
            if let (Some(mut p), Some(q)) = (points(&x), points(&y)) {
                for q in q {
                    if !p.contains(&q) {
                        p.push(q);
                    }
                }
                return geom(simplest(geo::Geometry::MultiPoint(geo::MultiPoint(p))));
            }
        }
        Op::SymDifference => {}
    }
    Err(exec(
        name,
        format!(
            "{} with {} is not supported; tvilling overlays polygons with polygons, lines and points, \
             and points with anything",
            ga.shape.type_name(),
            gb.shape.type_name()
        ),
    ))
}

/// Where two lineal geometries meet: crossing points and shared stretches (as GEOS, without merging the
/// stretches into longer lines).
fn line_intersection(a: &geo::MultiLineString, b: &geo::MultiLineString) -> Geom {
    use geo::line_intersection::{LineIntersection, line_intersection as meet};
    let mut pts: Vec<geo::Point> = Vec::new();
    let mut lines: Vec<geo::LineString> = Vec::new();
    for la in a.0.iter().flat_map(|l| l.lines()) {
        for lb in b.0.iter().flat_map(|l| l.lines()) {
            match meet(la, lb) {
                Some(LineIntersection::SinglePoint { intersection, .. }) => {
                    let p = geo::Point(intersection);
                    if !pts.contains(&p) {
                        pts.push(p);
                    }
                }
                Some(LineIntersection::Collinear { intersection }) => {
                    lines.push(geo::LineString(vec![intersection.start, intersection.end]))
                }
                None => {}
            }
        }
    }
    // A point on a shared stretch is not reported separately.
    let pts: Vec<geo::Point> = pts
        .into_iter()
        .filter(|p| !lines.iter().any(|l| p.intersects(l)))
        .collect();
    match (pts.is_empty(), lines.is_empty()) {
        (_, true) => simplest(geo::Geometry::MultiPoint(geo::MultiPoint(pts))),
        (true, false) => simplest(geo::Geometry::MultiLineString(geo::MultiLineString(lines))),
        (false, false) => Geom::from_geo(&geo::Geometry::GeometryCollection(
            geo::GeometryCollection(vec![
                simplest_geo(geo::Geometry::MultiPoint(geo::MultiPoint(pts))),
                simplest_geo(geo::Geometry::MultiLineString(geo::MultiLineString(lines))),
            ]),
        )),
    }
}

/// Lines dissolved as GEOS does: every segment split where it meets another, shared stretches kept once.
pub fn line_union(lines: impl IntoIterator<Item = geo::LineString>) -> Geom {
    use geo::line_intersection::{LineIntersection, line_intersection as meet};
    let segments: Vec<geo::Line> = lines
        .into_iter()
        .flat_map(|l| l.lines().collect::<Vec<_>>())
        .collect();
    let mut pieces: Vec<(geo::Coord, geo::Coord)> = Vec::new();
    for (i, s) in segments.iter().enumerate() {
        // Where other segments meet this one, as positions along it.
        let dir = s.delta();
        let len2 = dir.x * dir.x + dir.y * dir.y;
        if len2 == 0.0 {
            continue;
        }
        let at = |c: geo::Coord| ((c.x - s.start.x) * dir.x + (c.y - s.start.y) * dir.y) / len2;
        let mut cuts = vec![0.0, 1.0];
        for (j, o) in segments.iter().enumerate() {
            if i == j {
                continue;
            }
            match meet(*s, *o) {
                Some(LineIntersection::SinglePoint { intersection, .. }) => {
                    cuts.push(at(intersection))
                }
                Some(LineIntersection::Collinear { intersection }) => {
                    cuts.push(at(intersection.start));
                    cuts.push(at(intersection.end));
                }
                None => {}
            }
        }
        cuts.sort_by(f64::total_cmp);
        cuts.dedup();
        for w in cuts.windows(2) {
            let p = |t: f64| geo::Coord {
                x: s.start.x + dir.x * t,
                y: s.start.y + dir.y * t,
            };
            let (a, b) = (p(w[0]), p(w[1]));
            let key = if (a.x, a.y) <= (b.x, b.y) {
                (a, b)
            } else {
                (b, a)
            };
            if a != b && !pieces.contains(&key) {
                pieces.push(key);
            }
        }
    }
    let lines = pieces
        .into_iter()
        .map(|(a, b)| geo::LineString(vec![a, b]))
        .collect();
    simplest(geo::Geometry::MultiLineString(geo::MultiLineString(lines)))
}

fn simplest_geo(g: geo::Geometry) -> geo::Geometry {
    simplest(g)
        .to_geo()
        .unwrap_or(geo::Geometry::GeometryCollection(geo::GeometryCollection(
            vec![],
        )))
}

/// `ST_Collect`: a Multi* of the parts when they are all points, lines or polygons, else a collection.
pub fn collect(parts: Vec<Geom>) -> Geom {
    let has_z = parts.iter().any(|p| p.has_z);
    let codes: Vec<u32> = parts.iter().map(|p| p.shape.code()).collect();
    let code = match codes.first() {
        Some(&c) if (1..=3).contains(&c) && codes.iter().all(|&x| x == c) => c + 3,
        _ => 7,
    };
    Geom {
        shape: Shape::Multi(code, parts.into_iter().map(|p| p.shape).collect()),
        has_z,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Area;

    fn area(g: &Geom) -> f64 {
        g.to_geo().map_or(0.0, |g| g.unsigned_area())
    }

    fn wkb(wkt: &str) -> Vec<u8> {
        text::from_wkt(wkt).expect("wkt").to_wkb()
    }

    fn result_geom(r: Res) -> Geom {
        match r {
            Res::Geom(b) => Geom::from_wkb(&b).expect("wkb"),
            other => panic!("not a geometry: {other:?}"),
        }
    }

    #[test]
    fn buffer_of_a_point_matches_postgis_area() {
        let p = wkb("POINT(0 0)");
        let ctx_free = |v: &[Val<'_>]| buffer(&dummy_ctx(), v);
        let g = result_geom(ctx_free(&[Val::Geom(&p), Val::Float(1.0)]).expect("buffers"));
        // PostGIS: ST_Area(ST_Buffer('POINT(0 0)', 1)) = 3.121445152258052 (32-gon).
        assert!(
            (area(&g) - 3.121_445_152_258_052).abs() < 1e-12,
            "{}",
            area(&g)
        );
    }

    #[test]
    fn overlays_polygons_and_clips_lines() {
        let a = wkb("POLYGON((0 0,2 0,2 2,0 2,0 0))");
        let b = wkb("POLYGON((1 1,3 1,3 3,1 3,1 1))");
        let i = result_geom(overlay(&Val::Geom(&a), &Val::Geom(&b), Op::Intersection).expect("ok"));
        assert!((area(&i) - 1.0).abs() < 1e-12);
        let u = result_geom(overlay(&Val::Geom(&a), &Val::Geom(&b), Op::Union).expect("ok"));
        assert!((area(&u) - 7.0).abs() < 1e-12);
        let l = wkb("LINESTRING(-1 1,3 1)");
        let c = result_geom(overlay(&Val::Geom(&l), &Val::Geom(&a), Op::Intersection).expect("ok"));
        assert_eq!(text::to_wkt(&c), "LINESTRING(0 1,2 1)");
    }

    fn dummy_ctx() -> Ctx {
        Ctx::new(vec![], None)
    }
}
