//! The server's IoT collection: its Datastreams (cached per version), the one writer, the live feed and
//! the hot tail (the newest reading of every Datastream and the readings not yet in the store).
//!
//! Writes go through a write-ahead log ([`super::wal`]): [`IotHub::append`] answers once the readings are
//! in the log and synced to disk, so an acknowledged reading survives a crash (`kill -9`) of the server
//! right after the answer; a restarted server stores what the log holds before it serves. The log is
//! flushed to the Delta store in large commits: every `server.iot.flush_seconds`, when
//! `server.iot.flush_readings` are waiting, before any read of the observations (SQL, SensorThings,
//! aggregates: a client reads its own writes), and at shutdown. Writers are serialised here and by the
//! store's dataset lock (against `tvilling ingest`).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Mutex, Notify, OnceCell, broadcast, oneshot};
use tvilling_core::iot::{
    AppendOutcome, Datastream, IotNames, IotWrite, Observation, protected_ids,
};
use tvilling_core::{Classification, DatasetName, Store};

use super::group::Job;
use super::tail::{Tail, Verdict};
use super::wal::Wal;
use crate::catalog::latest_version;
use crate::error::{ApiError, ApiResult};

/// Every this many flushes of the log, the observations' small files are packed into large ones.
const COMPACT_EVERY: u64 = 60;
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

/// The datastreams dataset's version, when it was last looked up, and its index.
type Streams = (Option<u64>, Option<Instant>, Arc<StreamIndex>);

/// How long the datastreams dataset's version is trusted before a write looks again (a directory read,
/// which cost more than the rest of a one-reading request). Another process's reclassification is seen
/// this much later; its new Datastreams at once (a reading for an unknown one makes the write look).
const STREAMS_RECHECK: Duration = Duration::from_millis(250);

/// When the log is flushed to the store (besides before reads and at shutdown).
#[derive(Debug, Clone, Copy)]
pub struct FlushPolicy {
    /// At the latest this long after a reading arrived.
    pub every: Duration,
    /// As soon as this many readings wait.
    pub readings: usize,
}

/// The IoT collection served (see the module doc).
#[derive(Clone)]
pub struct IotHub {
    /// The two datasets.
    pub names: IotNames,
    wal_dir: PathBuf,
    policy: FlushPolicy,
    write: Arc<Mutex<()>>,
    pending: Arc<std::sync::Mutex<Vec<Job>>>,
    live: broadcast::Sender<Arc<LiveReading>>,
    streams: Arc<RwLock<Streams>>,
    reading_streams: Arc<Mutex<()>>,
    tail: Arc<std::sync::Mutex<Tail>>,
    loaded: Arc<OnceCell<()>>,
    flushing: Arc<Mutex<()>>,
    flushes: Arc<AtomicU64>,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for IotHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IotHub")
            .field("names", &self.names)
            .finish()
    }
}

impl IotHub {
    /// The hub of the collection `base` (`<base>_datastreams`, `<base>_observations`) of `store`, whose
    /// write-ahead log is `<store>/_wal/<base>`.
    pub fn new(base: &DatasetName, store: &Store, policy: FlushPolicy) -> IotHub {
        IotHub {
            names: IotNames::new(base),
            wal_dir: store.root().join("_wal").join(base.as_str()),
            policy,
            write: Arc::default(),
            pending: Arc::default(),
            live: broadcast::channel(LIVE_BUFFER).0,
            streams: Arc::new(RwLock::new((None, None, Arc::default()))),
            reading_streams: Arc::default(),
            tail: Arc::default(),
            loaded: Arc::default(),
            flushing: Arc::default(),
            flushes: Arc::default(),
            wake: Arc::default(),
        }
    }

    /// Whether an earlier run left a write-ahead log (then [`IotHub::load`] must run before serving).
    pub fn has_log(&self) -> bool {
        self.wal_dir.is_dir()
    }

