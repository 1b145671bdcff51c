//! glb (binary glTF 2.0) tile content for 3D Tiles 1.1: one triangle mesh whose vertices carry feature
//! ids (`EXT_mesh_features`) that index a property table (`EXT_structural_metadata`).
//!
//! [`write_glb`] is the entry point. The layout it writes, and why:
//!
//! - one buffer, one mesh, one `TRIANGLES` primitive, one node, one scene;
//! - `POSITION` `FLOAT VEC3` with exact `min`/`max` (glTF 2.0 §3.7.2.1 requires them), `NORMAL` `FLOAT
//!   VEC3`, `COLOR_0` `UNSIGNED_BYTE` normalized `VEC4`, `_FEATURE_ID_0` `FLOAT SCALAR` (exact for ids
//!   below 2^24; vertex attribute data must be 4-byte aligned, so no `UNSIGNED_SHORT` ids);
//! - indices `UNSIGNED_SHORT` up to 65 535 vertices, else `UNSIGNED_INT`. The largest index is then at
//!   most 65 534 or 2^32 - 2, never the primitive-restart value that glTF forbids;
//! - one PBR metallic-roughness material: white base colour, metallic 0, roughness 0.9 (matte façades),
//!   `doubleSided` because real city models contain flipped faces;
//! - `EXT_mesh_features` and `EXT_structural_metadata` in `extensionsUsed`, not `extensionsRequired`:
//!   a viewer without them still draws the geometry;
//! - every bufferView starts on an 8-byte boundary (`EXT_structural_metadata` binary tables; it also
//!   satisfies the 4-byte rule of vertex attributes).
//!
//! Colours come in as sRGB and are stored linear, because glTF defines `COLOR_0` as a linear multiplier
//! (§3.7.2.1); see [`srgb_to_linear`]. The output is deterministic: the same input gives the same bytes,
//! which incremental tiling relies on when it hashes content.
//!
//! The metadata model and the encoding of missing values are in [`crate::metadata`].

mod property_table;
#[cfg(test)]
mod tests;
pub(crate) mod writer;

use crate::metadata::{PropertyTable, Schema};
use crate::{Error, Result};

/// Name of the glTF extension that assigns feature ids to vertices.
pub const EXT_MESH_FEATURES: &str = "EXT_mesh_features";
/// Name of the glTF extension that stores the schema and property tables.
pub const EXT_STRUCTURAL_METADATA: &str = "EXT_structural_metadata";
/// Name of the glTF extension for meshoptimizer-compressed vertex and index data.
pub const EXT_MESHOPT_COMPRESSION: &str = "EXT_meshopt_compression";
/// Largest feature count: feature ids are stored as `FLOAT`, exact for integers below 2^24.
pub const MAX_FEATURES: usize = 1 << 24;
/// How far a normal's length may be from 1. glTF-Validator reports `NORMAL` vectors more than about
/// 0.0005 off unit length as errors; this leaves room for `f32` rounding only.
pub const NORMAL_LENGTH_TOLERANCE: f32 = 2.0e-4;

/// How vertex and index data are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Plain little-endian arrays: every glTF viewer reads them, and they gzip well on the wire.
    #[default]
    None,
    /// `EXT_meshopt_compression` (meshoptimizer's vertex and index codecs), decoded by CesiumJS,
    /// three.js and Babylon.js; the extension is then required. About 58 % of the plain size, but
    /// larger than plain content once both are gzipped: for servers that cannot compress. Property
    /// tables stay uncompressed.
    Meshopt,
}

/// A triangle mesh ready to be written as tile content.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mesh {
    /// Vertex positions in metres, in glTF's y-up axes, relative to the tile's local origin.
    pub positions: Vec<[f32; 3]>,
    /// Unit-length vertex normals, one per position.
    pub normals: Vec<[f32; 3]>,
    /// sRGB RGBA vertex colours, one per position (stored linear, see the module docs).
    pub colors: Vec<[u8; 4]>,
    /// Feature id of each vertex: the row of the property table it belongs to.
    pub feature_ids: Vec<u32>,
    /// Triangle list: three vertex indices per triangle.
    pub indices: Vec<u32>,
}

