//! The GLB container (glTF 2.0 §4.4 "Binary glTF Layout"): header, chunks, buffers, and typed access
//! to buffer views and accessors for the other checks. The rules on the JSON itself live in
//! `structure`.
//!
//! Everything read from the file goes through `get`, so a truncated or hostile file yields messages,
//! never a panic. Messages here carry no tile path; the caller prefixes it.

use std::path::Path;

use serde_json::Value;

use super::{field, index, uint};

/// `glTF` in little-endian: the GLB magic (glTF 2.0 §4.4.2).
const MAGIC: u32 = 0x4654_6C67;
/// Chunk type of the JSON chunk, `JSON` in ASCII.
const CHUNK_JSON: u32 = 0x4E4F_534A;
/// Chunk type of the binary chunk, `BIN\0` in ASCII.
const CHUNK_BIN: u32 = 0x004E_4942;

/// glTF accessor component types (glTF 2.0 §3.6.2.2).
pub(crate) const UNSIGNED_BYTE: u64 = 5121;
pub(crate) const UNSIGNED_SHORT: u64 = 5123;
pub(crate) const UNSIGNED_INT: u64 = 5125;
pub(crate) const FLOAT: u64 = 5126;

/// A parsed GLB: its JSON and the bytes of each buffer that could be loaded.
pub(crate) struct Glb {
    /// The JSON chunk.
    pub json: Value,
    /// Bytes per `buffers[i]`: the BIN chunk for a buffer without `uri`, the file for a relative one,
    /// `None` where the bytes could not be had (already reported).
    pub buffers: Vec<Option<Vec<u8>>>,
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Parses the GLB header and chunks and loads the buffers. Returns `None` when nothing further can be
/// checked (bad header, unreadable JSON); every problem found on the way is pushed to `problems`.
pub(crate) fn parse(bytes: &[u8], dir: &Path, problems: &mut Vec<String>) -> Option<Glb> {
    // Header: magic, version, total length (glTF 2.0 §4.4.3).
    if bytes.len() < 12 {
        problems.push(format!(
            "glb is truncated: {} bytes, a GLB header alone needs 12",
            bytes.len()
        ));
        return None;
    }
    if u32_at(bytes, 0) != Some(MAGIC) {
        problems.push("glb does not start with the magic `glTF`".into());
        return None;
    }
    let version = u32_at(bytes, 4).unwrap_or(0);
    if version != 2 {
        problems.push(format!("glb header version is {version}, glTF 2.0 needs 2"));
        return None;
    }
    let declared = u32_at(bytes, 8).unwrap_or(0) as usize;
    // A short file is truncated: every later check would only repeat that, so stop here.
    if declared > bytes.len() {
        problems.push(format!(
            "glb is truncated: its header says {declared} bytes but the file has {}",
            bytes.len()
        ));
        return None;
    }
    if declared < bytes.len() {
        problems.push(format!(
            "glb header says {declared} bytes but the file has {}; the rest is ignored",
            bytes.len()
        ));
    }
    let end = declared.min(bytes.len());

    // Chunks: JSON first, then at most one BIN; unknown chunk types are skipped (glTF 2.0 §4.4.3.1).
    let mut at = 12usize;
    let mut json_chunk: Option<&[u8]> = None;
    let mut bin_chunk: Option<&[u8]> = None;
    let mut chunk_no = 0usize;
    while at < end {
        let (Some(len), Some(kind)) = (u32_at(bytes, at), u32_at(bytes, at + 4)) else {
            problems.push(format!(
                "glb chunk {chunk_no} header at byte {at} is cut off by the end of the file"
            ));
            return None;
        };
        let len = len as usize;
        let start = at + 8;
        let Some(data) = start
            .checked_add(len)
            .filter(|e| *e <= end)
            .and_then(|e| bytes.get(start..e))
        else {
            problems.push(format!(
                "glb chunk {chunk_no} at byte {at} claims {len} bytes but only {} remain (truncated file)",
                end.saturating_sub(start)
            ));
            return None;
        };
        // Chunk starts and ends must be 4-byte aligned (glTF 2.0 §4.4.3.1).
        if !len.is_multiple_of(4) {
            problems.push(format!(
                "glb chunk {chunk_no} length {len} is not a multiple of 4"
            ));
        }
        match (chunk_no, kind) {
            (0, CHUNK_JSON) => json_chunk = Some(data),
            (0, _) => problems.push(format!(
                "glb chunk 0 has type {kind:#010x}; the first chunk must be JSON"
            )),
            (1, CHUNK_BIN) => bin_chunk = Some(data),
            (_, CHUNK_JSON) | (_, CHUNK_BIN) => problems.push(format!(
                "glb chunk {chunk_no} repeats a JSON or BIN chunk; only one of each, JSON first"
            )),
            _ => {}
        }
        at = start + len;
        chunk_no += 1;
    }

    let Some(json_bytes) = json_chunk else {
        problems.push("glb has no JSON chunk".into());
        return None;
    };
    let json: Value = match serde_json::from_slice(json_bytes) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("glb JSON chunk does not parse: {e}"));
            return None;
        }
    };
    if !json.is_object() {
        problems.push("glb JSON chunk is not an object".into());
        return None;
    }
    let mut buffers = load_buffers(&json, bin_chunk, dir, problems);
    super::compression::decode(&json, &mut buffers, problems);
    Some(Glb { json, buffers })
}

