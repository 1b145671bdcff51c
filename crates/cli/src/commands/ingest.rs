//! `tvilling ingest`.

use std::process::ExitCode;
use std::sync::Arc;

use tvilling_core::crs::Crs;
use tvilling_core::{CommitOutcome, Mode, Store};
use tvilling_ingest::{IngestOptions, ReadOptions};

use crate::args::{IngestArgs, ModeArg, OutputFormat};
use crate::config::Config;
use crate::output;
use crate::progress::CliProgress;

pub async fn run(store: &Store, config: &Config, a: IngestArgs) -> anyhow::Result<ExitCode> {
    let parse_crs = |s: &Option<String>| -> anyhow::Result<Option<Crs>> {
        Ok(s.as_deref().map(str::parse).transpose()?)
    };
    let classification = a
        .classification
        .as_ref()
        .or(config.ingest.classification.as_ref())
        .map(|c| c.parse())
        .transpose()?;
    let opts = IngestOptions {
        dataset: super::dataset_name(&a.dataset)?,
        read: ReadOptions {
            layer: a.layer.clone(),
            crs: parse_crs(&a.crs)?,
            to_crs: parse_crs(&a.to_crs)?,
            id_column: a.id_column.clone(),
            make_valid: a.make_valid,
            place: a
                .place
                .as_deref()
                .map(str::parse::<tvilling_ingest::bim::Place>)
                .transpose()
                .map_err(|e| anyhow::anyhow!(e))?,
        },
        mode: match a.mode {
            ModeArg::Append => Mode::Append,
            ModeArg::Overwrite => Mode::Overwrite,
            ModeArg::Upsert => Mode::Upsert,
        },
        key: a.key.clone(),
        // Only an explicit --classification changes an existing dataset; config defaults apply to new ones.
        classification,
        owner: a.owner.clone().or_else(|| config.ingest.owner.clone()),
        licence: a.licence.clone().or_else(|| config.ingest.licence.clone()),
    };
    let progress = Arc::new(CliProgress::new(config.log_format));
    let reports = tvilling_ingest::ingest(store, &a.source, &opts, progress).await?;
    let rejected: u64 = reports.iter().map(|r| r.rejected()).sum();
    match a.format {
        OutputFormat::Json => output::json(&reports)?,
        OutputFormat::Table => {
            for r in &reports {
                let q = &r.quality;
                let what = match r.outcome {
                    CommitOutcome::Committed { version, rows } => {
                        format!("committed version {version}: {rows} rows")
                    }
                    CommitOutcome::Unchanged {
                        version,
                        ingested_in,
                    } => format!(
                        "unchanged at version {version}: this source was already ingested the same way in version {ingested_in}"
                    ),
                };
                let mut notes = vec![];
                if q.completeness.rejected > 0 {
                    notes.push(format!("{} rejected", q.completeness.rejected));
                }
                if q.logical_consistency.invalid_geometries > 0 {
                    notes.push(format!(
                        "{} invalid geometries kept",
                        q.logical_consistency.invalid_geometries
                    ));
                }
                if q.logical_consistency.duplicate_ids > 0 {
                    notes.push(format!(
                        "{} duplicate ids",
                        q.logical_consistency.duplicate_ids
                    ));
                }
                if q.positional.within_crs_area_of_use == Some(false) {
                    notes.push("extent outside the CRS area of use".into());
                }
                let notes = if notes.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", notes.join(", "))
                };
                output::line(&format!(
                    "{}: {what} in {}{notes}",
                    r.dataset, q.positional.crs
                ))?;
            }
        }
    }
    if rejected > 0 {
        tracing::warn!(
            rejected,
            "some features were rejected; `tvilling info --format json` shows them with reasons"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
