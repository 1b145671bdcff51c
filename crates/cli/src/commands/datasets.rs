//! `tvilling datasets`.

use std::process::ExitCode;

use tvilling_core::{At, Store};

use crate::args::{DatasetsArgs, OutputFormat};
use crate::output;

pub async fn run(store: &Store, a: DatasetsArgs) -> anyhow::Result<ExitCode> {
    let mut infos = vec![];
    for name in store.datasets().await? {
        infos.push(store.info(&name, At::Latest).await?);
    }
    match a.format {
        OutputFormat::Json => {
            let list: Vec<_> = infos
                .iter()
                .map(|i| {
                    serde_json::json!({
                        "name": i.name, "kind": i.kind, "version": i.version, "rows": i.rows, "crs": i.crs,
                        "classification": i.classification, "geometry_type": i.geometry_type, "extent": i.extent,
                    })
                })
                .collect();
            output::json(&list)?;
        }
        OutputFormat::Table => {
            let rows = infos
                .iter()
                .map(|i| {
                    vec![
                        i.name.clone(),
                        i.kind.clone(),
                        i.version.to_string(),
                        i.rows.to_string(),
                        i.crs.clone(),
                        output::opt(&i.geometry_type),
                        i.classification.to_string(),
                    ]
                })
                .collect();
            output::table(
                &[
                    "dataset",
                    "kind",
                    "version",
                    "rows",
                    "crs",
                    "geometry",
                    "classification",
                ],
                rows,
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
