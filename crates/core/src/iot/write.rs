//! Writing IoT data: Datastreams found or created by natural key, readings appended without duplicates.
//!
//! Both writers hold the dataset's lock from reading the current rows to the commit, so two writers (the
//! server and a `tvilling ingest`, or two retried HTTP batches) cannot both add the same row. A reading is
//! identified by (datastream_id, phenomenon_time): committing it again changes nothing, which makes a
//! retried batch and an overlapping file idempotent.

use std::collections::{BTreeMap, HashMap, HashSet};

use deltalake::arrow::array::Array;
use deltalake::arrow::array::AsArray;
use deltalake::arrow::datatypes::{Int64Type, TimestampMicrosecondType};
use deltalake::datafusion::prelude::{SessionContext, col, lit};
use deltalake::datafusion::scalar::ScalarValue;
use futures::TryStreamExt;
use rustc_hash::FxHashSet;
use serde::Serialize;

use super::schema::{datastream_rows, datastreams_from_batch, observations_batch};
use super::{
    DATASTREAMS_CRS, Datastream, DatastreamSpec, IotNames, Observation, ThingSpec,
    datastreams_schema, observations_schema,
};
use crate::store::{Rows, WriteRequest};
use crate::{
    At, Classification, CommitOutcome, DatasetName, DatasetProperties, Kind, Mode, Provenance,
    QualityReport, Result, Store,
};

/// What [`Store::append_observations`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AppendOutcome {
    /// The observations dataset's version after the call (`None` when it still does not exist).
    pub version: Option<u64>,
    /// Readings written by this call.
    pub written: u64,
    /// Readings left out because the store (or an earlier reading of the same call) already held a
    /// reading of the same datastream at the same time.
    pub duplicates: u64,
    /// Per reading, in the order given: whether it was written (false: a duplicate). Lets a caller that
    /// committed several requests together answer each one.
    #[serde(skip)]
    pub fresh: Vec<bool>,
    /// The restricted observations dataset's version after the call.
    #[serde(skip)]
    pub restricted_version: Option<u64>,
}

/// The versions of a collection's two observations datasets (`None`: the dataset does not exist yet).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObservationVersions {
    /// `<base>_observations`.
    pub observations: Option<u64>,
    /// `<base>_restricted_observations`.
    pub restricted: Option<u64>,
}

/// Who writes, and the dataset properties for a new collection.
#[derive(Debug, Clone)]
pub struct IotWrite {
    /// Provenance of the commit; `rows_written` is filled in here.
    pub provenance: Provenance,
    /// Quality report of the commit.
    pub quality: QualityReport,
    /// Classification of a new collection, or a change (`None` keeps it; new ones are `internal`).
    pub classification: Option<Classification>,
    /// Owner.
    pub owner: Option<String>,
    /// Licence.
    pub licence: Option<String>,
}

impl IotWrite {
    fn request(&self, name: &DatasetName, rows: u64, geometry: bool) -> WriteRequest {
        let mut provenance = self.provenance.clone();
        provenance.rows_written = rows;
        provenance.mode = Mode::Append.as_str().into();
        let mut quality = self.quality.clone();
        quality.completeness.rows_written = rows;
        WriteRequest {
            name: name.clone(),
            properties: DatasetProperties {
                kind: Kind::Iot,
                crs: DATASTREAMS_CRS.into(),
                vertical_crs: None,
                classification: self.classification.unwrap_or(Classification::Internal),
                owner: self.owner.clone(),
                licence: self.licence.clone(),
                source: Some(self.provenance.source_uri.clone()),
                geometry_type: geometry.then(|| "Point".to_string()),
            },
            set_classification: self.classification.is_some(),
            mode: Mode::Append,
            provenance,
            quality,
        }
    }
}

fn version(o: &CommitOutcome) -> u64 {
    match o {
        CommitOutcome::Committed { version, .. } | CommitOutcome::Unchanged { version, .. } => {
            *version
        }
    }
}

impl Store {
    /// Every stored Datastream row of a collection (empty when the collection does not exist yet).
    pub async fn load_datastreams(&self, names: &IotNames) -> Result<Vec<Datastream>> {
        if !self.exists(&names.datastreams).await {
            return Ok(vec![]);
        }
        let (_, stream) = self.scan(&names.datastreams, At::Latest).await?;
        let batches: Vec<_> = stream.try_collect().await?;
        let mut out = vec![];
        for b in &batches {
            out.extend(datastreams_from_batch(b)?);
        }
        out.sort_by_key(|d| (d.id.is_none(), d.id, d.thing_id));
        Ok(out)
    }

