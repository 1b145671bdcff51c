//! CityJSON reader (being written).
use std::path::Path;

use tvilling_core::progress::Progress;

use super::model::CityModel;
use crate::{Error, Result};

/// Reads a CityJSON 1.1/2.0 file or a CityJSONSeq (`.jsonl`) file.
pub fn read_cityjson(path: &Path, _progress: &dyn Progress) -> Result<CityModel> {
    Err(Error::BadInput(format!("{}: CityJSON reading is not built yet", path.display())))
}
