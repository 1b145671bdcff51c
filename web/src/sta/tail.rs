//! The hot tail of an IoT collection: the readings acknowledged (in the write-ahead log) but not yet in
//! the Delta store, and the newest reading of every Datastream.
//!
//! The newest reading per Datastream answers "latest observation" without a scan. De-duplication is
//! cheap because the tail also knows each Datastream's newest *stored* time: a reading after it that is
//! not among the tail's keys cannot be stored yet, which covers sensors reporting in order and readings
//! that arrive a little out of order. Only a reading at or before that time (a retry of a flushed batch,
//! a late or replayed reading) needs a look-up in the store.

use rustc_hash::{FxHashMap, FxHashSet};
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

/// A set of (Datastream, µs) keys made for readings that mostly arrive in order: each Datastream's
/// times in a rising list (an insert is a push, a look-up one comparison with the last), and the few
/// that arrive late in a side set. A hash set of every key cost more than the rest of a batch write.
#[derive(Debug, Default)]
pub struct Times {
    rising: FxHashMap<i64, Vec<i64>>,
    late: FxHashSet<(i64, i64)>,
}

impl Times {
    /// Whether `(ds, t)` is in the set.
    pub fn contains(&self, ds: i64, t: i64) -> bool {
        let in_list = self
            .rising
            .get(&ds)
            .is_some_and(|v| v.last().is_some_and(|l| *l >= t) && v.binary_search(&t).is_ok());
        in_list || (!self.late.is_empty() && self.late.contains(&(ds, t)))
    }

    /// Adds `(ds, t)`; false when it was there already.
    pub fn insert(&mut self, ds: i64, t: i64) -> bool {
        let v = self.rising.entry(ds).or_default();
        match v.last() {
            Some(l) if *l >= t => v.binary_search(&t).is_err() && self.late.insert((ds, t)),
            _ => {
                v.push(t);
                true
            }
        }
    }

    /// Each Datastream's newest time in the set.
    pub fn newest(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        let late = self.late.iter().copied();
        self.rising
            .iter()
            .filter_map(|(ds, v)| Some((*ds, *v.last()?)))
            .chain(late)
    }

    /// Takes every key of `other` (when this set is empty, without a look at each: this runs under the
    /// tail's lock at the start of every flush).
    pub fn merge(&mut self, other: Times) {
        if self.rising.is_empty() && self.late.is_empty() {
            *self = other;
            return;
        }
        for (ds, times) in other.rising {
            for t in times {
                self.insert(ds, t);
            }
        }
        for (ds, t) in other.late {
            self.insert(ds, t);
        }
    }
}

