//! The structural rules of a glb's glTF JSON that later checks rely on (glTF 2.0 §3): buffer views
//! inside their buffers, accessors inside their buffer views, mesh attributes naming accessors,
//! POSITION bounds, a node forest without cycles, scenes naming root nodes, declared extensions.
//!
//! Messages carry no tile path; the caller prefixes it.

use serde_json::Value;

use super::glb::{
    FLOAT, Glb, UNSIGNED_BYTE, UNSIGNED_INT, UNSIGNED_SHORT, component_size, element_size,
};
use super::{field, index, uint};

/// Checks buffer views, accessors, meshes, nodes, scenes and extension declarations against glTF 2.0.
pub(crate) fn check_structure(glb: &Glb, problems: &mut Vec<String>) {
    let json = &glb.json;
    if field(field(json, "asset"), "version").as_str() != Some("2.0") {
        problems.push("glTF asset.version is not \"2.0\"".into());
    }
    check_buffer_views(json, problems);
    check_accessors(json, problems);
    check_meshes(glb, problems);
    check_nodes_and_scenes(json, problems);
    super::check_extensions_declared(json, "glTF", problems);
}

fn check_buffer_views(json: &Value, problems: &mut Vec<String>) {
    let buffers = field(json, "buffers")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let views = field(json, "bufferViews")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, view) in views.iter().enumerate() {
        let Some(buffer) = index(view, "buffer").and_then(|b| buffers.get(b)) else {
            problems.push(format!(
                "bufferViews[{i}].buffer is missing or names no buffer"
            ));
            continue;
        };
        let offset = uint(view, "byteOffset").unwrap_or(0);
        let Some(length) = uint(view, "byteLength").filter(|n| *n >= 1) else {
            problems.push(format!(
                "bufferViews[{i}].byteLength is missing or not a positive integer"
            ));
            continue;
        };
        let buffer_length = uint(buffer, "byteLength").unwrap_or(0);
        if offset.saturating_add(length) > buffer_length {
            problems.push(format!(
                "bufferViews[{i}] spans bytes {offset}..{} but its buffer has {buffer_length}",
                offset.saturating_add(length)
            ));
        }
        if let Some(stride) = uint(view, "byteStride")
            && (!(4..=252).contains(&stride) || !stride.is_multiple_of(4))
        {
            problems.push(format!(
                "bufferViews[{i}].byteStride {stride} is not a multiple of 4 in 4..=252"
            ));
        }
    }
}

fn check_accessors(json: &Value, problems: &mut Vec<String>) {
    let views = field(json, "bufferViews")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let accessors = field(json, "accessors")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, acc) in accessors.iter().enumerate() {
        let component_type = uint(acc, "componentType").unwrap_or(0);
        let kind = field(acc, "type").as_str().unwrap_or("");
        let (Some(size), Some(elem)) = (
            component_size(component_type),
            element_size(kind, component_type),
        ) else {
            problems.push(format!(
                "accessors[{i}] has componentType {component_type} / type `{kind}`, not a glTF 2.0 pair"
            ));
            continue;
        };
        let Some(count) = uint(acc, "count").filter(|n| *n >= 1) else {
            problems.push(format!(
                "accessors[{i}].count is missing or not a positive integer"
            ));
            continue;
        };
        let Some(view_index) = index(acc, "bufferView") else {
            continue;
        };
        let Some(view) = views.get(view_index) else {
            problems.push(format!(
                "accessors[{i}].bufferView {view_index} does not exist"
            ));
            continue;
        };
        let offset = uint(acc, "byteOffset").unwrap_or(0);
        let view_offset = uint(view, "byteOffset").unwrap_or(0);
        // Offsets must be multiples of the component size (glTF 2.0 §3.6.2.4, data alignment).
        if !(offset + view_offset).is_multiple_of(size as u64) {
            problems.push(format!(
                "accessors[{i}] starts at byte {} of its buffer, not a multiple of its component size {size}",
                offset + view_offset
            ));
        }
        let stride = uint(view, "byteStride").unwrap_or(elem as u64);
        if stride < elem as u64 {
            problems.push(format!(
                "accessors[{i}] elements are {elem} bytes but bufferView {view_index} has byteStride {stride}"
            ));
        }
        // glTF 2.0 §3.6.2.4: byteOffset + stride × (count − 1) + element size ≤ bufferView.byteLength.
        let need = offset
            .saturating_add(stride.saturating_mul(count - 1))
            .saturating_add(elem as u64);
        let have = uint(view, "byteLength").unwrap_or(0);
        if need > have {
            problems.push(format!(
                "accessors[{i}] needs {need} bytes ({count} × {elem}-byte elements, stride {stride}, offset {offset}) but bufferView {view_index} has {have}"
            ));
        }
    }
}

