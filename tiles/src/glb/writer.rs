//! Assembles the glTF document with gltf-json's typed [`Root`] and packs it into the glb container
//! (glTF 2.0 §4.4: 12-byte header, JSON chunk padded with spaces, BIN chunk padded with zeros, both to
//! 4 bytes).
//!
//! gltf-json's structs are built with literals (most have no `Default`); their `name` fields exist only
//! with its `names` feature, which tvilling does not enable, so no object carries a name.
//!
//! The input has passed [`super::check_mesh`], [`Schema::validate`] and [`PropertyTable::check`].

use std::collections::BTreeMap;

use gltf_json::accessor::{ComponentType, GenericComponentType, Type};
use gltf_json::buffer::{Target, View};
use gltf_json::material::{PbrBaseColorFactor, PbrMetallicRoughness, StrengthFactor};
use gltf_json::mesh::{Mode, Primitive, Semantic};
use gltf_json::validation::{Checked, USize64};
use gltf_json::{Accessor, Asset, Buffer, Index, Material, Node, Root, Scene};
use serde_json::{Value, json};

use super::{
    Compression, EXT_MESH_FEATURES, EXT_MESHOPT_COMPRESSION, EXT_STRUCTURAL_METADATA, Mesh,
    property_table, srgb_to_linear,
};
use crate::metadata::{PropertyTable, Schema};
use crate::{Error, Result};

/// `generator` in the asset object. Deliberately without a version, so that a release that does not
/// change the encoding does not change every tile's bytes (and hash).
const GENERATOR: &str = "tvilling";
/// Every bufferView starts at a multiple of this: `EXT_structural_metadata` asks for 8-byte aligned
/// binary table data (INT64/FLOAT64 columns), and 8 also meets glTF's 4-byte rule for vertex data.
const VIEW_ALIGNMENT: usize = 8;
/// Roughness of the one material: matte, like most façades and roofs.
const ROUGHNESS: f32 = 0.9;
/// glb header magic `glTF`, version 2, and the chunk types `JSON` and `BIN\0` (glTF 2.0 §4.4).
const GLB_MAGIC: u32 = 0x4654_6C67;
const GLB_VERSION: u32 = 2;
const CHUNK_JSON: u32 = 0x4E4F_534A;
const CHUNK_BIN: u32 = 0x004E_4942;

/// The one binary buffer being filled, with the bufferViews into it.
#[derive(Debug, Default)]
pub(crate) struct BinBuilder {
    data: Vec<u8>,
    views: Vec<View>,
    /// `Some(bytes so far)` when vertex and index data are meshopt-compressed: the length of the
    /// uncompressed fallback buffer (buffer 1) that their bufferViews describe.
    fallback: Option<usize>,
}

impl BinBuilder {
    /// Appends a vertex attribute stream of `N`-byte elements: as it is, or meshopt-compressed
    /// (`EXT_meshopt_compression` mode `ATTRIBUTES`, bitstream version 0 as the extension requires).
    pub(crate) fn push_attribute<const N: usize>(&mut self, bytes: &[u8]) -> Result<Index<View>> {
        if self.fallback.is_none() {
            return self.push_view(bytes, Some(Target::ArrayBuffer));
        }
        // The codec works on elements of N bytes; little-endian bytes in, the same bytes out.
        let elements: Vec<[u8; N]> = bytes
            .chunks_exact(N)
            .map(|c| c.try_into().unwrap_or([0; N]))
            .collect();
        let encoded = meshopt::encoding::encode_vertex_buffer_level(&elements, 2, Some(0))
            .map_err(|e| Error::Internal(format!("meshopt vertex encoding: {e}")))?;
        self.push_compressed(
            &encoded,
            bytes.len(),
            N,
            elements.len(),
            "ATTRIBUTES",
            Target::ArrayBuffer,
        )
    }

    /// Appends a triangle index buffer of `stride`-byte indices (`raw` as written uncompressed):
    /// as it is, or meshopt-compressed (mode `TRIANGLES`).
    fn push_indices(
        &mut self,
        raw: &[u8],
        indices: &[u32],
        vertices: usize,
        stride: usize,
    ) -> Result<Index<View>> {
        if self.fallback.is_none() {
            return self.push_view(raw, Some(Target::ElementArrayBuffer));
        }
        let encoded = meshopt::encoding::encode_index_buffer(indices, vertices)
            .map_err(|e| Error::Internal(format!("meshopt index encoding: {e}")))?;
        self.push_compressed(
            &encoded,
            raw.len(),
            stride,
            indices.len(),
            "TRIANGLES",
            Target::ElementArrayBuffer,
        )
    }

