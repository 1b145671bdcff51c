//! Committing what the IoT reader read: Datastreams found or created by natural key, then the readings
//! appended without duplicates (see `tvilling_core::iot`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use tvilling_core::arrow::array::Array;
use tvilling_core::arrow::array::AsArray;
use tvilling_core::arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use tvilling_core::iot::{IotNames, IotWrite, Observation, datastreams_from_batch, protected_ids};
use tvilling_core::store::whoami;
use tvilling_core::{CommitOutcome, Mode, Provenance, QualityReport, Store, TOOL_VERSION};

use crate::pipeline::{IngestOptions, IngestReport};
use crate::reader::{Batches, ReadOutput};
use crate::source::SourceId;
use crate::{Error, Result};

fn batches(out: ReadOutput) -> Result<Vec<tvilling_core::arrow::record_batch::RecordBatch>> {
    match out.batches {
        Batches::InMemory(b) => Ok(b),
        Batches::Streamed { batches, .. } => batches.collect(),
    }
}

/// Commits the `datastreams` and `observations` layers of one IoT source into `<dataset>_datastreams` and
/// `<dataset>_observations`.
pub(crate) async fn commit(
    store: &Store,
    opts: &IngestOptions,
    id: &SourceId,
    started: DateTime<Utc>,
    reader: &str,
    outputs: Vec<ReadOutput>,
) -> Result<Vec<IngestReport>> {
    if opts.mode != Mode::Append {
        return Err(Error::BadInput(format!(
            "IoT series are appended (a reading already stored is left out); --mode {} does not apply. \
             Drop --mode, or ingest into a new --dataset",
            opts.mode.as_str()
        )));
    }
    let names = IotNames::new(&opts.dataset);
    let mut specs_out = None;
    let mut obs_out = None;
    for o in outputs {
        match o.layer.as_deref() {
            Some("datastreams") => specs_out = Some(o),
            Some("observations") => obs_out = Some(o),
            _ => {}
        }
    }
    let (Some(specs_out), Some(obs_out)) = (specs_out, obs_out) else {
        return Err(Error::Internal(
            "the IoT reader did not yield datastreams and observations (a bug)".into(),
        ));
    };
    let quality = obs_out.quality.clone();
    let metadata = obs_out.source_metadata.clone();
    let mut specs = vec![];
    for b in batches(specs_out)? {
        specs.extend(datastreams_from_batch(&b)?.into_iter().map(|d| d.spec));
    }
    let provenance = Provenance {
        source_uri: id.uri.clone(),
        sha256: id.sha256.clone(),
        bytes: id.bytes,
        layer: None,
        tool: TOOL_VERSION.to_string(),
        user: whoami(),
        host: tvilling_core::store::hostname(),
        started,
        mode: Mode::Append.as_str().into(),
        rows_read: quality.completeness.features_read,
        rows_written: 0,
        rows_rejected: quality.completeness.rejected,
        options: BTreeMap::from([("reader".to_string(), reader.to_string())]),
        source_metadata: metadata,
    };
    let how = IotWrite {
        provenance,
        quality: QualityReport::default(),
        classification: opts.classification,
        owner: opts.owner.clone(),
        licence: opts.licence.clone(),
    };
    let (_, ids) = store.ensure_datastreams(&names, &[], &specs, &how).await?;
    let mut obs = vec![];
    for b in batches(obs_out)? {
        let (Some(ds), Some(t), Some(r)) = (
            b.column_by_name("datastream_id")
                .and_then(|c| c.as_primitive_opt::<Int64Type>()),
            b.column_by_name("phenomenon_time")
                .and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>()),
            b.column_by_name("result")
                .and_then(|c| c.as_primitive_opt::<Float64Type>()),
        ) else {
            return Err(Error::Internal(
                "the IoT reader's observations layer has another layout (a bug)".into(),
            ));
        };
        let q = b
            .column_by_name("result_quality")
            .and_then(|c| c.as_string_opt::<i32>());
        for i in 0..b.num_rows() {
            let Some(id) = usize::try_from(ds.value(i)).ok().and_then(|k| ids.get(k)) else {
                return Err(Error::Internal(
                    "a reading names no datastream of its file (a bug)".into(),
                ));
            };
            obs.push(Observation {
                datastream: *id,
                phenomenon_time: DateTime::from_timestamp_micros(t.value(i)).unwrap_or_default(),
                result_time: None,
                result: r.value(i),
                result_quality: q.filter(|q| !q.is_null(i)).map(|q| q.value(i).to_string()),
            });
        }
    }
    let how = IotWrite {
        quality: quality.clone(),
        ..how
    };
    // A Datastream made personal (or its Thing restricted) through the server keeps its readings in the
    // restricted dataset when a file feeds it too.
    let class = store.properties(&names.datastreams).await?.classification;
    let protected = protected_ids(&store.load_datastreams(&names).await?, class);
    let outcome = store
        .append_observations(&names, obs, &how, &protected)
        .await?;
    let mut quality = quality;
    quality
        .content
        .insert("datastream_ids".into(), serde_json::json!(ids));
    quality.content.insert(
        "duplicates_left_out".into(),
        serde_json::json!(outcome.duplicates),
    );
    let version = outcome.version.unwrap_or(0);
    Ok(vec![IngestReport {
        dataset: names.observations.to_string(),
        layer: None,
        outcome: if outcome.written == 0 {
            CommitOutcome::Unchanged {
                version,
                ingested_in: version,
            }
        } else {
            CommitOutcome::Committed {
                version,
                rows: outcome.written,
            }
        },
        quality,
    }])
}
