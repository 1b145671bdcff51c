//! `tvilling-core` is the common layer of tvilling: the dataset model, the versioned store, CRS handling,
//! geometry encoding and the errors every other crate shares.
//!
//! Entry types:
//! - [`Store`]: a store root holding one Delta Lake table per dataset; open, list, commit, time travel.
//! - [`DatasetName`], [`Kind`], [`Classification`], [`DatasetProperties`]: what a dataset is.
//! - [`Provenance`] and [`QualityReport`]: what every commit records (ISO 19157 headings).
//! - [`crs::Crs`] and [`crs::Transformer`]: the one home of CRS parsing and transforms (PROJ).
//! - [`wkb`]: ISO WKB normalisation, coordinate mapping and bounding boxes.
//! - [`iot`]: the IoT store model after OGC SensorThings (Datastreams with geometry, append-only readings).
//!
//! It reads no source formats (that is `tvilling-ingest`), runs no SQL engine of its own and serves nothing.
//!
//! # Examples
//!
//! ```
//! use tvilling_core::{Classification, DatasetName};
//! let name: DatasetName = "byggnader".parse().unwrap();
//! assert_eq!(name.as_str(), "byggnader");
//! assert_eq!("restricted".parse::<Classification>().unwrap(), Classification::Restricted);
//! assert!("Bad Name!".parse::<DatasetName>().is_err());
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod crs;
mod dataset;
mod error;
pub mod iot;
pub mod progress;
pub mod provenance;
pub mod schema;
pub mod store;
pub mod surfaces;
pub mod wkb;

pub use dataset::{Classification, DatasetName, DatasetProperties, Kind};
pub use error::{Error, Result};
pub use provenance::{Provenance, QualityReport};
pub use store::{At, CommitOutcome, Mode, Store};

/// Re-exported so that every tvilling crate and user tracks the same Arrow version as the store.
pub use deltalake::arrow;
/// Re-exported so that the query crate uses exactly the DataFusion the store was built with.
pub use deltalake::datafusion;

/// The tool version recorded in every commit's provenance.
pub const TOOL_VERSION: &str = concat!("tvilling ", env!("CARGO_PKG_VERSION"));
