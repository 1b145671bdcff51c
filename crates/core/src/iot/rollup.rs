//! Retention (gallring) and roll-ups of an IoT collection: minute, hour and day aggregates (count, min,
//! max, mean, sum) per Datastream, kept longer than the raw readings.
//!
//! [`Store::rollup`] is restartable and exact:
//! 1. Under the observations lock, every bucket that still has raw readings is recomputed from all of
//!    them and compared with the stored roll-up row; only new or changed rows are written (an upsert by
//!    `id` = `<datastream>/<bucket start µs>`). Running it again changes nothing and commits nothing.
//! 2. Then raw readings older than their Datastream's `raw_days` are deleted, with the cut-off rounded
//!    down to a UTC midnight. Buckets are at most a day long and UTC-aligned, so a bucket has either all
//!    its raw readings or none: a recomputed bucket is always complete, and a bucket whose readings are
//!    gone keeps the roll-up written while they were there.
//! 3. Roll-up rows older than their level's retention are deleted, and never recomputed (step 1 skips
//!    buckets before the level's cut-off).
//!
//! A crash between the steps leaves a state the next run completes: roll-ups are committed before the raw
//! readings they summarise are deleted.
//!
//! The sums are folded in (datastream, time) order in Rust rather than by a parallel SQL aggregate: the
//! order of floating-point additions must not depend on file layout or thread timing, or a rerun would
//! see last-bit differences and rewrite rows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use deltalake::arrow::array::{
    Array, AsArray, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use deltalake::arrow::datatypes::{
    DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
};
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::datafusion::logical_expr::Expr;
use deltalake::datafusion::prelude::{SessionConfig, SessionContext, col, lit};
use deltalake::datafusion::scalar::ScalarValue;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::IotNames;
use super::write::IotWrite;
use crate::store::{Rows, WriteRequest};
use crate::{At, Classification, DatasetName, DatasetProperties, Error, Kind, Mode, Result, Store};

/// A roll-up level: the bucket width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// One-minute buckets.
    Minute,
    /// One-hour buckets.
    Hour,
    /// One-day buckets (UTC days).
    Day,
}

impl Level {
    /// All levels, finest first.
    pub const ALL: [Level; 3] = [Level::Minute, Level::Hour, Level::Day];

    /// The level's name, as in the dataset name `<collection>_rollup_<name>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Minute => "minute",
            Level::Hour => "hour",
            Level::Day => "day",
        }
    }

    fn micros(self) -> i64 {
        match self {
            Level::Minute => 60_000_000,
            Level::Hour => 3_600_000_000,
            Level::Day => 86_400_000_000,
        }
    }

    /// The roll-up dataset of collection `names`: `<base>_rollup_<level>`, or for the restricted
    /// readings `<base>_restricted_rollup_<level>` (classified like them: a personal meter's hourly
    /// values are as personal as its readings).
    pub fn dataset(self, names: &IotNames, restricted: bool) -> DatasetName {
        let part = if restricted { "_restricted" } else { "" };
        DatasetName::sanitize(&format!("{}{part}_rollup_{}", names.base, self.as_str()))
    }
}

/// How long raw readings and roll-ups are kept, in days (`None`: forever).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Retention {
    /// Raw readings, for Datastreams without an entry in `datastreams`.
    pub raw_days: Option<u32>,
    /// Raw readings per Datastream id (e.g. 7 days for apartment meters); overrides `raw_days`.
    pub datastreams: BTreeMap<i64, u32>,
    /// Roll-up rows per level; a level without an entry is kept forever.
    pub rollup_days: BTreeMap<Level, u32>,
}

/// What one level of [`Store::rollup`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LevelOutcome {
    /// Buckets recomputed from raw readings.
    pub buckets: u64,
    /// Rows new or changed, written.
    pub written: u64,
    /// Rows deleted by the level's retention.
    pub deleted: u64,
}

