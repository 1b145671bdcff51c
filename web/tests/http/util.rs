//! The shared twin (built once per test binary), a server per test, API keys, raw requests, and a capture
//! of the audit log.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tvilling_core::progress::NoProgress;
use tvilling_core::{At, Classification, Mode, Store};
use tvilling_ingest::{IngestOptions, ReadOptions};
use tvilling_tiles::{Height, TileOptions};
use tvilling_web::auth::Role;
use tvilling_web::auth::keys::Keys;
use tvilling_web::{ServeOptions, Server, ServerConfig};

/// A store folder that lives as long as the test binary.
pub struct Twin {
    _dir: tempfile::TempDir,
    pub store: PathBuf,
    pub town: PathBuf,
}

/// Generates the town (`n` buildings) into `dir`.
pub fn town(dir: &Path, n: usize, seed: u64) -> PathBuf {
    let p = dir.join(format!("town-{seed}.gpkg"));
    tvilling_fixtures::town::generate(
        &p,
        &tvilling_fixtures::town::TownSpec { buildings: n, seed },
    )
    .expect("town");
    p
}

/// Ingests the town's buildings into `dataset` with `classification`.
pub async fn ingest(
    store: &Store,
    town: &Path,
    dataset: &str,
    classification: Classification,
    mode: Mode,
) {
    let opts = IngestOptions {
        dataset: dataset.parse().unwrap(),
        read: ReadOptions {
            layer: Some("byggnader".into()),
            crs: Some("EPSG:3006+5613".parse().unwrap()),
            ..ReadOptions::default()
        },
        mode,
        key: None,
        classification: Some(classification),
        owner: Some("Stadsbyggnad".into()),
        licence: None,
    };
    tvilling_ingest::ingest(store, town, &opts, Arc::new(NoProgress))
        .await
        .expect("ingest");
}

/// Tiles the newest version of `dataset` with heights from `hojd`.
pub async fn tile(store: &Store, dataset: &str) -> tvilling_tiles::TileReport {
    let opts = TileOptions {
        height: Height::Attribute("hojd".into()),
        ..TileOptions::default()
    };
    tvilling_tiles::tile(
        store,
        &dataset.parse().unwrap(),
        At::Latest,
        &opts,
        Arc::new(NoProgress),
    )
    .await
    .expect("tile")
}

/// The read-only twin most tests share: `byggnader` (open, tiled, two versions), `intern` (internal) and
/// `hemlig` (restricted, tiled).
pub fn twin() -> &'static Twin {
    static TWIN: OnceLock<Twin> = OnceLock::new();
    // Built on a thread of its own: tests call this from inside their tokio runtime, which cannot block.
    TWIN.get_or_init(|| {
        std::thread::spawn(build_twin)
            .join()
            .expect("building the twin")
    })
}

fn build_twin() -> Twin {
    {
        let dir = tempfile::tempdir().unwrap();
        let store_path = dir.path().join("store");
        let town = town(dir.path(), 40, 7);
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let store = Store::open(store_path.to_str().unwrap()).unwrap();
            ingest(
                &store,
                &town,
                "byggnader",
                Classification::Open,
                Mode::Overwrite,
            )
            .await;
            tile(&store, "byggnader").await;
            let town2 = self::town(dir.path(), 45, 8);
            ingest(
                &store,
                &town2,
                "byggnader",
                Classification::Open,
                Mode::Overwrite,
            )
            .await;
            tile(&store, "byggnader").await;
            ingest(
                &store,
                &town,
                "intern",
                Classification::Internal,
                Mode::Overwrite,
            )
            .await;
            ingest(
                &store,
                &town,
                "hemlig",
                Classification::Restricted,
                Mode::Overwrite,
            )
            .await;
            tile(&store, "hemlig").await;
        });
        Twin {
            _dir: dir,
            store: store_path,
            town,
        }
    }
}

/// A running server; stopped (gracefully) on drop.
pub struct TestServer {
    pub base: String,
    pub client: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Starts a server over `store` with `config` (its address is replaced by 127.0.0.1:0).
pub async fn serve_with(store: &Path, mut config: ServerConfig) -> TestServer {
    init_logs();
    config.addr = "127.0.0.1:0".into();
    let store = Store::open(store.to_str().unwrap()).unwrap();
    let server = Server::bind(store, ServeOptions::new(config))
        .await
        .expect("bind");
    let base = format!("http://{}", server.local_addr());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        server
            .run(async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
    });
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    // Wait for /healthz, as rule 19 asks.
    for _ in 0..100 {
        if client.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    TestServer {
        base,
        client,
        stop: Some(tx),
    }
}

/// A server over the shared twin with the default config.
pub async fn serve() -> TestServer {
    serve_with(&twin().store, ServerConfig::default()).await
}

impl TestServer {
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.base))
    }
    pub fn sql(&self, sql: &str, format: &str) -> reqwest::RequestBuilder {
        self.client
            .post(format!("{}/api/sql", self.base))
            .header("content-type", "application/json")
            .body(serde_json::json!({ "sql": sql, "format": format }).to_string())
    }
    /// Sends `GET <path>` exactly as written (no client-side normalisation); returns status and body.
    pub async fn raw_get(&self, path: &str) -> (u16, String) {
        let addr = self.base.trim_start_matches("http://");
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out).to_string();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, text)
    }
}

/// The JSON body of a response.
pub async fn json(r: reqwest::Response) -> serde_json::Value {
    let bytes = r.bytes().await.unwrap();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

/// A new API key with `role` in the shared twin's store.
pub fn key(role: Role) -> (String, String) {
    let store = Store::open(twin().store.to_str().unwrap()).unwrap();
    let (key, entry) = Keys::create(&store, role, Some("test".into())).unwrap();
    (key, entry.id)
}

/// Audit events seen by the capture layer: (key_id, dataset, access).
pub fn audit_events() -> Vec<(String, String, String)> {
    AUDIT
        .get()
        .map(|a| a.lock().unwrap().clone())
        .unwrap_or_default()
}

static AUDIT: OnceLock<Mutex<Vec<(String, String, String)>>> = OnceLock::new();

struct Capture;

#[derive(Default)]
struct Fields(std::collections::BTreeMap<String, String>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "audit" {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let get = |k: &str| f.0.get(k).cloned().unwrap_or_default();
        if let Some(a) = AUDIT.get() {
            a.lock()
                .unwrap()
                .push((get("key_id"), get("dataset"), get("access")));
        }
    }
}

/// Installs the audit capture and warn-level logs to the test output, once.
fn init_logs() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    if AUDIT.set(Mutex::new(Vec::new())).is_ok() {
        let fmt = tracing_subscriber::fmt::layer()
            .with_test_writer()
            .with_filter(tracing_subscriber::EnvFilter::new("warn"));
        let _ = tracing_subscriber::registry()
            .with(Capture)
            .with(fmt)
            .try_init();
    }
}

use tracing_subscriber::Layer as _;
