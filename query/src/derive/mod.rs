//! New datasets computed from datasets already in the store (issue 5, "LiDAR-derived LOD1 buildings").
//!
//! - [`heights`]: per building footprint, ground and roof heights from the classified laser points inside
//!   and around it, 3dfier-style ([`heights::derive_heights`]).
//! - `matching`: footprints in an R-tree and the per-footprint point lists the point stream fills.
//! - [`stats`]: the percentile and quality rules those heights follow, kept apart so they are tested on
//!   their own.
//!
//! Why this lives in `tvilling-query` and not in `tvilling-ingest`: a derivation reads no source file. It
//! reads two store datasets through DataFusion (the point scan is pruned by the `bbox_*` columns, exactly
//! as a SQL filter is) and matches points to polygons with the same `geo` and `rstar` the spatial join
//! uses. Ingest's job is turning source files into store batches; query's is reading the store and
//! answering questions about it. The one write goes through [`tvilling_core::Store::commit`], the store's
//! only write path, so the derived dataset gets a version, provenance and a quality report like any
//! ingest.

pub mod heights;
mod matching;
pub mod stats;

pub use heights::{HeightsOptions, HeightsReport, derive_heights};