/// Writes `mesh` with the metadata `table` (of `schema`'s class) as a glb.
///
/// # Errors
///
/// [`Error::BadInput`] when the mesh is empty or inconsistent (attribute lengths differ, indices out of
/// range or not a multiple of three, non-finite coordinates, normals not unit length), a feature id is
/// not a row of the table, or the schema or table is invalid ([`Schema::validate`],
/// [`PropertyTable::check`]). The message names the vertex, index, property or row.
///
/// # Examples
///
/// ```
/// use tvilling_tiles::glb::{Mesh, write_glb};
/// use tvilling_tiles::metadata::{PropertyDef, PropertyTable, PropertyType, Schema, Values};
///
/// let mesh = Mesh {
///     positions: vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]],
///     normals: vec![[0.0, 1.0, 0.0]; 3],
///     colors: vec![[200, 200, 200, 255]; 3],
///     feature_ids: vec![0; 3],
///     indices: vec![0, 1, 2],
/// };
/// let schema = Schema {
///     id: "town".into(),
///     class_id: "building".into(),
///     properties: vec![PropertyDef { id: "height".into(), name: "height".into(), ty: PropertyType::Float64, nullable: false }],
///     enums: vec![],
/// };
/// let table = PropertyTable { count: 1, columns: vec![Values::Float64(vec![Some(12.5)])] };
/// let glb = write_glb(&mesh, &schema, &table)?;
/// assert_eq!(&glb[..4], b"glTF");
/// # Ok::<(), tvilling_tiles::Error>(())
/// ```
pub fn write_glb(mesh: &Mesh, schema: &Schema, table: &PropertyTable) -> Result<Vec<u8>> {
    write_glb_with(mesh, schema, table, Compression::None)
}

/// [`write_glb`] with a choice of [`Compression`].
///
/// # Errors
///
/// As [`write_glb`].
pub fn write_glb_with(
    mesh: &Mesh,
    schema: &Schema,
    table: &PropertyTable,
    compression: Compression,
) -> Result<Vec<u8>> {
    check_mesh(mesh, table.count)?;
    schema.validate()?;
    table.check(schema)?;
    writer::write(mesh, schema, table, compression)
}

/// Converts an 8-bit sRGB channel to an 8-bit linear one (IEC 61966-2-1 transfer function), rounded
/// to nearest.
pub fn srgb_to_linear(c: u8) -> u8 {
    let s = f64::from(c) / 255.0;
    let linear = if s <= 0.04045 {
        s / 12.92
    } else {
        ((s + 0.055) / 1.055).powf(2.4)
    };
    // In 0..=255 by construction of the transfer function on [0, 1].
    (linear * 255.0).round().clamp(0.0, 255.0) as u8
}

/// Checks the mesh contract of [`Mesh`] so that the glTF we write passes glTF-Validator.
fn check_mesh(mesh: &Mesh, feature_count: usize) -> Result<()> {
    let n = mesh.positions.len();
    if n == 0 || mesh.indices.is_empty() {
        return Err(Error::BadInput(format!(
            "the mesh is empty ({n} vertices, {} indices); write no content for a tile without geometry",
            mesh.indices.len()
        )));
    }
    // u32::MAX is the primitive-restart value of UNSIGNED_INT indices, which glTF forbids.
    if n >= u32::MAX as usize {
        return Err(Error::BadInput(format!(
            "the mesh has {n} vertices; at most 2^32 - 2 fit one primitive"
        )));
    }
    for (what, len) in [
        ("normals", mesh.normals.len()),
        ("colors", mesh.colors.len()),
        ("feature ids", mesh.feature_ids.len()),
    ] {
        if len != n {
            return Err(Error::BadInput(format!(
                "the mesh has {n} positions but {len} {what}; give one per vertex"
            )));
        }
    }
    if !mesh.indices.len().is_multiple_of(3) {
        return Err(Error::BadInput(format!(
            "the mesh has {} indices, not a multiple of 3; indices are a triangle list",
            mesh.indices.len()
        )));
    }
    if let Some((i, v)) = mesh
        .indices
        .iter()
        .enumerate()
        .find(|(_, v)| **v as usize >= n)
    {
        return Err(Error::BadInput(format!(
            "index {i} is {v}, but the mesh has only {n} vertices"
        )));
    }
    let bad_position = mesh
        .positions
        .iter()
        .enumerate()
        .find(|(_, p)| p.iter().any(|c| !c.is_finite()));
    if let Some((v, p)) = bad_position {
        return Err(Error::BadInput(format!(
            "vertex {v} has a non-finite position {p:?}"
        )));
    }
    let bad_normal = mesh.normals.iter().enumerate().find(|(_, q)| {
        let len = q.iter().map(|c| c * c).sum::<f32>().sqrt();
        !len.is_finite() || (len - 1.0).abs() > NORMAL_LENGTH_TOLERANCE
    });
    if let Some((v, q)) = bad_normal {
        return Err(Error::BadInput(format!(
            "vertex {v} has normal {q:?}, which is not unit length; normalise normals (a degenerate triangle has none: drop it)"
        )));
    }
    if feature_count > MAX_FEATURES {
        return Err(Error::BadInput(format!(
            "the property table has {feature_count} rows; FLOAT feature ids are exact only below 2^24, so split the tile"
        )));
    }
    let bad_id = mesh
        .feature_ids
        .iter()
        .enumerate()
        .find(|(_, id)| **id as usize >= feature_count);
    if let Some((v, id)) = bad_id {
        return Err(Error::BadInput(format!(
            "vertex {v} has feature id {id}, but the property table has only {feature_count} rows"
        )));
    }
    Ok(())
}