    /// Finds or creates Things (without Datastreams) and Datastreams by their natural keys; returns the
    /// Things' ids and the Datastreams' ids, in the order given. Thing, Sensor and ObservedProperty ids are
    /// shared by key; new ids continue after the largest one in use. Existing rows are never changed.
    pub async fn ensure_datastreams(
        &self,
        names: &IotNames,
        things: &[ThingSpec],
        specs: &[DatastreamSpec],
        how: &IotWrite,
    ) -> Result<(Vec<i64>, Vec<i64>)> {
        let _lock = self.lock(&names.datastreams)?;
        let existing = self.load_datastreams(names).await?;
        let mut ds_ids: HashMap<String, i64> = HashMap::new();
        let mut thing_ids: HashMap<String, i64> = HashMap::new();
        let mut sensor_ids: HashMap<String, i64> = HashMap::new();
        let mut prop_ids: HashMap<String, i64> = HashMap::new();
        let (mut next_ds, mut next_thing, mut next_sensor, mut next_prop) = (1, 1, 1, 1);
        for d in &existing {
            thing_ids.insert(d.spec.thing.key.clone(), d.thing_id);
            next_thing = next_thing.max(d.thing_id + 1);
            if let Some(id) = d.id {
                ds_ids.insert(d.spec.key.clone(), id);
                next_ds = next_ds.max(id + 1);
            }
            if let Some(id) = d.sensor_id {
                sensor_ids.insert(d.spec.sensor.key.clone(), id);
                next_sensor = next_sensor.max(id + 1);
            }
            if let Some(id) = d.property_id {
                prop_ids.insert(d.spec.observed_property.key.clone(), id);
                next_prop = next_prop.max(id + 1);
            }
        }
        let mut new_rows = vec![];
        let take = |map: &mut HashMap<String, i64>, next: &mut i64, key: &str| -> (i64, bool) {
            match map.get(key) {
                Some(id) => (*id, false),
                None => {
                    let id = *next;
                    *next += 1;
                    map.insert(key.to_string(), id);
                    (id, true)
                }
            }
        };
        let mut ds_out = Vec::with_capacity(specs.len());
        let with_streams: HashSet<&str> = specs.iter().map(|s| s.thing.key.as_str()).collect();
        for s in specs {
            let (id, new) = take(&mut ds_ids, &mut next_ds, &s.key);
            ds_out.push(id);
            if !new {
                continue;
            }
            let (thing_id, _) = take(&mut thing_ids, &mut next_thing, &s.thing.key);
            let (sensor_id, _) = take(&mut sensor_ids, &mut next_sensor, &s.sensor.key);
            let (property_id, _) = take(&mut prop_ids, &mut next_prop, &s.observed_property.key);
            new_rows.push(Datastream {
                id: Some(id),
                thing_id,
                sensor_id: Some(sensor_id),
                property_id: Some(property_id),
                spec: s.clone(),
            });
        }
        let mut thing_out = Vec::with_capacity(things.len());
        for t in things {
            let (id, new) = take(&mut thing_ids, &mut next_thing, &t.key);
            thing_out.push(id);
            if new && !with_streams.contains(t.key.as_str()) {
                new_rows.push(Datastream {
                    id: None,
                    thing_id: id,
                    sensor_id: None,
                    property_id: None,
                    spec: DatastreamSpec {
                        thing: t.clone(),
                        ..DatastreamSpec::default()
                    },
                });
            }
        }
        if !new_rows.is_empty() {
            let n = new_rows.len() as u64;
            let batch = datastream_rows(&new_rows)?;
            let mut how = how.clone();
            how.quality.completeness.features_read = n;
            self.commit_rows_locked(
                how.request(&names.datastreams, n, true),
                datastreams_schema(),
                Rows::Batches(vec![batch]),
                false,
            )
            .await?;
        }
        Ok((thing_out, ds_out))
    }

    /// Appends readings, leaving out every one whose (datastream, phenomenon_time) the store already holds
    /// (and later copies within `obs`). Returns after the Delta commits: an acknowledged reading is durable.
    /// Readings of the `protected` Datastreams ([`super::protected_ids`]) go to the collection's restricted
    /// observations dataset (classified `restricted`), the others to its observations dataset. The caller
    /// checks that the datastreams exist and the readings are valid ([`Observation::check`]).
    pub async fn append_observations(
        &self,
        names: &IotNames,
        obs: Vec<Observation>,
        how: &IotWrite,
        protected: &HashSet<i64>,
    ) -> Result<AppendOutcome> {
        self.append_checked(names, obs, how, protected, None).await
    }

