//! `tvilling-web` is the HTTP server of the twin (`tvilling serve`): 3D Tiles from the store's tile cache,
//! `POST /api/sql` through `tvilling-query`, the dataset listing, the CesiumJS viewer's files, and the
//! operational endpoints (`/healthz`, `/readyz`, `/metrics`, `/api/openapi.json`). docs/server.md holds the
//! URL contract.
//!
//! Entry points: [`Server::bind`] then [`Server::run`]; [`ServerConfig`] is the `[server]` config section;
//! [`auth::keys::Keys`] manages API keys for `tvilling apikey`.
//!
//! Access control is one rule applied on every path: a caller ([`auth::Caller`]) sees a dataset only if its
//! role's clearance covers the dataset's classification; anonymous callers see open data only. Hidden
//! datasets answer exactly like missing ones.
//!
//! It holds no domain logic: tiles come from `tvilling-tiles`, rows from `tvilling-query`. SQL and tiling
//! run on a separate worker runtime so the runtime serving HTTP never blocks. OGC API Features is
//! [`ogcapi`] (served by [`routes::ogcapi`]); SensorThings API and IoT ingest are [`sta`] and
//! [`routes::iot`] (docs/iot.md).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = tvilling_core::Store::open("./tvilling-data")?;
//! let mut options = tvilling_web::ServeOptions::new(tvilling_web::ServerConfig::default());
//! options.server.addr = "127.0.0.1:0".into();
//! let server = tvilling_web::Server::bind(store, options).await?;
//! println!("serving on http://{}", server.local_addr());
//! server.run(tvilling_web::shutdown_signal()).await?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]
// Denied, not forbidden: `sta::flusher` lowers its thread's priority through libc, the one call without a
// safe wrapper (and allows it there alone).
#![deny(unsafe_code)]

pub mod auth;
pub mod catalog;
pub mod compress;
pub mod config;
pub mod error;
pub mod metrics;
pub mod mqtt;
pub mod ogcapi;
pub mod openapi;
pub mod routes;
pub mod sql;
pub mod sta;
pub mod state;
pub mod tilecache;
pub mod tiling;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

pub use config::ServerConfig;
pub use sql::ProjJson;
use state::AppState;
use tvilling_core::Store;

/// Everything `tvilling serve` passes to the server.
#[derive(Clone)]
pub struct ServeOptions {
    /// The `[server]` section.
    pub server: ServerConfig,
    /// SQL statement timeout (the CLI passes `query.timeout_seconds` when set).
    pub sql_timeout: Duration,
    /// DataFusion memory cap for SQL (bytes), from `query.memory_limit`.
    pub memory_limit: Option<usize>,
    /// PROJJSON for GeoParquet answers (see [`ProjJson`]).
    pub projjson: Option<ProjJson>,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("server", &self.server)
            .field("sql_timeout", &self.sql_timeout)
            .field("memory_limit", &self.memory_limit)
            .field("projjson", &self.projjson.is_some())
            .finish()
    }
}

