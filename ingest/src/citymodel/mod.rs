//! 3D city models (kind `citymodel`): CityJSON 1.1/2.0 and CityJSONSeq, CityGML 1.0/2.0/3.0 (with the
//! Swedish 3CIM ADE attributes), one row per building or building part.
//!
//! Both readers produce the same [`model::CityModel`]; [`rows`] turns it into the store layout (see the
//! module doc there for the columns).

mod citygml;
mod cityjson;
pub mod model;
mod reader;
mod rows;
mod validate;

pub use reader::CityModelReader;
