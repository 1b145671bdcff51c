//! Measurements, accessors and DE-9IM predicates, replacing geodatafusion's where PostGIS answers differently:
//! empty geometries (geodatafusion fails on `POINT EMPTY`), `ST_NPoints` of polygons, the spelling of
//! `ST_GeometryType`, and `ST_Contains` with a constant first argument. The predicates are the ones the
//! index join refines with, so both plans agree.

use deltalake::datafusion::common::Result;
use geo::{Area, Distance, Euclidean, Relate, Validation};

use super::scalar::{Kind, Out, Res, StFunction, Val};
use crate::shape::{Geom, Shape};

const G: (&str, Kind) = ("geom", Kind::Geom);
const A: (&str, Kind) = ("geomA", Kind::Geom);
const B: (&str, Kind) = ("geomB", Kind::Geom);

fn parse(v: &Val<'_>) -> Result<Geom> {
    Geom::from_wkb(v.geom()?)
}

/// The `geo` geometry, `None` when empty.
fn solid(v: &Val<'_>) -> Result<Option<geo::Geometry>> {
    let g = parse(v)?;
    Ok(if g.shape.is_empty() { None } else { g.to_geo() })
}

fn length(s: &Shape) -> f64 {
    match s {
        // fold from +0.0: an empty f64 sum is -0.0, which would print as "-0".
        Shape::LineString(cs) => cs.windows(2).fold(0.0, |acc, w| {
            acc + (w[1][0] - w[0][0]).hypot(w[1][1] - w[0][1])
        }),
        Shape::Multi(_, parts) => parts.iter().fold(0.0, |acc, p| acc + length(p)),
        _ => 0.0,
    }
}

fn npoints(s: &Shape) -> i32 {
    let mut n = 0;
    s.for_each_coord(&mut |_| n += 1);
    n
}

/// PostGIS' `ST_GeometryType` names.
fn type_name(s: &Shape) -> &'static str {
    match s.code() {
        1 => "ST_Point",
        2 => "ST_LineString",
        3 => "ST_Polygon",
        4 => "ST_MultiPoint",
        5 => "ST_MultiLineString",
        6 => "ST_MultiPolygon",
        15 => "ST_PolyhedralSurface",
        16 => "ST_Tin",
        17 => "ST_Triangle",
        _ => "ST_GeometryCollection",
    }
}

/// OGC validity as GEOS judges it: `geo`'s checks, plus rings that enclose no area (GEOS reports those as
/// self-intersections; `geo` accepts them).
pub fn valid(g: &geo::Geometry) -> std::result::Result<(), String> {
    if let Err(e) = g.check_validation() {
        return Err(e.to_string());
    }
    let polygons: Vec<&geo::Polygon> = match g {
        geo::Geometry::Polygon(p) => vec![p],
        geo::Geometry::MultiPolygon(m) => m.0.iter().collect(),
        _ => vec![],
    };
    for p in polygons {
        for ring in std::iter::once(p.exterior()).chain(p.interiors()) {
            if geo::Polygon::new(ring.clone(), vec![]).unsigned_area() == 0.0 {
                return Err("a ring encloses no area (it collapses onto a line)".into());
            }
        }
    }
    Ok(())
}

