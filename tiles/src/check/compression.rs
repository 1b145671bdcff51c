//! `EXT_meshopt_compression`: decodes compressed bufferViews into their fallback buffers so that every
//! later check reads the real vertex and index data.
//!
//! A compressed bufferView names, in its extension, the compressed bytes (`buffer`, `byteOffset`,
//! `byteLength`), the element `byteStride`, `count` and `mode`; the view itself describes where the
//! decoded bytes belong, usually in a buffer that has no data of its own and is marked
//! `{"fallback": true}`. Decoding uses meshoptimizer's own decoders (the `meshopt` crate), which are
//! safe on untrusted input: a corrupt stream is an error, never a crash.

use serde_json::Value;

use super::{field, uint};

/// The extension's name.
pub(crate) const EXT: &str = "EXT_meshopt_compression";
/// Largest fallback buffer the checker allocates (a tile's content is a few MB; a huge number in a
/// malformed file must not exhaust memory).
const MAX_FALLBACK: u64 = 1 << 30;

/// Whether `buffer` is a fallback buffer of the extension.
pub(crate) fn is_fallback(buffer: &Value) -> bool {
    field(&field(buffer, "extensions")[EXT], "fallback")
        .as_bool()
        .unwrap_or(false)
}

/// A zeroed fallback buffer of `byte_length` bytes, or a problem when it is absurdly large.
pub(crate) fn fallback(i: usize, byte_length: u64, problems: &mut Vec<String>) -> Option<Vec<u8>> {
    if byte_length > MAX_FALLBACK {
        problems.push(format!(
            "buffers[{i}] is an {EXT} fallback of {byte_length} bytes, more than this checker decodes ({MAX_FALLBACK})"
        ));
        return None;
    }
    Some(vec![0; byte_length as usize])
}

/// Decodes every compressed bufferView into the buffer its view describes.
pub(crate) fn decode(json: &Value, buffers: &mut [Option<Vec<u8>>], problems: &mut Vec<String>) {
    let views = field(json, "bufferViews")
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, view) in views.iter().enumerate() {
        let ext = &field(view, "extensions")[EXT];
        if ext.is_null() {
            continue;
        }
        if let Err(e) = decode_view(view, ext, buffers) {
            problems.push(format!("bufferViews[{i}] ({EXT}): {e}"));
        }
    }
}

fn decode_view(view: &Value, ext: &Value, buffers: &mut [Option<Vec<u8>>]) -> Result<(), String> {
    let get = |v: &Value, key: &str| {
        uint(v, key)
            .map(|n| n as usize)
            .ok_or_else(|| format!("`{key}` is missing or not an unsigned integer"))
    };
    let (source, offset, length) = (
        get(ext, "buffer")?,
        get(ext, "byteOffset").unwrap_or(0),
        get(ext, "byteLength")?,
    );
    let (stride, count) = (get(ext, "byteStride")?, get(ext, "count")?);
    let mode = field(ext, "mode").as_str().unwrap_or("");
    let compressed = buffers
        .get(source)
        .and_then(Option::as_ref)
        .and_then(|b| b.get(offset..offset.checked_add(length)?))
        .ok_or_else(|| {
            format!("the compressed bytes {offset}+{length} are not inside buffer {source}")
        })?;
    let decoded = match (mode, stride) {
        ("ATTRIBUTES", s) if s % 4 == 0 && s <= 256 => decode_attributes(compressed, count, s)?,
        ("ATTRIBUTES", s) => {
            return Err(format!(
                "byteStride {s} must be a multiple of 4, at most 256"
            ));
        }
        ("TRIANGLES" | "INDICES", 2 | 4) => decode_indices(compressed, count, stride, mode)?,
        (m, s) => {
            return Err(format!(
                "mode `{m}` with byteStride {s} is not a valid combination"
            ));
        }
    };
    if decoded.len() != count * stride {
        return Err(format!(
            "decoded {} bytes, expected count × byteStride = {}",
            decoded.len(),
            count * stride
        ));
    }
    let (target, at, view_length) = (
        get(view, "buffer")?,
        get(view, "byteOffset").unwrap_or(0),
        get(view, "byteLength")?,
    );
    if view_length < decoded.len() {
        return Err(format!(
            "the view's byteLength {view_length} is smaller than the decoded data ({} bytes)",
            decoded.len()
        ));
    }
    let slot = buffers
        .get_mut(target)
        .and_then(Option::as_mut)
        .and_then(|b| b.get_mut(at..at.checked_add(decoded.len())?))
        .ok_or_else(|| format!("the decoded data does not fit buffer {target} at byte {at}"))?;
    slot.copy_from_slice(&decoded);
    Ok(())
}

/// Vertex codec: `count` elements of `stride` bytes.
fn decode_attributes(compressed: &[u8], count: usize, stride: usize) -> Result<Vec<u8>, String> {
    // The decoder is generic over the element type: pick the array of 4-byte words with the stride's
    // size (strides are multiples of 4). Words go back to bytes as they were encoded, little-endian.
    macro_rules! with_stride {
        ($($k:literal)*) => {
            match stride / 4 {
                $($k => meshopt::encoding::decode_vertex_buffer::<[u32; $k]>(compressed, count)
                    .map(|v| v.iter().flatten().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>()),)*
                _ => return Err(format!("byteStride {stride} is more than this checker decodes (128)")),
            }
        };
    }
    with_stride!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32)
        .map_err(|e| format!("the vertex stream does not decode: {e}"))
}

/// Index codecs: `TRIANGLES` (index buffer codec) or `INDICES` (index sequence codec).
fn decode_indices(
    compressed: &[u8],
    count: usize,
    stride: usize,
    mode: &str,
) -> Result<Vec<u8>, String> {
    if mode == "TRIANGLES" && !count.is_multiple_of(3) {
        return Err(format!(
            "mode TRIANGLES needs a count divisible by 3, not {count}"
        ));
    }
    let fail = |e: meshopt::Error| format!("the index stream does not decode: {e}");
    Ok(match (mode, stride) {
        ("TRIANGLES", 2) => meshopt::encoding::decode_index_buffer::<u16>(compressed, count)
            .map_err(fail)?
            .iter()
            .flat_map(|i| i.to_le_bytes())
            .collect(),
        ("TRIANGLES", _) => meshopt::encoding::decode_index_buffer::<u32>(compressed, count)
            .map_err(fail)?
            .iter()
            .flat_map(|i| i.to_le_bytes())
            .collect(),
        (_, 2) => meshopt::encoding::decode_index_sequence::<u16>(compressed, count)
            .map_err(fail)?
            .iter()
            .flat_map(|i| i.to_le_bytes())
            .collect(),
        _ => meshopt::encoding::decode_index_sequence::<u32>(compressed, count)
            .map_err(fail)?
            .iter()
            .flat_map(|i| i.to_le_bytes())
            .collect(),
    })
}
