//! Tiles on demand: a dataset version without a tileset in the store's tile cache is tiled in the
//! background, one job per dataset at a time, through `tvilling_tiles::tile` (incremental: unchanged
//! content is reused, so a new version after a small commit takes seconds). Requests meanwhile get 503 with
//! `Retry-After`. A failed version is remembered and not retried until a newer version arrives.
//!
//! Jobs run on the worker runtime ([`crate::state::Workers`]), never on the runtime serving HTTP.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tvilling_core::progress::NoProgress;
use tvilling_core::{At, DatasetName, Kind, Store};
use tvilling_tiles::{Height, TileOptions};

/// Column names used as footprint heights (metres) when the config names none.
const HEIGHT_COLUMNS: [&str; 4] = ["hojd", "höjd", "height", "measuredheight"];

/// Where a dataset version's tiles stand.
#[derive(Debug, Clone, PartialEq)]
pub enum TileState {
    /// The tileset is in the cache.
    Ready(PathBuf),
    /// A job is building it (or waits for the dataset's running job).
    Building,
    /// Tiling failed with this message.
    Failed(String),
    /// No tiles and automatic tiling is off.
    Missing,
}

#[derive(Debug, Default)]
struct Jobs {
    /// Datasets with a running job, and the version queued after it.
    running: HashMap<DatasetName, Option<u64>>,
    /// Versions whose tiling failed.
    failed: HashMap<(DatasetName, u64), String>,
}

/// The tiling jobs of one server.
#[derive(Debug, Clone)]
pub struct Tiler {
    store: Store,
    workers: tokio::runtime::Handle,
    auto: bool,
    heights: Arc<BTreeMap<String, String>>,
    jobs: Arc<Mutex<Jobs>>,
}

/// The cached tileset of a dataset version.
pub fn tileset_path(store: &Store, name: &DatasetName, version: u64) -> PathBuf {
    store
        .dataset_dir(name)
        .join("_tiles")
        .join(format!("tileset-v{version}.json"))
}

/// Whether a dataset has ever been tiled (its tile cache exists).
pub fn has_tile_cache(store: &Store, name: &DatasetName) -> bool {
    store.dataset_dir(name).join("_tiles").is_dir()
}

/// Whether the tiler can make something of a dataset of this kind and geometry type.
pub fn tileable(kind: Kind, geometry_type: Option<&str>) -> bool {
    match kind {
        Kind::Citymodel | Kind::Bim | Kind::Pointcloud => true,
        Kind::Vector => geometry_type.is_some_and(|g| {
            let g = g.to_ascii_lowercase();
            ["polygon", "surface", "polyhedral", "tin"]
                .iter()
                .any(|p| g.contains(p))
        }),
        _ => false,
    }
}

impl Tiler {
    /// A tiler over `store`, running jobs on `workers`.
    pub fn new(
        store: Store,
        workers: tokio::runtime::Handle,
        auto: bool,
        heights: BTreeMap<String, String>,
    ) -> Tiler {
        Tiler {
            store,
            workers,
            auto,
            heights: Arc::new(heights),
            jobs: Arc::default(),
        }
    }

    /// The state of `name` at `version`, starting a job when it has no tiles yet.
    pub fn ensure(&self, name: &DatasetName, version: u64) -> TileState {
        let path = tileset_path(&self.store, name, version);
        if path.is_file() {
            return TileState::Ready(path);
        }
        let Ok(mut jobs) = self.jobs.lock() else {
            return TileState::Failed("the tiling job table is unusable (a bug)".into());
        };
        if let Some(msg) = jobs.failed.get(&(name.clone(), version)) {
            return TileState::Failed(msg.clone());
        }
        if !self.auto {
            return TileState::Missing;
        }
        if let Some(queued) = jobs.running.get_mut(name) {
            *queued = Some(version);
            return TileState::Building;
        }
        jobs.running.insert(name.clone(), None);
        drop(jobs);
        self.spawn(name.clone(), version);
        TileState::Building
    }

    fn spawn(&self, name: DatasetName, version: u64) {
        let this = self.clone();
        self.workers.spawn(async move {
            let mut version = version;
            loop {
                let started = std::time::Instant::now();
                let result = this.tile(&name, version).await;
                let Ok(mut jobs) = this.jobs.lock() else {
                    return;
                };
                match result {
                    Ok(r) => tracing::info!(
                        dataset = %name, version, tiles = r.tiles, built = r.built, reused = r.unchanged,
                        seconds = started.elapsed().as_secs_f64(), "tiled"
                    ),
                    Err(e) => {
                        tracing::warn!(dataset = %name, version, "tiling failed: {e}");
                        jobs.failed.insert((name.clone(), version), e);
                    }
                }
                // Run the version asked for while this one was building, unless it is done already.
                let next = jobs.running.get_mut(&name).and_then(Option::take);
                match next {
                    Some(v) if v != version && !tileset_path(&this.store, &name, v).is_file() => {
                        version = v;
                    }
                    _ => {
                        jobs.running.remove(&name);
                        return;
                    }
                }
            }
        });
    }

    async fn tile(
        &self,
        name: &DatasetName,
        version: u64,
    ) -> Result<tvilling_tiles::TileReport, String> {
        let info = self
            .store
            .info(name, At::Version(version))
            .await
            .map_err(|e| e.to_string())?;
        let height = match self.heights.get(name.as_str()) {
            Some(col) => Height::Attribute(col.clone()),
            None if info.kind == Kind::Citymodel.as_str() => Height::Geometry,
            None => info
                .columns
                .iter()
                .find(|c| {
                    HEIGHT_COLUMNS.contains(&c.name.to_lowercase().as_str())
                        && (c.data_type.starts_with("Float") || c.data_type.starts_with("Int"))
                })
                .map(|c| Height::Attribute(c.name.clone()))
                .unwrap_or(Height::Geometry),
        };
        let opts = TileOptions {
            height,
            ..TileOptions::default()
        };
        tvilling_tiles::tile(&self.store, name, At::Version(version), &opts, Arc::new(NoProgress))
            .await
            .map_err(|e| {
                format!(
                    "{e} (for automatic tiling set server.tile_height_attr.{name} = \"COLUMN\" in the config, \
                     or run `tvilling tile {name} --version {version} …` once)"
                )
            })
    }
}
