//! What every request shares: the store, the catalog of datasets, the tiler, the API keys, the metrics and
//! the worker runtime that runs SQL and tiling away from the HTTP runtime (STYLE rule 12).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;
use tvilling_core::{Classification, Store};

use crate::ServeOptions;
use crate::auth::keys::{Keys, key_file};
use crate::auth::oidc::Oidc;
use crate::auth::{Caller, credential};
use crate::catalog::Catalog;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::sta::hub::IotHub;
use crate::tiling::{Tiler, has_tile_cache, tileable};

/// The shared state of one server: one allocation behind an `Arc`, because every request clones it
/// (once per middleware layer and handler) and a deep clone was a measurable part of a small request.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] holds.
pub struct Shared {
    /// The store served.
    pub store: Store,
    /// Server settings and limits.
    pub options: Arc<ServeOptions>,
    /// Datasets and their newest versions.
    pub catalog: Arc<Catalog>,
    /// Background tiling.
    pub tiler: Tiler,
    /// Request counters and latencies.
    pub metrics: Arc<Metrics>,
    /// Runtime for SQL and tiling.
    pub workers: tokio::runtime::Handle,
    /// The IoT collection (SensorThings, batch ingest, live push).
    pub iot: IotHub,
    /// Tile content in memory.
    pub tile_cache: Arc<crate::tilecache::TileCache>,
    /// Collections in memory for OGC API paging.
    pub pages: Arc<crate::ogcapi::pages::PageCache>,
    keys: Arc<RwLock<(Keys, Option<SystemTime>)>>,
    oidc: Option<Oidc>,
}

/// A multi-threaded runtime on its own thread, for CPU-heavy work. It lives as long as the process: a
/// runtime cannot be dropped from inside another one, and the server needs it until it exits.
pub fn start_workers() -> std::io::Result<tokio::runtime::Handle> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("tvilling-worker")
        .enable_all()
        .build()?;
    let handle = rt.handle().clone();
    std::thread::Builder::new()
        .name("tvilling-workers".into())
        .spawn(move || rt.block_on(std::future::pending::<()>()))?;
    Ok(handle)
}

fn mtime(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl AppState {
    /// The state for `store`; the catalog is empty until the first [`AppState::poll`]. `iot` is the
    /// collection named by `options.server.iot.collection`, checked by the caller.
    pub fn new(
        store: Store,
        options: ServeOptions,
        workers: tokio::runtime::Handle,
        iot: IotHub,
    ) -> AppState {
        let tiler = Tiler::new(
            store.clone(),
            workers.clone(),
            options.server.auto_tile,
            options.server.tile_height_attr.clone(),
        );
        let oidc = options.server.auth.oidc.clone().map(Oidc::new);
        let tile_cache = Arc::new(crate::tilecache::TileCache::new(
            options.server.tile_cache_mb.saturating_mul(1 << 20),
        ));
        let pages = Arc::new(crate::ogcapi::pages::PageCache::new(
            options.server.features_cache_mb.saturating_mul(1 << 20),
        ));
        AppState(Arc::new(Shared {
            store,
            options: Arc::new(options),
            catalog: Arc::default(),
            tiler,
            metrics: Arc::default(),
            workers,
            iot,
            tile_cache,
            pages,
            keys: Arc::new(RwLock::new((Keys::default(), None))),
            oidc,
        }))
    }

    /// One look at the store: new commits, new or revoked API keys. New versions of datasets that have
    /// been tiled before are tiled at once, so they are served within seconds of the commit.
    pub async fn poll(&self) {
        if let Some(oidc) = &self.oidc {
            oidc.refresh().await;
        }
        match self.catalog.refresh(&self.store).await {
            Ok(changed) => {
                for (name, entry) in changed {
                    tracing::info!(dataset = %name, version = entry.version, "new version");
                    let wants_tiles = has_tile_cache(&self.store, &name)
                        && tileable(entry.props.kind, entry.props.geometry_type.as_deref());
                    if self.options.server.auto_tile && wants_tiles {
                        self.tiler.ensure(&name, entry.version);
                    }
                }
            }
            Err(e) => tracing::warn!("cannot read the store: {e}"),
        }
        let path = key_file(&self.store);
        let seen = mtime(&path);
        let known = self.keys.read().map(|k| k.1).unwrap_or(None);
        if seen != known {
            match Keys::load(&self.store) {
                Ok(keys) => {
                    if let Ok(mut k) = self.keys.write() {
                        *k = (keys, seen);
                    }
                }
                Err(e) => tracing::warn!("cannot read the API keys: {e}"),
            }
        }
    }

    /// Gives the store every acknowledged IoT reading before a read of the observations. A flush makes
    /// new versions (the first one creates the observations datasets), so the catalog looks again at
    /// once: a client reads its own writes without waiting for the next poll.
    pub async fn sync_iot(&self) -> ApiResult<()> {
        if self.iot.sync(&self.store).await? {
            self.poll().await;
        }
        Ok(())
    }

    /// Polls the store forever at the configured interval.
    pub async fn watch(self) {
        let every = Duration::from_millis(self.options.server.watch_interval_ms.max(50));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            self.poll().await;
        }
    }

    /// Who sent a request.
    pub fn caller(&self, headers: &HeaderMap) -> ApiResult<Caller> {
        match credential(headers)? {
            None if self.options.server.auth.anonymous => Ok(Caller::Anonymous),
            None => Err(ApiError::Unauthorized(
                "this server needs an API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
                    .into(),
            )),
            Some(key) => {
                let keys = self
                    .keys
                    .read()
                    .map_err(|_| ApiError::Internal("the key table is unusable (a bug)".into()))?;
                match (keys.0.find(&key), &self.oidc) {
                    (Some(k), _) => Ok(Caller::Key {
                        id: k.id.clone(),
                        role: k.role,
                    }),
                    (None, Some(oidc)) if Oidc::looks_like_jwt(&key) => oidc.verify(&key),
                    (None, _) => Err(ApiError::Unauthorized(
                        "unknown API key; ask an administrator for a key made with `tvilling apikey \
                         create`, or sign in at the identity provider (server.auth.oidc)"
                            .into(),
                    )),
                }
            }
        }
    }

    /// The datasets `caller` may read, with their classifications.
    pub fn visible(&self, caller: &Caller) -> BTreeMap<String, Classification> {
        self.catalog
            .all()
            .into_iter()
            .filter(|(_, e)| caller.may_read(e.props.classification))
            .map(|(n, e)| (n.to_string(), e.props.classification))
            .collect()
    }
}
