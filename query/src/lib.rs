//! `tvilling-query`: SQL over the store for GIS analysts.
//!
//! A [`Session`] is a DataFusion 55 session in which every dataset is a table (`id`, `bbox_*`, `geometry`
//! as ISO WKB labelled with the dataset CRS, then the attributes), `table_at('dataset', 3)` reads an older
//! version, PostGIS-named `ST_` functions work as in PostGIS (geodatafusion's, plus tvilling's own in
//! [`functions`]), and joins on spatial predicates run as R-tree index joins ([`join`]). Statements are
//! read-only. [`derive`] computes new datasets from stored ones (LOD1 heights from footprints and laser
//! points) and commits them through the store.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = tvilling_core::Store::open("twin")?;
//! let session = tvilling_query::Session::open(&store, Default::default()).await?;
//! let batches = session
//!     .sql("SELECT count(*) FROM byggnader b JOIN vagar v ON ST_DWithin(b.geometry, v.geometry, 50)")
//!     .await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod derive;
pub mod error;
pub mod functions;
pub mod geom;
pub mod join;
pub mod knn;
pub mod nearest;
pub mod output;
pub mod session;
pub mod shape;
pub mod table;
pub mod table_at;
pub mod text;
pub mod three_d;

pub use error::{Error, Result};
pub use session::{QueryOptions, QueryOutput, Session};
