//! One buffered `Building` subtree → one [`CityObject`] for the building and one per `BuildingPart`
//! (CityGML 1.0/2.0 `consistsOfBuildingPart`, 3.0 `buildingPart`), each with its own attributes and
//! surfaces and the parts pointing at their parent.
//!
//! A part's geometry belongs to the part only: the walk of an object never descends into its parts.

use std::collections::BTreeMap;

use tvilling_core::provenance::Issue;

use super::attributes::{self, AttrNotes};
use super::geometry::{Collector, GeomIndex, lod_of_property};
use super::ns::Ns;
use super::xml::Node;
use crate::citymodel::model::{CityObject, SurfaceType};

/// What reading the objects of one file gathers besides the objects.
#[derive(Debug, Default)]
pub(super) struct FileState {
    /// The file stem, for ids of objects that have none.
    pub(super) stem: String,
    /// srsDimension of geometries that do not state one (the envelope's, else 3).
    pub(super) default_dim: usize,
    pub(super) objects: Vec<CityObject>,
    pub(super) issues: Vec<Issue>,
    pub(super) object_types: BTreeMap<String, u64>,
    pub(super) notes: AttrNotes,
    /// Whether any ring was 2D (its z set to 0).
    pub(super) two_d: bool,
    /// The first geometry `srsName`, for files without an envelope.
    pub(super) first_srs: Option<String>,
    /// CityGML 3.0 Dynamizers (time series, sensor links) met inside buildings and not read.
    pub(super) dynamizers: u64,
    /// LOD4 geometry properties (CityGML 1.0/2.0 interiors) met and not read.
    pub(super) lod4_skipped: u64,
}

/// Reads a `Building` and its parts into `state.objects`.
pub(super) fn read_building(root: &Node, state: &mut FileState) {
    let index = GeomIndex::build(root);
    state.dynamizers += count_dynamizers(root);
    read_object(root, None, &index, state);
}

fn count_dynamizers(root: &Node) -> u64 {
    let mut n = 0;
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.is(Ns::Dyn, "Dynamizer") {
            n += 1;
        } else {
            stack.extend(node.children.iter());
        }
    }
    n
}

fn read_object(node: &Node, parent: Option<&str>, index: &GeomIndex<'_>, state: &mut FileState) {
    let position = state.objects.len();
    let feature = i64::try_from(position).unwrap_or(i64::MAX);
    let id = match node.gml_id().map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => id.to_string(),
        None => {
            let id = format!("{}-{}", state.stem, position + 1);
            state.issues.push(Issue {
                feature: Some(feature),
                id: Some(id.clone()),
                reason: format!(
                    "{} number {} has no gml:id; it was given the id {id}",
                    node.local,
                    position + 1
                ),
            });
            id
        }
    };
    let attributes = attributes::collect(node, &mut state.notes);

    let mut geometry = Collector::new(index, &id, feature, state.default_dim);
    // Thematic surfaces first: their polygons carry the semantic type, and a solid that references
    // them afterwards adds nothing twice (see the geometry module doc).
    for c in node.children.iter().filter(|c| c.ns().is_feature_ns()) {
        if c.local == "boundedBy" || c.local == "boundary" {
            for surface in &c.children {
                thematic(surface, &mut geometry, &mut state.lod4_skipped);
            }
        }
    }
    for c in node.children.iter().filter(|c| c.ns().is_feature_ns()) {
        match lod_of_property(&c.local) {
            Some("4") => state.lod4_skipped += 1,
            Some(lod) => geometry.property(c, lod, None),
            None => {}
        }
    }
    state.issues.append(&mut geometry.issues);
    state.two_d |= geometry.two_d;
    if state.first_srs.is_none() {
        state.first_srs = geometry.first_srs.take();
    }
    state.objects.push(CityObject {
        id: id.clone(),
        object_type: node.local.clone(),
        parent_id: parent.map(str::to_string),
        attributes,
        lods: std::mem::take(&mut geometry.lods),
    });

    for c in node.children.iter().filter(|c| c.ns().is_feature_ns()) {
        if c.local == "consistsOfBuildingPart" || c.local == "buildingPart" {
            for part in c.children.iter().filter(|p| p.local == "BuildingPart") {
                *state.object_types.entry("BuildingPart".into()).or_default() += 1;
                read_object(part, Some(&id), index, state);
            }
        }
    }
}

/// A thematic surface (`WallSurface`, …) or opening (`Window`, `Door`): its LOD multi-surfaces get its
/// type; openings nested in it get theirs.
fn thematic(surface: &Node, geometry: &mut Collector<'_>, lod4_skipped: &mut u64) {
    let semantic = SurfaceType::from_name(&surface.local);
    for c in &surface.children {
        match lod_of_property(&c.local) {
            Some("4") => *lod4_skipped += 1,
            Some(lod) => geometry.property(c, lod, Some(semantic)),
            None if c.local == "opening" => {
                for opening in &c.children {
                    thematic(opening, geometry, lod4_skipped);
                }
            }
            None => {}
        }
    }
}
