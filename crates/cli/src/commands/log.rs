//! `tvilling log`.

use std::process::ExitCode;

use tvilling_core::Store;

use crate::args::{LogArgs, OutputFormat};
use crate::output;

pub async fn run(store: &Store, a: LogArgs) -> anyhow::Result<ExitCode> {
    let name = super::dataset_name(&a.name)?;
    let versions = store.log(&name).await?;
    if a.format == OutputFormat::Json {
        output::json(&versions)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows = versions
        .iter()
        .map(|v| {
            let p = v.provenance.as_ref();
            vec![
                v.version.to_string(),
                output::opt(
                    &v.timestamp
                        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()),
                ),
                v.operation.clone(),
                p.map(|p| p.mode.clone()).unwrap_or_default(),
                p.map(|p| p.rows_written.to_string()).unwrap_or_default(),
                p.map(|p| {
                    p.source_uri
                        .rsplit('/')
                        .next()
                        .unwrap_or_default()
                        .to_string()
                })
                .unwrap_or_else(|| v.note.as_ref().map(|n| n.to_string()).unwrap_or_default()),
                p.map(|p| p.sha256.chars().take(12).collect())
                    .unwrap_or_default(),
                p.map(|p| p.user.clone()).unwrap_or_default(),
            ]
        })
        .collect();
    output::table(
        &[
            "version",
            "time (UTC)",
            "operation",
            "mode",
            "rows",
            "source",
            "sha256",
            "user",
        ],
        rows,
    )?;
    Ok(ExitCode::SUCCESS)
}
