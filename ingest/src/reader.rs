//! The reader extension point: one implementation per family of source formats.

use std::path::Path;

use tvilling_core::arrow::datatypes::SchemaRef;
use tvilling_core::arrow::record_batch::RecordBatch;
use tvilling_core::crs::Crs;
use tvilling_core::progress::Progress;
use tvilling_core::{Kind, QualityReport};

use crate::Result;

/// How to read a source; every field is optional and the reader's defaults follow the source.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Only this layer (sources with several layers yield all of them otherwise).
    pub layer: Option<String>,
    /// The CRS of the coordinates when the source declares none (or declares a wrong one).
    pub crs: Option<Crs>,
    /// Reproject to this CRS (horizontal; heights keep their datum).
    pub to_crs: Option<Crs>,
    /// Attribute whose values become the stable feature `id`.
    pub id_column: Option<String>,
    /// Repair invalid geometries (GEOS MakeValid) instead of only reporting them.
    pub make_valid: bool,
}

/// One layer read from a source, ready to commit.
#[derive(Debug)]
pub struct ReadOutput {
    /// The layer name, for sources with layers.
    pub layer: Option<String>,
    /// The dataset schema (see `tvilling_core::schema`).
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
    /// The CRS of the stored coordinates.
    pub crs: Crs,
    /// The geometry type name for the dataset properties.
    pub geometry_type: Option<String>,
    /// What the reader found.
    pub quality: QualityReport,
    /// What the source says about itself, for provenance.
    pub source_metadata: serde_json::Value,
}

/// A family of source formats.
///
/// # Contract
/// `accepts` is cheap (extension, magic bytes) and may say yes to files `read` later rejects with a clear
/// error. `read` never panics on bad input: it returns [`crate::Error::BadInput`] naming the file and the
/// fix, or, for problems with single features, records them in the quality report and carries on.
///
/// # Examples
///
/// A reader for a made-up format, registered by adding it to [`readers`]:
///
/// ```
/// use std::path::Path;
/// use tvilling_core::{Kind, progress::Progress};
/// use tvilling_ingest::{ReadOptions, ReadOutput, Result, SourceReader};
///
/// struct Nothing;
/// impl SourceReader for Nothing {
///     fn name(&self) -> &'static str { "nothing" }
///     fn kind(&self) -> Kind { Kind::Vector }
///     fn accepts(&self, path: &Path) -> bool { path.extension().is_some_and(|e| e == "nothing") }
///     fn read(&self, _: &Path, _: &ReadOptions, _: &dyn Progress) -> Result<Vec<ReadOutput>> { Ok(vec![]) }
/// }
/// assert!(Nothing.accepts(Path::new("x.nothing")));
/// ```
pub trait SourceReader: Send + Sync {
    /// A short name for logs and messages.
    fn name(&self) -> &'static str;
    /// The kind of dataset it produces.
    fn kind(&self) -> Kind;
    /// Whether this reader should try `path`.
    fn accepts(&self, path: &Path) -> bool;
    /// Reads every selected layer of `path`.
    fn read(
        &self,
        path: &Path,
        opts: &ReadOptions,
        progress: &dyn Progress,
    ) -> Result<Vec<ReadOutput>>;
}

/// Every reader, most specific first; the GDAL vector reader comes last because it tries anything (GDAL
/// would read a CityGML file as plain GML and lose its solids and semantics).
pub fn readers() -> Vec<Box<dyn SourceReader>> {
    vec![
        Box::new(crate::citymodel::CityModelReader),
        Box::new(crate::vector::VectorReader),
    ]
}
