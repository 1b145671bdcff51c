//! Sensor readings from an MQTT broker (`tvilling serve --mqtt mqtt://host:1883`, `[server.iot.mqtt]`).
//!
//! Delivery is at-least-once without duplicates:
//! - the subscriptions are QoS 1 on a persistent session (`clean_session = false`, a fixed client id), so
//!   the broker keeps what arrives while the server is away and resends what was never acknowledged;
//! - a reading is acknowledged (PUBACK) only after the Delta commit that holds it ([`IotHub::append`]),
//!   so a crash between receipt and commit loses nothing: the broker redelivers;
//! - redelivered readings find their (datastream, phenomenonTime) already stored and are counted as
//!   duplicates, not written twice.
//!
//! One task polls the connection (it must keep running for the acknowledgements to go out); a second
//! batches readings (up to `batch_max`, or `batch_wait_ms` after the first) into one commit. A message that
//! cannot become a reading (bad JSON, unknown Datastream, NaN, a time far in the future) is logged with its
//! topic and reason, counted in `/metrics`, and acknowledged so the broker does not resend it forever.
//!
//! The broker bounds how many unacknowledged messages it sends at once (Mosquitto:
//! `max_inflight_messages`, default 20), and so the size of a commit: raise it on a busy broker.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;
use tvilling_core::iot::{Datastream, Observation};

use crate::sta::write::how;
use crate::state::AppState;

/// `[server.iot.mqtt]`: the broker and what to read from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MqttConfig {
    /// Broker URL: mqtt://[user:password@]host[:port] (port 1883 when left out).
    pub url: String,
    /// Client id. The broker keeps this client's subscriptions and unacknowledged readings across
    /// reconnects and restarts, so give each server its own and keep it stable.
    pub client_id: String,
    /// Topic filters and how their payloads become readings.
    pub subscriptions: Vec<MqttSubscription>,
    /// Most readings committed together.
    pub batch_max: usize,
    /// How long the first reading of a batch waits for more before the commit (milliseconds).
    pub batch_wait_ms: u64,
}

impl Default for MqttConfig {
    fn default() -> Self {
        MqttConfig {
            url: String::new(),
            client_id: "tvilling".into(),
            subscriptions: vec![MqttSubscription::default()],
            batch_max: 5000,
            batch_wait_ms: 50,
        }
    }
}

/// How a payload becomes a reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayloadFormat {
    /// SensorThings MQTT create: topic `…/Datastreams(ID)/Observations`, payload a SensorThings Observation
    /// (`phenomenonTime`, `result`, optional `resultTime`, `resultQuality`).
    Sensorthings,
    /// Any JSON object; `datastream`, `time`, `result` and `quality` say where the values are.
    Json,
}

/// One topic filter and its payload mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MqttSubscription {
    /// MQTT topic filter, with + and # wildcards, e.g. "v1.1/#" or "sensors/+/reading".
    pub topic: String,
    /// sensorthings or json.
    pub format: PayloadFormat,
    /// json: where the Datastream is: "topic:N" (the N-th topic level, counted from 0) or a JSON pointer such
    /// as "/sensor". An integer is the Datastream's @iot.id; other text is matched against Datastream keys
    /// (e.g. "smhi:52240:Lufttemperatur").
    pub datastream: String,
    /// json: JSON pointer of the time: RFC 3339 text, or a number of seconds (or milliseconds, when above
    /// 1e11) since 1970. Without it in the payload, the time the server received the message.
    pub time: String,
    /// json: JSON pointer of the numeric result.
    pub result: String,
    /// json: JSON pointer of a quality code (optional).
    pub quality: Option<String>,
}

impl Default for MqttSubscription {
    fn default() -> Self {
        MqttSubscription {
            topic: "v1.1/#".into(),
            format: PayloadFormat::Sensorthings,
            datastream: "/datastream".into(),
            time: "/time".into(),
            result: "/result".into(),
            quality: None,
        }
    }
}

