//! BIM models (kind `bim`): IFC2X3, IFC4 and IFC4X3 STEP files, one row per product with a body
//! (walls, slabs, windows, doors, spaces, roofs, …), georeferenced. See `docs/bim.md`.
//!
//! The pipeline, one module per step: [`step`] indexes the file and parses entities on demand; [`units`]
//! and [`placement`] give metres and world frames; [`profile`], [`solid`], [`clip`] and [`shape`] turn a
//! product's body representation into outward-facing polygons; [`props`] resolves storeys, types,
//! materials, property and quantity sets; [`model`] collects the products; [`georef`] places the model on
//! the globe (`--place`, `IfcMapConversion`, `IfcSite`); [`rows`] writes the store layout.

pub mod clip;
pub mod error;
pub mod georef;
pub mod math;
pub mod model;
pub mod names;
pub mod placement;
pub mod profile;
pub mod props;
mod reader;
pub mod rows;
pub mod shape;
pub mod solid;
pub mod step;
pub mod units;

pub use georef::Place;
pub use reader::BimReader;
