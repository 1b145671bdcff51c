//! What the store holds right now: every dataset's newest version and properties, refreshed by polling the
//! Delta logs (a directory listing per dataset; no table is opened unless its version changed). A commit by
//! any process is seen within one poll interval, which is what lets a new version be served within seconds.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};

use tvilling_core::{DatasetName, DatasetProperties, Store};

/// One dataset as last seen.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Newest committed version.
    pub version: u64,
    /// Its table properties (kind, classification, owner…).
    pub props: DatasetProperties,
}

/// The datasets of a store, refreshed by [`Catalog::refresh`].
#[derive(Debug, Default)]
pub struct Catalog {
    entries: RwLock<BTreeMap<DatasetName, Entry>>,
    scanned: AtomicBool,
}

/// The newest version in a dataset's Delta log: the highest `<version>.json` commit file.
pub fn latest_version(store: &Store, name: &DatasetName) -> Option<u64> {
    let dir = std::fs::read_dir(store.dataset_dir(name).join("_delta_log")).ok()?;
    dir.flatten()
        .filter_map(|e| {
            let n = e.file_name();
            let n = n.to_str()?;
            n.strip_suffix(".json")?.parse::<u64>().ok()
        })
        .max()
}

impl Catalog {
    /// Whether one scan of the store has completed.
    pub fn ready(&self) -> bool {
        self.scanned.load(Ordering::Acquire)
    }

    /// A dataset's entry.
    pub fn get(&self, name: &DatasetName) -> Option<Entry> {
        self.entries.read().ok()?.get(name).cloned()
    }

    /// A dataset's classification, without copying its entry (asked on every IoT write).
    pub fn classification(&self, name: &DatasetName) -> Option<tvilling_core::Classification> {
        Some(self.entries.read().ok()?.get(name)?.props.classification)
    }

    /// Every dataset, sorted by name.
    pub fn all(&self) -> Vec<(DatasetName, Entry)> {
        self.entries
            .read()
            .map(|e| e.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default()
    }

    /// Looks at the store once; returns the datasets whose version changed (new ones included).
    pub async fn refresh(&self, store: &Store) -> tvilling_core::Result<Vec<(DatasetName, Entry)>> {
        let names = store.datasets().await?;
        let mut changed = Vec::new();
        let known = self.entries.read().map(|e| e.clone()).unwrap_or_default();
        let mut next = BTreeMap::new();
        for name in names {
            let Some(version) = latest_version(store, &name) else {
                continue;
            };
            match known.get(&name) {
                Some(e) if e.version == version => {
                    next.insert(name, e.clone());
                }
                _ => match store.properties(&name).await {
                    Ok(props) => {
                        // The properties come from the table's newest version, which may be newer still.
                        let entry = Entry { version, props };
                        changed.push((name.clone(), entry.clone()));
                        next.insert(name, entry);
                    }
                    Err(e) => {
                        tracing::warn!(dataset = %name, "cannot read the dataset's properties: {e}");
                        if let Some(old) = known.get(&name) {
                            next.insert(name, old.clone());
                        }
                    }
                },
            }
        }
        if let Ok(mut e) = self.entries.write() {
            *e = next;
        }
        self.scanned.store(true, Ordering::Release);
        Ok(changed)
    }
}