    /// [`Store::append_observations`] for a caller that has already made sure no reading of `obs` is
    /// stored at the versions `checked` (the server's write-ahead log, which de-duplicates against its
    /// in-memory index): the store's own look-up is skipped for a dataset still at that version, and done
    /// as usual for one that another writer has committed to since.
    pub async fn append_new_observations(
        &self,
        names: &IotNames,
        obs: Vec<Observation>,
        how: &IotWrite,
        protected: &HashSet<i64>,
        checked: ObservationVersions,
    ) -> Result<AppendOutcome> {
        self.append_checked(names, obs, how, protected, Some(checked))
            .await
    }

    async fn append_checked(
        &self,
        names: &IotNames,
        obs: Vec<Observation>,
        how: &IotWrite,
        protected: &HashSet<i64>,
        checked: Option<ObservationVersions>,
    ) -> Result<AppendOutcome> {
        let is_protected: Vec<bool> = if protected.is_empty() {
            vec![false; obs.len()]
        } else {
            obs.iter()
                .map(|o| protected.contains(&o.datastream))
                .collect()
        };
        let (restricted, shared): (Vec<_>, Vec<_>) = if protected.is_empty() {
            (vec![], obs)
        } else {
            obs.into_iter()
                .partition(|o| protected.contains(&o.datastream))
        };
        let mut out = if shared.is_empty() && !restricted.is_empty() {
            AppendOutcome {
                version: self.latest_version(&names.observations).await?,
                written: 0,
                duplicates: 0,
                fresh: vec![],
                restricted_version: None,
            }
        } else {
            let known = checked.map(|c| c.observations);
            self.append_to(&names.observations, shared, how, known)
                .await?
        };
        out.restricted_version = self.latest_version(&names.restricted_observations).await?;
        let mut restricted_fresh = vec![];
        if !restricted.is_empty() {
            let mut how = how.clone();
            how.classification = Some(Classification::Restricted);
            let known = checked.map(|c| c.restricted);
            let r = self
                .append_to(&names.restricted_observations, restricted, &how, known)
                .await?;
            out.restricted_version = r.version;
            out.written += r.written;
            out.duplicates += r.duplicates;
            restricted_fresh = r.fresh;
        }
        // Back to the order given.
        let (mut s, mut r) = (out.fresh.into_iter(), restricted_fresh.into_iter());
        out.fresh = is_protected
            .iter()
            .map(|p| if *p { r.next() } else { s.next() }.unwrap_or(false))
            .collect();
        Ok(out)
    }

    async fn latest_version(&self, name: &DatasetName) -> Result<Option<u64>> {
        Ok(if self.exists(name).await {
            self.table(name, At::Latest).await?.version()
        } else {
            None
        })
    }

    async fn append_to(
        &self,
        name: &DatasetName,
        obs: Vec<Observation>,
        how: &IotWrite,
        checked_at: Option<Option<u64>>,
    ) -> Result<AppendOutcome> {
        let _lock = self.lock(name)?;
        let total = obs.len() as u64;
        let current = self.latest_version(name).await?;
        let mut seen: FxHashSet<(i64, i64)> = match current {
            Some(_) if checked_at != Some(current) => {
                self.stored_keys(name, &obs).await?.into_iter().collect()
            }
            _ => FxHashSet::default(),
        };
        seen.reserve(obs.len());
        let flags: Vec<bool> = obs
            .iter()
            .map(|o| seen.insert((o.datastream, o.phenomenon_time.timestamp_micros())))
            .collect();
        let mut fresh: Vec<Observation> = obs
            .into_iter()
            .zip(&flags)
            .filter_map(|(o, new)| new.then_some(o))
            .collect();
        let duplicates = total - fresh.len() as u64;
        if fresh.is_empty() {
            return Ok(AppendOutcome {
                fresh: flags,
                version: current,
                written: 0,
                duplicates,
                restricted_version: None,
            });
        }
        // Sorted, so each file's min/max statistics cover a narrow range of datastreams and times.
        // The keys are unique by now, so an unstable sort gives the same order.
        fresh.sort_unstable_by_key(|o| (o.datastream, o.phenomenon_time));
        let n = fresh.len() as u64;
        let batch = observations_batch(&fresh)?;
        let mut how = how.clone();
        how.quality.completeness.features_read = total;
        // Sorted: each Datastream's readings are one run.
        let per_stream: BTreeMap<i64, u64> = fresh
            .chunk_by(|a, b| a.datastream == b.datastream)
            .map(|run| (run[0].datastream, run.len() as u64))
            .collect();
        how.quality.content.insert(
            "observations_per_datastream".into(),
            serde_json::json!(per_stream),
        );
        how.quality
            .content
            .insert("duplicates_left_out".into(), serde_json::json!(duplicates));
        let outcome = self
            .commit_rows_locked(
                how.request(name, n, false),
                observations_schema(),
                Rows::Batches(vec![batch]),
                false,
            )
            .await?;
        Ok(AppendOutcome {
            version: Some(version(&outcome)),
            written: n,
            duplicates,
            fresh: flags,
            restricted_version: None,
        })
    }

