//! GML surface geometry of one city object: solids, multi- and composite surfaces, polygons with
//! holes, orientable surfaces and `xlink:href` references, turned into [`Surface`]s per level of detail.
//!
//! References are resolved inside the building being read. A surface is emitted once per LOD however
//! often it is referenced: the thematic surfaces (`RoofSurface`, …) are walked first, so a `lod2Solid`
//! whose members point at their polygons adds nothing new, and when it is the other way round (the solid
//! holds the polygons and the thematic surfaces point at them) the thematic walk already took them with
//! their semantic type. Bad polygons are dropped with an [`Issue`]; the rest of the object is kept.

use std::collections::{BTreeMap, HashMap, HashSet};

use tvilling_core::provenance::Issue;

use super::ns::Ns;
use super::xml::Node;
use crate::citymodel::model::{Surface, SurfaceType};

/// Coordinates beyond this magnitude are garbage in every projected or geographic CRS (1e9 m is more
/// than six times the distance to the Moon).
const MAX_COORD: f64 = 1e9;

/// How many `xlink:href` hops and nested geometries a walk follows before it assumes a reference cycle.
const MAX_WALK_DEPTH: usize = 64;

/// Every element with a `gml:id` in one top-level building (parts included), for `xlink:href`
/// resolution.
pub(super) struct GeomIndex<'a> {
    by_id: HashMap<&'a str, &'a Node>,
}

impl<'a> GeomIndex<'a> {
    /// Indexes the GML elements of `root` by `gml:id`.
    pub(super) fn build(root: &'a Node) -> GeomIndex<'a> {
        let mut by_id = HashMap::new();
        let mut stack = vec![root];
        while let Some(node) = stack.pop() {
            if node.ns() == Ns::Gml
                && let Some(id) = node.gml_id()
            {
                by_id.entry(id).or_insert(node);
            }
            stack.extend(node.children.iter());
        }
        GeomIndex { by_id }
    }
}

/// What the level-of-detail property name says: `lod2Solid` → LOD `"2"`. `None` for properties that
/// carry no surfaces (`lod1TerrainIntersection`, `lod2MultiCurve`, implicit representations).
pub(super) fn lod_of_property(local: &str) -> Option<&str> {
    let rest = local.strip_prefix("lod")?;
    let digit = rest
        .get(..1)
        .filter(|d| d.bytes().all(|b| b.is_ascii_digit()))?;
    let kind = rest.get(1..)?;
    matches!(
        kind,
        "Solid" | "MultiSolid" | "MultiSurface" | "FootPrint" | "RoofEdge" | "Geometry"
    )
    .then_some(digit)
}

/// Collects the surfaces of one city object.
pub(super) struct Collector<'a> {
    index: &'a GeomIndex<'a>,
    /// (LOD, gml:id) of geometries already emitted, so references add nothing twice.
    emitted: HashSet<(String, String)>,
    /// The object's id and position, for issues.
    object: String,
    feature: i64,
    /// srsDimension when no element says otherwise (the envelope's, else 3).
    default_dim: usize,
    /// The surfaces found, per LOD label.
    pub(super) lods: BTreeMap<String, Vec<Surface>>,
    pub(super) issues: Vec<Issue>,
    /// Whether any ring had 2D coordinates (z was set to 0).
    pub(super) two_d: bool,
    /// The first `srsName` on a geometry, for files whose envelope declares none.
    pub(super) first_srs: Option<String>,
}

/// The inherited state of one step of the walk.
#[derive(Clone, Copy)]
struct Walk<'s> {
    lod: &'s str,
    semantic: Option<SurfaceType>,
    dim: usize,
    reversed: bool,
    depth: usize,
}

impl<'a> Collector<'a> {
    /// A collector for object `object` at position `feature` in the file.
    pub(super) fn new(
        index: &'a GeomIndex<'a>,
        object: &str,
        feature: i64,
        default_dim: usize,
    ) -> Self {
        Collector {
            index,
            emitted: HashSet::new(),
            object: object.to_string(),
            feature,
            default_dim,
            lods: BTreeMap::new(),
            issues: vec![],
            two_d: false,
            first_srs: None,
        }
    }

    /// Adds the surfaces below a geometry property (`lod2Solid`, `lod2MultiSurface`, …) at `lod`.
    pub(super) fn property(&mut self, prop: &Node, lod: &str, semantic: Option<SurfaceType>) {
        let walk = Walk {
            lod,
            semantic,
            dim: self.default_dim,
            reversed: false,
            depth: 0,
        };
        self.walk(prop, walk);
    }

