//! `tvilling-web` will be the axum server: 3D Tiles, OGC API Features, the SQL endpoint, SensorThings and
//! the Cesium viewer, with access control by classification (issue 8).
//!
//! It holds no domain logic of its own: it serves what `tvilling-query` and `tvilling-tiles` produce. Until
//! that issue lands it exposes nothing but this description.
#![warn(missing_docs)]
#![forbid(unsafe_code)]