    fn tail(&self) -> std::sync::MutexGuard<'_, Tail> {
        // Every change to the tail is a few plain assignments; a panic elsewhere cannot leave it torn.
        self.tail.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Once per server: stores the readings an earlier run left in the log (a crash before its flush),
    /// then reads the newest reading of every Datastream from the store.
    pub async fn load(&self, store: &Store) -> ApiResult<()> {
        self.loaded
            .get_or_try_init(|| async {
                if self.has_log() {
                    let dir = self.wal_dir.clone();
                    let (wal, old, last) = tokio::task::spawn_blocking(move || Wal::open(&dir))
                        .await
                        .map_err(|e| ApiError::Internal(format!("opening the IoT log: {e}")))?
                        .map_err(|e| log_error(&self.wal_dir, e))?;
                    if !old.is_empty() {
                        let streams = self.datastreams(store).await?;
                        let n = old.len();
                        let how = super::write::replay_how(n as u64);
                        // The store's own look-up: some of these may have been flushed before the crash.
                        let o = store
                            .append_observations(&self.names, old, &how, &streams.protected)
                            .await?;
                        tracing::info!(
                            readings = n,
                            written = o.written,
                            "stored the readings left in the IoT log"
                        );
                    }
                    wal.remove_through(last)
                        .map_err(|e| log_error(&self.wal_dir, e))?;
                    self.tail().wal = Some(wal);
                }
                let found = store.newest_observations(&self.names).await?;
                let mut tail = self.tail();
                tail.versions = found.versions;
                tail.several.extend(found.several);
                for o in found.readings {
                    tail.stored
                        .insert(o.datastream, o.phenomenon_time.timestamp_micros());
                    tail.newest.entry(o.datastream).or_insert(o);
                }
                tail.loaded = true;
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// Reads what the hub keeps of the store (see [`IotHub::load`] and [`IotHub::datastreams`]).
    pub async fn warm(&self, store: &Store) -> ApiResult<()> {
        self.load(store).await?;
        self.datastreams(store).await.map(|_| ())
    }

    /// The newest reading of every Datastream (stored or still in the log).
    pub async fn newest(&self, store: &Store) -> ApiResult<Vec<Observation>> {
        self.load(store).await?;
        let mut out: Vec<Observation> = self.tail().newest.values().cloned().collect();
        out.sort_by_key(|o| o.datastream);
        Ok(out)
    }

    /// The newest reading of one Datastream, and whether it has older ones.
    pub async fn newest_of(
        &self,
        store: &Store,
        datastream: i64,
    ) -> ApiResult<Option<(Observation, bool)>> {
        self.load(store).await?;
        let tail = self.tail();
        Ok(tail
            .newest
            .get(&datastream)
            .map(|o| (o.clone(), tail.several.contains(&datastream))))
    }

    /// Flushes the log to the store if it holds readings, so that a read of the store sees every
    /// acknowledged reading; says whether it wrote anything (then the store has new versions).
    pub async fn sync(&self, store: &Store) -> ApiResult<bool> {
        // A flush under way has taken its readings out of `pending` but not yet committed them:
        // [`IotHub::flush`] waits for it.
        let flush_running = self.flushing.try_lock().is_err();
        if !flush_running && self.tail().pending_len() == 0 {
            return Ok(false);
        }
        self.flush(store).await?;
        Ok(true)
    }

    /// Gives the readings waiting in the log to the store in one commit per observations dataset, then
    /// drops the log segments that held them. On failure they stay in the log and in the tail and go with
    /// the next flush.
    pub async fn flush(&self, store: &Store) -> ApiResult<()> {
        let _one = self.flushing.lock().await;
        let (batch, closed, versions, summary) = {
            let mut tail = self.tail();
            if tail.pending_len() == 0 {
                return Ok(());
            }
            let closed = match tail.wal.as_mut().map(Wal::rotate) {
                Some(Ok(n)) => n,
                Some(Err(e)) => return Err(log_error(&self.wal_dir, e)),
                None => {
                    return Err(ApiError::Internal(
                        "IoT readings wait without a log (a bug)".into(),
                    ));
                }
            };
            let summary = std::mem::take(&mut tail.summary);
            (tail.begin_flush(), closed, tail.versions, summary)
        };
        // One list for the store, made outside the tail's lock; the batches stay for a retry.
        let all: Vec<Observation> = batch.iter().flatten().cloned().collect();
        let how = summary
            .finish()
            .unwrap_or_else(|| super::write::replay_how(all.len() as u64));
        let result = async {
            let streams = self.datastreams(store).await?;
            Ok::<_, ApiError>(
                store
                    .append_new_observations(&self.names, all, &how, &streams.protected, versions)
                    .await?,
            )
        }
        .await;
        let o = match result {
            Ok(o) => o,
            Err(e) => {
                self.tail().flush_failed(batch);
                tracing::error!("flushing the IoT log to the store failed, will retry: {e}");
                return Err(e);
            }
        };
        {
            let mut tail = self.tail();
            tail.flushed(tvilling_core::iot::ObservationVersions {
                observations: o.version,
                restricted: o.restricted_version,
            });
            tracing::debug!(
                readings = batch.iter().map(Vec::len).sum::<usize>(),
                written = o.written,
                "flushed the IoT log"
            );
            if let Some(wal) = &tail.wal {
                wal.remove_through(closed)
                    .map_err(|e| log_error(&self.wal_dir, e))?;
            }
        }
        let n = self.flushes.fetch_add(1, Ordering::Relaxed) + 1;
        if n.is_multiple_of(COMPACT_EVERY) {
            self.compact(store, &how).await;
        }
        Ok(())
    }

    /// Packs the files of the flushes so far into large ones (see [`Store::compact_observations`]); a
    /// failure only costs read speed, so it is logged and the next round tries again.
    async fn compact(&self, store: &Store, how: &IotWrite) {
        match store.compact_observations(&self.names, how).await {
            Ok(v) => self.tail().versions = v,
            Err(e) => tracing::warn!("compacting the IoT observations failed (retried later): {e}"),
        }
    }

    /// Flushes the log by the [`FlushPolicy`] until `stop` turns true (never in the middle of a flush);
    /// see [`super::flusher`].
    pub async fn flusher(self, store: Store, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.policy.every) => {},
                _ = self.wake.notified() => {},
                _ = stop.changed() => return,
            }
            // Errors are logged by flush and retried at the next turn.
            let _ = self.flush(&store).await;
        }
    }