    /// A bufferView into the fallback buffer whose `EXT_meshopt_compression` extension points at the
    /// compressed bytes in the glb's own buffer.
    fn push_compressed(
        &mut self,
        encoded: &[u8],
        raw_len: usize,
        stride: usize,
        count: usize,
        mode: &str,
        target: Target,
    ) -> Result<Index<View>> {
        let fallback_offset = self.fallback.unwrap_or(0).next_multiple_of(VIEW_ALIGNMENT);
        self.fallback = Some(fallback_offset + raw_len);
        pad(&mut self.data, VIEW_ALIGNMENT, 0);
        let index = u32::try_from(self.views.len())
            .map_err(|_| Error::Internal("more than 2^32 bufferViews in one glb".into()))?;
        let mut extensions = gltf_json::extensions::buffer::View::default();
        extensions.others.insert(
            EXT_MESHOPT_COMPRESSION.into(),
            json!({
                "buffer": 0,
                "byteOffset": self.data.len(),
                "byteLength": encoded.len(),
                "byteStride": stride,
                "count": count,
                "mode": mode,
            }),
        );
        self.views.push(View {
            buffer: Index::new(1),
            byte_length: USize64::from(raw_len),
            byte_offset: Some(USize64::from(fallback_offset)),
            // Vertex streams are tightly packed; the stride is stated for the decoder in the extension.
            byte_stride: None,
            target: Some(Checked::Valid(target)),
            extensions: Some(extensions),
            extras: Default::default(),
        });
        self.data.extend_from_slice(encoded);
        Ok(Index::new(index))
    }

    /// A builder whose vertex data is meshopt-compressed when `compression` says so.
    pub(crate) fn new(compression: Compression) -> BinBuilder {
        BinBuilder {
            fallback: (compression == Compression::Meshopt).then_some(0),
            ..Default::default()
        }
    }

    /// Declares the byte stride of a vertex bufferView whose elements are padded to a multiple of 4
    /// bytes (glTF 2.0 §3.6.2.4: vertex attribute elements start on 4-byte boundaries).
    pub(crate) fn set_stride(&mut self, view: Index<View>, stride: usize) {
        if let Some(v) = self.views.get_mut(view.value()) {
            v.byte_stride = Some(gltf_json::buffer::Stride(stride));
        }
    }

    /// Finishes the buffers: declares buffer 0 (and the meshopt fallback buffer with the extension,
    /// required) in `root` and returns the BIN chunk.
    pub(crate) fn finish(mut self, root: &mut Root) -> Vec<u8> {
        pad(&mut self.data, 4, 0);
        root.buffers.push(Buffer {
            byte_length: USize64::from(self.data.len()),
            uri: None,
            extensions: None,
            extras: Default::default(),
        });
        if let Some(fallback) = self.fallback {
            let mut extensions = gltf_json::extensions::buffer::Buffer::default();
            extensions
                .others
                .insert(EXT_MESHOPT_COMPRESSION.into(), json!({ "fallback": true }));
            root.buffers.push(Buffer {
                byte_length: USize64::from(fallback.next_multiple_of(4)),
                uri: None,
                extensions: Some(extensions),
                extras: Default::default(),
            });
            root.extensions_used.push(EXT_MESHOPT_COMPRESSION.into());
            root.extensions_required
                .push(EXT_MESHOPT_COMPRESSION.into());
        }
        root.buffer_views = std::mem::take(&mut self.views);
        self.data
    }

    /// Appends `bytes` as a new bufferView starting on an 8-byte boundary and returns its index.
    pub(super) fn push_view(
        &mut self,
        bytes: &[u8],
        target: Option<Target>,
    ) -> Result<Index<View>> {
        pad(&mut self.data, VIEW_ALIGNMENT, 0);
        let index = u32::try_from(self.views.len())
            .map_err(|_| Error::Internal("more than 2^32 bufferViews in one glb".into()))?;
        self.views.push(View {
            buffer: Index::new(0),
            byte_length: USize64::from(bytes.len()),
            byte_offset: Some(USize64::from(self.data.len())),
            byte_stride: None,
            target: target.map(Checked::Valid),
            extensions: None,
            extras: Default::default(),
        });
        self.data.extend_from_slice(bytes);
        Ok(Index::new(index))
    }
}

/// Pads `bytes` with `fill` to a multiple of `alignment`.
fn pad(bytes: &mut Vec<u8>, alignment: usize, fill: u8) {
    bytes.resize(bytes.len().next_multiple_of(alignment), fill);
}

