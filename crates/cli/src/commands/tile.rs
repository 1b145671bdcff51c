//! `tvilling tile`.

use std::process::ExitCode;
use std::sync::Arc;

use tvilling_core::Store;
use tvilling_tiles::glb::Compression;
use tvilling_tiles::{Height, TileOptions, tile};

use crate::args::{OutputFormat, TileArgs};
use crate::config::Config;
use crate::output;
use crate::progress::CliProgress;

pub async fn run(store: &Store, config: &Config, a: TileArgs) -> anyhow::Result<ExitCode> {
    let name = super::dataset_name(&a.name)?;
    let height = match (&a.height_attr, a.height_from_z) {
        (Some(col), _) => Height::Attribute(col.clone()),
        (None, true) => Height::FromZ,
        (None, false) => Height::Geometry,
    };
    let opts = TileOptions {
        height,
        out: a.out.clone(),
        compression: if a.meshopt {
            Compression::Meshopt
        } else {
            Compression::None
        },
    };
    let progress = Arc::new(CliProgress::new(config.log_format));
    let r = tile(store, &name, super::at(&a.at)?, &opts, progress).await?;
    match a.format {
        OutputFormat::Json => output::json(&r)?,
        OutputFormat::Table => {
            output::line(&format!(
                "{}: version {} tiled: {} features in {} tiles ({} rebuilt, {} unchanged), depth {}",
                r.dataset, r.version, r.features, r.tiles, r.built, r.unchanged, r.depth
            ))?;
            if r.skipped_features > 0 || r.skipped_surfaces > 0 {
                output::line(&format!(
                    "left out: {} features without a usable geometry or height, {} degenerate surfaces",
                    r.skipped_features, r.skipped_surfaces
                ))?;
            }
            output::line(&format!("heights: {}", r.heights))?;
            output::line(&format!(
                "centre: {:.5} E, {:.5} N; tileset: {}",
                r.centre[0],
                r.centre[1],
                r.tileset.display()
            ))?;
            if let Some(out) = &r.out {
                output::line(&format!("exported: {}", out.display()))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
