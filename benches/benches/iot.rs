//! Sensor readings under load (issue 7), against the release `tvilling serve` on loopback, every reading
//! acknowledged only after it is synced to disk in the server's write-ahead log:
//!
//! 1. **HTTP batch**: NDJSON batches of `TVILLING_BENCH_IOT_BATCH` readings (default 100 000) from two
//!    clients at once, `TVILLING_BENCH_IOT_READINGS` readings in all (default 10 000 000) over
//!    `TVILLING_BENCH_IOT_STREAMS` Datastreams (default 10 000): sustained readings/s, and the same as
//!    Arrow IPC batches (another 10 000 000 by default), each until the store holds them all (a SQL
//!    count, which flushes the log). Goal ≥ 1 M/s.
//! 2. **Single readings**: `wrk`, 64 connections, one reading per request: requests/s, p50 and p99.
//!    Goal ≥ 20 k/s with p99 < 10 ms.
//! 3. **MQTT**: a Mosquitto broker on loopback (Debian), `tvilling serve --mqtt`, 200 000 readings
//!    published with QoS 1 on SensorThings topics: readings/s from the first publish until the store holds
//!    them all.
//! 4. **Latest reading per Datastream** over the Datastreams × readings of step 1:
//!    `Datastreams(k)/Observations?$top=1&$orderby=phenomenonTime desc` for random k under `wrk`: latency.
//!
//! Run: `cargo build --release -p tvilling && cargo bench -p tvilling-benches --bench iot`. Results go to
//! `benches/RESULTS.md`.
#![allow(clippy::print_stdout)] // a bench binary reports on stdout

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{Value, json};
use tvilling_benches::http::{
    Result, Running, free_port, paths_script, request, run, start_tvilling, tvilling_bin, wrk,
};
use tvilling_benches::peak_rss_mib;

/// 2026-01-01T00:00:00Z in seconds.
const EPOCH: i64 = 1_767_225_600;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rfc3339(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// POSTs `body` with the key; fails unless 2xx.
fn post(addr: &str, key: &str, path: &str, content_type: &str, body: &[u8]) -> Result<Value> {
    let auth = format!("X-API-Key: {key}");
    let ct = format!("Content-Type: {content_type}");
    let (status, text) = request(addr, "POST", path, &[&auth, &ct], body)?;
    if !(200..300).contains(&status) {
        return Err(format!("POST {path} answered {status}: {text}").into());
    }
    Ok(serde_json::from_str(&text)?)
}

/// Creates `n` Datastreams (100 Things of n/100) by SensorThings deep insert; returns their ids.
fn datastreams(addr: &str, key: &str, n: usize) -> Result<Vec<i64>> {
    let mut ids = vec![];
    let per_thing = n.div_ceil(100).max(1);
    for t in 0..n.div_ceil(per_thing) {
        let streams: Vec<Value> = (0..per_thing.min(n - t * per_thing))
            .map(|d| {
                json!({"name": format!("mätare {t}-{d}"), "description": "bench",
                       "unitOfMeasurement": {"name": "kilowatt hour", "symbol": "kWh", "definition": "ucum:kW.h"},
                       "Sensor": {"name": "meter", "description": "m", "encodingType": "text/html", "metadata": "m"},
                       "ObservedProperty": {"name": "El", "definition": "https://example.org/el", "description": "e"}})
            })
            .collect();
        let thing = json!({"name": format!("hus {t}"), "description": "bench",
            "Locations": [{"name": "entré", "description": "e", "encodingType": "application/geo+json",
                           "location": {"type": "Point", "coordinates": [13.0 + t as f64 * 1e-3, 55.6]}}],
            "Datastreams": streams});
        let doc = post(
            addr,
            key,
            "/sta/v1.1/Things",
            "application/json",
            thing.to_string().as_bytes(),
        )?;
        for d in doc["Datastreams"]
            .as_array()
            .ok_or("no Datastreams in the answer")?
        {
            ids.push(
                d["@iot.id"]
                    .as_i64()
                    .ok_or("a Datastream without @iot.id")?,
            );
        }
    }
    Ok(ids)
}

/// Step 1: `total` readings in NDJSON batches from two clients; batch k holds every Datastream's readings
/// of a few consecutive minutes, as meters report.
fn batches(addr: &str, key: &str, ids: &[i64], total: usize, batch: usize) -> Result<f64> {
    let per_stream = (batch / ids.len()).max(1);
    let count = total / (per_stream * ids.len());
    let make = |k: usize| -> Vec<u8> {
        let mut out = String::with_capacity(per_stream * ids.len() * 80);
        for m in 0..per_stream {
            let t = rfc3339(EPOCH + ((k * per_stream + m) * 60) as i64);
            for (i, d) in ids.iter().enumerate() {
                out.push_str(&format!(
                    "{{\"datastream\":{d},\"time\":\"{t}\",\"result\":{}.{}}}\n",
                    i % 97,
                    (k + m) % 10
                ));
            }
        }
        out.into_bytes()
    };
    // Made before the clock starts: the load generator shares the two cores with the server.
    let bodies: Vec<Vec<u8>> = (0..count).map(make).collect();
    let started = Instant::now();
    let written = std::thread::scope(|s| -> Result<u64> {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let bodies = &bodies;
                s.spawn(move || -> std::result::Result<u64, String> {
                    let mut n = 0;
                    for body in bodies.iter().skip(w).step_by(2) {
                        let a = post(
                            addr,
                            key,
                            "/api/iot/observations",
                            "application/x-ndjson",
                            body,
                        )
                        .map_err(|e| e.to_string())?;
                        n += a["written"].as_u64().unwrap_or(0);
                    }
                    Ok(n)
                })
            })
            .collect();
        let mut n = 0;
        for w in workers {
            n += w.join().map_err(|_| "a client thread panicked")??;
        }
        Ok(n)
    })?;
    let acked = started.elapsed().as_secs_f64();
    count_stored(addr, key)?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "HTTP NDJSON batch: {written} readings in {count} batches of {} from 2 clients: acknowledged after \
         {acked:.1} s, in the store after {seconds:.1} s: {:.0} readings/s",
        per_stream * ids.len(),
        written as f64 / seconds
    );
    Ok(written as f64 / seconds)
}

