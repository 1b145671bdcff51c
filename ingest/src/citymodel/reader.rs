//! The `citymodel` [`SourceReader`](crate::SourceReader) (being written).

/// Reads CityJSON and CityGML.
#[derive(Debug, Clone, Copy, Default)]
pub struct CityModelReader;
