//! Flattening one CityJSON geometry into [`Surface`]s: MultiSurface and CompositeSurface (surfaces),
//! Solid (shells of surfaces, outer and inner shells alike), MultiSolid and CompositeSolid (solids of
//! shells), and GeometryInstance (a template placed with its matrix at a reference vertex). Semantic
//! values are read in parallel with the boundaries (CityJSON 2.0 §3.3: `values` is nested like
//! `boundaries` without the ring levels, and `null` may stand for a whole shell or solid).
//!
//! Problems are reported through a callback as sentences that start with the geometry and surface index;
//! the caller adds the object id.

use serde_json::Value;

use super::raw::{RawGeometry, Templates, Tokens};
use crate::citymodel::model::{Surface, SurfaceType};

/// Coordinates beyond this (in any axis, in the source CRS) are treated as broken: no projected or
/// geographic CRS in use has them, and they usually come from a wrong `transform` or garbage vertices.
const MAX_COORDINATE: f64 = 1e9;

/// One geometry's boundaries (or semantic values) as a tree, built from its [`Tokens`] only while it is
/// flattened.
#[derive(Debug, PartialEq)]
pub(super) enum Node {
    /// A vertex or semantic index.
    Idx(u32),
    /// `null`.
    Null,
    /// Something that is no index.
    Bad,
    /// An array.
    List(Vec<Node>),
}

impl Node {
    /// The tree of a token stream; `None` when it is empty or unbalanced. Iterative, so nesting depth
    /// cannot overflow the stack here.
    pub fn from_tokens(tokens: &Tokens) -> Option<Node> {
        let mut stack: Vec<Vec<Node>> = vec![];
        let mut root = None;
        for &t in &tokens.0 {
            let node = match t {
                Tokens::OPEN => {
                    stack.push(vec![]);
                    continue;
                }
                Tokens::CLOSE => Node::List(stack.pop()?),
                Tokens::NULL => Node::Null,
                Tokens::BAD => Node::Bad,
                i => Node::Idx(i),
            };
            match stack.last_mut() {
                Some(parent) => parent.push(node),
                None => root = Some(node),
            }
        }
        if stack.is_empty() { root } else { None }
    }

    fn list(&self) -> Option<&[Node]> {
        match self {
            Node::List(items) => Some(items),
            _ => None,
        }
    }

    fn index(&self) -> Option<u32> {
        match self {
            Node::Idx(i) => Some(*i),
            _ => None,
        }
    }
}

/// Where a geometry's vertex indices point: the file's (already transformed) vertices, or a template's
/// vertices placed by a `GeometryInstance`.
pub(super) struct VertexPool<'a> {
    vertices: &'a [[f64; 3]],
    /// The member name, for messages.
    name: &'static str,
    placement: Option<Placement>,
}

/// A GeometryInstance's placement: `p' = M·p + origin`, with `M` the upper 3x4 of the row-major 4x4
/// `transformationMatrix` (CityJSON 2.0 §3.4: the matrix is applied to the template's vertices, then the
/// reference point is added).
struct Placement {
    m: [f64; 16],
    origin: [f64; 3],
}

impl<'a> VertexPool<'a> {
    /// The file's vertices (transform already applied).
    pub fn new(vertices: &'a [[f64; 3]]) -> Self {
        VertexPool {
            vertices,
            name: "vertices",
            placement: None,
        }
    }

    fn get(&self, i: u32) -> Option<[f64; 3]> {
        let p = *self.vertices.get(usize::try_from(i).ok()?)?;
        Some(match &self.placement {
            None => p,
            Some(Placement { m, origin }) => {
                let row = |r: usize| {
                    let c = |k: usize| m.get(r * 4 + k).copied().unwrap_or(0.0);
                    c(0) * p[0] + c(1) * p[1] + c(2) * p[2] + c(3) + origin[r]
                };
                [row(0), row(1), row(2)]
            }
        })
    }
}

/// Whether a coordinate can be stored and tiled.
fn usable(p: &[f64; 3]) -> bool {
    p.iter().all(|c| c.is_finite() && c.abs() <= MAX_COORDINATE)
}

/// The LOD label as the model keys it: the string of 1.1/2.0 (`"1.2"`), or 1.0's number as text
/// (`2` → `"2"`, `2.1` → `"2.1"`).
pub(super) fn lod_label(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => match n.as_u64() {
            Some(u) => Some(u.to_string()),
            None => n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| {
                if f.fract() == 0.0 {
                    format!("{f:.0}")
                } else {
                    format!("{f}")
                }
            }),
        },
        _ => None,
    }
}