    /// The Datastreams, re-read when the datastreams dataset has a new version (a reclassification is one).
    /// The version is looked up at most every [`STREAMS_RECHECK`]; a Thing created through this server is
    /// seen at once ([`IotHub::streams_changed`]).
    pub async fn datastreams(&self, store: &Store) -> ApiResult<Arc<StreamIndex>> {
        if let Ok(s) = self.streams.read()
            && s.0.is_some()
            && s.1.is_some_and(|at| at.elapsed() < STREAMS_RECHECK)
        {
            return Ok(s.2.clone());
        }
        let now = latest_version(store, &self.names.datastreams);
        let cached = || {
            let mut s = self.streams.write().ok()?;
            if s.0 != now {
                return None;
            }
            s.1 = Some(Instant::now());
            Some(s.2.clone())
        };
        if let Some(s) = cached() {
            return Ok(s);
        }
        // One reader at a time: the requests that meet a new version together wait for one read.
        let _one = self.reading_streams.lock().await;
        if let Some(s) = cached() {
            return Ok(s);
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
            *s = (now, Some(Instant::now()), map.clone());
        }
        Ok(map)
    }

    /// Datastreams may have been created (through this server, or another process): the next call of
    /// [`IotHub::datastreams`] looks at the version again, and reads them if it changed.
    pub fn streams_changed(&self) {
        if let Ok(mut s) = self.streams.write() {
            s.1 = None;
        }
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
        obs: Vec<Observation>,
        how: IotWrite,
    ) -> ApiResult<AppendOutcome> {
        let mut streams = self.datastreams(store).await?;
        if obs
            .iter()
            .any(|o| !streams.by_id.contains_key(&o.datastream))
        {
            // Perhaps created by another process since the version was last looked at.
            self.streams_changed();
            streams = self.datastreams(store).await?;
        }
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
        // request's client goes away mid-commit. On this runtime, not the workers': a commit is a few
        // look-ups and one log write, and the workers may be busy flushing or tiling.
        let (hub, store) = (self.clone(), store.clone());
        let _ = tokio::spawn(async move { hub.commit(&store, streams, jobs).await }).await;
        rx.await.map_err(|_| lost())?
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, Vec<Job>> {
        // A panic while the queue was held cannot leave it half-changed (push and take are atomic).
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes every queued batch to the log with one sync, then answers each and pushes the new readings
    /// live.
    async fn commit(&self, store: &Store, streams: Arc<StreamIndex>, jobs: Vec<Job>) {
        let mut all = Vec::with_capacity(jobs.iter().map(|j| j.obs.len()).sum());
        let mut answers = Vec::with_capacity(jobs.len());
        let mut hows = Vec::with_capacity(jobs.len());
        for job in jobs {
            answers.push((all.len()..all.len() + job.obs.len(), job.done));
            hows.push(job.how);
            all.extend(job.obs);
        }
        match self.log(store, streams, all, hows).await {
            Ok((fresh, version)) => {
                for (range, done) in answers {
                    let n = range.len() as u64;
                    let written = fresh
                        .get(range)
                        .map_or(0, |f| f.iter().filter(|x| **x).count())
                        as u64;
                    // The requester may have gone (client timeout); its readings are stored all the same.
                    let _ = done.send(Ok(AppendOutcome {
                        version,
                        written,
                        duplicates: n - written,
                        fresh: vec![],
                        restricted_version: None,
                    }));
                }
                if self.tail().pending_len() >= self.policy.readings {
                    self.wake.notify_one();
                }
            }
            Err(e) => {
                let why = e.to_string();
                for (_, done) in answers {
                    let _ = done.send(Err(ApiError::Internal(format!(
                        "the readings were not stored: {why}"
                    ))));
                }
            }
        }
    }

    /// Leaves out the readings already acknowledged or stored, writes the others to the log, syncs it and
    /// pushes them live; returns per reading whether it was new, and the store's current version.
    async fn log(
        &self,
        store: &Store,
        streams: Arc<StreamIndex>,
        all: Vec<Observation>,
        hows: Vec<IotWrite>,
    ) -> ApiResult<(Vec<bool>, Option<u64>)> {
        self.load(store).await?;
        let verdicts = self.tail().classify(&all);
        let unsure: Vec<Observation> = all
            .iter()
            .zip(&verdicts)
            .filter(|(_, v)| **v == Verdict::Unsure)
            .map(|(o, _)| o.clone())
            .collect();
        let stored = if unsure.is_empty() {
            HashSet::new()
        } else {
            store.stored_observation_keys(&self.names, &unsure).await?
        };
        let fresh: Vec<bool> = all
            .iter()
            .zip(&verdicts)
            .map(|(o, v)| match v {
                Verdict::New => true,
                Verdict::Duplicate => false,
                Verdict::Unsure => {
                    !stored.contains(&(o.datastream, o.phenomenon_time.timestamp_micros()))
                }
            })
            .collect();
        let new: Vec<Observation> = all
            .into_iter()
            .zip(&fresh)
            .filter_map(|(o, f)| f.then_some(o))
            .collect();
        if new.is_empty() {
            return Ok((fresh, self.tail().versions.observations));
        }
        let hub = self.clone();
        let version = tokio::task::spawn_blocking(move || {
            let mut tail = hub.tail();
            if tail.wal.is_none() {
                let (wal, old, _) = Wal::open(&hub.wal_dir)?;
                if !old.is_empty() {
                    return Err(std::io::Error::other(
                        "the IoT log appeared while the server ran",
                    ));
                }
                tail.wal = Some(wal);
            }
            if let Some(wal) = tail.wal.as_mut() {
                wal.append(&new)?;
            }
            // Durable now: pushed live, then kept in the tail (which takes them without a copy).
            if hub.live.receiver_count() > 0 {
                for o in &new {
                    hub.push_live(&streams, o);
                }
            }
            tail.add(new);
            for how in &hows {
                tail.summary.add(how);
            }
            Ok(tail.versions.observations)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("writing the IoT log: {e}")))?
        .map_err(|e| log_error(&self.wal_dir, e))?;
        Ok((fresh, version))
    }

    fn push_live(&self, streams: &StreamIndex, o: &Observation) {
        let d = streams.get(&o.datastream);
        let loc = d.and_then(|d| d.spec.thing.location.as_ref());
        // No subscribers is not an error: the feed is best effort, the store is the record.
        let _ = self.live.send(Arc::new(LiveReading {
            datastream: o.datastream,
            time: o
                .phenomenon_time
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            result: o.result,
            quality: o.result_quality.clone(),
            lon: loc.map(|l| l.lon),
            lat: loc.map(|l| l.lat),
            unit: d.map(|d| d.spec.unit.symbol.clone()).unwrap_or_default(),
            protected: streams.protected.contains(&o.datastream),
        }));
    }
}

fn log_error(dir: &std::path::Path, e: std::io::Error) -> ApiError {
    ApiError::Internal(format!(
        "the IoT write-ahead log {} cannot be used: {e}; check the disk (space, permissions) of the store",
        dir.display()
    ))
}
