//! CityGML reader (being written).
use std::path::Path;

use tvilling_core::progress::Progress;

use super::model::CityModel;
use crate::{Error, Result};

/// Reads a CityGML 1.0/2.0/3.0 file.
pub fn read_citygml(path: &Path, _progress: &dyn Progress) -> Result<CityModel> {
    Err(Error::BadInput(format!("{}: CityGML reading is not built yet", path.display())))
}
