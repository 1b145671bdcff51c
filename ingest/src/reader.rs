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
    /// Where a BIM model stands (`--place`): beats the file's own georeference.
    pub place: Option<crate::bim::Place>,
}

/// The rows of one layer.
pub enum Batches {
    /// Every row in memory; the store writes them in spatial order.
    InMemory(Vec<RecordBatch>),
    /// Rows made one batch at a time, for sources larger than memory (point clouds). The pipeline pulls
    /// the iterator on a blocking thread while the store writes what it has pulled, so memory holds a few
    /// batches. The batches must already be in spatial order: the store writes them as they come.
    Streamed {
        /// How many rows the iterator yields (known before the first batch: it goes into provenance).
        rows: u64,
        /// The batches; an error fails the commit with the store untouched.
        batches: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
    },
}

impl Batches {
    /// The number of rows.
    pub fn rows(&self) -> u64 {
        match self {
            Batches::InMemory(b) => b.iter().map(|b| b.num_rows() as u64).sum(),
            Batches::Streamed { rows, .. } => *rows,
        }
    }
}

impl From<Vec<RecordBatch>> for Batches {
    fn from(b: Vec<RecordBatch>) -> Self {
        Batches::InMemory(b)
    }
}

impl std::fmt::Debug for Batches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Batches::InMemory(b) => write!(f, "Batches::InMemory({} batches)", b.len()),
            Batches::Streamed { rows, .. } => write!(f, "Batches::Streamed({rows} rows)"),
        }
    }
}

/// One layer read from a source, ready to commit.
#[derive(Debug)]
pub struct ReadOutput {
    /// The layer name, for sources with layers.
    pub layer: Option<String>,
    /// The dataset schema (see `tvilling_core::schema`).
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Batches,
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
/// would read a CityGML file as plain GML and lose its solids and semantics, and reads no LAS at all).
pub fn readers() -> Vec<Box<dyn SourceReader>> {
    vec![
        // LAS/LAZ/COPC by extension and the LASF signature; nothing else claims these files.
        Box::new(crate::pointcloud::PointCloudReader::default()),
        Box::new(crate::citymodel::CityModelReader),
        // SMHI and sensor.community series, recognised by their header lines: GDAL would read them as
        // plain CSV tables without times, units or stations.
        Box::new(crate::iot::IotReader),
        // IFC STEP files by extension (GDAL reads none of them).
        Box::new(crate::bim::BimReader),
        Box::new(crate::vector::VectorReader),
    ]
}