/// Loads the bytes of each buffer: the BIN chunk for `buffers[0]` without `uri` (glTF 2.0 §4.4.3.3,
/// which also allows the chunk up to 3 bytes of padding beyond `byteLength`), a relative file
/// otherwise.
fn load_buffers(
    json: &Value,
    bin: Option<&[u8]>,
    dir: &Path,
    problems: &mut Vec<String>,
) -> Vec<Option<Vec<u8>>> {
    let list = field(json, "buffers")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut out = Vec::with_capacity(list.len());
    for (i, buffer) in list.iter().enumerate() {
        let Some(byte_length) = uint(buffer, "byteLength").filter(|n| *n >= 1) else {
            problems.push(format!(
                "buffers[{i}].byteLength is missing or not a positive integer"
            ));
            out.push(None);
            continue;
        };
        let bytes = match field(buffer, "uri").as_str() {
            None if super::compression::is_fallback(buffer) => {
                super::compression::fallback(i, byte_length, problems)
            }
            None if i != 0 => {
                problems.push(format!(
                    "buffers[{i}] has no uri; only buffers[0] may refer to the GLB BIN chunk"
                ));
                None
            }
            None => match bin {
                None => {
                    problems.push("buffers[0] has no uri but the glb has no BIN chunk".into());
                    None
                }
                Some(chunk) => {
                    let have = chunk.len() as u64;
                    if have < byte_length || have > byte_length + 3 {
                        problems.push(format!(
                            "buffers[0].byteLength is {byte_length} but the BIN chunk has {have} bytes (at most 3 bytes of padding allowed)"
                        ));
                    }
                    Some(chunk.to_vec())
                }
            },
            Some(uri) if uri.starts_with("data:") => {
                problems.push(format!(
                    "buffers[{i}] is a data: URI, which this checker does not decode; 3D Tiles content should keep its data in the BIN chunk"
                ));
                None
            }
            Some(uri) => match super::uri::resolve_sibling(dir, uri) {
                Err(e) => {
                    problems.push(format!("buffers[{i}].uri: {e}"));
                    None
                }
                Ok(path) => match std::fs::read(&path) {
                    Err(e) => {
                        problems.push(format!("buffers[{i}].uri `{uri}` cannot be read: {e}"));
                        None
                    }
                    Ok(data) => {
                        if (data.len() as u64) < byte_length {
                            problems.push(format!(
                                "buffers[{i}] `{uri}` has {} bytes, less than its byteLength {byte_length}",
                                data.len()
                            ));
                        }
                        Some(data)
                    }
                },
            },
        };
        out.push(bytes);
    }
    out
}

/// Bytes per component of an accessor component type.
pub(crate) fn component_size(component_type: u64) -> Option<usize> {
    match component_type {
        5120 | 5121 => Some(1),
        5122 | 5123 => Some(2),
        5125 | 5126 => Some(4),
        _ => None,
    }
}

/// Components per element of an accessor type.
pub(crate) fn type_components(kind: &str) -> Option<usize> {
    match kind {
        "SCALAR" => Some(1),
        "VEC2" => Some(2),
        "VEC3" => Some(3),
        "VEC4" | "MAT2" => Some(4),
        "MAT3" => Some(9),
        "MAT4" => Some(16),
        _ => None,
    }
}

/// Size of one element in bytes. Matrix columns start on 4-byte boundaries (glTF 2.0 §3.6.2.4), which
/// pads MAT2 and MAT3 of bytes and MAT3 of shorts.
pub(crate) fn element_size(kind: &str, component_type: u64) -> Option<usize> {
    let size = component_size(component_type)?;
    Some(match (kind, size) {
        ("MAT2", 1) => 8,
        ("MAT3", 1) => 12,
        ("MAT3", 2) => 24,
        _ => type_components(kind)? * size,
    })
}

/// A readable accessor: where its elements lie and how to decode them.
pub(crate) struct AccessorData<'g> {
    view: &'g [u8],
    offset: usize,
    stride: usize,
    /// Number of elements.
    pub count: usize,
    /// glTF component type.
    pub component_type: u64,
    /// Components per element.
    pub components: usize,
    /// Whether integer components are normalized.
    pub normalized: bool,
}