    fn walk(&mut self, node: &Node, mut w: Walk<'_>) {
        if w.depth > MAX_WALK_DEPTH {
            self.issue(
                node,
                w.lod,
                "geometry nests or references itself too deeply (a reference cycle?)",
            );
            return;
        }
        w.depth += 1;
        if let Some(d) = node
            .attr(Ns::None, "srsDimension")
            .and_then(|d| d.trim().parse().ok())
        {
            w.dim = d;
        }
        if self.first_srs.is_none()
            && let Some(srs) = node.attr(Ns::None, "srsName")
        {
            self.first_srs = Some(srs.to_string());
        }
        if let Some(id) = node.gml_id()
            && !self.emitted.insert((w.lod.to_string(), id.to_string()))
        {
            return;
        }
        if node.children.is_empty()
            && let Some(target) = node.href()
        {
            match self.index.by_id.get(target) {
                Some(t) => self.walk(t, w),
                None => self.issue(
                    node,
                    w.lod,
                    &format!("xlink:href=\"#{target}\" names no geometry in this building; the reference is skipped"),
                ),
            }
            return;
        }
        if node.ns() == Ns::Gml {
            match node.local.as_str() {
                "Polygon" | "PolygonPatch" | "Triangle" | "Rectangle" => {
                    return self.polygon(node, w);
                }
                "OrientableSurface" => {
                    // GML: orientation "-" means the base surface's rings run the other way round.
                    w.reversed ^= node.attr(Ns::None, "orientation").map(str::trim) == Some("-");
                }
                // Curves and points are no surfaces; envelopes only repeat the extent.
                "LineString" | "MultiCurve" | "CompositeCurve" | "Curve" | "Point"
                | "MultiPoint" | "Envelope" | "boundedBy" | "name" | "description" => return,
                _ => {}
            }
        }
        for child in &node.children {
            self.walk(child, w);
        }
    }

    fn polygon(&mut self, node: &Node, w: Walk<'_>) {
        let mut exterior = None;
        let mut interiors = vec![];
        for boundary in &node.children {
            let is_exterior = match boundary.local.as_str() {
                "exterior" | "outerBoundaryIs" => true,
                "interior" | "innerBoundaryIs" => false,
                _ => continue,
            };
            let ring = boundary
                .children
                .first()
                .ok_or_else(|| "an empty ring property".to_string())
                .and_then(|r| self.ring(r, w.dim));
            match (ring, is_exterior) {
                (Ok(r), true) => exterior = Some(r),
                (Ok(r), false) => interiors.push(r),
                (Err(why), true) => {
                    return self.issue(node, w.lod, &format!("dropped: exterior ring: {why}"));
                }
                // A bad hole loses only the hole: the surface itself is still sound.
                (Err(why), false) => {
                    self.issue(node, w.lod, &format!("interior ring dropped: {why}"))
                }
            }
        }
        let Some(exterior) = exterior else {
            return self.issue(node, w.lod, "dropped: it has no exterior ring");
        };
        let mut rings = Vec::with_capacity(1 + interiors.len());
        rings.push(exterior);
        rings.extend(interiors);
        if w.reversed {
            rings.iter_mut().for_each(|r| r.reverse());
        }
        self.lods
            .entry(w.lod.to_string())
            .or_default()
            .push(Surface {
                rings,
                semantic: w.semantic,
            });
    }

    /// Reads a `LinearRing` (`posList`, `pos` list or `coordinates`) and checks it.
    fn ring(&mut self, ring: &Node, inherited_dim: usize) -> Result<Vec<[f64; 3]>, String> {
        if ring.local != "LinearRing" {
            return Err(format!(
                "<{}> rings are not supported, only LinearRing",
                ring.local
            ));
        }
        let dim = dimension(ring, inherited_dim);
        let points = if let Some(pl) = ring.child(Ns::Gml, "posList") {
            pos_list(pl, dim)?
        } else if ring.child(Ns::Gml, "pos").is_some() {
            let mut pts = vec![];
            for p in ring.children.iter().filter(|c| c.is(Ns::Gml, "pos")) {
                let nums = numbers(p.trimmed())?;
                let d = dimension(p, nums.len());
                pts.extend(tuples(&nums, d)?);
            }
            pts
        } else if let Some(c) = ring.child(Ns::Gml, "coordinates") {
            coordinates(c)?
        } else {
            return Err("it has no posList, pos or coordinates".to_string());
        };
        if points.iter().any(|p| p.len() == 2) {
            self.two_d = true;
        }
        let ring: Vec<[f64; 3]> = points
            .iter()
            .map(|p| [p.first().copied(), p.get(1).copied(), p.get(2).copied()])
            .map(|[x, y, z]| [x.unwrap_or(0.0), y.unwrap_or(0.0), z.unwrap_or(0.0)])
            .collect();
        if let Some(bad) = ring
            .iter()
            .flatten()
            .find(|v| !v.is_finite() || v.abs() > MAX_COORD)
        {
            return Err(format!(
                "coordinate {bad} is not finite or beyond ±{MAX_COORD:e}"
            ));
        }
        let mut distinct: Vec<[u64; 3]> = ring.iter().map(|p| p.map(f64::to_bits)).collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 3 {
            return Err(format!(
                "only {} distinct vertices, a ring needs 3",
                distinct.len()
            ));
        }
        Ok(ring)
    }

