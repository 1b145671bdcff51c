//! `tvilling info`.

use std::process::ExitCode;

use tvilling_core::Store;

use crate::args::{InfoArgs, OutputFormat};
use crate::output;

pub async fn run(store: &Store, a: InfoArgs) -> anyhow::Result<ExitCode> {
    let name = super::dataset_name(&a.name)?;
    let info = store.info(&name, super::at(&a.at)?).await?;
    if a.format == OutputFormat::Json {
        output::json(&info)?;
        return Ok(ExitCode::SUCCESS);
    }
    let extent = info
        .extent
        .map(|e| format!("{:.3} {:.3} – {:.3} {:.3}", e[0], e[1], e[2], e[3]));
    let z = info.z_range.map(|z| format!("{:.3} – {:.3}", z[0], z[1]));
    let mut rows = vec![
        vec!["name".into(), info.name.clone()],
        vec!["kind".into(), info.kind.clone()],
        vec!["version".into(), info.version.to_string()],
        vec!["committed".into(), output::opt(&info.committed)],
        vec!["rows".into(), info.rows.to_string()],
        vec![
            "crs".into(),
            format!(
                "{}{}",
                info.crs,
                info.vertical_crs
                    .as_ref()
                    .map(|v| format!(" + {v}"))
                    .unwrap_or_default()
            ),
        ],
        vec!["geometry".into(), output::opt(&info.geometry_type)],
        vec!["extent".into(), output::opt(&extent)],
        vec!["height range".into(), output::opt(&z)],
        vec!["classification".into(), info.classification.to_string()],
        vec!["owner".into(), output::opt(&info.owner)],
        vec!["licence".into(), output::opt(&info.licence)],
        vec!["source".into(), output::opt(&info.source)],
        vec![
            "files".into(),
            format!("{} ({} bytes)", info.files, info.bytes),
        ],
    ];
    if let Some(q) = &info.last_quality {
        rows.push(vec![
            "quality".into(),
            format!(
                "{} read, {} rejected, {} null / {} empty geometries, {} invalid, {} duplicate ids (ids: {}), within CRS area: {}",
                q.completeness.features_read,
                q.completeness.rejected,
                q.completeness.null_geometries,
                q.completeness.empty_geometries,
                q.logical_consistency.invalid_geometries,
                q.logical_consistency.duplicate_ids,
                q.logical_consistency.id_source,
                output::opt(&q.positional.within_crs_area_of_use)
            ),
        ]);
        for n in &q.positional.notes {
            rows.push(vec!["note".into(), n.clone()]);
        }
    }
    output::table(&["", ""], rows)?;
    let cols = info
        .columns
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.data_type.clone(),
                if c.nullable { "yes" } else { "no" }.into(),
            ]
        })
        .collect();
    output::table(&["column", "type", "nullable"], cols)?;
    Ok(ExitCode::SUCCESS)
}
