//! The server's IoT collection: its Datastreams (cached per version), the one writer, the live feed and
//! the newest reading of every Datastream.
//!
//! Writes are commit-before-ack: [`IotHub::append`] returns after the Delta commit, so a reading the
//! server acknowledged survives a crash (`kill -9`) of the server right after the answer. Writers are
//! serialised here (one commit at a time) and by the store's dataset lock (against `tvilling ingest`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use serde::Serialize;
use tokio::sync::{Mutex, broadcast, oneshot};
use tvilling_core::iot::{
    AppendOutcome, Datastream, IotNames, IotWrite, Observation, protected_ids,
};
use tvilling_core::{Classification, DatasetName, Store};

use super::group::{Job, merged};
use crate::catalog::latest_version;
use crate::error::{ApiError, ApiResult};

/// How many readings the live feed buffers for a slow subscriber before it skips ahead.
const LIVE_BUFFER: usize = 4096;
/// At most this many problems are listed in one refusal.
const MAX_LISTED: usize = 10;

/// A committed reading as the live feed sends it.
#[derive(Debug, Clone, Serialize)]
pub struct LiveReading {
    /// Datastream id.
    pub datastream: i64,
    /// Phenomenon time (RFC 3339, UTC).
    pub time: String,
    /// The value.
    pub result: f64,
    /// Quality code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality: Option<String>,
    /// The Thing's position, WGS 84 degrees, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lon: Option<f64>,
    /// Latitude.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    /// Unit symbol.
    pub unit: String,
    /// A protected Datastream's reading: sent only to subscribers cleared for restricted data.
    #[serde(skip)]
    pub protected: bool,
}

/// The collection's Datastreams by id, and which of them are protected (their readings live in the
/// restricted observations dataset: personal, or a Thing classified above the collection).
#[derive(Debug, Default)]
pub struct StreamIndex {
    /// Datastreams by `@iot.id`.
    pub by_id: HashMap<i64, Datastream>,
    /// The protected ones.
    pub protected: HashSet<i64>,
    /// Every Thing's classification: its own (`properties.classification`) when above the collection's,
    /// else the collection's.
    pub thing_classes: HashMap<i64, Classification>,
}

impl StreamIndex {
    /// The Datastream `id`.
    pub fn get(&self, id: &i64) -> Option<&Datastream> {
        self.by_id.get(id)
    }
}

type Streams = (Option<u64>, Arc<StreamIndex>);

/// The IoT collection served (see the module doc).
#[derive(Clone)]
pub struct IotHub {
    /// The two datasets.
    pub names: IotNames,
    write: Arc<Mutex<()>>,
    pending: Arc<std::sync::Mutex<Vec<Job>>>,
    live: broadcast::Sender<Arc<LiveReading>>,
    streams: Arc<RwLock<Streams>>,
}

impl std::fmt::Debug for IotHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IotHub")
            .field("names", &self.names)
            .finish()
    }
}

impl IotHub {
    /// The hub of the collection `base` (`<base>_datastreams`, `<base>_observations`).
    pub fn new(base: &DatasetName) -> IotHub {
        IotHub {
            names: IotNames::new(base),
            write: Arc::default(),
            pending: Arc::default(),
            live: broadcast::channel(LIVE_BUFFER).0,
            streams: Arc::new(RwLock::new((None, Arc::default()))),
        }
    }

    /// The Datastreams, re-read when the datastreams dataset has a new version (a reclassification is one).
    pub async fn datastreams(&self, store: &Store) -> ApiResult<Arc<StreamIndex>> {
        let now = latest_version(store, &self.names.datastreams);
        if let Ok(s) = self.streams.read()
            && s.0 == now
        {
            return Ok(s.1.clone());
        }
        let rows = store.load_datastreams(&self.names).await?;
        let class = if now.is_some() {
            store
                .properties(&self.names.datastreams)
                .await?
                .classification
        } else {
            Classification::Internal
        };
        let thing_classes = rows
            .iter()
            .map(|d| {
                let own = d.thing_classification().filter(|c| c.above(class));
                (d.thing_id, own.unwrap_or(class))
            })
            .collect();
        let map = Arc::new(StreamIndex {
            protected: protected_ids(&rows, class),
            thing_classes,
            by_id: rows.into_iter().filter_map(|d| Some((d.id?, d))).collect(),
        });
        if let Ok(mut s) = self.streams.write() {
            *s = (now, map.clone());
        }
        Ok(map)
    }

