//! Vector sources through GDAL/OGR: every vector format the system GDAL reads (GeoPackage, Shapefile,
//! GeoJSON, FlatGeobuf, GML, SQLite/SpatiaLite, CSV with WKT, …), all layers or one, 2D and 3D.

pub(crate) mod checks;
pub(crate) mod crs;
pub(crate) mod fields;
mod ogr_ffi;
mod reader;

pub use ogr_ffi::field_value;
pub use reader::VectorReader;
