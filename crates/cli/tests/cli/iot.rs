//! Issue 7, reliability: `tvilling serve` answers `POST /api/iot/observations` only after the readings are
//! synced in its write-ahead log, so after `kill -9` mid-stream and a restart (which stores what the log
//! holds before serving) every acknowledged reading is in the store, batches are whole (none
//! half-written), and resending the batch that got no answer writes it exactly once.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::Env;

const PER_BATCH: usize = 20;

/// One HTTP/1.1 request; `None` when the connection fails or is cut (the server was killed).
fn request(addr: &str, method: &str, path: &str, key: &str, body: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(60))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nX-API-Key: {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, text.split_once("\r\n\r\n")?.1.to_string()))
}

fn batch(ds: i64, n: usize) -> String {
    let v: Vec<Value> = (0..PER_BATCH)
        .map(|i| {
            let k = n * PER_BATCH + i;
            json!({"datastream": ds, "time": format!("2026-03-01T{:02}:{:02}:{:02}Z", k / 3600, (k / 60) % 60, k % 60),
                   "result": k as f64})
        })
        .collect();
    Value::Array(v).to_string()
}

fn count(env: &Env) -> (u64, u64) {
    let out = env
        .run(&[
            "sql",
            "--format",
            "json",
            "SELECT count(*) AS n, count(DISTINCT phenomenon_time) AS d FROM iot_observations",
        ])
        .ok()
        .json();
    (out[0]["n"].as_u64().unwrap(), out[0]["d"].as_u64().unwrap())
}

#[test]
fn every_acknowledged_reading_survives_kill_9_and_a_resent_batch_is_stored_once() {
    let env = Env::new();
    let key = env
        .run(&[
            "apikey",
            "create",
            "--role",
            "reader-internal",
            "--format",
            "json",
        ])
        .ok()
        .json()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let (mut child, addr, _log) = crate::serve::start(&env);
    let thing = json!({
        "name": "Mast 1",
        "Locations": [{"name": "mast", "location": {"type": "Point", "coordinates": [13.0, 55.6]}}],
        "Datastreams": [{"name": "T", "unitOfMeasurement": {"name": "degree Celsius", "symbol": "°C", "definition": ""},
                         "Sensor": {"name": "s", "encodingType": "text/html", "metadata": ""},
                         "ObservedProperty": {"name": "temperature", "definition": "https://example.org/t"}}]
    });
    let (status, body) =
        request(&addr, "POST", "/sta/v1.1/Things", &key, &thing.to_string()).unwrap();
    assert_eq!(status, 201, "{body}");
    let ds = serde_json::from_str::<Value>(&body).unwrap()["Datastreams"][0]["@iot.id"]
        .as_i64()
        .unwrap();

    // A writer sends batches one after another and counts the acknowledged ones.
    let acked = Arc::new(AtomicUsize::new(0));
    let (a, k, w_addr) = (acked.clone(), key.clone(), addr.clone());
    let writer = std::thread::spawn(move || {
        let mut n = 0;
        while let Some((200, _)) =
            request(&w_addr, "POST", "/api/iot/observations", &k, &batch(ds, n))
        {
            n += 1;
            a.store(n, Ordering::SeqCst);
        }
        n
    });
    while acked.load(Ordering::SeqCst) < 8 {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL: no shutdown, no flush
    child.wait().unwrap();
    let unanswered = writer.join().unwrap();
    let acked = acked.load(Ordering::SeqCst);
    assert_eq!(
        unanswered, acked,
        "the writer stops at the first batch without an answer"
    );

    // The acknowledged readings were in the synced write-ahead log; most are not in Delta yet (the log
    // is flushed every 10 s). The restarted server stores them before it answers anything.
    let in_delta = env
        .store()
        .join("iot_observations")
        .join("_delta_log")
        .is_dir();
    let before_restart = if in_delta { count(&env).0 } else { 0 };
    let (mut child, addr, _log) = crate::serve::start(&env);
    let (n, distinct) = count(&env);
    eprintln!(
        "{acked} batches acknowledged before SIGKILL; {before_restart} readings in Delta then, {n} after the restart"
    );
    assert!(
        n >= (acked * PER_BATCH) as u64,
        "{n} readings stored, {acked} batches acknowledged"
    );
    assert!(n <= ((acked + 1) * PER_BATCH) as u64, "{n}");
    assert_eq!(n % PER_BATCH as u64, 0, "batches are stored whole");
    assert_eq!(n, distinct, "no reading twice");

    // The client resends the batch that got no answer: stored exactly once.
    let (status, body) = request(
        &addr,
        "POST",
        "/api/iot/observations",
        &key,
        &batch(ds, unanswered),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let a: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        a["written"].as_u64().unwrap() + a["duplicates"].as_u64().unwrap(),
        PER_BATCH as u64
    );
    // Any read of the observations through the server flushes its log to the store first.
    let (status, body) = request(
        &addr,
        "POST",
        "/api/sql",
        &key,
        r#"{"sql": "SELECT 1 AS one"}"#,
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        count(&env),
        (
            ((acked + 1) * PER_BATCH) as u64,
            ((acked + 1) * PER_BATCH) as u64
        )
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
