//! The `[server]` section of tvilling's one configuration struct. The CLI embeds [`ServerConfig`] in its
//! `Config` (file + `TVILLING_*` environment + flags), so the defaults here are the documented ones and
//! `tvilling config print` shows them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::auth::oidc::OidcConfig;

/// The address `tvilling serve` binds when nothing else is configured.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
/// Largest request body (bytes): SQL statements are small.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// Requests running longer than this are answered 408.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 120;
/// SQL statements are cancelled after this long unless `query.timeout_seconds` says otherwise.
pub const DEFAULT_SQL_TIMEOUT_SECONDS: u64 = 60;
/// Most rows one `POST /api/sql` answers; more are cut off and flagged with `X-Tvilling-Truncated`.
pub const DEFAULT_SQL_ROW_LIMIT: usize = 100_000;
/// Megabytes of tile content kept in memory.
pub const DEFAULT_TILE_CACHE_MB: usize = 256;
/// Megabytes of collections kept in memory for OGC API paging.
pub const DEFAULT_FEATURES_CACHE_MB: usize = 512;
/// How often the store is polled for new commits (milliseconds).
pub const DEFAULT_WATCH_INTERVAL_MS: u64 = 1000;

/// The viewer folder of this source tree (`web/viewer`), the default for [`ServerConfig::viewer_dir`].
pub fn default_viewer_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/viewer"))
}

/// The CesiumJS build that `scripts/bootstrap.sh` installs (pinned in tools/cesium-check), the default for
/// [`ServerConfig::cesium_dir`].
pub fn default_cesium_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tools/cesium-check/node_modules/cesium/Build/Cesium"
    ))
}

/// How `tvilling serve` runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address and port to bind, e.g. "127.0.0.1:8080" or "0.0.0.0:80" (port 0 picks a free port).
    pub addr: String,
    /// Origins allowed by CORS, e.g. ["https://karta.example.se"]; ["*"] allows any origin (default: none).
    pub cors_origins: Vec<String>,
    /// Largest request body in bytes.
    pub body_limit: usize,
    /// Answer 408 when a request takes longer than this (seconds).
    pub request_timeout_seconds: u64,
    /// Most rows one SQL request returns.
    pub sql_row_limit: usize,
    /// SQL timeout (seconds) when `query.timeout_seconds` is not set.
    pub sql_timeout_seconds: u64,
    /// How often to look for new commits in the store (milliseconds).
    pub watch_interval_ms: u64,
    /// Folder served at `/` (the CesiumJS viewer); default: web/viewer of the source tree.
    pub viewer_dir: Option<PathBuf>,
    /// Folder served at `/cesium/` (the CesiumJS build the viewer loads, so it works offline and
    /// self-hosted); default: the pinned build from tools/cesium-check.
    pub cesium_dir: Option<PathBuf>,
    /// Tile datasets that have no tiles yet, in the background, on first request and on each commit.
    pub auto_tile: bool,
    /// Megabytes of tile content kept in memory (content files never change, so they are served from
    /// memory until evicted, oldest first); 0 reads every request from disk.
    pub tile_cache_mb: usize,
    /// Megabytes of decoded collections kept in memory, sorted, for OGC API Features paging without a
    /// filter (each collection at most a quarter of it; larger ones are paged by the query engine).
    pub features_cache_mb: usize,
    /// Footprint height column per dataset for automatic tiling, e.g. { byggnader = "hojd" }. Without an
    /// entry a column named hojd, height or measuredheight is used, else the geometry's own z.
    pub tile_height_attr: BTreeMap<String, String>,
    /// Base maps the viewer offers besides Cesium's bundled NaturalEarthII (its offline default), e.g.
    /// Lantmäteriet's topographic WMTS; listed to the viewer by `GET /api/viewer`.
    pub base_layers: Vec<BaseLayer>,
    /// Who may read what.
    pub auth: AuthConfig,
    /// Sensor readings: the IoT collection served under /sta/v1.1 and /api/iot.
    pub iot: IotConfig,
}

