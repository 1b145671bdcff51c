//! Exporting a dataset version to open formats: GeoParquet 1.1 (the archive format) through Arrow/Parquet,
//! and GeoJSON, GeoPackage and FlatGeobuf through GDAL. Every export writes `<file>.sha256` beside the file
//! in `sha256sum` format, so archives can be verified with standard tools.

mod geoparquet;
pub use geoparquet::projjson;
mod ogr;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use tvilling_core::{At, DatasetName, Store};

use crate::{Error, Result};

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// GeoParquet 1.1 with a bbox covering column.
    GeoParquet,
    /// GeoJSON (with the dataset CRS named, as GDAL writes it).
    GeoJson,
    /// OGC GeoPackage.
    Gpkg,
    /// FlatGeobuf.
    Fgb,
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "geoparquet" | "parquet" => Ok(Format::GeoParquet),
            "geojson" | "json" => Ok(Format::GeoJson),
            "gpkg" | "geopackage" => Ok(Format::Gpkg),
            "fgb" | "flatgeobuf" => Ok(Format::Fgb),
            _ => Err(Error::BadInput(format!(
                "'{s}' is not an export format: use geoparquet, geojson, gpkg or fgb"
            ))),
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportReport {
    /// The file written.
    pub path: PathBuf,
    /// Its SHA-256.
    pub sha256: String,
    /// The checksum file.
    pub sha256_file: PathBuf,
    /// Rows written.
    pub rows: u64,
    /// The dataset version exported.
    pub version: u64,
    /// The format.
    pub format: Format,
}

/// Writes a dataset version to `out` in `format`, then its checksum file.
pub async fn export(
    store: &Store,
    name: &DatasetName,
    at: At,
    format: Format,
    out: &Path,
) -> Result<ExportReport> {
    let info = store.info(name, at).await?;
    let at = At::Version(info.version);
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    // Write to a temporary name and rename, so a failed export never leaves a plausible-looking file. The
    // temporary name keeps the extension: GDAL's FlatGeobuf driver makes a folder of layers otherwise.
    let stem = out
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let ext = out
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let tmp = out.with_file_name(format!(".{stem}.partial-{}{ext}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let result = match format {
        Format::GeoParquet => geoparquet::write(store, name, at, &info, &tmp).await,
        _ => ogr::write(store, name, at, &info, format, &tmp).await,
    };
    let rows = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, out).map_err(|e| Error::io(out, e))?;
    let (sha256, _) = crate::source::sha256_of(&[out.to_path_buf()])?;
    let sha256_path = PathBuf::from(format!("{}.sha256", out.display()));
    let file_name = out
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    std::fs::write(&sha256_path, format!("{sha256}  {file_name}\n"))
        .map_err(|e| Error::io(&sha256_path, e))?;
    Ok(ExportReport {
        path: out.to_path_buf(),
        sha256,
        sha256_file: sha256_path,
        rows,
        version: info.version,
        format,
    })
}
