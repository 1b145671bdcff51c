//! Per-primitive metadata in vertex attributes: `EXT_structural_metadata` property attributes and
//! `EXT_mesh_features` feature IDs.

use serde_json::{Map, Value};

use crate::check::glb::{FLOAT, Glb, UNSIGNED_BYTE, UNSIGNED_SHORT};
use crate::check::{field, index, uint};

/// Accessor component types a property attribute may use, by metadata component type
/// (`EXT_structural_metadata` §"Property Attributes": those glTF vertex attributes can hold).
fn attribute_component(component: &str) -> Option<u64> {
    Some(match component {
        "INT8" => 5120,
        "UINT8" => UNSIGNED_BYTE,
        "INT16" => 5122,
        "UINT16" => UNSIGNED_SHORT,
        "FLOAT32" => FLOAT,
        _ => return None,
    })
}

/// Property attributes (`EXT_structural_metadata` §"Property Attributes"): every primitive that lists
/// one must have each of its properties' attributes, and each such accessor must have the class
/// property's type, component type and normalization. Counts match by glTF's own rule (every
/// attribute of a primitive has the same count), which the structure check enforces.
pub(super) fn check_property_attributes(
    glb: &Glb,
    ext: &Value,
    classes: &Map<String, Value>,
    problems: &mut Vec<String>,
) {
    let defined = field(ext, "propertyAttributes")
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let accessors = field(&glb.json, "accessors")
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let meshes = field(&glb.json, "meshes")
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    for (m, mesh) in meshes.iter().enumerate() {
        let prims = field(mesh, "primitives")
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        for (p, prim) in prims.iter().enumerate() {
            let here = format!("meshes[{m}].primitives[{p}]");
            let used = field(field(prim, "extensions"), "EXT_structural_metadata");
            let Some(list) = field(used, "propertyAttributes").as_array() else {
                continue;
            };
            for entry in list {
                let Some(pa) = entry.as_u64().and_then(|i| defined.get(i as usize)) else {
                    problems.push(format!(
                        "{here} lists property attribute {entry}, which is not in EXT_structural_metadata.propertyAttributes"
                    ));
                    continue;
                };
                let class_id = field(pa, "class").as_str().unwrap_or("");
                let Some(class) = classes.get(class_id) else {
                    continue; // reported above
                };
                let props = field(pa, "properties").as_object();
                for (id, prop) in props.into_iter().flatten() {
                    let def = field(field(class, "properties"), id);
                    if def.is_null() {
                        problems.push(format!(
                            "{here} property attribute property `{id}` is not in class `{class_id}`"
                        ));
                        continue;
                    }
                    let name = field(prop, "attribute").as_str().unwrap_or("");
                    let Some(acc) =
                        index(field(prim, "attributes"), name).and_then(|a| accessors.get(a))
                    else {
                        problems.push(format!(
                            "{here} property `{id}` reads attribute `{name}`, which the primitive does not have"
                        ));
                        continue;
                    };
                    let want_type = field(def, "type").as_str().unwrap_or("");
                    let want_component = field(def, "componentType")
                        .as_str()
                        .and_then(attribute_component);
                    let normalized = field(def, "normalized").as_bool().unwrap_or(false);
                    if want_component.is_none() {
                        problems.push(format!(
                            "{here} property `{id}` has a component type a vertex attribute cannot hold (INT8, UINT8, INT16, UINT16 or FLOAT32)"
                        ));
                    } else if field(acc, "type").as_str() != Some(want_type)
                        || uint(acc, "componentType") != want_component
                        || field(acc, "normalized").as_bool().unwrap_or(false) != normalized
                    {
                        problems.push(format!(
                            "{here} attribute `{name}` does not match property `{id}` ({want_type} {}, normalized {normalized})",
                            field(def, "componentType")
                        ));
                    }
                }
            }
        }
    }
}
/// Checks `EXT_mesh_features` on every primitive and returns the sum of `featureCount`.
pub(super) fn check_mesh_features(glb: &Glb, tables: &[Value], problems: &mut Vec<String>) -> u64 {
    let mut features = 0u64;
    let json = &glb.json;
    for (m, mesh) in field(json, "meshes")
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        for (p, prim) in field(mesh, "primitives")
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ext = field(field(prim, "extensions"), "EXT_mesh_features");
            if ext.is_null() {
                continue;
            }
            let ids = field(ext, "featureIds")
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            if ids.is_empty() {
                problems.push(format!(
                    "meshes[{m}].primitives[{p}] EXT_mesh_features has no featureIds"
                ));
            }
            for (f, fid) in ids.iter().enumerate() {
                let here = format!("meshes[{m}].primitives[{p}] featureIds[{f}]");
                let Some(feature_count) = uint(fid, "featureCount").filter(|c| *c >= 1) else {
                    problems.push(format!(
                        "{here}.featureCount is missing or not a positive integer"
                    ));
                    continue;
                };
                features = features.saturating_add(feature_count);
                if let Some(t) = index(fid, "propertyTable") {
                    match tables.get(t) {
                        None => problems.push(format!(
                            "{here}.propertyTable {t} does not exist ({} property tables)",
                            tables.len()
                        )),
                        Some(table) => {
                            let rows = uint(table, "count").unwrap_or(0);
                            if feature_count > rows {
                                problems.push(format!(
                                    "{here}.featureCount {feature_count} exceeds the {rows} rows of property table {t}"
                                ));
                            }
                        }
                    }
                }
                let null_id = uint(fid, "nullFeatureId");
                if let Some(n) = uint(fid, "attribute") {
                    check_feature_id_attribute(
                        glb,
                        prim,
                        &here,
                        n,
                        feature_count,
                        null_id,
                        problems,
                    );
                } else if field(fid, "texture").is_null() {
                    // No attribute and no texture: the feature ID is the vertex index
                    // (EXT_mesh_features §"Feature ID by Vertex").
                    let vertices = index(field(prim, "attributes"), "POSITION")
                        .and_then(|a| field(json, "accessors").get(a))
                        .and_then(|a| uint(a, "count"))
                        .unwrap_or(0);
                    if vertices > feature_count {
                        problems.push(format!(
                            "{here} uses implicit (vertex index) feature IDs but has {vertices} vertices and featureCount {feature_count}"
                        ));
                    }
                }
                // Feature ID textures are images; their texels are not decoded here.
            }
        }
    }
    features
}

