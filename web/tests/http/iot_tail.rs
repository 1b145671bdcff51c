//! The IoT hot tail (issue 7): the newest reading per Datastream answered from memory, identical to what
//! the SQL path answers; `GET /api/iot/latest` for the viewer; Arrow IPC batches; readings written with the
//! log not yet flushed are deduplicated in memory and reach the store at the flush.

use std::sync::Arc;

use serde_json::{Value, json};
use tvilling_core::arrow::array::TimestampMillisecondArray;
use tvilling_core::arrow::array::{Float64Array, Int64Array, RecordBatch, StringArray};
use tvilling_core::arrow::ipc::writer::StreamWriter;
use tvilling_core::iot::{IotNames, IotWrite};
use tvilling_core::{At, DatasetName, Provenance, QualityReport, Store};
use tvilling_web::ServerConfig;

use crate::iot::{iot_server, readings};
use crate::util::json;

const NEWEST: &str = "Observations?$top=1&$orderby=phenomenonTime%20desc";

#[tokio::test]
async fn the_newest_reading_comes_from_memory_and_equals_the_sql_answer() {
    let t = iot_server(ServerConfig::default()).await;
    let (_, ds) = t.station("Malmö", 13.0, 55.6).await;
    let mut batch = readings(ds[0], 0, 30, 1.0);
    // Out of order: the newest is not the last one sent.
    batch.reverse();
    batch.extend(readings(ds[1], 5, 1, 70.0));
    t.post_readings(batch).await;
    let fast = json(
        t.get_auth(&format!("/sta/v1.1/Datastreams({})/{NEWEST}", ds[0]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    // $top=2 is not the newest-only form: it runs as SQL over the flushed store.
    let sql = json(
        t.get_auth(&format!(
            "/sta/v1.1/Datastreams({})/Observations?$top=2&$orderby=phenomenonTime%20desc",
            ds[0]
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(fast["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        fast["value"][0], sql["value"][0],
        "fast {fast} vs SQL {sql}"
    );
    assert_eq!(fast["value"][0]["result"], json!(30));
    assert_eq!(fast["value"][0]["phenomenonTime"], "2026-01-01T00:29:00Z");
    let next = fast["@iot.nextLink"].as_str().unwrap();
    assert!(
        next.contains("%24skip=1") && next.contains("%24top=1"),
        "{next}"
    );
    // One reading only: no next page; an unknown Datastream: an empty page.
    let one = json(
        t.get_auth(&format!("/sta/v1.1/Datastreams({})/{NEWEST}", ds[1]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(one["value"][0]["result"], json!(75));
    assert!(one.get("@iot.nextLink").is_none(), "{one}");
    let none = json(
        t.get_auth(&format!("/sta/v1.1/Datastreams(999)/{NEWEST}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(none["value"], json!([]));

    // A newer reading is the newest at once; an older one changes nothing.
    t.post(
        "/api/iot/observations",
        json!([{"datastream": ds[0], "time": "2026-01-02T00:00:00Z", "result": -4.5},
               {"datastream": ds[0], "time": "2025-12-31T00:00:00Z", "result": 99}])
        .to_string(),
    )
    .send()
    .await
    .unwrap();
    let fast = json(
        t.get_auth(&format!("/sta/v1.1/Datastreams({})/{NEWEST}", ds[0]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(fast["value"][0]["result"], json!(-4.5));

    // /api/iot/latest: every Datastream with a reading, with its Thing's position and unit.
    let latest = json(t.get_auth("/api/iot/latest").send().await.unwrap()).await;
    let rows = latest.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{latest}");
    assert_eq!(rows[0]["datastream"], ds[0]);
    assert_eq!(rows[0]["thing"], "Malmö");
    assert_eq!(rows[0]["unit"], "°C");
    assert_eq!(rows[0]["lon"], json!(13.0));
    assert_eq!(rows[0]["result"], json!(-4.5));
    assert_eq!(rows[1]["result"], json!(75.0));

    // The collection is internal: an anonymous caller sees neither.
    let anonymous = t.s.get("/api/iot/latest").send().await.unwrap();
    assert_eq!(anonymous.status(), 404);
    let anonymous =
        t.s.get(&format!("/sta/v1.1/Datastreams({})/{NEWEST}", ds[0]))
            .send()
            .await
            .unwrap();
    assert_eq!(anonymous.status(), 404);
}

fn arrow_body(ds: i64, n: usize) -> Vec<u8> {
    let batch = RecordBatch::try_from_iter([
        ("datastream", Arc::new(Int64Array::from(vec![ds; n])) as _),
        (
            "time",
            Arc::new(
                TimestampMillisecondArray::from(
                    (0..n as i64)
                        .map(|i| 1_767_225_600_000 + i * 60_000)
                        .collect::<Vec<_>>(),
                )
                .with_timezone("UTC"),
            ) as _,
        ),
        (
            "result",
            Arc::new(Float64Array::from(
                (0..n).map(|i| i as f64 / 4.0).collect::<Vec<_>>(),
            )) as _,
        ),
        (
            "resultQuality",
            Arc::new(StringArray::from(
                (0..n)
                    .map(|i| (i % 2 == 0).then_some("G"))
                    .collect::<Vec<_>>(),
            )) as _,
        ),
    ])
    .unwrap();
    let mut out = vec![];
    let mut w = StreamWriter::try_new(&mut out, &batch.schema()).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    drop(w);
    out
}

#[tokio::test]
async fn arrow_ipc_batches_are_stored_like_json_and_deduplicated_before_the_flush() {
    let t = iot_server(ServerConfig::default()).await;
    let (_, ds) = t.station("Kiruna", 20.2, 67.85).await;
    let post = |body: Vec<u8>| {
        t.s.client
            .post(format!("{}/api/iot/observations", t.s.base))
            .header("x-api-key", &t.key)
            .header("content-type", "application/vnd.apache.arrow.stream")
            .body(body)
            .send()
    };
    let a = json(post(arrow_body(ds[0], 500)).await.unwrap()).await;
    assert_eq!(
        (a["written"].as_u64(), a["duplicates"].as_u64()),
        (Some(500), Some(0))
    );
    // The same readings again, before any flush: the tail knows them.
    let again = json(post(arrow_body(ds[0], 600)).await.unwrap()).await;
    assert_eq!(
        (again["written"].as_u64(), again["duplicates"].as_u64()),
        (Some(100), Some(500))
    );
    // And the same as JSON: the JSON reading at minute 3 is the Arrow one.
    let j = json(
        t.post(
            "/api/iot/observations",
            json!([{"datastream": ds[0], "time": "2026-01-01T00:03:00Z", "result": 0.75}])
                .to_string(),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(j["duplicates"], 1);
    let rows = t.stored().await;
    assert_eq!(rows.len(), 600);
    assert_eq!(rows[3], (ds[0], 1_767_225_780_000_000, 0.75));
    // After the flush the store answers for old readings: still no duplicate.
    let late = json(post(arrow_body(ds[0], 10)).await.unwrap()).await;
    assert_eq!(
        (late["written"].as_u64(), late["duplicates"].as_u64()),
        (Some(0), Some(10))
    );
    // A bad Arrow body is a 400 that says what is wrong, and writes nothing.
    let r = post(b"not arrow".to_vec()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        json(r).await["detail"]
            .as_str()
            .unwrap()
            .contains("Arrow IPC")
    );
    assert_eq!(t.stored().await.len(), 600);
}

#[tokio::test]
async fn compaction_packs_the_flushes_files_and_keeps_every_reading() {
    let t = iot_server(ServerConfig::default()).await;
    let (_, ds) = t.station("Visby", 18.3, 57.64).await;
    // Three flushes: three small files.
    for part in 0..3 {
        let batch = readings(ds[0], part * 10, 10, 0.0);
        t.post_readings(batch).await;
        t.flush().await;
    }
    let before = t.stored().await;
    assert_eq!(before.len(), 30);
    let st = Store::open(t.store.to_str().unwrap()).unwrap();
    let name: DatasetName = "iot_observations".parse().unwrap();
    let table = st.table(&name, At::Latest).await.unwrap();
    assert_eq!(table.get_file_uris().unwrap().count(), 3);
    let names = IotNames::new(&"iot".parse().unwrap());
    let how = IotWrite {
        provenance: Provenance {
            source_uri: "test:compaction".into(),
            sha256: String::new(),
            bytes: 0,
            layer: None,
            tool: "test".into(),
            user: "test".into(),
            host: "localhost".into(),
            started: chrono::Utc::now(),
            mode: "compact".into(),
            rows_read: 0,
            rows_written: 0,
            rows_rejected: 0,
            options: Default::default(),
            source_metadata: Value::Null,
        },
        quality: QualityReport::default(),
        classification: None,
        owner: None,
        licence: None,
    };
    let v = st.compact_observations(&names, &how).await.unwrap();
    let table = st.table(&name, At::Latest).await.unwrap();
    assert_eq!(v.observations, table.version());
    assert_eq!(table.get_file_uris().unwrap().count(), 1);
    assert_eq!(t.stored().await, before);
    // The server's tail did not see the compaction: its next flush checks the store, still no duplicate.
    let again = json(t.post_readings(readings(ds[0], 25, 10, 0.0)).await).await;
    assert_eq!(
        (again["written"].as_u64(), again["duplicates"].as_u64()),
        (Some(5), Some(5))
    );
    assert_eq!(t.stored().await.len(), 35);
}

#[tokio::test(flavor = "multi_thread")]
async fn late_readings_of_thousands_of_datastreams_are_checked_against_the_store() {
    let t = iot_server(ServerConfig::default()).await;
    let mut ids = vec![];
    for thing in 0..40 {
        let streams: Vec<Value> = (0..100)
            .map(|i| {
                json!({"name": format!("m{i}"), "unitOfMeasurement": {"name": "kWh", "symbol": "kWh", "definition": ""},
                       "Sensor": {"name": "meter", "encodingType": "text/html", "metadata": ""},
                       "ObservedProperty": {"name": "energy", "definition": "https://example.org/e"}})
            })
            .collect();
        let body = json!({"name": format!("house {thing}"), "Datastreams": streams});
        let doc = json(
            t.post("/sta/v1.1/Things", body.to_string())
                .send()
                .await
                .unwrap(),
        )
        .await;
        ids.extend(
            doc["Datastreams"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["@iot.id"].as_i64().unwrap()),
        );
    }
    let at = |hour: u32| -> Value {
        Value::Array(
            ids.iter()
                .map(|d| json!({"datastream": d, "time": format!("2026-01-01T{hour:02}:00:00Z"), "result": hour}))
                .collect(),
        )
    };
    let t = &t;
    let post = |body: Value| async move {
        let r = t
            .post("/api/iot/observations", body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        json(r).await
    };
    post(at(5)).await;
    t.flush().await;
    // Older than every Datastream's newest reading: each is looked up in the store (4 000 Datastreams in
    // one look-up once overflowed the planner's stack and killed the server).
    let late = post(at(1)).await;
    assert_eq!(
        (late["written"].as_u64(), late["duplicates"].as_u64()),
        (Some(4000), Some(0))
    );
    let again = post(at(5)).await;
    assert_eq!(
        (again["written"].as_u64(), again["duplicates"].as_u64()),
        (Some(0), Some(4000))
    );
    assert_eq!(t.stored().await.len(), 8000);
}