/// What [`Store::rollup`] did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RollupOutcome {
    /// Per level.
    pub levels: BTreeMap<Level, LevelOutcome>,
    /// Raw readings deleted by retention.
    pub raw_deleted: u64,
}

/// The layout of a roll-up dataset.
pub fn rollup_schema() -> SchemaRef {
    let time = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("datastream_id", DataType::Int64, false),
        Field::new("bucket_start", time, false),
        Field::new("count", DataType::Int64, false),
        Field::new("min", DataType::Float64, false),
        Field::new("max", DataType::Float64, false),
        Field::new("mean", DataType::Float64, false),
        Field::new("sum", DataType::Float64, false),
    ]))
}

/// One bucket's aggregate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Agg {
    count: i64,
    min: f64,
    max: f64,
    sum: f64,
}

impl Agg {
    fn new(v: f64) -> Agg {
        Agg {
            count: 1,
            min: v,
            max: v,
            sum: v,
        }
    }

    fn add(&mut self, v: f64) {
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum += v;
    }
}

type Buckets = BTreeMap<(i64, i64), Agg>;

fn ts(micros: i64) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(micros),
        Some("UTC".into()),
    ))
}

/// UTC midnight `days` before `now`.
fn cutoff(now: DateTime<Utc>, days: u32) -> i64 {
    let t = now - Duration::days(i64::from(days));
    t.duration_trunc(Duration::days(1))
        .unwrap_or(t)
        .timestamp_micros()
}

fn request(name: &DatasetName, how: &IotWrite, mode: Mode, rows: u64) -> WriteRequest {
    let mut provenance = how.provenance.clone();
    provenance.mode = mode.as_str().into();
    provenance.rows_written = rows;
    WriteRequest {
        name: name.clone(),
        properties: DatasetProperties {
            kind: Kind::Iot,
            crs: super::DATASTREAMS_CRS.into(),
            vertical_crs: None,
            classification: how.classification.unwrap_or(Classification::Internal),
            owner: how.owner.clone(),
            licence: how.licence.clone(),
            source: Some(how.provenance.source_uri.clone()),
            geometry_type: None,
        },
        set_classification: how.classification.is_some(),
        mode,
        provenance,
        quality: how.quality.clone(),
    }
}

impl Store {
    /// Rolls up, then applies `retention` (see the module doc), for the observations and the restricted
    /// observations of the collection; the outcomes are keyed by those datasets' names (a dataset that
    /// does not exist is left out). `now` decides the cut-offs. `how` gives the commits' provenance;
    /// roll-up datasets take their source's classification, owner and licence when `how` sets none.
    pub async fn rollup(
        &self,
        names: &IotNames,
        retention: &Retention,
        now: DateTime<Utc>,
        how: &IotWrite,
    ) -> Result<BTreeMap<String, RollupOutcome>> {
        let mut out = BTreeMap::new();
        for (source, restricted) in [
            (&names.observations, false),
            (&names.restricted_observations, true),
        ] {
            if self.exists(source).await {
                let o = self
                    .rollup_table(names, restricted, retention, now, how)
                    .await?;
                out.insert(source.to_string(), o);
            }
        }
        Ok(out)
    }