fn check_feature_id_attribute(
    glb: &Glb,
    prim: &Value,
    here: &str,
    n: u64,
    feature_count: u64,
    null_id: Option<u64>,
    problems: &mut Vec<String>,
) {
    let name = format!("_FEATURE_ID_{n}");
    let Some(acc_index) = index(field(prim, "attributes"), &name) else {
        problems.push(format!(
            "{here}.attribute {n} needs a {name} attribute, which the primitive lacks"
        ));
        return;
    };
    let data = match glb.accessor(acc_index) {
        Ok(d) => d,
        Err(e) => {
            problems.push(format!("{here} {name}: {e}"));
            return;
        }
    };
    // Feature IDs are whole numbers stored as unsigned bytes, shorts or floats (glTF forbids
    // UNSIGNED_INT outside indices, glTF 2.0 §3.6.2.2).
    if data.components != 1
        || data.normalized
        || ![UNSIGNED_BYTE, UNSIGNED_SHORT, FLOAT].contains(&data.component_type)
    {
        problems.push(format!(
            "{here} {name} accessor {acc_index} is not a non-normalized SCALAR of UNSIGNED_BYTE, UNSIGNED_SHORT or FLOAT"
        ));
        return;
    }
    let mut bad = 0usize;
    let mut first = None;
    for i in 0..data.count {
        let Some(v) = data.get(i, 0) else { break };
        let valid = v.fract() == 0.0
            && v >= 0.0
            && (v < feature_count as f64 || null_id.is_some_and(|null| v == null as f64));
        if !valid {
            bad += 1;
            first.get_or_insert((i, v));
        }
    }
    if let Some((i, v)) = first {
        problems.push(format!(
            "{here} {name} has {bad} feature ID(s) that are not whole numbers below featureCount {feature_count}{} (first: vertex {i} has {v})",
            null_id.map(|n| format!(" or the nullFeatureId {n}")).unwrap_or_default()
        ));
    }
}
