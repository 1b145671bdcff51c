//! `tvilling export`.

use std::process::ExitCode;

use tvilling_core::Store;
use tvilling_ingest::export::{Format, export};

use crate::args::ExportArgs;
use crate::output;

pub async fn run(store: &Store, a: ExportArgs) -> anyhow::Result<ExitCode> {
    let name = super::dataset_name(&a.name)?;
    let format: Format = a.format.parse()?;
    let r = export(store, &name, super::at(&a.at)?, format, &a.out).await?;
    output::line(&format!(
        "{}: wrote {} rows of version {} to {} (sha256 {}, checksum in {})",
        name,
        r.rows,
        r.version,
        r.path.display(),
        r.sha256,
        r.sha256_file.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}