/// Step 1b: `total` readings in Arrow IPC batches from two clients, times after the JSON ones.
fn arrow_batches(addr: &str, key: &str, ids: &[i64], total: usize, batch: usize) -> Result<f64> {
    use std::sync::Arc;
    use tvilling_core::arrow::array::{
        Float64Array, Int64Array, RecordBatch, TimestampSecondArray,
    };
    use tvilling_core::arrow::ipc::writer::StreamWriter;
    let per_stream = (batch / ids.len()).max(1);
    let count = total / (per_stream * ids.len());
    let base = EPOCH + 5_000_000;
    let make = |k: usize| -> std::result::Result<Vec<u8>, String> {
        let n = per_stream * ids.len();
        let (mut ds, mut t, mut r) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for m in 0..per_stream {
            for (i, d) in ids.iter().enumerate() {
                ds.push(*d);
                t.push(base + ((k * per_stream + m) * 60) as i64);
                r.push((i % 97) as f64 + ((k + m) % 10) as f64 / 10.0);
            }
        }
        let b = RecordBatch::try_from_iter([
            ("datastream", Arc::new(Int64Array::from(ds)) as _),
            (
                "time",
                Arc::new(TimestampSecondArray::from(t).with_timezone("UTC")) as _,
            ),
            ("result", Arc::new(Float64Array::from(r)) as _),
        ])
        .map_err(|e| e.to_string())?;
        let mut out = vec![];
        let mut w = StreamWriter::try_new(&mut out, &b.schema()).map_err(|e| e.to_string())?;
        w.write(&b).map_err(|e| e.to_string())?;
        w.finish().map_err(|e| e.to_string())?;
        drop(w);
        Ok(out)
    };
    let bodies = (0..count)
        .map(make)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let before = count_stored(addr, key)?;
    let started = Instant::now();
    std::thread::scope(|s| -> Result<()> {
        let workers: Vec<_> = (0..2)
            .map(|w| {
                let bodies = &bodies;
                s.spawn(move || -> std::result::Result<(), String> {
                    for body in bodies.iter().skip(w).step_by(2) {
                        post(
                            addr,
                            key,
                            "/api/iot/observations",
                            "application/vnd.apache.arrow.stream",
                            body,
                        )
                        .map_err(|e| e.to_string())?;
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| "a client thread panicked")??;
        }
        Ok(())
    })?;
    let acked = started.elapsed().as_secs_f64();
    let written = count_stored(addr, key)? - before;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "HTTP Arrow IPC batch: {written} readings in {count} batches of {}: acknowledged after {acked:.1} s, \
         in the store after {seconds:.1} s: {:.0} readings/s",
        per_stream * ids.len(),
        written as f64 / seconds
    );
    Ok(written as f64 / seconds)
}

/// Step 2: one reading per request under wrk; each wrk thread writes its own Datastream with rising times.
fn singles(addr: &str, key: &str, ids: &[i64], dir: &Path) -> Result<()> {
    let script = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"X-API-Key\"] = \"{key}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
         local ids = {{{}, {}}}\nlocal threads = 0\nlocal count = 0\n\
         -- setup runs once per thread in the main state; thread:set makes `me` a global of that thread.\n\
         setup = function(thread) threads = threads + 1; thread:set(\"me\", threads) end\n\
         request = function()\n  count = count + 1\n  local t = os.date(\"!%Y-%m-%dT%H:%M:%SZ\", {} + count)\n  \
         return wrk.format(nil, \"/api/iot/observations\", nil, string.format('[{{\"datastream\":%d,\"time\":\"%s\",\"result\":%d}}]', ids[me or 1], t, count % 100))\nend\n",
        ids[0],
        ids[1],
        EPOCH + 10_000_000
    );
    let load = wrk(addr, &script, 64, 10, dir, "iot-singles")?;
    println!(
        "single readings: {:.0} requests/s ({}), {}",
        load.requests_per_s, load.latency, load.errors
    );
    Ok(())
}

/// Step 3: MQTT through Mosquitto.
async fn mqtt(port: u16, addr: &str, key: &str, ids: &[i64], n: usize) -> Result<()> {
    let before = count_stored(addr, key)?;
    let mut o = MqttOptions::new("bench-publisher", "127.0.0.1", port);
    o.set_inflight(1000);
    let (client, mut events) = AsyncClient::new(o, 10_000);
    let pump = tokio::spawn(async move {
        let mut acked = 0;
        while acked < n {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    });
    let started = Instant::now();
    for i in 0..n {
        let d = ids[i % ids.len()];
        let body = json!({"phenomenonTime": rfc3339(EPOCH + 20_000_000 + (i / ids.len()) as i64), "result": i % 50});
        client
            .publish(
                format!("v1.1/Datastreams({d})/Observations"),
                QoS::AtLeastOnce,
                false,
                body.to_string(),
            )
            .await?;
    }
    pump.await?
        .map_err(|e| format!("the publisher lost the broker: {e}"))?;
    let published = started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(600);
    while count_stored(addr, key)? < before + n as u64 {
        if Instant::now() > deadline {
            return Err("the MQTT readings did not all arrive within 10 minutes".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let stored = started.elapsed().as_secs_f64();
    println!(
        "MQTT: {n} readings published (QoS 1) in {published:.1} s, all stored after {stored:.1} s: {:.0} readings/s",
        n as f64 / stored
    );
    Ok(())
}

fn count_stored(addr: &str, key: &str) -> Result<u64> {
    let q = json!({"sql": "SELECT count(*) AS n FROM iot_observations", "format": "json"});
    let doc = post(
        addr,
        key,
        "/api/sql",
        "application/json",
        q.to_string().as_bytes(),
    )?;
    doc[0]["n"]
        .as_u64()
        .ok_or_else(|| format!("no count in {doc}").into())
}

/// Step 4: the latest reading of random Datastreams.
fn latest(addr: &str, key: &str, ids: &[i64], dir: &Path) -> Result<()> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let paths: Vec<String> = (0..1000)
        .map(|_| {
            let d = ids[rng.random_range(0..ids.len())];
            format!("/sta/v1.1/Datastreams({d})/Observations?$top=1&$orderby=phenomenonTime%20desc")
        })
        .collect();
    let script = format!(
        "wrk.headers[\"X-API-Key\"] = \"{key}\"\n{}",
        paths_script(&paths)
    );
    let load = wrk(addr, &script, 8, 10, dir, "iot-latest")?;
    println!(
        "latest per Datastream: {:.0} requests/s ({}), {}",
        load.requests_per_s, load.latency, load.errors
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<()> {
    let bin = tvilling_bin()?;
    let readings = env_usize("TVILLING_BENCH_IOT_READINGS", 10_000_000);
    let streams = env_usize("TVILLING_BENCH_IOT_STREAMS", 10_000);
    let batch = env_usize("TVILLING_BENCH_IOT_BATCH", 100_000);
    let mqtt_n = env_usize("TVILLING_BENCH_IOT_MQTT", 200_000);
    let work = tempfile::tempdir()?;
    let store = work.path().join("store");
    std::fs::create_dir_all(&store)?;
    let port = free_port()?;
    std::fs::write(
        work.path().join("mosquitto.conf"),
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 5000\nmax_queued_messages 1000000\n"
        ),
    )?;
    let _broker = Running(
        Command::new(if Path::new("/usr/sbin/mosquitto").exists() {
            "/usr/sbin/mosquitto"
        } else {
            "mosquitto"
        })
        .arg("-c")
        .arg(work.path().join("mosquitto.conf"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start mosquitto (Debian package mosquitto): {e}"))?,
    );
    let config = work.path().join("tvilling.toml");
    std::fs::write(
        &config,
        "[server]\nbody_limit = 268435456\nrequest_timeout_seconds = 600\n\n[server.iot.mqtt]\nbatch_max = 5000\n",
    )?;
    let key_out = run(Command::new(&bin).arg("--store").arg(&store).args([
        "apikey",
        "create",
        "--role",
        "reader-internal",
    ]))?;
    let key = key_out.trim().to_string();
    let mqtt_url = format!("mqtt://127.0.0.1:{port}");
    let (server, addr) = start_tvilling(
        &bin,
        &store,
        &[
            "--config",
            config.to_str().ok_or("temp path is not UTF-8")?,
            "--mqtt",
            &mqtt_url,
        ],
    )?;
    let pid = server.0.id();
    let ids = datastreams(&addr, &key, streams)?;
    println!("{} Datastreams created", ids.len());

    batches(&addr, &key, &ids, readings, batch)?;
    arrow_batches(&addr, &key, &ids, readings, batch)?;
    singles(&addr, &key, &ids, work.path())?;
    mqtt(port, &addr, &key, &ids, mqtt_n).await?;
    latest(&addr, &key, &ids, work.path())?;
    let rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024);
    println!(
        "server peak RSS: {rss} MiB (bench process {} MiB)",
        peak_rss_mib()
    );
    Ok(())
}