    fn issue(&mut self, node: &Node, lod: &str, why: &str) {
        let what = match node.gml_id() {
            Some(id) => format!("{} {id}", node.local),
            None => format!("a {} without gml:id", node.local),
        };
        self.issues.push(Issue {
            feature: Some(self.feature),
            id: Some(self.object.clone()),
            reason: format!("{}: LOD {lod} {what}: {why}", self.object),
        });
    }
}

/// The `srsDimension` of a coordinate element, else `inherited`.
fn dimension(node: &Node, inherited: usize) -> usize {
    node.attr(Ns::None, "srsDimension")
        .and_then(|d| d.trim().parse().ok())
        .unwrap_or(inherited)
}

/// `gml:posList`: whitespace-separated numbers, `srsDimension` per point.
fn pos_list(pl: &Node, inherited_dim: usize) -> Result<Vec<Vec<f64>>, String> {
    let nums = numbers(pl.trimmed())?;
    let explicit = pl
        .attr(Ns::None, "srsDimension")
        .and_then(|d| d.trim().parse().ok());
    // Without an srsDimension anywhere, `count` (number of points) tells 2D from 3D.
    let counted = pl
        .attr(Ns::None, "count")
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0 && nums.len().is_multiple_of(*c))
        .map(|c| nums.len() / c);
    let dim = explicit.or(counted).unwrap_or(inherited_dim);
    tuples(&nums, dim)
}

/// GML 2 `gml:coordinates`: tuples separated by `ts` (whitespace), values by `cs` (`,`).
fn coordinates(node: &Node) -> Result<Vec<Vec<f64>>, String> {
    let cs = node.attr(Ns::None, "cs").unwrap_or(",");
    let decimal = node.attr(Ns::None, "decimal").unwrap_or(".");
    let ts = node.attr(Ns::None, "ts").filter(|t| !t.trim().is_empty());
    let text = node.trimmed();
    let tuples: Vec<&str> = match ts {
        Some(ts) => text.split(ts).collect(),
        None => text.split_whitespace().collect(),
    };
    let mut out = vec![];
    for t in tuples.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
        let mut p = vec![];
        for v in t.split(cs) {
            let v = if decimal == "." {
                v.to_string()
            } else {
                v.replace(decimal, ".")
            };
            p.push(number(&v)?);
        }
        if !(2..=3).contains(&p.len()) {
            return Err(format!(
                "coordinate tuple '{t}' has {} values, not 2 or 3",
                p.len()
            ));
        }
        out.push(p);
    }
    Ok(out)
}

fn numbers(text: &str) -> Result<Vec<f64>, String> {
    text.split_ascii_whitespace().map(number).collect()
}

fn number(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| format!("'{s}' is not a number"))
}

