//! `tvilling-tiles` builds OGC 3D Tiles 1.1 from store data: glb content with `EXT_mesh_features` feature
//! ids and `EXT_structural_metadata` property tables holding every attribute, local east-north-up frames
//! with an ECEF root transform and geoid-corrected heights, a quadtree with LOD1 parents, and
//! incremental re-tiling through content hashing.
//!
//! Entry points: [`tile`] (a dataset version → the store's tile cache and an optional export folder)
//! and [`check::check_tileset`] (an independent checker of any 3D Tiles 1.1 tileset).
//!
//! ```text
//! store rows ─▶ features (hash, centre) ─▶ tree (quadtree on a fixed grid)
//!            ─▶ per tile: PROJ → ECEF → ENU, triangulate (mesh), glb (glb + metadata) ─▶ tileset.json
//! ```
//!
//! Datasets of kind `pointcloud` become point tilesets instead (glb `POINTS`, an octree with grid
//! subsampling and ADD refinement; see `points/mod.rs`).
//!
//! It reads no source files and serves no HTTP.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod bim_colours;
mod build;
pub mod check;
mod error;
pub mod frame;
pub mod glb;
pub mod mesh;
pub mod metadata;
mod output;
mod points;
pub mod properties;
mod storeys;
mod tileset;
pub mod tree;

pub use build::{Height, PARENT_FEATURES, TileOptions, TileReport, tile};
pub use error::{Error, Result};

/// Written into every tileset's `asset.generator`.
pub const GENERATOR: &str = concat!("tvilling ", env!("CARGO_PKG_VERSION"));
