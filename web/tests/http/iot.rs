//! IoT over HTTP (issue 7): `POST /api/iot/observations` answers once the readings are in the synced
//! write-ahead log and is idempotent, refuses bad batches whole with a reason and leaves the store as it
//! was, and `/api/iot/live` pushes acknowledged readings as Server-Sent Events. Each test has its own store;
//! readings are checked by reading the store's Delta table directly, after a read through the server has
//! flushed the log (`IotServer::stored`).

use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use serde_json::{Value, json};
use tvilling_core::arrow::array::AsArray;
use tvilling_core::arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use tvilling_core::{At, Store};
use tvilling_web::ServerConfig;
use tvilling_web::auth::Role;
use tvilling_web::auth::keys::Keys;

use crate::util::{TestServer, json, serve_with};

/// A server over an empty store of its own, with a reader-internal key and a reader-restricted one.
pub struct IotServer {
    _dir: tempfile::TempDir,
    pub store: PathBuf,
    pub key: String,
    pub cleared_key: String,
    pub s: TestServer,
}

pub async fn iot_server(config: ServerConfig) -> IotServer {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    let st = Store::open(store.to_str().unwrap()).unwrap();
    let (key, _) = Keys::create(&st, Role::ReaderInternal, Some("sensors".into())).unwrap();
    let (cleared_key, _) =
        Keys::create(&st, Role::ReaderRestricted, Some("privacy officer".into())).unwrap();
    let s = serve_with(&store, config).await;
    IotServer {
        _dir: dir,
        store,
        key,
        cleared_key,
        s,
    }
}

impl IotServer {
    pub fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::RequestBuilder {
        self.s
            .client
            .post(format!("{}{path}", self.s.base))
            .header("x-api-key", &self.key)
            .header("content-type", "application/json")
            .body(body)
    }

    /// Posts `readings` as one JSON batch.
    pub async fn post_readings(&self, readings: Vec<Value>) -> reqwest::Response {
        self.post("/api/iot/observations", Value::Array(readings).to_string())
            .send()
            .await
            .unwrap()
    }

    pub fn get_auth(&self, path: &str) -> reqwest::RequestBuilder {
        self.s.get(path).header("x-api-key", &self.key)
    }

    /// A GET with the key cleared for restricted data.
    pub fn get_cleared(&self, path: &str) -> reqwest::RequestBuilder {
        self.s.get(path).header("x-api-key", &self.cleared_key)
    }