fn check_meshes(glb: &Glb, problems: &mut Vec<String>) {
    let json = &glb.json;
    let accessors = field(json, "accessors")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let quantized = super::declares(json, "extensionsUsed", "KHR_mesh_quantization");
    let meshes = field(json, "meshes")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (m, mesh) in meshes.iter().enumerate() {
        let prims = field(mesh, "primitives")
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if prims.is_empty() {
            problems.push(format!("meshes[{m}] has no primitives"));
        }
        for (p, prim) in prims.iter().enumerate() {
            let here = format!("meshes[{m}].primitives[{p}]");
            let Some(attributes) = field(prim, "attributes").as_object() else {
                problems.push(format!("{here} has no attributes object"));
                continue;
            };
            let mut counts = Vec::new();
            for (name, value) in attributes {
                match value.as_u64().and_then(|a| accessors.get(a as usize)) {
                    None => problems.push(format!("{here} attribute {name} names no accessor")),
                    Some(acc) => counts.push((name, uint(acc, "count").unwrap_or(0))),
                }
            }
            // glTF 2.0 §3.7.2.1: all attribute accessors of a primitive have the same count.
            if let Some((first, n)) = counts.first()
                && let Some((other, k)) = counts.iter().find(|(_, k)| k != n)
            {
                problems.push(format!(
                    "{here} attributes {first} and {other} have different counts ({n} and {k})"
                ));
            }
            if let Some(i) = index(prim, "indices") {
                match accessors.get(i) {
                    None => problems.push(format!("{here}.indices names no accessor")),
                    Some(acc) => {
                        let ct = uint(acc, "componentType").unwrap_or(0);
                        if field(acc, "type").as_str() != Some("SCALAR")
                            || ![UNSIGNED_BYTE, UNSIGNED_SHORT, UNSIGNED_INT].contains(&ct)
                        {
                            problems.push(format!(
                                "{here}.indices accessor {i} is not an unsigned SCALAR"
                            ));
                        }
                    }
                }
            }
            let Some(position) = attributes.get("POSITION").and_then(Value::as_u64) else {
                continue;
            };
            let Some(acc) = accessors.get(position as usize) else {
                continue;
            };
            if field(acc, "type").as_str() != Some("VEC3")
                || (!quantized && uint(acc, "componentType") != Some(FLOAT))
            {
                problems.push(format!(
                    "{here} POSITION accessor {position} is not a float VEC3 (and KHR_mesh_quantization is not declared)"
                ));
            }
            // glTF 2.0 §3.7.2.1: POSITION accessors MUST have min and max.
            let (Some(min), Some(max)) = (
                super::volume::numbers::<3>(field(acc, "min")),
                super::volume::numbers::<3>(field(acc, "max")),
            ) else {
                problems.push(format!(
                    "{here} POSITION accessor {position} lacks min/max (glTF requires both, 3 numbers each)"
                ));
                continue;
            };
            check_position_bounds(glb, position as usize, min, max, &here, problems);
        }
    }
}

/// The declared POSITION min/max must enclose the vertex data: the containment check trusts them.
fn check_position_bounds(
    glb: &Glb,
    accessor: usize,
    min: [f64; 3],
    max: [f64; 3],
    here: &str,
    problems: &mut Vec<String>,
) {
    let Ok(data) = glb.accessor(accessor) else {
        return;
    };
    if data.component_type != FLOAT || data.components != 3 {
        return;
    }
    // Declared bounds are often computed in f64 and the data stored as f32: allow float32 rounding.
    let scale = min.iter().chain(&max).fold(1.0_f64, |a, v| a.max(v.abs()));
    let tol = 1e-6 * scale;
    for i in 0..data.count {
        let Some(p) = data.vec3(i) else { break };
        for c in 0..3 {
            if p[c] < min[c] - tol || p[c] > max[c] + tol {
                problems.push(format!(
                    "{here} POSITION accessor {accessor} vertex {i} {p:?} lies outside its declared min {min:?} / max {max:?}"
                ));
                return;
            }
        }
    }
}

fn check_nodes_and_scenes(json: &Value, problems: &mut Vec<String>) {
    let nodes = field(json, "nodes")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mesh_count = field(json, "meshes").as_array().map_or(0, Vec::len);
    let mut parent: Vec<Option<usize>> = vec![None; nodes.len()];
    for (n, node) in nodes.iter().enumerate() {
        if let Some(m) = index(node, "mesh")
            && m >= mesh_count
        {
            problems.push(format!("nodes[{n}].mesh {m} does not exist"));
        }
        if !field(node, "matrix").is_null()
            && super::volume::numbers::<16>(field(node, "matrix")).is_none()
        {
            problems.push(format!("nodes[{n}].matrix is not 16 finite numbers"));
        }
        for child in field(node, "children")
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            match child.as_u64().map(|c| c as usize).filter(|c| *c < nodes.len()) {
                None => problems.push(format!("nodes[{n}].children has {child}, which names no node")),
                Some(c) => match parent.get_mut(c) {
                    Some(slot @ None) => *slot = Some(n),
                    // glTF 2.0 §3.5.1: the hierarchy is a set of disjoint strict trees.
                    Some(Some(other)) => problems.push(format!(
                        "node {c} is a child of both node {other} and node {n}; glTF node trees must be disjoint"
                    )),
                    None => {}
                },
            }
        }
    }
    // A node that is its own ancestor makes a cycle.
    for start in 0..nodes.len() {
        let mut at = start;
        for _ in 0..=nodes.len() {
            match parent.get(at).copied().flatten() {
                None => break,
                Some(p) if p == start => {
                    problems.push(format!(
                        "node {start} is its own ancestor (cycle in the node tree)"
                    ));
                    break;
                }
                Some(p) => at = p,
            }
        }
    }
    let scenes = field(json, "scenes")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (s, scene) in scenes.iter().enumerate() {
        for root in field(scene, "nodes")
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            match root.as_u64().map(|r| r as usize) {
                Some(r) if r < nodes.len() => {
                    if parent.get(r).copied().flatten().is_some() {
                        problems.push(format!(
                            "scenes[{s}] lists node {r}, which is not a root node"
                        ));
                    }
                }
                _ => problems.push(format!("scenes[{s}].nodes has {root}, which names no node")),
            }
        }
    }
    if let Some(s) = index(json, "scene")
        && s >= scenes.len()
    {
        problems.push(format!("scene {s} does not exist"));
    }
}