/// Starts reading from the broker of `server.iot.mqtt`, if one is configured. The tasks run as long as
/// the server.
pub fn spawn(state: &AppState) -> Result<(), String> {
    let Some(cfg) = state.options.server.iot.mqtt.clone() else {
        return Ok(());
    };
    let options = options(&cfg)?;
    for s in &cfg.subscriptions {
        if !rumqttc::valid_filter(&s.topic) {
            return Err(format!(
                "server.iot.mqtt: '{}' is not an MQTT topic filter (+ and # stand for whole levels, # only \
                 last)",
                s.topic
            ));
        }
    }
    let (client, mut events) = AsyncClient::new(options, 10_000);
    let (tx, rx) = mpsc::channel::<Publish>(cfg.batch_max.max(1) * 2);
    let subs = cfg.subscriptions.clone();
    let subscriber = client.clone();
    let metrics = state.metrics.clone();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    backoff = Duration::from_millis(200);
                    tracing::info!(session_present = ack.session_present, "MQTT connected");
                    for s in &subs {
                        if let Err(e) = subscriber.subscribe(&s.topic, QoS::AtLeastOnce).await {
                            tracing::warn!(topic = %s.topic, "cannot subscribe: {e}");
                        }
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    metrics.mqtt_received.fetch_add(1, Ordering::Relaxed);
                    if tx.send(p).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    // The next poll reconnects; the session (and what was not acknowledged) is kept.
                    tracing::warn!("MQTT connection: {e}; reconnecting in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    });
    tokio::spawn(commit_loop(state.clone(), cfg, client, rx));
    Ok(())
}

fn options(cfg: &MqttConfig) -> Result<MqttOptions, String> {
    let url = reqwest::Url::parse(&cfg.url).map_err(|e| {
        format!(
            "server.iot.mqtt.url '{}' is not a URL ({e}); write mqtt://host:1883",
            cfg.url
        )
    })?;
    if !matches!(url.scheme(), "mqtt" | "tcp") {
        return Err(format!(
            "server.iot.mqtt.url '{}': only mqtt:// (plain TCP) is supported; for TLS put a local bridge \
             (e.g. Mosquitto) in front of the broker",
            cfg.url
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| format!("server.iot.mqtt.url '{}' names no host", cfg.url))?;
    if cfg.client_id.is_empty() {
        return Err(
            "server.iot.mqtt.client_id is empty; the broker keeps the session by it".into(),
        );
    }
    let mut o = MqttOptions::new(&cfg.client_id, host, url.port().unwrap_or(1883));
    o.set_clean_session(false)
        .set_manual_acks(true)
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(u16::MAX)
        .set_request_channel_capacity(10_000);
    if !url.username().is_empty() {
        o.set_credentials(url.username(), url.password().unwrap_or_default());
    }
    Ok(o)
}

/// Gathers readings into batches, commits each, then acknowledges its messages in the order received.
async fn commit_loop(
    state: AppState,
    cfg: MqttConfig,
    client: AsyncClient,
    mut rx: mpsc::Receiver<Publish>,
) {
    let wait = Duration::from_millis(cfg.batch_wait_ms);
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + wait;
        while batch.len() < cfg.batch_max.max(1) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(p)) => batch.push(p),
                Ok(None) | Err(_) => break,
            }
        }
        if commit(&state, &cfg, &batch).await {
            for p in &batch {
                if let Err(e) = client.ack(p).await {
                    tracing::warn!("cannot acknowledge an MQTT message: {e}");
                }
            }
        } else {
            // Not acknowledged: the broker resends these after a reconnect. Forcing one now beats waiting
            // for a connection to drop.
            if let Err(e) = client.disconnect().await {
                tracing::warn!("cannot restart the MQTT session: {e}");
            }
        }
    }
}

