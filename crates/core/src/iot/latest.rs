//! The newest reading of every Datastream, read once when a server starts serving a collection; from
//! then on the server keeps it current in memory as readings arrive (issue 7: "latest observation per
//! Datastream" must be fast).

use std::collections::{HashMap, HashSet};

use deltalake::arrow::array::{Array, AsArray};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};
use deltalake::datafusion::prelude::SessionContext;
use futures::TryStreamExt;

use super::write::ObservationVersions;
use super::{IotNames, Observation};
use crate::{At, Error, Result, Store};

/// What [`Store::newest_observations`] found.
#[derive(Debug, Clone, Default)]
pub struct Newest {
    /// The versions read.
    pub versions: ObservationVersions,
    /// The newest reading of each Datastream that has one, by Datastream id.
    pub readings: Vec<Observation>,
    /// The Datastreams with more than one reading (a page of one reading then has a next page).
    pub several: HashSet<i64>,
}

impl Store {
    /// The newest reading of each Datastream over both observations datasets of the collection, and the
    /// versions it was read at.
    pub async fn newest_observations(&self, names: &IotNames) -> Result<Newest> {
        let mut versions = ObservationVersions::default();
        let mut several = HashSet::new();
        let mut newest: HashMap<i64, Observation> = Default::default();
        for (name, version) in [
            (&names.observations, &mut versions.observations),
            (&names.restricted_observations, &mut versions.restricted),
        ] {
            if !self.exists(name).await {
                continue;
            }
            let table = self.table(name, At::Latest).await?;
            *version = table.version();
            let ctx = SessionContext::new();
            ctx.register_table("o", table.table_provider().await?)?;
            // DISTINCT ON keeps the first row of each datastream in the ORDER BY: its newest reading.
            let mut stream = ctx
                .sql(
                    "SELECT DISTINCT ON (datastream_id) datastream_id, phenomenon_time, result_time, \
                     result, result_quality FROM o ORDER BY datastream_id, phenomenon_time DESC",
                )
                .await?
                .execute_stream()
                .await?;
            while let Some(b) = stream.try_next().await? {
                // Parquet text may come back as Utf8View.
                let q = cast(b.column(4), &DataType::Utf8)?;
                let (Some(d), Some(t), Some(rt), Some(r), Some(q)) = (
                    b.column(0).as_primitive_opt::<Int64Type>(),
                    b.column(1).as_primitive_opt::<TimestampMicrosecondType>(),
                    b.column(2).as_primitive_opt::<TimestampMicrosecondType>(),
                    b.column(3).as_primitive_opt::<Float64Type>(),
                    q.as_string_opt::<i32>(),
                ) else {
                    return Err(Error::Internal(format!(
                        "dataset '{name}' does not have the observations layout (a bug if tvilling wrote it)"
                    )));
                };
                for i in 0..b.num_rows() {
                    let o = Observation {
                        datastream: d.value(i),
                        phenomenon_time: micros(t.value(i)),
                        result_time: (!rt.is_null(i)).then(|| micros(rt.value(i))),
                        result: r.value(i),
                        result_quality: (!q.is_null(i)).then(|| q.value(i).to_string()),
                    };
                    // A Datastream made personal later has readings in both datasets.
                    match newest.get(&o.datastream) {
                        Some(old) => {
                            several.insert(o.datastream);
                            if old.phenomenon_time < o.phenomenon_time {
                                newest.insert(o.datastream, o);
                            }
                        }
                        None => {
                            newest.insert(o.datastream, o);
                        }
                    }
                }
            }
            let counted = ctx
                .sql("SELECT datastream_id FROM o GROUP BY datastream_id HAVING count(*) > 1")
                .await?
                .collect()
                .await?;
            for b in counted {
                if let Some(d) = b.column(0).as_primitive_opt::<Int64Type>() {
                    several.extend(d.values().iter().copied());
                }
            }
        }
        let mut readings: Vec<Observation> = newest.into_values().collect();
        readings.sort_by_key(|o| o.datastream);
        Ok(Newest {
            versions,
            readings,
            several,
        })
    }

    /// The results of the newest `per_stream` readings of each Datastream in the collection's open
    /// observations dataset, oldest first, by Datastream id: what a replay of the recorded series sends
    /// (`tvilling serve --replay-sensors`). Protected readings are not read.
    pub async fn recent_results(
        &self,
        names: &IotNames,
        per_stream: usize,
    ) -> Result<HashMap<i64, Vec<f64>>> {
        let mut out: HashMap<i64, Vec<f64>> = HashMap::new();
        if !self.exists(&names.observations).await {
            return Ok(out);
        }
        let table = self.table(&names.observations, At::Latest).await?;
        let ctx = SessionContext::new();
        ctx.register_table("o", table.table_provider().await?)?;
        let batches = ctx
            .sql(&format!(
                "SELECT datastream_id, result FROM (SELECT datastream_id, phenomenon_time, result, \
                 row_number() OVER (PARTITION BY datastream_id ORDER BY phenomenon_time DESC) AS n FROM o) \
                 WHERE n <= {per_stream} ORDER BY datastream_id, phenomenon_time"
            ))
            .await?
            .collect()
            .await?;
        for b in batches {
            let (Some(d), Some(r)) = (
                b.column(0).as_primitive_opt::<Int64Type>(),
                b.column(1).as_primitive_opt::<Float64Type>(),
            ) else {
                return Err(Error::Internal(format!(
                    "dataset '{}' does not have the observations layout (a bug if tvilling wrote it)",
                    names.observations
                )));
            };
            for (d, r) in d.values().iter().zip(r.values()) {
                out.entry(*d).or_default().push(*r);
            }
        }
        Ok(out)
    }
}

fn micros(v: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(v).unwrap_or_default()
}
