//! Collections kept in memory, sorted by id, for paging without a filter: the requests a client walking a
//! collection (QGIS, OWSLib, a harvester) makes page after page. Each such page would otherwise read,
//! decode and sort the whole dataset version to cut out 100 rows; from memory it is a zero-copy slice,
//! and only its rows are transformed and encoded (by the same SQL as every other page).
//!
//! One entry per dataset, for its newest version served (a new version replaces it). Datasets whose
//! decoded rows would take more than a quarter of the budget (`server.features_cache_mb`) are not kept,
//! nor anything once the budget is spent; those pages go through the query engine as before.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tvilling_core::DatasetName;
use tvilling_core::arrow::array::RecordBatch;
use tvilling_core::arrow::compute::concat_batches;

/// A dataset version's rows in id order, as one batch.
#[derive(Debug)]
pub struct Sorted {
    /// The version.
    pub version: u64,
    /// Every row, sorted by id.
    pub rows: RecordBatch,
}

/// The cache (see the module doc).
#[derive(Debug)]
pub struct PageCache {
    budget: usize,
    entries: Mutex<HashMap<DatasetName, Arc<Sorted>>>,
}

impl PageCache {
    /// A cache of at most `budget` bytes of decoded rows (0 keeps nothing).
    pub fn new(budget: usize) -> PageCache {
        PageCache {
            budget,
            entries: Mutex::default(),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<DatasetName, Arc<Sorted>>> {
        // Inserts and removes leave the map whole before anything can panic.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rows of `name` at `version`, when kept.
    pub fn get(&self, name: &DatasetName, version: u64) -> Option<Arc<Sorted>> {
        self.entries()
            .get(name)
            .filter(|s| s.version == version)
            .cloned()
    }

    /// Keeps the sorted `batches` of `name` at `version` if they fit, replacing an older version, and
    /// returns them as one batch (`None` when they do not fit).
    ///
    /// # Errors
    /// The batches do not share one schema (a bug).
    pub fn keep(
        &self,
        name: &DatasetName,
        version: u64,
        batches: &[RecordBatch],
    ) -> Result<Option<Arc<Sorted>>, String> {
        let Some(first) = batches.first() else {
            return Ok(None);
        };
        let rows = concat_batches(&first.schema(), batches).map_err(|e| e.to_string())?;
        let size = rows.get_array_memory_size();
        if size > self.budget / 4 {
            return Ok(None);
        }
        let sorted = Arc::new(Sorted { version, rows });
        let mut entries = self.entries();
        entries.remove(name);
        let held: usize = entries
            .values()
            .map(|s| s.rows.get_array_memory_size())
            .sum();
        if held + size > self.budget {
            return Ok(None);
        }
        entries.insert(name.clone(), sorted.clone());
        Ok(Some(sorted))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tvilling_core::arrow::array::{Int64Array, RecordBatch};

    use super::*;

    fn batch(n: i64) -> RecordBatch {
        RecordBatch::try_from_iter([("id", Arc::new(Int64Array::from_iter_values(0..n)) as _)])
            .unwrap()
    }

    #[test]
    fn keeps_the_newest_version_within_the_budget() {
        let cache = PageCache::new(64 * 1024);
        let name: DatasetName = "byggnader".parse().unwrap();
        let kept = cache
            .keep(&name, 1, &[batch(10), batch(5)])
            .unwrap()
            .unwrap();
        assert_eq!(kept.rows.num_rows(), 15);
        assert!(cache.get(&name, 1).is_some());
        assert!(
            cache.get(&name, 2).is_none(),
            "another version is not served"
        );
        cache.keep(&name, 2, &[batch(3)]).unwrap();
        assert!(
            cache.get(&name, 1).is_none(),
            "the new version replaced the old"
        );
        // Over a quarter of the budget: served by the engine, not kept.
        let big: DatasetName = "stor".parse().unwrap();
        assert!(cache.keep(&big, 1, &[batch(10_000)]).unwrap().is_none());
        assert!(cache.get(&big, 1).is_none());
    }
}
