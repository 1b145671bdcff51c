//! The hot tail of an IoT collection: the readings acknowledged (in the write-ahead log) but not yet in
//! the Delta store, and the newest reading of every Datastream.
//!
//! The newest reading per Datastream answers "latest observation" without a scan. De-duplication is
//! cheap because the tail also knows each Datastream's newest *stored* time: a reading after it that is
//! not among the tail's keys cannot be stored yet, which covers sensors reporting in order and readings
//! that arrive a little out of order. Only a reading at or before that time (a retry of a flushed batch,
//! a late or replayed reading) needs a look-up in the store.

use std::collections::{HashMap, HashSet};

use tvilling_core::iot::{Observation, ObservationVersions};

use super::group::Summary;
use super::wal::Wal;

/// What the tail decided for one reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Newer than anything of its Datastream: store it.
    New,
    /// Already acknowledged (in the tail, or earlier in the same batch).
    Duplicate,
    /// At or before its Datastream's newest reading: the store must say.
    Unsure,
}

/// See the module doc.
#[derive(Debug, Default)]
pub struct Tail {
    /// The log, once the first reading arrives (or at start, when one was left).
    pub wal: Option<Wal>,
    /// Whether `newest` and `versions` have been read from the store.
    pub loaded: bool,
    /// The newest reading of each Datastream, stored or in the log.
    pub newest: HashMap<i64, Observation>,
    /// The newest time (µs) of each Datastream's readings in the store.
    pub stored: HashMap<i64, i64>,
    /// The Datastreams with more than one reading.
    pub several: HashSet<i64>,
    /// Readings in the log, not yet given to the store.
    pub pending: Vec<Observation>,
    /// Keys of the pending readings and of those being flushed.
    pub keys: HashSet<(i64, i64)>,
    /// The store's versions that `newest` and the flushed readings account for.
    pub versions: ObservationVersions,
    /// The requests whose readings are pending, for the provenance of the next flush.
    pub summary: Summary,
}

fn key(o: &Observation) -> (i64, i64) {
    (o.datastream, o.phenomenon_time.timestamp_micros())
}

impl Tail {
    /// A verdict per reading of `obs`, in order.
    pub fn classify(&self, obs: &[Observation]) -> Vec<Verdict> {
        let mut batch = HashSet::with_capacity(obs.len());
        obs.iter()
            .map(|o| {
                let k = key(o);
                // Every acknowledged reading is in the store or among `keys`, and the store holds
                // nothing of a Datastream after its `stored` time: only a reading at or before that
                // time can be in the store without the tail knowing.
                if self.keys.contains(&k) || !batch.insert(k) {
                    Verdict::Duplicate
                } else if self.stored.get(&o.datastream).is_some_and(|s| *s >= k.1) {
                    Verdict::Unsure
                } else {
                    Verdict::New
                }
            })
            .collect()
    }

    /// Takes `fresh` (written to the log) into the tail.
    pub fn add(&mut self, fresh: &[Observation]) {
        for o in fresh {
            self.keys.insert(key(o));
            if self.newest.contains_key(&o.datastream) {
                self.several.insert(o.datastream);
            }
            let newer = self
                .newest
                .get(&o.datastream)
                .is_none_or(|n| n.phenomenon_time < o.phenomenon_time);
            if newer {
                self.newest.insert(o.datastream, o.clone());
            }
        }
        self.pending.extend_from_slice(fresh);
    }

    /// Forgets the keys of `flushed`, now in the store (where an [`Verdict::Unsure`] look-up finds them).
    pub fn flushed(&mut self, flushed: &[Observation], versions: ObservationVersions) {
        for o in flushed {
            let (ds, t) = key(o);
            self.keys.remove(&(ds, t));
            let s = self.stored.entry(ds).or_insert(t);
            *s = (*s).max(t);
        }
        self.versions = versions;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn r(ds: i64, s: i64) -> Observation {
        Observation {
            datastream: ds,
            phenomenon_time: DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap(),
            result_time: None,
            result: s as f64,
            result_quality: None,
        }
    }

    #[test]
    fn only_readings_at_or_before_the_newest_need_the_store() {
        let mut tail = Tail::default();
        tail.add(&[r(1, 10), r(2, 5)]);
        use Verdict::*;
        // Nothing of these Datastreams is stored: a reading not in the tail is new, in order or not.
        let v = tail.classify(&[r(1, 11), r(1, 10), r(1, 9), r(3, 0), r(3, 0), r(2, 6)]);
        assert_eq!(v, [New, Duplicate, New, New, Duplicate, New]);
        assert_eq!(tail.newest[&1].phenomenon_time, r(1, 10).phenomenon_time);
        // Once flushed, a key is the store's to answer: at or before the stored newest, ask the store.
        let flushed = std::mem::take(&mut tail.pending);
        tail.flushed(&flushed, ObservationVersions::default());
        assert_eq!(
            tail.classify(&[r(1, 10), r(1, 9), r(1, 11)]),
            [Unsure, Unsure, New]
        );
        tail.add(&[r(1, 3)]);
        assert_eq!(tail.newest[&1].phenomenon_time, r(1, 10).phenomenon_time);
    }
}