/// An accessor over a whole bufferView.
pub(crate) fn accessor(
    view: Index<View>,
    count: usize,
    component: ComponentType,
    ty: Type,
    normalized: bool,
) -> Accessor {
    Accessor {
        buffer_view: Some(view),
        byte_offset: None,
        count: USize64::from(count),
        component_type: Checked::Valid(GenericComponentType(component)),
        extensions: None,
        extras: Default::default(),
        type_: Checked::Valid(ty),
        min: None,
        max: None,
        normalized,
        sparse: None,
    }
}

/// Index of the `i`th element pushed to a glTF array.
pub(crate) fn index<T>(i: usize) -> Result<Index<T>> {
    u32::try_from(i)
        .map(Index::new)
        .map_err(|_| Error::Internal(format!("glTF index {i} does not fit u32")))
}

/// Component-wise minimum and maximum of the positions, exactly as stored (glTF-Validator compares
/// them with the data bit for bit).
fn bounds(positions: &[[f32; 3]]) -> ([f32; 3], [f32; 3]) {
    let mut min = [f32::INFINITY; 3];
    let mut max = [f32::NEG_INFINITY; 3];
    for p in positions {
        for ((lo, hi), c) in min.iter_mut().zip(max.iter_mut()).zip(p) {
            *lo = lo.min(*c);
            *hi = hi.max(*c);
        }
    }
    (min, max)
}

/// Writes the glb; see the module docs of [`super`] for the layout.
pub(super) fn write(
    mesh: &Mesh,
    schema: &Schema,
    table: &PropertyTable,
    compression: Compression,
) -> Result<Vec<u8>> {
    let n = mesh.positions.len();
    let mut bin = BinBuilder::new(compression);
    let mut root = Root {
        asset: Asset {
            generator: Some(GENERATOR.into()),
            version: "2.0".into(),
            ..Default::default()
        },
        ..Default::default()
    };

    // Vertex attributes, one tightly packed bufferView each (no byteStride needed).
    let view = bin.push_attribute::<12>(&flatten_f32(&mesh.positions))?;
    let (min, max) = bounds(&mesh.positions);
    let mut positions = accessor(view, n, ComponentType::F32, Type::Vec3, false);
    positions.min = Some(json!(min));
    positions.max = Some(json!(max));
    root.accessors.push(positions);

    let view = bin.push_attribute::<12>(&flatten_f32(&mesh.normals))?;
    root.accessors
        .push(accessor(view, n, ComponentType::F32, Type::Vec3, false));

    // glTF COLOR_n is linear (§3.7.2.1); alpha has no transfer function.
    let colors: Vec<u8> = mesh
        .colors
        .iter()
        .flat_map(|[r, g, b, a]| {
            [
                srgb_to_linear(*r),
                srgb_to_linear(*g),
                srgb_to_linear(*b),
                *a,
            ]
        })
        .collect();
    let view = bin.push_attribute::<4>(&colors)?;
    root.accessors
        .push(accessor(view, n, ComponentType::U8, Type::Vec4, true));

    // Feature ids as FLOAT: exact below 2^24 (write_glb checks the count), and 4-byte aligned.
    let ids: Vec<u8> = mesh
        .feature_ids
        .iter()
        .flat_map(|id| (*id as f32).to_le_bytes())
        .collect();
    let view = bin.push_attribute::<4>(&ids)?;
    root.accessors
        .push(accessor(view, n, ComponentType::F32, Type::Scalar, false));

    // Indices: UNSIGNED_SHORT while every index (at most n - 1) stays below the restart value 65535.
    let (bytes, component) = if n <= usize::from(u16::MAX) {
        let mut bytes = Vec::with_capacity(mesh.indices.len() * 2);
        for i in &mesh.indices {
            let i = u16::try_from(*i)
                .map_err(|_| Error::Internal(format!("index {i} checked < {n} but not u16")))?;
            bytes.extend_from_slice(&i.to_le_bytes());
        }
        (bytes, ComponentType::U16)
    } else {
        (
            mesh.indices.iter().flat_map(|i| i.to_le_bytes()).collect(),
            ComponentType::U32,
        )
    };
    let stride = if component == ComponentType::U16 {
        2
    } else {
        4
    };
    let view = bin.push_indices(&bytes, &mesh.indices, n, stride)?;
    root.accessors.push(accessor(
        view,
        mesh.indices.len(),
        component,
        Type::Scalar,
        false,
    ));

    let property_table = property_table::encode(schema, table, &mut bin)?;

    root.materials.push(Material {
        pbr_metallic_roughness: PbrMetallicRoughness {
            base_color_factor: PbrBaseColorFactor([1.0, 1.0, 1.0, 1.0]),
            metallic_factor: StrengthFactor(0.0),
            roughness_factor: StrengthFactor(ROUGHNESS),
            ..Default::default()
        },
        // Real city models contain faces with flipped winding; culling would punch holes in them.
        double_sided: true,
        // Translucent vertex colours (BIM windows and spaces) only show as such when blended.
        alpha_mode: Checked::Valid(if mesh.colors.iter().any(|c| c[3] < 255) {
            gltf_json::material::AlphaMode::Blend
        } else {
            gltf_json::material::AlphaMode::Opaque
        }),
        ..Default::default()
    });

    let mut attributes = BTreeMap::new();
    attributes.insert(Checked::Valid(Semantic::Positions), index(0)?);
    attributes.insert(Checked::Valid(Semantic::Normals), index(1)?);
    attributes.insert(Checked::Valid(Semantic::Colors(0)), index(2)?);
    let mut primitive_extensions = gltf_json::extensions::mesh::Primitive::default();
    primitive_extensions.others.insert(
        EXT_MESH_FEATURES.into(),
        // featureCount: distinct feature ids = rows of the table; attribute 0 = _FEATURE_ID_0.
        json!({ "featureIds": [{ "featureCount": table.count, "attribute": 0, "propertyTable": 0 }] }),
    );
    root.meshes.push(gltf_json::Mesh {
        extensions: None,
        extras: Default::default(),
        primitives: vec![Primitive {
            attributes,
            extensions: Some(primitive_extensions),
            extras: Default::default(),
            indices: Some(index(4)?),
            material: Some(index(0)?),
            mode: Checked::Valid(Mode::Triangles),
            targets: None,
        }],
        weights: None,
    });
    root.nodes.push(Node {
        mesh: Some(index(0)?),
        ..Default::default()
    });
    root.scenes.push(Scene {
        extensions: None,
        extras: Default::default(),
        nodes: vec![index(0)?],
    });
    root.scene = Some(index(0)?);

    let mut root_extensions = gltf_json::extensions::root::Root::default();
    root_extensions.others.insert(
        EXT_STRUCTURAL_METADATA.into(),
        json!({ "schema": schema.to_json(), "propertyTables": [property_table] }),
    );
    root.extensions = Some(root_extensions);
    // Optional, not required: without the extensions a viewer still draws the geometry.
    root.extensions_used = vec![EXT_MESH_FEATURES.into(), EXT_STRUCTURAL_METADATA.into()];

    // The uncompressed data exists only as a declared, empty fallback when meshopt is on: a viewer
    // must decode, so the extension is then required (EXT_meshopt_compression §"Fallback buffers").
    let data = bin.finish(&mut root);

    let mut json = serde_json::to_value(&root)
        .map_err(|e| Error::Internal(format!("cannot serialise the glTF document: {e}")))?;
    // gltf-json types attribute names as `Semantic`, whose application-specific variant (`_NAME`)
    // exists only with its `extras` feature, which would also change every object's `extras` type for
    // the whole workspace. So `_FEATURE_ID_0` (EXT_mesh_features' attribute naming) goes in here.
    json.pointer_mut("/meshes/0/primitives/0/attributes")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| Error::Internal("serialised glTF has no primitive attributes".into()))?
        .insert("_FEATURE_ID_0".into(), json!(3));
    let json = serde_json::to_vec(&json)
        .map_err(|e| Error::Internal(format!("cannot serialise the glTF document: {e}")))?;
    container(json, data)
}