    async fn rollup_table(
        &self,
        names: &IotNames,
        restricted: bool,
        retention: &Retention,
        now: DateTime<Utc>,
        how: &IotWrite,
    ) -> Result<RollupOutcome> {
        let mut out = RollupOutcome::default();
        let source = if restricted {
            &names.restricted_observations
        } else {
            &names.observations
        };
        let _lock = self.lock(source)?;
        let props = self.properties(source).await?;
        let mut how = how.clone();
        how.classification = if restricted {
            Some(props.classification)
        } else {
            how.classification.or(Some(props.classification))
        };
        how.owner = how.owner.or(props.owner);
        how.licence = how.licence.or(props.licence);

        let computed = self.aggregate(source).await?;
        for level in Level::ALL {
            let keep_from = retention
                .rollup_days
                .get(&level)
                .map(|d| cutoff(now, *d))
                .unwrap_or(i64::MIN);
            let fresh: Buckets = computed[&level]
                .iter()
                .filter(|((_, b), _)| *b >= keep_from)
                .map(|(k, a)| (*k, *a))
                .collect();
            let name = level.dataset(names, restricted);
            let _level_lock = self.lock(&name)?;
            let stored = self.stored_rollups(&name).await?;
            let changed: Buckets = fresh
                .iter()
                .filter(|(k, a)| stored.get(k) != Some(a))
                .map(|(k, a)| (*k, *a))
                .collect();
            let o = out.levels.entry(level).or_default();
            o.buckets = fresh.len() as u64;
            o.written = changed.len() as u64;
            if !changed.is_empty() {
                let mode = if self.exists(&name).await {
                    Mode::Upsert
                } else {
                    Mode::Append
                };
                self.commit_rows_locked(
                    request(&name, &how, mode, o.written),
                    rollup_schema(),
                    Rows::Batches(vec![rollup_batch(&changed)?]),
                    false,
                )
                .await?;
            }
            if keep_from > i64::MIN && self.exists(&name).await {
                o.deleted = self
                    .delete_rows_locked(
                        &request(&name, &how, Mode::Append, 0),
                        col("bucket_start").lt(ts(keep_from)),
                    )
                    .await?;
            }
        }

        // Raw retention, grouped by cut-off so each distinct retention is one predicate.
        let mut by_cutoff: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
        for (id, days) in &retention.datastreams {
            by_cutoff.entry(cutoff(now, *days)).or_default().push(*id);
        }
        let mut predicate: Option<Expr> = None;
        for (c, ids) in &by_cutoff {
            let p = col("datastream_id")
                .in_list(ids.iter().map(|i| lit(*i)).collect(), false)
                .and(col("phenomenon_time").lt(ts(*c)));
            predicate = Some(match predicate {
                Some(q) => q.or(p),
                None => p,
            });
        }
        if let Some(days) = retention.raw_days {
            // Every Datastream without an override follows the default.
            let overridden: Vec<Expr> = retention.datastreams.keys().map(|i| lit(*i)).collect();
            let mut p = col("phenomenon_time").lt(ts(cutoff(now, days)));
            if !overridden.is_empty() {
                p = p.and(col("datastream_id").in_list(overridden, true));
            }
            predicate = Some(match predicate {
                Some(q) => q.or(p),
                None => p,
            });
        }
        if let Some(p) = predicate {
            out.raw_deleted = self
                .delete_rows_locked(&request(source, &how, Mode::Append, 0), p)
                .await?;
        }
        Ok(out)
    }

    /// Every bucket of every level, folded from the raw readings in (datastream, time) order.
    async fn aggregate(&self, observations: &DatasetName) -> Result<HashMap<Level, Buckets>> {
        let table = self.table(observations, At::Latest).await?;
        // One partition: the sort's output order, and so the order of additions, is fixed.
        let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
        let mut stream = ctx
            .read_table(table.table_provider().await?)?
            .select_columns(&["datastream_id", "phenomenon_time", "result"])?
            .sort(vec![
                col("datastream_id").sort(true, false),
                col("phenomenon_time").sort(true, false),
            ])?
            .execute_stream()
            .await?;
        let mut out: HashMap<Level, Buckets> =
            Level::ALL.iter().map(|l| (*l, Buckets::new())).collect();
        while let Some(b) = stream.try_next().await? {
            let (Some(d), Some(t), Some(r)) = (
                b.column(0).as_primitive_opt::<Int64Type>(),
                b.column(1).as_primitive_opt::<TimestampMicrosecondType>(),
                b.column(2).as_primitive_opt::<Float64Type>(),
            ) else {
                return Err(Error::Internal(format!(
                    "dataset '{observations}' does not have the observations layout (a bug if tvilling wrote it)"
                )));
            };
            for i in 0..b.num_rows() {
                let (ds, time, v) = (d.value(i), t.value(i), r.value(i));
                for level in Level::ALL {
                    let w = level.micros();
                    let key = (ds, time.div_euclid(w) * w);
                    if let Some(buckets) = out.get_mut(&level) {
                        buckets
                            .entry(key)
                            .and_modify(|a| a.add(v))
                            .or_insert_with(|| Agg::new(v));
                    }
                }
            }
        }
        Ok(out)
    }

