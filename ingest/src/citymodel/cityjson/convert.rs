//! From parsed city objects to the [`CityModel`]: the `transform`, which objects are kept, attributes and
//! address, geometry per LOD, the declared CRS, issues, and the small `metadata` summary. Shared by the
//! whole-file and the CityJSONSeq paths, which differ only in how objects and vertices arrive.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Value, json};
use tvilling_core::crs::Crs;
use tvilling_core::provenance::Issue;

use super::geometry::{self, VertexPool};
use super::raw::{CityObjects, RawObject, Templates};
use crate::citymodel::model::{CityModel, CityObject};

/// `transform`: real coordinate = integer vertex · scale + translate (CityJSON 2.0 §4).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Transform {
    scale: [f64; 3],
    translate: [f64; 3],
}

/// Reads `transform`; `Ok(None)` when the file has none (then its vertices are real coordinates, as
/// CityJSON 1.0 allowed). The error says what is wrong with it.
pub(super) fn parse_transform(v: &Value) -> Result<Option<Transform>, String> {
    if v.is_null() {
        return Ok(None);
    }
    let triple = |name: &str| -> Option<[f64; 3]> {
        let a = v.get(name)?.as_array()?;
        let p: Vec<f64> = a.iter().map(Value::as_f64).collect::<Option<_>>()?;
        <[f64; 3]>::try_from(p)
            .ok()
            .filter(|p| p.iter().all(|c| c.is_finite()))
    };
    match (triple("scale"), triple("translate")) {
        (Some(scale), Some(translate)) => Ok(Some(Transform { scale, translate })),
        _ => Err(format!(
            "\"transform\" must be {{\"scale\": [sx, sy, sz], \"translate\": [tx, ty, tz]}} with finite \
             numbers, but is {v}; fix or remove it (without it the vertices are read as real coordinates)"
        )),
    }
}

/// Turns integer vertices into real coordinates in place, so the one vertex array is all that is held.
pub(super) fn apply_transform(vertices: &mut [[f64; 3]], t: Option<&Transform>) {
    let Some(t) = t else { return };
    for v in vertices {
        for ((c, s), o) in v.iter_mut().zip(t.scale).zip(t.translate) {
            *c = *c * s + o;
        }
    }
}

/// What the header of the file says, for [`Builder::finish`].
pub(super) struct Header {
    /// The `version` as written.
    pub version: String,
    /// The `metadata` block as written.
    pub metadata: Value,
    /// The `transform` as written.
    pub transform: Value,
    /// Whether the file is CityJSONSeq.
    pub sequence: bool,
}

/// Collects objects from one document or many CityJSONSeq features into one model.
#[derive(Default)]
pub(super) struct Builder {
    model: CityModel,
    /// LOD labels of the kept objects' geometries.
    lods: BTreeSet<String>,
    /// The 0-based position of the next object in the file, for [`Issue::feature`].
    next_index: i64,
    /// Every id some object names as its parent: an object without geometry is fine when it has parts.
    parents: HashSet<String>,
    /// Kept objects with no usable geometry and no declared `children`: (position in `objects`, index).
    without_geometry: Vec<(usize, i64)>,
}

/// An issue about one object.
fn issue(index: i64, id: &str, reason: String) -> Issue {
    Issue {
        feature: Some(index),
        id: Some(id.to_owned()),
        reason,
    }
}

impl Builder {
    /// Adds the objects of one document or feature; `vertices` are its vertices with the transform applied.
    /// `on_object` runs once per object (progress).
    pub fn add(
        &mut self,
        objects: CityObjects,
        vertices: &[[f64; 3]],
        templates: Option<&Templates>,
        on_object: &dyn Fn(),
    ) {
        let pool = VertexPool::new(vertices);
        for (id, raw) in objects.0 {
            self.add_object(id, raw, &pool, vertices, templates);
            on_object();
        }
    }

