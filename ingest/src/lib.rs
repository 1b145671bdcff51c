//! `tvilling-ingest` is the boundary between tvilling's store and outside files: readers turn sources into
//! store batches with a quality report, and exporters write datasets back out as open formats.
//!
//! Entry points:
//! - [`ingest`]: read a source with the first [`SourceReader`] in [`readers`] that accepts it, then commit
//!   every layer it yields to the store. Readers of sources larger than memory (point clouds) hand out
//!   [`Batches::Streamed`], which the store writes as they come.
//! - [`export::export`]: write a dataset version as GeoParquet 1.1, GeoJSON, GeoPackage or FlatGeobuf.
//!
//! A new input format is a new folder (`mod.rs`, `reader.rs`, `error.rs`) implementing [`SourceReader`],
//! registered in [`readers`]. This crate does no tiling and serves nothing.
#![warn(missing_docs)]
// One audited exception to "no unsafe code": vector/ogr_ffi.rs (see its module doc).
#![deny(unsafe_code)]

pub mod bim;
pub mod citymodel;
mod error;
pub mod export;
mod footprint;
mod gdal_errors;
pub mod iot;
mod pipeline;
pub mod pointcloud;
mod reader;
pub mod source;
pub mod vector;

pub use error::{Error, Result};
pub use pipeline::{IngestOptions, IngestReport, ingest};
pub use reader::{Batches, ReadOptions, ReadOutput, SourceReader, readers};