/// Flattens geometry number `gi` of an object into its LOD label and surfaces; `None` when nothing usable
/// is left (the reason went to `report`).
pub(super) fn flatten(
    g: &RawGeometry,
    gi: usize,
    pool: &VertexPool,
    templates: Option<&Templates>,
    report: &mut dyn FnMut(String),
) -> Option<(String, Vec<Surface>)> {
    if g.kind.as_str() != Some("GeometryInstance") {
        return flatten_plain(g, &format!("geometry {gi}"), pool, report);
    }
    let ctx = format!("geometry {gi} (GeometryInstance)");
    let Some(t) = g.template.as_u64() else {
        report(format!(
            "{ctx}: \"template\" is not a template index; the geometry is left out"
        ));
        return None;
    };
    let Some(templates) = templates else {
        report(format!(
            "{ctx} uses template {t}, but the file has no \"geometry-templates\"; the geometry is left out"
        ));
        return None;
    };
    let Some(Some(template)) = usize::try_from(t)
        .ok()
        .and_then(|t| templates.templates.items.get(t))
    else {
        report(format!(
            "{ctx} uses template {t}, but \"geometry-templates\" has {} usable templates; the geometry is \
             left out",
            templates.templates.items.len()
        ));
        return None;
    };
    if template.kind.as_str() == Some("GeometryInstance") {
        report(format!(
            "{ctx}: template {t} is itself a GeometryInstance, which CityJSON does not allow; the geometry \
             is left out"
        ));
        return None;
    }
    let m: Vec<f64> = g
        .matrix
        .as_array()
        .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
        .unwrap_or_default();
    let Ok(m) = <[f64; 16]>::try_from(m) else {
        report(format!(
            "{ctx}: \"transformationMatrix\" is not 16 numbers; the geometry is left out"
        ));
        return None;
    };
    let origin = Node::from_tokens(&g.boundaries)
        .as_ref()
        .and_then(Node::list)
        .and_then(|l| l.first())
        .and_then(Node::index)
        .and_then(|i| pool.get(i))
        .filter(usable);
    let Some(origin) = origin else {
        report(format!(
            "{ctx}: \"boundaries\" must hold the reference vertex as [index] of a vertex with usable \
             coordinates; the geometry is left out"
        ));
        return None;
    };
    let placed = VertexPool {
        vertices: &templates.vertices.0,
        name: "vertices-templates",
        placement: Some(Placement { m, origin }),
    };
    flatten_plain(
        template,
        &format!("geometry {gi} (GeometryInstance of template {t})"),
        &placed,
        report,
    )
}

/// Flattens a geometry that is not an instance; `ctx` names it in messages.
fn flatten_plain(
    g: &RawGeometry,
    ctx: &str,
    pool: &VertexPool,
    report: &mut dyn FnMut(String),
) -> Option<(String, Vec<Surface>)> {
    let kind = g.kind.as_str().unwrap_or("");
    // How many array levels sit above the surfaces: surfaces / shells of surfaces / solids of shells.
    let levels = match kind {
        "MultiSurface" | "CompositeSurface" => 0,
        "Solid" => 1,
        "MultiSolid" | "CompositeSolid" => 2,
        "MultiPoint" | "MultiLineString" => {
            report(format!(
                "{ctx} is a {kind}, which has no surfaces; it is left out"
            ));
            return None;
        }
        _ => {
            report(format!(
                "{ctx} has type {}, which is not a CityJSON geometry type (MultiSurface, CompositeSurface, \
                 Solid, MultiSolid, CompositeSolid, GeometryInstance); it is left out",
                g.kind
            ));
            return None;
        }
    };
    let Some(lod) = lod_label(&g.lod) else {
        report(format!(
            "{ctx} ({kind}) has no usable \"lod\" (found {}); it is left out",
            g.lod
        ));
        return None;
    };
    let ctx = format!("{ctx} ({kind}, LOD {lod})");
    let Some(root) = Node::from_tokens(&g.boundaries) else {
        report(format!("{ctx} has no \"boundaries\" array; it is left out"));
        return None;
    };
    let semantics = g.semantics.0.as_ref();
    let types: Vec<Option<SurfaceType>> = semantics
        .and_then(|s| s.surfaces.as_array())
        .map(|a| {
            a.iter()
                .map(|s| {
                    s.get("type")
                        .and_then(Value::as_str)
                        .map(SurfaceType::from_name)
                })
                .collect()
        })
        .unwrap_or_default();
    let values = semantics.and_then(|s| Node::from_tokens(&s.values));

    let mut found = vec![];
    let mut misnested = false;
    collect(&root, values.as_ref(), levels, &mut found, &mut misnested);
    if misnested {
        report(format!(
            "{ctx}: \"boundaries\" is not nested as a {kind} requires ({} levels of arrays down to the \
             vertex indices); the parts that are not were left out",
            levels + 3
        ));
    }

    let mut bad_semantic = None;
    let mut surfaces = Vec::with_capacity(found.len());
    for (si, (node, value)) in found.into_iter().enumerate() {
        let Some(rings) = rings(node, pool, &format!("{ctx} surface {si}"), report) else {
            continue;
        };
        let semantic = value.and_then(|v| match types.get(usize::try_from(v).ok()?) {
            Some(t) => *t,
            None => {
                bad_semantic.get_or_insert(v);
                None
            }
        });
        surfaces.push(Surface { rings, semantic });
    }
    if let Some(v) = bad_semantic {
        report(format!(
            "{ctx}: semantic value {v} (and maybe others) points past \"semantics.surfaces\" ({} entries); \
             those surfaces have no semantic type",
            types.len()
        ));
    }
    if surfaces.is_empty() {
        report(format!("{ctx} has no usable surface; it is left out"));
        return None;
    }
    Some((lod, surfaces))
}