/// Turns `batch` into readings and commits them; false when the commit failed (retry by redelivery).
async fn commit(state: &AppState, cfg: &MqttConfig, batch: &[Publish]) -> bool {
    let streams = match state.iot.datastreams(&state.store).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("MQTT: cannot read the Datastreams: {e}");
            return false;
        }
    };
    let keys: HashMap<&str, i64> = streams
        .by_id
        .iter()
        .map(|(id, d)| (d.spec.key.as_str(), *id))
        .collect();
    let now = Utc::now();
    let mut readings = Vec::with_capacity(batch.len());
    let mut bytes = Vec::new();
    for p in batch {
        let sub = cfg
            .subscriptions
            .iter()
            .find(|s| rumqttc::matches(&p.topic, &s.topic));
        let parsed = match sub {
            Some(sub) => reading(sub, &p.topic, &p.payload, now)
                .and_then(|(key, o)| resolve(key, o, &streams.by_id, &keys))
                .and_then(|o| o.check(now).map(|()| o)),
            None => Err("no subscription matches the topic".into()),
        };
        match parsed {
            Ok(o) => {
                bytes.extend_from_slice(&p.payload);
                readings.push(o);
            }
            Err(why) => {
                state.metrics.mqtt_rejected.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(topic = %p.topic, "MQTT message refused, not stored: {why}");
            }
        }
    }
    if readings.is_empty() {
        return true;
    }
    let n = readings.len() as u64;
    let write = how(&mqtt_caller(), "mqtt", &bytes, n);
    match state.iot.append(&state.store, readings, write).await {
        Ok(outcome) => {
            tracing::debug!(
                written = outcome.written,
                duplicates = outcome.duplicates,
                "MQTT batch committed"
            );
            true
        }
        Err(e) => {
            tracing::warn!("MQTT batch of {n} readings not committed: {e}");
            false
        }
    }
}

fn mqtt_caller() -> crate::auth::Caller {
    crate::auth::Caller::Key {
        id: "mqtt".into(),
        role: crate::auth::Role::ReaderInternal,
    }
}

/// Where a reading's Datastream was named: an id or a key to look up.
#[derive(Debug, PartialEq)]
enum StreamRef {
    Id(i64),
    Key(String),
}

fn resolve(
    r: StreamRef,
    mut o: Observation,
    streams: &HashMap<i64, Datastream>,
    keys: &HashMap<&str, i64>,
) -> Result<Observation, String> {
    o.datastream = match r {
        StreamRef::Id(id) if streams.contains_key(&id) => id,
        StreamRef::Id(id) => return Err(format!("Datastream {id} does not exist")),
        StreamRef::Key(k) => *keys
            .get(k.as_str())
            .ok_or_else(|| format!("no Datastream has the key '{k}'"))?,
    };
    Ok(o)
}

