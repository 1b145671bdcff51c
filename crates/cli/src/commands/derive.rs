//! `tvilling derive`: datasets computed from stored datasets. The work is in
//! `tvilling_query::derive`; this module maps flags to options and prints the summary.

use std::process::ExitCode;

use tvilling_core::CommitOutcome;
use tvilling_query::derive::heights::{HeightsOptions, derive_heights};

use crate::args::{DeriveCommand, DeriveHeightsArgs, OutputFormat, VersionArgs};
use crate::config::Config;
use crate::output;
use crate::progress::CliProgress;

pub async fn run(
    store: &tvilling_core::Store,
    config: &Config,
    cmd: DeriveCommand,
) -> anyhow::Result<ExitCode> {
    match cmd {
        DeriveCommand::Heights(a) => heights(store, config, a).await,
    }
}

async fn heights(
    store: &tvilling_core::Store,
    config: &Config,
    a: DeriveHeightsArgs,
) -> anyhow::Result<ExitCode> {
    let at = |version: Option<u64>, as_of: &Option<String>| {
        super::at(&VersionArgs {
            version,
            as_of: as_of.clone(),
        })
    };
    let opts = HeightsOptions {
        footprints: super::dataset_name(&a.footprints)?,
        footprints_at: at(a.footprints_version, &a.footprints_as_of)?,
        points: super::dataset_name(&a.points)?,
        points_at: at(a.points_version, &a.points_as_of)?,
        out: super::dataset_name(&a.dataset)?,
        ground_buffer: a.ground_buffer,
        classification: a.classification.as_deref().map(str::parse).transpose()?,
    };
    let progress = CliProgress::new(config.log_format);
    let r = derive_heights(store, &opts, &progress).await?;
    match a.format {
        OutputFormat::Json => output::json(&r.to_json())?,
        OutputFormat::Table => {
            let what = match r.outcome {
                CommitOutcome::Committed { version, rows } => {
                    format!("committed version {version}: {rows} buildings")
                }
                CommitOutcome::Unchanged {
                    version,
                    ingested_in,
                } => format!(
                    "unchanged at version {version}: these input versions were already derived the same way in version {ingested_in}"
                ),
            };
            output::line(&format!(
                "{}: {what} from {}@{} (footprints, {}) and {}@{} (points, {}{})",
                r.dataset,
                r.footprints.dataset,
                r.footprints.version,
                r.footprints.crs,
                r.points.dataset,
                r.points.version,
                r.points.crs,
                r.vertical_crs
                    .as_deref()
                    .map(|v| format!(" + {v}"))
                    .unwrap_or_default()
            ))?;
            output::line(&format!(
                "points: {} scanned, {} inside footprints; roof points: {}",
                r.points_scanned,
                r.points_in_footprints,
                r.roof_classes.describe()
            ))?;
            let q: Vec<String> = r.quality.iter().map(|(k, v)| format!("{k} {v}")).collect();
            output::line(&format!("quality: {}", q.join(", ")))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
