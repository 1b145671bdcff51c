//! `tvilling iot rollup`: roll-ups and retention of a sensor collection (`Store::rollup`).

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::bail;
use tvilling_core::iot::{IotNames, IotWrite, Level, Retention};
use tvilling_core::store::{hostname, whoami};
use tvilling_core::{Provenance, QualityReport, Store, TOOL_VERSION};

use crate::args::{IotCommand, IotRollupArgs, OutputFormat};
use crate::config::Config;
use crate::output;

pub async fn run(store: &Store, config: &Config, c: IotCommand) -> anyhow::Result<ExitCode> {
    match c {
        IotCommand::Rollup(a) => rollup(store, config, a).await,
    }
}

async fn rollup(store: &Store, config: &Config, a: IotRollupArgs) -> anyhow::Result<ExitCode> {
    let base = a
        .collection
        .unwrap_or_else(|| config.server.iot.collection.clone());
    let names = IotNames::new(&super::dataset_name(&base)?);
    if !store.exists(&names.observations).await {
        bail!(
            "collection '{base}' has no readings ({} does not exist); ingest some first \
             (tvilling ingest FILE --dataset {base}) or name another with --collection",
            names.observations
        );
    }
    let r = &config.iot.retention;
    // Datastreams are named by id or by key in the config; both resolve to ids here.
    let streams = store.load_datastreams(&names).await?;
    let mut datastreams = BTreeMap::new();
    for (k, days) in &r.datastreams {
        let id = streams
            .iter()
            .filter_map(|d| Some((d.id?, d)))
            .find(|(id, d)| id.to_string() == *k || d.spec.key == *k)
            .map(|(id, _)| id);
        match id {
            Some(id) => {
                datastreams.insert(id, *days);
            }
            None => bail!(
                "config iot.retention.datastreams names '{k}', which is neither the @iot.id nor the key of \
                 a Datastream of '{base}'; see SELECT datastream_id, datastream_key FROM {}",
                names.datastreams
            ),
        }
    }
    let retention = Retention {
        raw_days: a.raw_days.or(r.raw_days),
        datastreams,
        rollup_days: [
            (Level::Minute, r.minute_days),
            (Level::Hour, r.hour_days),
            (Level::Day, r.day_days),
        ]
        .into_iter()
        .filter_map(|(l, d)| Some((l, d?)))
        .collect(),
    };
    let now = chrono::Utc::now();
    let how = IotWrite {
        provenance: Provenance {
            source_uri: format!("tvilling-iot-rollup:{}", names.observations),
            sha256: String::new(),
            bytes: 0,
            layer: None,
            tool: TOOL_VERSION.to_string(),
            user: whoami(),
            host: hostname(),
            started: now,
            mode: "upsert".into(),
            rows_read: 0,
            rows_written: 0,
            rows_rejected: 0,
            options: BTreeMap::from([(
                "retention".to_string(),
                serde_json::to_string(&retention)?,
            )]),
            source_metadata: serde_json::json!({ "collection": base }),
        },
        quality: QualityReport::default(),
        classification: None,
        owner: None,
        licence: None,
    };
    let outcomes = store.rollup(&names, &retention, now, &how).await?;
    match a.format {
        OutputFormat::Json => output::json(&outcomes)?,
        _ => {
            let mut rows: Vec<Vec<String>> = vec![];
            for (source, outcome) in &outcomes {
                let restricted = *source == names.restricted_observations.as_str();
                for (l, o) in &outcome.levels {
                    rows.push(vec![
                        l.dataset(&names, restricted).to_string(),
                        o.buckets.to_string(),
                        o.written.to_string(),
                        o.deleted.to_string(),
                    ]);
                }
                rows.push(vec![
                    source.clone(),
                    String::new(),
                    String::new(),
                    outcome.raw_deleted.to_string(),
                ]);
            }
            output::table(&["dataset", "buckets", "written", "deleted"], rows)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