    async fn stored_rollups(&self, name: &DatasetName) -> Result<Buckets> {
        let mut out = Buckets::new();
        if !self.exists(name).await {
            return Ok(out);
        }
        let (_, stream) = self.scan(name, At::Latest).await?;
        let batches: Vec<RecordBatch> = stream.try_collect().await?;
        for b in &batches {
            let col = |n: &str| {
                b.column_by_name(n).ok_or_else(|| {
                    Error::Internal(format!("roll-up dataset '{name}' has no column {n}"))
                })
            };
            let (Some(d), Some(t), Some(c), Some(mn), Some(mx), Some(s)) = (
                col("datastream_id")?.as_primitive_opt::<Int64Type>(),
                col("bucket_start")?.as_primitive_opt::<TimestampMicrosecondType>(),
                col("count")?.as_primitive_opt::<Int64Type>(),
                col("min")?.as_primitive_opt::<Float64Type>(),
                col("max")?.as_primitive_opt::<Float64Type>(),
                col("sum")?.as_primitive_opt::<Float64Type>(),
            ) else {
                return Err(Error::Internal(format!(
                    "roll-up dataset '{name}' does not have the roll-up layout"
                )));
            };
            for i in 0..b.num_rows() {
                out.insert(
                    (d.value(i), t.value(i)),
                    Agg {
                        count: c.value(i),
                        min: mn.value(i),
                        max: mx.value(i),
                        sum: s.value(i),
                    },
                );
            }
        }
        Ok(out)
    }
}

fn rollup_batch(rows: &Buckets) -> Result<RecordBatch> {
    let ids: StringArray = rows.keys().map(|(d, b)| Some(format!("{d}/{b}"))).collect();
    let ds: Int64Array = rows.keys().map(|(d, _)| *d).collect();
    let starts = TimestampMicrosecondArray::from(rows.keys().map(|(_, b)| *b).collect::<Vec<_>>())
        .with_timezone("UTC");
    let count: Int64Array = rows.values().map(|a| a.count).collect();
    let min: Float64Array = rows.values().map(|a| a.min).collect();
    let max: Float64Array = rows.values().map(|a| a.max).collect();
    let mean: Float64Array = rows.values().map(|a| a.sum / a.count as f64).collect();
    let sum: Float64Array = rows.values().map(|a| a.sum).collect();
    let columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(ids),
        Arc::new(ds),
        Arc::new(starts),
        Arc::new(count),
        Arc::new(min),
        Arc::new(max),
        Arc::new(mean),
        Arc::new(sum),
    ];
    Ok(RecordBatch::try_new(rollup_schema(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutoffs_are_utc_midnights() {
        let now: DateTime<Utc> = "2026-12-06T13:45:00Z".parse().expect("time");
        let c = cutoff(now, 7);
        assert_eq!(
            DateTime::from_timestamp_micros(c).map(|t| t.to_rfc3339()),
            Some("2026-11-29T00:00:00+00:00".into())
        );
    }

    #[test]
    fn buckets_fold_in_order() {
        let mut a = Agg::new(3.0);
        a.add(-1.0);
        a.add(4.0);
        assert_eq!((a.count, a.min, a.max, a.sum), (3, -1.0, 4.0, 6.0));
        // Negative times (before 1970) fall into the bucket that starts at or before them.
        assert_eq!((-1i64).div_euclid(60_000_000) * 60_000_000, -60_000_000);
    }
}
