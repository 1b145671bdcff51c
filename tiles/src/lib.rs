//! `tvilling-tiles` will build OGC 3D Tiles 1.1 from store data: glb content with `EXT_mesh_features` and
//! `EXT_structural_metadata`, ENU frames with ECEF root transforms, incremental re-tiling (issue 4).
//!
//! It reads no source files and serves no HTTP. Until that issue lands it exposes nothing but this
//! description.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