/// Reads one message; the Datastream is resolved by the caller.
fn reading(
    sub: &MqttSubscription,
    topic: &str,
    payload: &[u8],
    now: DateTime<Utc>,
) -> Result<(StreamRef, Observation), String> {
    let body: Value = serde_json::from_slice(payload)
        .map_err(|e| format!("the payload is not JSON: {e} (NaN is not a JSON number)"))?;
    let (stream, time, result, quality) = match sub.format {
        PayloadFormat::Sensorthings => {
            let id = topic
                .split('/')
                .find_map(|level| {
                    level
                        .strip_prefix("Datastreams(")?
                        .strip_suffix(")")?
                        .parse::<i64>()
                        .ok()
                })
                .ok_or_else(|| {
                    "the topic names no Datastream: publish to v1.1/Datastreams(ID)/Observations"
                        .to_string()
                })?;
            (
                StreamRef::Id(id),
                body.get("phenomenonTime"),
                body.get("result"),
                body.get("resultQuality"),
            )
        }
        PayloadFormat::Json => (
            stream_ref(&sub.datastream, topic, &body)?,
            body.pointer(&sub.time),
            body.pointer(&sub.result),
            sub.quality.as_deref().and_then(|q| body.pointer(q)),
        ),
    };
    let result = result
        .ok_or_else(|| "the payload has no result".to_string())
        .and_then(crate::sta::write::number)?;
    let phenomenon_time = match time {
        None | Some(Value::Null) => now,
        Some(Value::Number(n)) => epoch(n.as_f64().unwrap_or(f64::NAN))?,
        Some(v) => crate::sta::write::time(v, "the time")?,
    };
    let result_quality = quality.map(|q| match q {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let o = Observation {
        datastream: 0,
        phenomenon_time,
        result_time: Some(now),
        result,
        result_quality,
    };
    Ok((stream, o))
}

fn stream_ref(spec: &str, topic: &str, body: &Value) -> Result<StreamRef, String> {
    let text = if let Some(n) = spec.strip_prefix("topic:") {
        let i: usize = n
            .parse()
            .map_err(|_| format!("datastream = '{spec}': write topic:N with N a level number"))?;
        topic
            .split('/')
            .nth(i)
            .ok_or_else(|| format!("the topic has no level {i}"))?
            .to_string()
    } else {
        match body.pointer(spec) {
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::String(s)) => s.clone(),
            _ => return Err(format!("the payload has no Datastream at {spec}")),
        }
    };
    Ok(match text.parse::<i64>() {
        Ok(id) => StreamRef::Id(id),
        Err(_) => StreamRef::Key(text),
    })
}

/// Seconds since 1970, or milliseconds when the number is too large to be seconds (after year 5138).
fn epoch(n: f64) -> Result<DateTime<Utc>, String> {
    let micros = if n.abs() > 1e11 { n * 1e3 } else { n * 1e6 };
    if !micros.is_finite() || micros.abs() > 1e17 {
        return Err(format!(
            "time {n} is not seconds or milliseconds since 1970"
        ));
    }
    Utc.timestamp_micros(micros as i64)
        .single()
        .ok_or_else(|| format!("time {n} is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_sub() -> MqttSubscription {
        MqttSubscription {
            topic: "sensors/+/reading".into(),
            format: PayloadFormat::Json,
            datastream: "topic:1".into(),
            time: "/ts".into(),
            result: "/value".into(),
            quality: Some("/q".into()),
        }
    }

    #[test]
    fn sensorthings_topic_and_body() {
        let now = Utc::now();
        let (r, o) = reading(
            &MqttSubscription::default(),
            "v1.1/Datastreams(12)/Observations",
            br#"{"phenomenonTime":"2026-11-22T07:00:00Z","result":4.5,"resultQuality":"G"}"#,
            now,
        )
        .expect("reads");
        assert_eq!(r, StreamRef::Id(12));
        assert_eq!(o.result, 4.5);
        assert_eq!(o.phenomenon_time.to_rfc3339(), "2026-11-22T07:00:00+00:00");
        assert_eq!(o.result_quality.as_deref(), Some("G"));
        // No phenomenonTime: the time of receipt, as the SensorThings standard says.
        let (_, o) = reading(
            &MqttSubscription::default(),
            "v1.1/Datastreams(1)/Observations",
            br#"{"result":1}"#,
            now,
        )
        .expect("reads");
        assert_eq!(o.phenomenon_time, now);
    }

    #[test]
    fn json_mapping_with_topic_level_and_epoch_times() {
        let now = Utc::now();
        let (r, o) = reading(
            &json_sub(),
            "sensors/lgh-1102/reading",
            br#"{"ts":1764000000,"value":21.5,"q":3}"#,
            now,
        )
        .expect("reads");
        assert_eq!(r, StreamRef::Key("lgh-1102".into()));
        assert_eq!(o.phenomenon_time.timestamp(), 1_764_000_000);
        assert_eq!(o.result_quality.as_deref(), Some("3"));
        let (r, o) = reading(
            &json_sub(),
            "sensors/7/reading",
            br#"{"ts":1764000000123,"value":1}"#,
            now,
        )
        .expect("reads");
        assert_eq!(r, StreamRef::Id(7));
        assert_eq!(o.phenomenon_time.timestamp_millis(), 1_764_000_000_123);
    }

    #[test]
    fn bad_payloads_say_why() {
        let now = Utc::now();
        let cases: [(&str, &[u8], &str); 5] = [
            ("sensors/1/reading", b"{\"value\": NaN}", "not JSON"),
            ("sensors/1/reading", b"{\"ts\": 1}", "no result"),
            (
                "sensors/1/reading",
                b"{\"value\": \"warm\"}",
                "not a number",
            ),
            (
                "sensors/1/reading",
                b"{\"ts\": \"igar\", \"value\": 1}",
                "RFC 3339",
            ),
            (
                "sensors/1/reading",
                b"{\"ts\": 1e300, \"value\": 1}",
                "since 1970",
            ),
        ];
        for (topic, payload, why) in cases {
            let e = reading(&json_sub(), topic, payload, now).expect_err("refused");
            assert!(e.contains(why), "{e} should say {why}");
        }
        let e = reading(
            &MqttSubscription::default(),
            "v1.1/Things(1)",
            b"{\"result\":1}",
            now,
        )
        .expect_err("refused");
        assert!(e.contains("Datastreams(ID)"), "{e}");
    }
}