impl ServeOptions {
    /// Options with the SQL timeout of `server` and no memory cap.
    pub fn new(server: ServerConfig) -> ServeOptions {
        ServeOptions {
            sql_timeout: Duration::from_secs(server.sql_timeout_seconds.max(1)),
            server,
            memory_limit: None,
            projjson: None,
        }
    }
}

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address is not an address.
    #[error("server.addr = '{0}' is not an address like 127.0.0.1:8080 or 0.0.0.0:80")]
    BadAddr(String),
    /// Binding failed (port taken, no permission).
    #[error("cannot listen on {addr}: {source}; choose another --addr (port 0 picks a free one)")]
    Bind {
        /// The address.
        addr: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// `server.iot.collection` is not a dataset name.
    #[error("server.iot.collection = '{name}' is not a usable collection name: {why}")]
    BadIotCollection {
        /// The name given.
        name: String,
        /// Why not.
        why: String,
    },
    /// The IoT write-ahead log left by an earlier run cannot be stored.
    #[error("cannot store the readings left in the IoT write-ahead log: {0}")]
    IotLog(String),
    /// `server.iot.mqtt` cannot be used.
    #[error("{0}")]
    Mqtt(String),
    /// The worker runtime could not start.
    #[error("cannot start the worker threads: {0}")]
    Workers(std::io::Error),
    /// The HTTP server failed.
    #[error("the HTTP server failed: {0}")]
    Serve(#[from] hyper::Error),
}

/// A bound server, ready to [`run`](Server::run).
pub struct Server {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    state: AppState,
}

impl Server {
    /// Binds `options.server.addr`, reads the store's catalog and API keys once, and starts watching the
    /// store for commits.
    pub async fn bind(store: Store, options: ServeOptions) -> Result<Server, Error> {
        let given = options.server.addr.clone();
        let addr: SocketAddr = given.parse().map_err(|_| Error::BadAddr(given.clone()))?;
        let listener = std::net::TcpListener::bind(addr).map_err(|source| Error::Bind {
            addr: given.clone(),
            source,
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|source| Error::Bind {
                addr: given.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: given,
            source,
        })?;
        let collection = &options.server.iot.collection;
        let iot = collection
            .parse::<tvilling_core::DatasetName>()
            .map(|name| sta::hub::IotHub::new(&name, &store, options.server.iot.flush_policy()))
            .map_err(|e| Error::BadIotCollection {
                name: collection.clone(),
                why: e.to_string(),
            })?;
        let workers = state::start_workers().map_err(Error::Workers)?;
        let viewer = options
            .server
            .viewer_dir
            .clone()
            .unwrap_or_else(config::default_viewer_dir);
        if !viewer.join("index.html").is_file() {
            tracing::warn!(
                "no viewer at {} (index.html missing): / answers 404; set server.viewer_dir",
                viewer.display()
            );
        }
        let state = AppState::new(store, options, workers, iot);
        state.poll().await;
        // A crash left acknowledged readings in the IoT log: store them before serving anything.
        if state.iot.has_log() {
            state
                .iot
                .load(&state.store)
                .await
                .map_err(|e| Error::IotLog(e.to_string()))?;
        }
        Ok(Server {
            listener,
            addr,
            state,
        })
    }

    /// The bound address (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` completes, then finishes the requests in flight and returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), Error> {
        mqtt::spawn(&self.state).map_err(Error::Mqtt)?;
        let watcher = tokio::spawn(self.state.clone().watch());
        let flusher =
            sta::flusher::Flusher::start(self.state.iot.clone(), self.state.store.clone())
                .map_err(Error::Workers)?;
        // The hub reads its Datastreams and newest readings once; done now, the first writes do not all
        // wait for it.
        let (iot, store) = (self.state.iot.clone(), self.state.store.clone());
        tokio::spawn(async move {
            if let Err(e) = iot.warm(&store).await {
                tracing::warn!("reading the IoT collection failed (retried at the first use): {e}");
            }
        });
        let replay = self.state.options.server.iot.replay_every().map(|every| {
            let s = &self.state;
            tokio::spawn(sta::replay::run(s.iot.clone(), s.store.clone(), every))
        });
        let (iot, store) = (self.state.iot.clone(), self.state.store.clone());
        let app = routes::router(self.state);
        tracing::info!(addr = %self.addr, "listening on http://{}", self.addr);
        let server = hyper::Server::from_tcp(self.listener)?
            .serve(app.into_make_service())
            .with_graceful_shutdown(shutdown);
        let result = server.await;
        watcher.abort();
        flusher.stop().await;
        if let Some(r) = replay {
            r.abort();
        }
        // The log would be replayed at the next start anyway; flushing now leaves the store complete.
        if let Err(e) = iot.flush(&store).await {
            tracing::warn!("the IoT log stays for the next start: {e}");
        }
        tracing::info!("server stopped");
        Ok(result?)
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM, the signals service managers send to stop a server.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