    /// Flushes the server's write-ahead log to the store, as any read of the observations through the
    /// server does (here a trivial SQL query).
    pub async fn flush(&self) {
        let r = self
            .post("/api/sql", json!({"sql": "SELECT 1 AS one"}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    /// Every stored reading of `iot_observations` after a flush: (datastream, µs, result), sorted.
    pub async fn stored(&self) -> Vec<(i64, i64, f64)> {
        self.stored_in("iot_observations").await
    }

    /// The readings of one observations dataset after a flush.
    pub async fn stored_in(&self, dataset: &str) -> Vec<(i64, i64, f64)> {
        self.flush().await;
        stored_in(&self.store, dataset).await
    }

    /// Creates a weather station with two Datastreams by deep insert; returns (thing id, datastream ids).
    pub async fn station(&self, name: &str, lon: f64, lat: f64) -> (i64, Vec<i64>) {
        let body = json!({
            "name": name, "description": "test station", "properties": {"owner": "test"},
            "Locations": [{"name": name, "description": "mast", "encodingType": "application/geo+json",
                           "location": {"type": "Point", "coordinates": [lon, lat]}}],
            "Datastreams": [
                {"name": "Temperatur", "description": "air temperature",
                 "unitOfMeasurement": {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"},
                 "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
                 "Sensor": {"name": "PT100", "description": "thermometer", "encodingType": "text/html",
                            "metadata": "https://example.org/pt100"},
                 "ObservedProperty": {"name": "Air temperature", "definition": "https://example.org/airtemp",
                                      "description": "air temperature 2 m"}},
                {"name": "Fukt", "description": "relative humidity",
                 "unitOfMeasurement": {"name": "percent", "symbol": "%", "definition": "ucum:%"},
                 "Sensor": {"name": "HIH", "description": "hygrometer", "encodingType": "text/html",
                            "metadata": "https://example.org/hih"},
                 "ObservedProperty": {"name": "Relative humidity", "definition": "https://example.org/rh",
                                      "description": "relative humidity"}}
            ]
        });
        let r = self
            .post("/sta/v1.1/Things", body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        assert!(
            r.headers()["location"]
                .to_str()
                .unwrap()
                .contains("/sta/v1.1/Things(")
        );
        let doc = json(r).await;
        let ids = doc["Datastreams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["@iot.id"].as_i64().unwrap())
            .collect();
        (doc["@iot.id"].as_i64().unwrap(), ids)
    }
}

/// Readings `n` of datastream `ds`, one a minute from 2026-01-01T00:00Z, value = start + i.
pub fn readings(ds: i64, from: usize, n: usize, start: f64) -> Vec<Value> {
    (from..from + n)
        .map(|i| {
            json!({"datastream": ds, "time": format!("2026-01-01T{:02}:{:02}:00Z", i / 60, i % 60),
                   "result": start + i as f64})
        })
        .collect()
}

/// The readings of one observations dataset.
pub async fn stored_in(store: &Path, dataset: &str) -> Vec<(i64, i64, f64)> {
    let st = Store::open(store.to_str().unwrap()).unwrap();
    let name = dataset.parse().unwrap();
    if !st.exists(&name).await {
        return vec![];
    }
    let (_, stream) = st.scan(&name, At::Latest).await.unwrap();
    let batches: Vec<_> = stream.try_collect().await.unwrap();
    let mut out = vec![];
    for b in batches {
        let d = b.column(0).as_primitive::<Int64Type>();
        let t = b.column(1).as_primitive::<TimestampMicrosecondType>();
        let r = b.column(3).as_primitive::<Float64Type>();
        for i in 0..b.num_rows() {
            out.push((d.value(i), t.value(i), r.value(i)));
        }
    }
    out.sort_by(|a, b| a.partial_cmp(b).unwrap());
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_is_committed_before_the_answer_and_a_retry_duplicates_nothing() {
    let t = iot_server(ServerConfig::default()).await;
    let (_, ds) = t.station("Falsterbo", 12.8166, 55.3837).await;
    let mut batch = readings(ds[0], 0, 100, 10.0);
    batch.extend(readings(ds[1], 0, 20, 50.0));
    let r = t.post_readings(batch.clone()).await;
    assert_eq!(r.status(), 200);
    let a = json(r).await;
    assert_eq!(
        (a["written"].as_u64(), a["duplicates"].as_u64()),
        (Some(120), Some(0))
    );
    // Acknowledged means committed: the Delta table holds every reading now.
    let rows = t.stored().await;
    assert_eq!(rows.len(), 120);
    assert_eq!(rows[0], (ds[0], 1_767_225_600_000_000, 10.0));
    assert_eq!(rows[119].2, 69.0);

    // The same batch again: nothing new.
    let r = t.post_readings(batch).await;
    let a = json(r).await;
    assert_eq!(
        (a["written"].as_u64(), a["duplicates"].as_u64()),
        (Some(0), Some(120))
    );
    // NDJSON overlapping by half: only the new half is written.
    let nd: String = readings(ds[0], 50, 100, 10.0)
        .iter()
        .map(|v| format!("{v}\n"))
        .collect();
    let r = t
        .post("/api/iot/observations", nd)
        .header("content-type", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    let a = json(r).await;
    assert_eq!(
        (a["written"].as_u64(), a["duplicates"].as_u64()),
        (Some(50), Some(50))
    );
    assert_eq!(t.stored().await.len(), 170);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_first_readings_are_queryable_at_once_without_waiting_for_the_catalog() {
    // The store is polled only every hour here: the readings' flush must make the new observations
    // dataset visible by itself, to SQL and to OGC API Features alike.
    let t = iot_server(ServerConfig {
        watch_interval_ms: 3_600_000,
        ..ServerConfig::default()
    })
    .await;
    let (_, ds) = t.station("Ystad", 13.82, 55.43).await;
    let r = t.post_readings(readings(ds[0], 0, 30, 1.0)).await;
    assert_eq!(r.status(), 200);
    let r = t
        .post(
            "/api/sql",
            json!({"sql": "SELECT count(*) AS n FROM iot_observations"}).to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(json(r).await[0]["n"], 30);
    let r = t.post_readings(readings(ds[1], 0, 5, 1.0)).await;
    assert_eq!(r.status(), 200);
    let r = t
        .get_auth("/ogcapi/collections/iot_observations/items?limit=100")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    assert_eq!(json(r).await["numberReturned"], 35);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_batches_get_a_reason_and_leave_the_store_untouched() {
    let config = ServerConfig {
        body_limit: 64 * 1024,
        ..ServerConfig::default()
    };
    let t = iot_server(config).await;
    let (_, ds) = t.station("Lund", 13.19, 55.70).await;
    let ok = readings(ds[0], 0, 3, 1.0);
    t.post_readings(ok).await;
    let before = t.stored().await;
    assert_eq!(before.len(), 3);
    let future = json!([{"datastream": ds[0], "time": "2999-01-01T00:00:00Z", "result": 1}]);
    let unknown = json!([{"datastream": 999, "time": "2026-01-01T05:00:00Z", "result": 1}]);
    let mixed = json!([
        {"datastream": ds[0], "time": "2026-01-01T06:00:00Z", "result": 1},
        {"datastream": 999, "time": "2026-01-01T06:01:00Z", "result": 1}
    ]);
    let big: String = "[".to_string()
        + &"{\"datastream\": 1, \"time\": \"2026-01-01T00:00:00Z\", \"result\": 1},".repeat(2000)
        + "]";
    for (body, status, why) in [
        (
            r#"[{"datastream": 1, "time": "2026-01-01T05:00:00Z", "result": NaN}]"#.to_string(),
            400,
            "NaN",
        ),
        ("[{\"datastream\": 1,".to_string(), 400, "not a JSON array"),
        (future.to_string(), 400, "in the future"),
        (unknown.to_string(), 400, "datastream 999 does not exist"),
        (mixed.to_string(), 400, "reading 1: datastream 999"),
        (
            json!([{"datastream": ds[0], "time": "2026-01-01T05:00:00Z", "result": "warm"}])
                .to_string(),
            400,
            "not a number",
        ),
        ("[]".to_string(), 400, "no readings"),
        (big, 413, ""),
    ] {
        let r = t.post("/api/iot/observations", body).send().await.unwrap();
        assert_eq!(r.status(), status, "{why}");
        let text = r.text().await.unwrap();
        assert!(text.contains(why), "{why}: {text}");
    }
    // Anonymous callers may not write, even where anonymous reading is allowed.
    let r = t
        .s
        .client
        .post(format!("{}/api/iot/observations", t.s.base))
        .body(
            json!([{"datastream": ds[0], "time": "2026-01-01T07:00:00Z", "result": 1}]).to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(t.stored().await, before, "no refused reading was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn live_stream_pushes_committed_readings_filtered_by_datastream_and_bbox() {
    let t = iot_server(ServerConfig::default()).await;
    let (_, a) = t.station("A", 12.0, 55.0).await;
    let (_, b) = t.station("B", 18.0, 59.3).await;
    let mut events = t
        .get_auth(&format!(
            "/api/iot/live?bbox=11,54,13,56&datastream={},{}",
            a[0], b[0]
        ))
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    assert!(
        events.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    // b[0] is outside the box, a[1] is not asked for: only a[0]'s reading arrives.
    let mut batch = readings(b[0], 0, 1, 5.0);
    batch.extend(readings(a[1], 0, 1, 6.0));
    batch.extend(readings(a[0], 0, 1, 7.5));
    let r = t.post_readings(batch).await;
    assert_eq!(r.status(), 200);
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .expect("an event within 10 s");
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap().unwrap()));
        if text.starts_with(':') {
            // A keep-alive comment; wait for the event.
            text.clear();
        }
    }
    assert!(text.starts_with("event: observation\n"), "{text}");
    let data: Value = serde_json::from_str(
        text.lines()
            .nth(1)
            .unwrap()
            .trim_start_matches("data:")
            .trim(),
    )
    .unwrap();
    assert_eq!(data["datastream"], a[0]);
    assert_eq!(data["result"], 7.5);
    assert_eq!(data["unit"], "°C");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_single_readings_are_committed_together_and_each_answered() {
    let t = iot_server(ServerConfig::default()).await;
    let (_, ds) = t.station("Malmö", 13.0, 55.6).await;
    let n = 200;
    // Reading 0 is sent twice: exactly one of the two answers says it was written.
    let mut sends = vec![];
    for i in (0..n).chain([0]) {
        let body = Value::Array(readings(ds[0], i, 1, 1.0)).to_string();
        sends.push(t.post("/api/iot/observations", body).send());
    }
    let answers = futures::future::join_all(sends).await;
    let mut written = 0;
    for a in answers {
        let a = a.unwrap();
        assert_eq!(a.status(), 200);
        let doc = json(a).await;
        written += doc["written"].as_u64().unwrap();
        assert_eq!(
            doc["written"].as_u64().unwrap() + doc["duplicates"].as_u64().unwrap(),
            1
        );
    }
    assert_eq!(written, n as u64);
    assert_eq!(t.stored().await.len(), n);
    // Fewer commits than requests: requests that arrived during a commit shared the next one.
    let st = Store::open(t.store.to_str().unwrap()).unwrap();
    let commits = st
        .log(&"iot_observations".parse().unwrap())
        .await
        .unwrap()
        .len();
    assert!(commits < n, "{commits} commits for {n} requests");
    println!("{n} concurrent single-reading requests: {commits} commits");
}