/// Splits a flat number list into points of `dim` values.
fn tuples(nums: &[f64], dim: usize) -> Result<Vec<Vec<f64>>, String> {
    if !(2..=3).contains(&dim) {
        return Err(format!("srsDimension {dim} is not supported, only 2 or 3"));
    }
    if !nums.len().is_multiple_of(dim) {
        return Err(format!(
            "{} coordinates are not a whole number of {dim}D points (an odd-length posList)",
            nums.len()
        ));
    }
    Ok(nums.chunks(dim).map(<[f64]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::citymodel::citygml::xml::Attr;

    fn node(local: &str, attrs: &[(Ns, &str, &str)], text: &str, children: Vec<Node>) -> Node {
        Node {
            ns: Some(Ns::Gml),
            local: local.to_string(),
            attrs: attrs
                .iter()
                .map(|(ns, l, v)| Attr {
                    ns: *ns,
                    local: l.to_string(),
                    value: v.to_string(),
                })
                .collect(),
            children,
            text: text.to_string(),
        }
    }

    fn polygon(id: &str, pos_list: &str, dim: &str) -> Node {
        let pl = node(
            "posList",
            &[(Ns::None, "srsDimension", dim)],
            pos_list,
            vec![],
        );
        let ring = node("LinearRing", &[], "", vec![pl]);
        node(
            "Polygon",
            &[(Ns::Gml, "id", id)],
            "",
            vec![node("exterior", &[], "", vec![ring])],
        )
    }

    fn collect(prop: &Node, root: &Node) -> (BTreeMap<String, Vec<Surface>>, Vec<Issue>, bool) {
        let index = GeomIndex::build(root);
        let mut c = Collector::new(&index, "B1", 0, 3);
        c.property(prop, "2", None);
        (c.lods, c.issues, c.two_d)
    }

    #[test]
    fn reads_lod_labels_from_property_names() {
        let cases = [
            ("lod2Solid", Some("2")),
            ("lod0FootPrint", Some("0")),
            ("lod0RoofEdge", Some("0")),
            ("lod3MultiSurface", Some("3")),
            ("lod2Geometry", Some("2")),
            ("lod2MultiCurve", None),
            ("lod1TerrainIntersection", None),
            ("lodXSolid", None),
            ("function", None),
        ];
        for (name, want) in cases {
            assert_eq!(lod_of_property(name), want, "{name}");
        }
    }

    #[test]
    fn drops_bad_polygons_with_an_issue_naming_object_and_polygon() {
        let cases = [
            ("odd", "0 0 0 1 0 0 1 1", "3", "odd-length posList"),
            ("two", "0 0 0 1 1 1 0 0 0", "3", "only 2 distinct"),
            ("nan", "0 0 0 1 0 0 NaN 1 0 0 0 0", "3", "not finite"),
            ("huge", "0 0 0 1e12 0 0 1 1 0 0 0 0", "3", "beyond"),
            ("text", "0 0 0 a 0 0 1 1 0", "3", "'a' is not a number"),
            ("dim4", "0 0 0 0 1 0 0 0 1 1 0 0", "4", "srsDimension 4"),
        ];
        for (id, pl, dim, want) in cases {
            let p = polygon(id, pl, dim);
            let (lods, issues, _) = collect(&p, &p);
            assert!(lods.is_empty(), "{id}");
            assert_eq!(issues.len(), 1, "{id}");
            let reason = &issues[0].reason;
            assert!(
                reason.contains("B1") && reason.contains(id) && reason.contains(want),
                "{reason}"
            );
        }
    }

    #[test]
    fn reads_2d_rings_with_zero_height_and_reverses_negative_orientation() {
        let p = polygon("p", "0 0 1 0 1 1 0 0", "2");
        let o = node(
            "OrientableSurface",
            &[(Ns::None, "orientation", "-")],
            "",
            vec![node("baseSurface", &[], "", vec![p])],
        );
        let (lods, issues, two_d) = collect(&o, &o);
        assert!(issues.is_empty() && two_d);
        assert_eq!(
            lods["2"][0].rings[0],
            vec![
                [0.0, 0.0, 0.0],
                [1.0, 1.0, 0.0],
                [1.0, 0.0, 0.0],
                [0.0, 0.0, 0.0]
            ]
        );
    }

    #[test]
    fn resolves_references_once_and_reports_unresolved_ones() {
        let p = polygon("p1", "0 0 0 1 0 0 1 1 0", "3");
        let by_ref = node("surfaceMember", &[(Ns::Xlink, "href", "#p1")], "", vec![]);
        let missing = node("surfaceMember", &[(Ns::Xlink, "href", "#nope")], "", vec![]);
        let ms = node(
            "MultiSurface",
            &[],
            "",
            vec![by_ref.clone(), by_ref, missing],
        );
        let root = node("root", &[], "", vec![p, ms.clone()]);
        let (lods, issues, _) = collect(&ms, &root);
        assert_eq!(lods["2"].len(), 1);
        assert_eq!(issues.len(), 1);
        assert!(issues[0].reason.contains("#nope"), "{}", issues[0].reason);
    }

    #[test]
    fn reads_gml2_coordinates() {
        let c = node("coordinates", &[], "0,0,1 1,0,1 1,1,1 0,0,1", vec![]);
        let ring = node("LinearRing", &[], "", vec![c]);
        let p = node(
            "Polygon",
            &[],
            "",
            vec![node("outerBoundaryIs", &[], "", vec![ring])],
        );
        let (lods, issues, _) = collect(&p, &p);
        assert!(issues.is_empty());
        assert_eq!(lods["2"][0].rings[0].len(), 4);
    }
}