/// See the module doc.
#[derive(Debug, Default)]
pub struct Tail {
    /// The log, once the first reading arrives (or at start, when one was left).
    pub wal: Option<Wal>,
    /// Whether `newest` and `versions` have been read from the store.
    pub loaded: bool,
    /// The newest reading of each Datastream, stored or in the log.
    pub newest: FxHashMap<i64, Observation>,
    /// The newest time (µs) of each Datastream's readings in the store.
    pub stored: FxHashMap<i64, i64>,
    /// The Datastreams with more than one reading.
    pub several: FxHashSet<i64>,
    /// Readings in the log, not yet given to the store: the batches as they were written. One growing
    /// list of every reading would be copied whole each time it outgrew its allocation, holding up all
    /// writers for tens of milliseconds under the tail's lock.
    pending: Vec<Vec<Observation>>,
    /// How many readings `pending` holds.
    pending_len: usize,
    /// Keys of the pending readings.
    keys: Times,
    /// Keys of the readings being flushed.
    flushing: Times,
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
        let mut batch = Times::default();
        obs.iter()
            .map(|o| {
                let (ds, t) = key(o);
                // Every acknowledged reading is in the store or among the keys, and the store holds
                // nothing of a Datastream after its `stored` time: only a reading at or before that
                // time can be in the store without the tail knowing.
                if self.keys.contains(ds, t)
                    || self.flushing.contains(ds, t)
                    || !batch.insert(ds, t)
                {
                    Verdict::Duplicate
                } else if self.stored.get(&ds).is_some_and(|s| *s >= t) {
                    Verdict::Unsure
                } else {
                    Verdict::New
                }
            })
            .collect()
    }

    /// Takes `fresh` (written to the log) into the tail.
    pub fn add(&mut self, fresh: Vec<Observation>) {
        for o in &fresh {
            let (ds, t) = key(o);
            self.keys.insert(ds, t);
            match self.newest.get_mut(&ds) {
                Some(n) => {
                    self.several.insert(ds);
                    if n.phenomenon_time < o.phenomenon_time {
                        n.clone_from(o);
                    }
                }
                None => {
                    self.newest.insert(ds, o.clone());
                }
            }
        }
        self.pending_len += fresh.len();
        self.pending.push(fresh);
    }

    /// How many readings wait for a flush.
    pub fn pending_len(&self) -> usize {
        self.pending_len
    }

    /// Takes the pending readings for a flush, in the order they came; their keys stay known until
    /// [`Tail::flushed`] or [`Tail::flush_failed`].
    pub fn begin_flush(&mut self) -> Vec<Vec<Observation>> {
        let keys = std::mem::take(&mut self.keys);
        self.flushing.merge(keys);
        self.pending_len = 0;
        std::mem::take(&mut self.pending)
    }

    /// The readings of the flush are in the store (where an [`Verdict::Unsure`] look-up finds them).
    pub fn flushed(&mut self, versions: ObservationVersions) {
        for (ds, t) in std::mem::take(&mut self.flushing).newest() {
            let s = self.stored.entry(ds).or_insert(t);
            *s = (*s).max(t);
        }
        self.versions = versions;
    }

    /// The flush of `batch` failed: its readings wait again, before those that came since.
    pub fn flush_failed(&mut self, mut batch: Vec<Vec<Observation>>) {
        self.pending_len += batch.iter().map(Vec::len).sum::<usize>();
        batch.append(&mut self.pending);
        self.pending = batch;
        let keys = std::mem::take(&mut self.flushing);
        self.keys.merge(keys);
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
        tail.add(vec![r(1, 10), r(2, 5)]);
        use Verdict::*;
        // Nothing of these Datastreams is stored: a reading not in the tail is new, in order or not.
        let v = tail.classify(&[r(1, 11), r(1, 10), r(1, 9), r(3, 0), r(3, 0), r(2, 6)]);
        assert_eq!(v, [New, Duplicate, New, New, Duplicate, New]);
        assert_eq!(tail.newest[&1].phenomenon_time, r(1, 10).phenomenon_time);
        // Once flushed, a key is the store's to answer: at or before the stored newest, ask the store.
        tail.begin_flush();
        tail.flushed(ObservationVersions::default());
        assert_eq!(
            tail.classify(&[r(1, 10), r(1, 9), r(1, 11)]),
            [Unsure, Unsure, New]
        );
        tail.add(vec![r(1, 3)]);
        assert_eq!(tail.newest[&1].phenomenon_time, r(1, 10).phenomenon_time);
    }

    #[test]
    fn late_readings_and_a_failed_flush_keep_every_key() {
        let mut t = Times::default();
        assert!(t.insert(1, 10) && t.insert(1, 20) && t.insert(1, 15) && t.insert(2, 1));
        assert!(!t.insert(1, 15) && !t.insert(1, 20) && !t.insert(1, 10));
        assert!(t.contains(1, 15) && t.contains(1, 10) && !t.contains(1, 12) && !t.contains(3, 1));
        let mut newest: Vec<(i64, i64)> = t.newest().collect();
        newest.sort();
        assert_eq!(newest, [(1, 15), (1, 20), (2, 1)]);

        let mut tail = Tail::default();
        tail.add(vec![r(1, 10), r(1, 12)]);
        let batch = tail.begin_flush();
        assert_eq!(batch.concat().len(), 2);
        // Readings that arrive during the flush, one of them a resend of a reading being flushed.
        assert_eq!(
            tail.classify(&[r(1, 12), r(1, 13)]),
            [Verdict::Duplicate, Verdict::New]
        );
        tail.add(vec![r(1, 13)]);
        tail.flush_failed(batch);
        assert_eq!(tail.pending_len(), 3);
        let times: Vec<i64> = tail
            .pending
            .iter()
            .flatten()
            .map(|o| o.result as i64)
            .collect();
        assert_eq!(times, [10, 12, 13], "the failed batch waits again, first");
        assert_eq!(
            tail.classify(&[r(1, 10), r(1, 13)]),
            [Verdict::Duplicate, Verdict::Duplicate]
        );
        tail.begin_flush();
        tail.flushed(ObservationVersions::default());
        assert_eq!(tail.stored[&1], r(1, 13).phenomenon_time.timestamp_micros());
        assert_eq!(
            tail.classify(&[r(1, 12), r(1, 14)]),
            [Verdict::Unsure, Verdict::New]
        );
    }
}