/// A base map of the viewer from an OGC web map service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaseLayer {
    /// The name the viewer lists, e.g. "Lantmäteriet topowebb".
    pub name: String,
    /// `wms` (GetMap requests) or `wmts` (tiles, KVP or a REST template).
    pub kind: BaseLayerKind,
    /// The service URL: the WMS endpoint, or the WMTS endpoint or REST template (with `{TileMatrix}`,
    /// `{TileRow}`, `{TileCol}`).
    pub url: String,
    /// WMS: the layer names, comma-separated; WMTS: the layer.
    pub layers: String,
    /// WMTS: the style (default "default").
    #[serde(default)]
    pub style: Option<String>,
    /// WMTS: the tile matrix set, in Web Mercator (EPSG:3857) tiling, e.g. "3857".
    #[serde(default)]
    pub tile_matrix_set: Option<String>,
    /// Image format (default image/png).
    #[serde(default)]
    pub format: Option<String>,
    /// Attribution shown on the map, e.g. "© Lantmäteriet".
    #[serde(default)]
    pub credit: Option<String>,
}

/// The protocol of a [`BaseLayer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BaseLayerKind {
    /// OGC Web Map Service.
    Wms,
    /// OGC Web Map Tile Service.
    Wmts,
}

/// The IoT collection the server serves (SensorThings API, `POST /api/iot/observations`, live push).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IotConfig {
    /// The collection: its datasets are `<collection>_datastreams` and `<collection>_observations`, as
    /// `tvilling ingest FILE --dataset <collection>` writes them.
    pub collection: String,
    /// Read readings from an MQTT broker (`tvilling serve --mqtt URL` sets the url).
    pub mqtt: Option<crate::mqtt::MqttConfig>,
    /// Personal readings reach callers without clearance for restricted data only as aggregates over at
    /// least this many Datastreams (GET /api/iot/aggregates); smaller groups are withheld.
    pub min_group_size: usize,
    /// Readings are durable in the write-ahead log once acknowledged and reach the store's observations
    /// dataset at the latest this many seconds later (sooner when `flush_readings` wait, and before any
    /// read of the observations through the server).
    pub flush_seconds: f64,
    /// Flush the write-ahead log to the store as soon as this many readings wait.
    pub flush_readings: usize,
    /// Replay the collection's recorded series as live readings: every this many seconds, each open
    /// Datastream gets its next recorded value stamped with the current time (for demos and client
    /// development; `tvilling serve --replay-sensors SECONDS`). Off when unset.
    pub replay_seconds: Option<f64>,
}

impl IotConfig {
    /// When the hub flushes its log; a zero, negative or non-finite `flush_seconds` counts as one second.
    pub fn flush_policy(&self) -> crate::sta::hub::FlushPolicy {
        let secs = if self.flush_seconds.is_finite() && self.flush_seconds > 0.0 {
            self.flush_seconds
        } else {
            1.0
        };
        crate::sta::hub::FlushPolicy {
            every: std::time::Duration::from_secs_f64(secs.min(86_400.0)),
            readings: self.flush_readings.max(1),
        }
    }

    /// How often the recorded series are replayed, when they are: at least every 0.1 s.
    pub fn replay_every(&self) -> Option<std::time::Duration> {
        self.replay_seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| std::time::Duration::from_secs_f64(s.clamp(0.1, 86_400.0)))
    }
}

impl Default for IotConfig {
    fn default() -> Self {
        IotConfig {
            collection: "iot".into(),
            mqtt: None,
            min_group_size: 5,
            flush_seconds: 10.0,
            flush_readings: 1_000_000,
            replay_seconds: None,
        }
    }
}

/// Access control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Let callers without a key read open datasets (default true). When false every request but the
    /// operational ones (/healthz, /readyz, /metrics, /api/openapi.json) needs an API key.
    pub anonymous: bool,
    /// Accept OIDC bearer tokens (JWTs) from this identity provider, besides API keys.
    pub oidc: Option<OidcConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            anonymous: true,
            oidc: None,
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: DEFAULT_ADDR.to_string(),
            cors_origins: vec![],
            body_limit: DEFAULT_BODY_LIMIT,
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
            sql_row_limit: DEFAULT_SQL_ROW_LIMIT,
            sql_timeout_seconds: DEFAULT_SQL_TIMEOUT_SECONDS,
            watch_interval_ms: DEFAULT_WATCH_INTERVAL_MS,
            viewer_dir: None,
            cesium_dir: None,
            auto_tile: true,
            tile_cache_mb: DEFAULT_TILE_CACHE_MB,
            features_cache_mb: DEFAULT_FEATURES_CACHE_MB,
            tile_height_attr: BTreeMap::new(),
            base_layers: Vec::new(),
            auth: AuthConfig::default(),
            iot: IotConfig::default(),
        }
    }
}