impl AccessorData<'_> {
    /// Component `c` of element `i` as f64 (raw integer value when not normalized).
    pub(crate) fn get(&self, i: usize, c: usize) -> Option<f64> {
        let size = component_size(self.component_type)?;
        let at = self.offset + i.checked_mul(self.stride)? + c * size;
        let b = self.view.get(at..at + size)?;
        let raw = match self.component_type {
            5120 => f64::from(i8::from_le_bytes([b[0]])),
            5121 => f64::from(b[0]),
            5122 => f64::from(i16::from_le_bytes([b[0], b[1]])),
            5123 => f64::from(u16::from_le_bytes([b[0], b[1]])),
            5125 => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            5126 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            _ => return None,
        };
        if !self.normalized {
            return Some(raw);
        }
        // Normalized integers map to [0, 1] or [-1, 1] (glTF 2.0 §3.11).
        Some(match self.component_type {
            5120 => (raw / 127.0).max(-1.0),
            5121 => raw / 255.0,
            5122 => (raw / 32767.0).max(-1.0),
            5123 => raw / 65535.0,
            _ => raw,
        })
    }

    /// Element `i` as three f64 (for VEC3 accessors).
    pub(crate) fn vec3(&self, i: usize) -> Option<[f64; 3]> {
        Some([self.get(i, 0)?, self.get(i, 1)?, self.get(i, 2)?])
    }
}

impl Glb {
    /// The bytes of `bufferViews[index]`.
    pub(crate) fn view_bytes(&self, index: usize) -> Result<&[u8], String> {
        let view = field(&self.json, "bufferViews")
            .get(index)
            .ok_or_else(|| format!("bufferView {index} does not exist"))?;
        let buffer_index = uint(view, "buffer")
            .ok_or_else(|| format!("bufferViews[{index}].buffer is missing"))?;
        let data = self
            .buffers
            .get(buffer_index as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| format!("bufferViews[{index}] refers to buffer {buffer_index}, which could not be loaded"))?;
        let offset = uint(view, "byteOffset").unwrap_or(0) as usize;
        let length = uint(view, "byteLength").unwrap_or(0) as usize;
        offset
            .checked_add(length)
            .and_then(|end| data.get(offset..end))
            .ok_or_else(|| {
                format!(
                    "bufferViews[{index}] (bytes {offset}..{}) runs past the end of buffer {buffer_index} ({} bytes)",
                    offset.saturating_add(length),
                    data.len()
                )
            })
    }

    /// A readable view of `accessors[index]`. Accessors without a bufferView (all zeros) or with
    /// `sparse` substitution are not decoded; the error says so.
    pub(crate) fn accessor(&self, index: usize) -> Result<AccessorData<'_>, String> {
        let acc = field(&self.json, "accessors")
            .get(index)
            .ok_or_else(|| format!("accessor {index} does not exist"))?;
        if !field(acc, "sparse").is_null() {
            return Err(format!(
                "accessor {index} is sparse, which this checker does not decode"
            ));
        }
        let view_index = uint(acc, "bufferView").ok_or_else(|| {
            format!("accessor {index} has no bufferView, which this checker does not decode")
        })?;
        let view = self.view_bytes(view_index as usize)?;
        let component_type = uint(acc, "componentType").unwrap_or(0);
        let kind = field(acc, "type").as_str().unwrap_or("");
        let elem = element_size(kind, component_type)
            .ok_or_else(|| format!("accessor {index} has an unknown type or componentType"))?;
        let stride = field(&self.json, "bufferViews")
            .get(view_index as usize)
            .and_then(|v| uint(v, "byteStride"))
            .map_or(elem, |s| s as usize);
        let count = uint(acc, "count").unwrap_or(0) as usize;
        let offset = uint(acc, "byteOffset").unwrap_or(0) as usize;
        let fits = count == 0
            || (count - 1)
                .checked_mul(stride)
                .and_then(|x| x.checked_add(offset))
                .and_then(|x| x.checked_add(elem))
                .is_some_and(|end| end <= view.len());
        if !fits {
            return Err(format!(
                "accessor {index} runs past the end of bufferView {view_index}"
            ));
        }
        Ok(AccessorData {
            view,
            offset,
            stride,
            count,
            component_type,
            components: type_components(kind).unwrap_or(1),
            normalized: field(acc, "normalized").as_bool().unwrap_or(false),
        })
    }
}

/// Root nodes of the scene that is shown: `scene`, else `scenes[0]`, else every node without a parent.
pub(crate) fn scene_roots(json: &Value) -> Vec<usize> {
    let scenes = field(json, "scenes")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let node_count = field(json, "nodes").as_array().map_or(0, Vec::len);
    if let Some(scene) = scenes.get(index(json, "scene").unwrap_or(0)) {
        return field(scene, "nodes")
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter_map(|n| n.as_u64().map(|n| n as usize))
            .filter(|n| *n < node_count)
            .collect();
    }
    let mut is_child = vec![false; node_count];
    for node in field(json, "nodes")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        for c in field(node, "children")
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            if let Some(slot) = c.as_u64().and_then(|c| is_child.get_mut(c as usize)) {
                *slot = true;
            }
        }
    }
    (0..node_count)
        .filter(|n| !is_child.get(*n).copied().unwrap_or(true))
        .collect()
}
