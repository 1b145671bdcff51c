//! `tvilling classify`.

use std::process::ExitCode;

use tvilling_core::{Classification, Store};

use crate::args::ClassifyArgs;
use crate::output;

pub async fn run(store: &Store, a: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let name = super::dataset_name(&a.name)?;
    let to: Classification = a.classification.parse()?;
    let version = store.set_classification(&name, to).await?;
    output::line(&format!("{name}: classification {to} (version {version})"))?;
    Ok(ExitCode::SUCCESS)
}