    /// Packs the small files of both observations datasets (one per flush of a server's log) into large
    /// ones ([`Store::compact_locked`]); returns their versions afterwards.
    pub async fn compact_observations(
        &self,
        names: &IotNames,
        how: &IotWrite,
    ) -> Result<ObservationVersions> {
        let mut out = ObservationVersions::default();
        for (name, v) in [
            (&names.observations, &mut out.observations),
            (&names.restricted_observations, &mut out.restricted),
        ] {
            if !self.exists(name).await {
                continue;
            }
            let _lock = self.lock(name)?;
            *v = self
                .compact_locked(&how.request(name, 0, false))
                .await?
                .version;
        }
        Ok(out)
    }

    /// The (datastream, µs) keys of `obs` that either observations dataset of the collection holds.
    pub async fn stored_observation_keys(
        &self,
        names: &IotNames,
        obs: &[Observation],
    ) -> Result<HashSet<(i64, i64)>> {
        let mut out = HashSet::new();
        for name in [&names.observations, &names.restricted_observations] {
            if self.exists(name).await {
                out.extend(self.stored_keys(name, obs).await?);
            }
        }
        Ok(out)
    }

    /// The (datastream, µs) keys of stored readings that could collide with `obs`: one scan filtered on
    /// the datastream and time ranges of `obs`, which Delta's statistics prune to the files that overlap
    /// them, then narrowed to `obs`'s datastreams.
    async fn stored_keys(
        &self,
        name: &DatasetName,
        obs: &[Observation],
    ) -> Result<HashSet<(i64, i64)>> {
        let mut out = HashSet::new();
        let (Some(min), Some(max)) = (
            obs.iter()
                .map(|o| o.phenomenon_time.timestamp_micros())
                .min(),
            obs.iter()
                .map(|o| o.phenomenon_time.timestamp_micros())
                .max(),
        ) else {
            return Ok(out);
        };
        let streams: HashSet<i64> = obs.iter().map(|o| o.datastream).collect();
        // A range, not an IN list: thousands of Datastreams in one IN list overflow DataFusion's
        // recursive planning, and the range prunes files by their statistics just as well.
        let (Some(lo), Some(hi)) = (streams.iter().min(), streams.iter().max()) else {
            return Ok(out);
        };
        let table = self.table(name, At::Latest).await?;
        let ctx = SessionContext::new();
        let ts = |v: i64| {
            lit(ScalarValue::TimestampMicrosecond(
                Some(v),
                Some("UTC".into()),
            ))
        };
        let df = ctx
            .read_table(table.table_provider().await?)?
            .filter(
                col("datastream_id")
                    .between(lit(*lo), lit(*hi))
                    .and(col("phenomenon_time").between(ts(min), ts(max))),
            )?
            .select_columns(&["datastream_id", "phenomenon_time"])?;
        for b in df.collect().await? {
            let (Some(ds), Some(t)) = (
                b.column(0).as_primitive_opt::<Int64Type>(),
                b.column(1).as_primitive_opt::<TimestampMicrosecondType>(),
            ) else {
                return Err(crate::Error::Internal(format!(
                    "dataset '{name}' has unexpected column types ({}, {}); it was not written by \
                     tvilling's IoT store (a bug if it was)",
                    b.column(0).data_type(),
                    b.column(1).data_type()
                )));
            };
            for i in 0..b.num_rows() {
                if streams.contains(&ds.value(i)) {
                    out.insert((ds.value(i), t.value(i)));
                }
            }
        }
        Ok(out)
    }
}
