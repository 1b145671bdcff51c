//! `tvilling-query` will hold the DataFusion session over the store: every dataset registered as a table,
//! PostGIS-named `ST_` functions, the R-tree spatial join and time travel in SQL (issue 3).
//!
//! It reads the store through `tvilling-core` and never reads source files or serves HTTP. Until that
//! issue lands it exposes nothing but this description.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