/// Little-endian bytes of `f32` vectors.
fn flatten_f32(v: &[[f32; 3]]) -> Vec<u8> {
    v.iter().flatten().flat_map(|c| c.to_le_bytes()).collect()
}

/// Packs the JSON and BIN chunks into a glb (glTF 2.0 §4.4).
pub(crate) fn container(mut json: Vec<u8>, mut bin: Vec<u8>) -> Result<Vec<u8>> {
    pad(&mut json, 4, b' ');
    pad(&mut bin, 4, 0);
    let total = 12 + 8 + json.len() + 8 + bin.len();
    let too_big = |_| {
        Error::BadInput(format!(
            "the glb would be {total} bytes; glb holds at most 4 GiB, so split the tile"
        ))
    };
    let total32 = u32::try_from(total).map_err(too_big)?;
    let json_len = u32::try_from(json.len()).map_err(too_big)?;
    let bin_len = u32::try_from(bin.len()).map_err(too_big)?;
    let mut out = Vec::with_capacity(total);
    for word in [GLB_MAGIC, GLB_VERSION, total32, json_len, CHUNK_JSON] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&json);
    for word in [bin_len, CHUNK_BIN] {
        out.extend_from_slice(&word.to_le_bytes());
    }
    out.extend_from_slice(&bin);
    Ok(out)
}