/// A DE-9IM predicate; `empty` is the answer when either geometry is empty.
fn relate(
    v: &[Val<'_>],
    test: fn(&geo::relate::IntersectionMatrix) -> bool,
    empty: bool,
) -> Result<Res> {
    Ok(Res::Bool(match (solid(&v[0])?, solid(&v[1])?) {
        (Some(a), Some(b)) => test(&a.relate(&b)),
        _ => empty,
    }))
}

/// The functions of this module.
pub fn functions() -> Vec<StFunction> {
    vec![
        StFunction::new(
            "st_isempty",
            &[G],
            1,
            Out::Bool,
            |_, v| Ok(Res::Bool(parse(&v[0])?.shape.is_empty())),
            "Whether the geometry has no points.",
        ),
        StFunction::new(
            "st_area",
            &[G],
            1,
            Out::Float,
            |_, v| Ok(Res::Float(solid(&v[0])?.map_or(0.0, |g| g.unsigned_area()))),
            "2D area (CRS units²); 0 for points and lines.",
        ),
        StFunction::new(
            "st_length",
            &[G],
            1,
            Out::Float,
            |_, v| Ok(Res::Float(length(&parse(&v[0])?.shape))),
            "2D length of lines; 0 for polygons, as PostGIS.",
        ),
        StFunction::new(
            "st_npoints",
            &[G],
            1,
            Out::Int,
            |_, v| Ok(Res::Int(npoints(&parse(&v[0])?.shape))),
            "Number of vertices, closing vertices included.",
        ),
        StFunction::new(
            "st_geometrytype",
            &[G],
            1,
            Out::Text,
            |_, v| Ok(Res::Text(type_name(&parse(&v[0])?.shape).into())),
            "ST_Point, ST_MultiPolygon, ST_PolyhedralSurface, …",
        ),
        StFunction::new(
            "st_isvalid",
            &[G],
            1,
            Out::Bool,
            |_, v| Ok(Res::Bool(solid(&v[0])?.is_none_or(|g| valid(&g).is_ok()))),
            "OGC validity (self-intersections, ring closure, holes outside shells…).",
        ),
        StFunction::new(
            "st_distance",
            &[A, B],
            2,
            Out::Float,
            |_, v| {
                Ok(match (solid(&v[0])?, solid(&v[1])?) {
                    (Some(a), Some(b)) => Res::Float(Euclidean.distance(&a, &b)),
                    _ => Res::Null,
                })
            },
            "2D distance (CRS units); NULL when either geometry is empty.",
        ),
        StFunction::new(
            "st_intersects",
            &[A, B],
            2,
            Out::Bool,
            |_, v| relate(v, |m| m.is_intersects(), false),
            "Any point in common.",
        ),
        StFunction::new(
            "st_disjoint",
            &[A, B],
            2,
            Out::Bool,
            |_, v| relate(v, |m| m.is_disjoint(), true),
            "No point in common.",
        ),
        StFunction::new(
            "st_contains",
            &[A, B],
            2,
            Out::Bool,
            |_, v| relate(v, |m| m.is_contains(), false),
            "B lies in A and their interiors meet (a boundary point is not contained).",
        ),
        StFunction::new(
            "st_within",
            &[A, B],
            2,
            Out::Bool,
            |_, v| relate(v, |m| m.is_within(), false),
            "ST_Contains(B, A).",
        ),
        StFunction::new(
            "st_covers",
            &[A, B],
            2,
            Out::Bool,
            |_, v| relate(v, |m| m.is_covers(), false),
            "No point of B outside A.",
        ),
        StFunction::new(
            "st_coveredby",
            &[A, B],
            2,
            Out::Bool,
            |_, v| relate(v, |m| m.is_coveredby(), false),
            "ST_Covers(B, A).",
        ),
        StFunction::new(
            "st_touches",
            &[A, B],
            2,
            Out::Bool,
            |_, v| relate(v, |m| m.is_touches(), false),
            "Boundaries meet, interiors do not.",
        ),
        StFunction::new(
            "st_overlaps",
            &[A, B],
            2,
            Out::Bool,
            |_, v| relate(v, |m| m.is_overlaps(), false),
            "Same dimension, partly shared.",
        ),
        StFunction::new(
            "st_crosses",
            &[A, B],
            2,
            Out::Bool,
            |_, v| relate(v, |m| m.is_crosses(), false),
            "Interiors meet in a lower dimension.",
        ),
        StFunction::new(
            "st_equals",
            &[A, B],
            2,
            Out::Bool,
            |_, v| {
                Ok(Res::Bool(match (solid(&v[0])?, solid(&v[1])?) {
                    (Some(a), Some(b)) => a.relate(&b).is_equal_topo(),
                    (None, None) => true,
                    _ => false,
                }))
            },
            "Topologically equal (two empty geometries are equal, as PostGIS).",
        ),
    ]
}