    /// Subscribes to committed readings.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveReading>> {
        self.live.subscribe()
    }

    /// Checks `obs` (known datastreams, finite results, no far-future times) and appends them, returning
    /// after the commit that holds them (with the batches of requests that arrived meanwhile: see
    /// [`super::group`]); every problem is a 400 that names the reading by its position in the batch, and
    /// a batch with any problem writes nothing.
    pub async fn append(
        &self,
        store: &Store,
        workers: &tokio::runtime::Handle,
        obs: Vec<Observation>,
        how: IotWrite,
    ) -> ApiResult<AppendOutcome> {
        let streams = self.datastreams(store).await?;
        let now = chrono::Utc::now();
        let mut problems = vec![];
        let mut count = 0usize;
        for (i, o) in obs.iter().enumerate() {
            let why = if !streams.by_id.contains_key(&o.datastream) {
                Some(format!(
                    "datastream {} does not exist; create it first (POST /sta/v1.1/Things with Datastreams, or \
                     tvilling ingest) and send its @iot.id",
                    o.datastream
                ))
            } else {
                o.check(now).err()
            };
            if let Some(why) = why {
                count += 1;
                if problems.len() < MAX_LISTED {
                    problems.push(format!("reading {i}: {why}"));
                }
            }
        }
        if count > 0 {
            return Err(ApiError::BadRequest(format!(
                "{count} of {} readings refused, nothing was written: {}",
                obs.len(),
                problems.join("; ")
            )));
        }
        if obs.is_empty() {
            return Err(ApiError::BadRequest(
                "the batch holds no readings; send a JSON array or NDJSON of {\"datastream\": ID, \"time\": \
                 RFC3339, \"result\": number}"
                    .into(),
            ));
        }
        let (tx, mut rx) = oneshot::channel();
        self.queue().push(Job { obs, how, done: tx });
        let lost = || ApiError::Internal("the group commit lost this batch (a bug)".into());
        let _writer = self.write.lock().await;
        // Committed by the previous holder of the lock, together with its own batch.
        match rx.try_recv() {
            Ok(answer) => return answer,
            Err(oneshot::error::TryRecvError::Closed) => return Err(lost()),
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        let jobs = std::mem::take(&mut *self.queue());
        // Detached: the batches of other requests must be committed and answered even when this
        // request's client goes away mid-commit.
        let (hub, store) = (self.clone(), store.clone());
        let _ = workers
            .spawn(async move { hub.commit(&store, &streams, jobs).await })
            .await;
        rx.await.map_err(|_| lost())?
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Job>> {
        // A panic while the queue was held cannot leave it half-changed (push and take are atomic).
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Commits every queued batch as one, then answers each and pushes the new readings live.
    async fn commit(&self, store: &Store, streams: &StreamIndex, jobs: Vec<Job>) {
        let Some(how) = merged(&jobs) else {
            return;
        };
        let mut all = Vec::with_capacity(jobs.iter().map(|j| j.obs.len()).sum());
        let mut answers = Vec::with_capacity(jobs.len());
        for job in jobs {
            answers.push((all.len()..all.len() + job.obs.len(), job.done));
            all.extend(job.obs);
        }
        let result = store
            .append_observations(&self.names, all.clone(), &how, &streams.protected)
            .await;
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                let why = ApiError::from(e).to_string();
                for (_, done) in answers {
                    let _ = done.send(Err(ApiError::Internal(format!(
                        "the readings were not stored: {why}"
                    ))));
                }
                return;
            }
        };
        for (o, fresh) in all.into_iter().zip(&outcome.fresh) {
            if *fresh {
                self.push_live(streams, o);
            }
        }
        for (range, done) in answers {
            let n = range.len() as u64;
            let written = outcome
                .fresh
                .get(range)
                .map_or(0, |f| f.iter().filter(|x| **x).count()) as u64;
            // The requester may have gone (client timeout); its readings are stored all the same.
            let _ = done.send(Ok(AppendOutcome {
                version: outcome.version,
                written,
                duplicates: n - written,
                fresh: vec![],
            }));
        }
    }

    fn push_live(&self, streams: &StreamIndex, o: Observation) {
        let d = streams.get(&o.datastream);
        let loc = d.and_then(|d| d.spec.thing.location.as_ref());
        // No subscribers is not an error: the feed is best effort, the store is the record.
        let _ = self.live.send(Arc::new(LiveReading {
            datastream: o.datastream,
            time: o
                .phenomenon_time
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            result: o.result,
            quality: o.result_quality,
            lon: loc.map(|l| l.lon),
            lat: loc.map(|l| l.lat),
            unit: d.map(|d| d.spec.unit.symbol.clone()).unwrap_or_default(),
            protected: streams.protected.contains(&o.datastream),
        }));
    }
}