/// Walks `levels` array levels down to the surfaces, pairing each with its semantic value (the same path
/// through `values`). Sets `misnested` where a level is not an array.
fn collect<'n>(
    node: &'n Node,
    values: Option<&Node>,
    levels: usize,
    out: &mut Vec<(&'n Node, Option<u32>)>,
    misnested: &mut bool,
) {
    let Some(items) = node.list() else {
        *misnested = true;
        return;
    };
    let values = values.and_then(Node::list);
    for (i, item) in items.iter().enumerate() {
        let value = values.and_then(|v| v.get(i));
        if levels == 0 {
            out.push((item, value.and_then(Node::index)));
        } else {
            collect(item, value, levels - 1, out, misnested);
        }
    }
}

/// The rings of one surface: the exterior ring must be usable or the surface is dropped; an unusable
/// hole is dropped alone.
fn rings(
    node: &Node,
    pool: &VertexPool,
    ctx: &str,
    report: &mut dyn FnMut(String),
) -> Option<Vec<Vec<[f64; 3]>>> {
    let Some(items) = node.list().filter(|l| !l.is_empty()) else {
        report(format!(
            "{ctx} is not a non-empty array of rings; the surface is left out"
        ));
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for (ri, r) in items.iter().enumerate() {
        match ring(r, pool) {
            Ok(points) => out.push(points),
            Err(why) if ri == 0 => {
                report(format!(
                    "{ctx}: the exterior ring {why}; the surface is left out"
                ));
                return None;
            }
            Err(why) => report(format!("{ctx}: hole {ri} {why}; the hole is left out")),
        }
    }
    Some(out)
}

/// One ring's coordinates, or why it cannot be used.
fn ring(node: &Node, pool: &VertexPool) -> Result<Vec<[f64; 3]>, String> {
    let Some(items) = node.list() else {
        return Err("is not an array of vertex indices".into());
    };
    let mut points = Vec::with_capacity(items.len());
    for item in items {
        let Some(i) = item.index() else {
            return Err("holds a value that is not a vertex index".into());
        };
        let Some(p) = pool.get(i) else {
            return Err(format!(
                "refers to vertex {i}, but \"{}\" has only {}",
                pool.name,
                pool.vertices.len()
            ));
        };
        if !usable(&p) {
            return Err(format!(
                "refers to vertex {i}, whose coordinates ({}, {}, {}) are missing, not finite or beyond \
                 ±{MAX_COORDINATE:e}",
                p[0], p[1], p[2]
            ));
        }
        points.push(p);
    }
    match distinct_up_to_three(&points) {
        3 => Ok(points),
        d => Err(format!(
            "has {d} distinct vertices; a ring needs at least 3"
        )),
    }
}

/// How many distinct points a ring has, counting no further than 3 (all a ring needs), in one pass.
fn distinct_up_to_three(points: &[[f64; 3]]) -> usize {
    let mut seen: Vec<&[f64; 3]> = Vec::with_capacity(3);
    for p in points {
        if !seen.contains(&p) {
            seen.push(p);
            if seen.len() == 3 {
                return 3;
            }
        }
    }
    seen.len()
}