    fn add_object(
        &mut self,
        id: String,
        raw: Option<RawObject>,
        pool: &VertexPool,
        vertices: &[[f64; 3]],
        templates: Option<&Templates>,
    ) {
        let index = self.next_index;
        self.next_index += 1;
        let issues = &mut self.model.issues;
        let Some(raw) = raw else {
            self.model.rejected += 1;
            issues.push(issue(
                index,
                &id,
                format!("city object {id} is not a JSON object; it is left out"),
            ));
            return;
        };
        let Some(kind) = raw.kind.as_str() else {
            self.model.rejected += 1;
            issues.push(issue(
                index,
                &id,
                format!(
                    "city object {id} has no \"type\" (found {}); it is left out",
                    raw.kind
                ),
            ));
            return;
        };
        *self.model.object_types.entry(kind.to_owned()).or_default() += 1;
        let parents: Vec<&str> = raw
            .parents
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        self.parents.extend(parents.iter().map(|p| (*p).to_owned()));
        if !raw.is_kept() {
            return;
        }
        let who = format!("{kind} {id}");

        let mut attributes = raw.attributes.pairs;
        if raw.attributes.invalid {
            issues.push(issue(
                index,
                &id,
                format!("{who}: \"attributes\" is not a JSON object; no attributes were read"),
            ));
        }
        if !raw.address.is_null() {
            let (address, dropped) = resolve_address(raw.address, vertices);
            if dropped > 0 {
                issues.push(issue(
                    index,
                    &id,
                    format!(
                        "{who}: {dropped} address location(s) refer to missing or unusable vertices; \
                         the location was left out of the address"
                    ),
                ));
            }
            // A 1.x-style `address` attribute and the 2.0 member can meet in converted files.
            let name = if attributes.iter().any(|(k, _)| k == "address") {
                "address (CityJSON member)"
            } else {
                "address"
            };
            attributes.push((name.to_owned(), address));
        }

        let mut lods: BTreeMap<String, Vec<_>> = BTreeMap::new();
        if raw.geometry.invalid {
            issues.push(issue(
                index,
                &id,
                format!("{who}: \"geometry\" is not an array; no geometry was read"),
            ));
        }
        for (gi, g) in raw.geometry.items.iter().enumerate() {
            let Some(g) = g else {
                issues.push(issue(
                    index,
                    &id,
                    format!("{who}: geometry {gi} is not a JSON object; it is left out"),
                ));
                continue;
            };
            let mut report = |why: String| issues.push(issue(index, &id, format!("{who}: {why}")));
            if let Some((lod, surfaces)) = geometry::flatten(g, gi, pool, templates, &mut report) {
                self.lods.insert(lod.clone());
                lods.entry(lod).or_default().extend(surfaces);
            }
        }

        let has_children = raw.children.as_array().is_some_and(|c| !c.is_empty());
        if lods.is_empty() && !has_children {
            self.without_geometry
                .push((self.model.objects.len(), index));
        }
        self.model.objects.push(CityObject {
            parent_id: parents.first().map(|p| (*p).to_owned()),
            object_type: kind.to_owned(),
            id,
            attributes,
            lods,
        });
    }

    /// The finished model: issues for objects without geometry or parts, the CRS, the metadata summary.
    pub fn finish(mut self, header: Header) -> CityModel {
        for (pos, index) in std::mem::take(&mut self.without_geometry) {
            let Some(o) = self.model.objects.get(pos) else {
                continue;
            };
            if !self.parents.contains(&o.id) {
                let reason = format!(
                    "{} {} has no usable geometry and no parts; it is kept for its attributes",
                    o.object_type, o.id
                );
                self.model.issues.push(issue(index, &o.id, reason));
            }
        }

        if let Some(declared) = declared_crs(&header.metadata) {
            self.model.crs = Crs::from_declaration(&declared);
            if self.model.crs.is_none() {
                self.model.issues.push(Issue {
                    feature: None,
                    id: None,
                    reason: format!(
                        "metadata.referenceSystem \"{declared}\" names no CRS tvilling can identify; pass \
                         the CRS the coordinates are in with --crs"
                    ),
                });
            }
            self.model.crs_declared = Some(declared);
        }

        self.model.metadata = json!({
            "format": "CityJSON",
            "version": header.version,
            "sequence": header.sequence,
            "metadata": header.metadata,
            "transform": header.transform,
            "lods": self.lods,
            "object_types": self.model.object_types,
        });
        self.model
    }
}

/// The CRS declaration: `metadata.referenceSystem` (1.0–2.0: an OGC URL or URN), or the `{"crs":
/// {"epsg": N}}` form of files written before 1.0.
fn declared_crs(metadata: &Value) -> Option<String> {
    if let Some(s) = metadata.get("referenceSystem").and_then(Value::as_str) {
        return Some(s.to_owned());
    }
    metadata
        .get("crs")
        .and_then(|c| c.get("epsg"))
        .and_then(Value::as_u64)
        .map(|e| format!("EPSG:{e}"))
}

/// CityJSON 2.0 `address`: each address's `location` (a MultiPoint of vertex indices) gets the
/// coordinates in place of the indices, since the indices mean nothing outside the file; a location that
/// cannot be resolved is removed. Returns the address and how many locations were removed.
fn resolve_address(mut address: Value, vertices: &[[f64; 3]]) -> (Value, usize) {
    let mut dropped = 0;
    let entries = match &mut address {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(_) => vec![&mut address],
        _ => vec![],
    };
    for entry in entries {
        let Some(obj) = entry.as_object_mut() else {
            continue;
        };
        let Some(mut location) = obj.remove("location") else {
            continue;
        };
        let points: Option<Vec<Value>> = location
            .get("boundaries")
            .and_then(Value::as_array)
            .and_then(|b| {
                b.iter()
                    .map(|i| {
                        let p = vertices.get(usize::try_from(i.as_u64()?).ok()?)?;
                        p.iter()
                            .all(|c| c.is_finite())
                            .then(|| json!([p[0], p[1], p[2]]))
                    })
                    .collect()
            });
        match (points, location.as_object_mut()) {
            (Some(points), Some(l)) => {
                l.insert("boundaries".into(), Value::Array(points));
                obj.insert("location".into(), location);
            }
            _ => dropped += 1,
        }
    }
    (address, dropped)
}
