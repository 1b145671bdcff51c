//! IoT ingest and live push (issue 7):
//!
//! - `POST /api/iot/observations`: a JSON array or NDJSON of `{"datastream": ID, "time": RFC3339,
//!   "result": number, "resultQuality"?: text}`. Commit-before-ack: the answer comes after the Delta
//!   commit. Idempotent by (datastream, time): a retried batch writes nothing twice. A batch with any bad
//!   reading is refused whole (400, each problem named by position), so a client never has to work out
//!   which part landed.
//! - `GET /api/iot/live?datastream=1,2&bbox=minlon,minlat,maxlon,maxlat`: Server-Sent Events, one
//!   `observation` event (JSON) per committed reading, filtered by datastream and position; protected
//!   readings (personal Datastreams, restricted Things) only to subscribers cleared for restricted data.
//! - `GET /api/iot/aggregates`: time-bucket aggregates over groups of Things ([`crate::sta::aggregate`]).

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Bytes, StreamBody};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use tvilling_core::Classification;
use tvilling_core::iot::Observation;

use crate::error::{ApiError, ApiResult};
use crate::sta::arrow_body::{ARROW_STREAM, parse_arrow};
use crate::sta::hub::LiveReading;
use crate::sta::readable;
use crate::sta::write::{how, number, time, writer};
use crate::state::AppState;

/// The IoT routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/iot/observations", post(observations))
        .route("/api/iot/live", get(live))
        .route("/api/iot/latest", get(crate::sta::latest::latest))
        .route(
            "/api/iot/aggregates",
            get(crate::sta::aggregate::aggregates),
        )
}

/// A reading as the fast parser reads it (borrowing the time text).
#[derive(serde::Deserialize)]
struct Wire<'a> {
    datastream: i64,
    #[serde(borrow)]
    time: std::borrow::Cow<'a, str>,
    result: f64,
    #[serde(rename = "resultQuality", default)]
    result_quality: Option<String>,
}

impl Wire<'_> {
    fn reading(self) -> Option<Observation> {
        let t = chrono::DateTime::parse_from_rfc3339(&self.time).ok()?;
        Some(Observation {
            datastream: self.datastream,
            phenomenon_time: t.with_timezone(&chrono::Utc),
            result_time: None,
            result: self.result,
            result_quality: self.result_quality,
        })
    }
}

/// The batch read straight into typed readings, or `None` when anything is off; then
/// [`parse_batch`]'s careful reading says what and where.
fn parse_fast(body: &[u8]) -> Option<Vec<Observation>> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first == b'[' {
        let wire: Vec<Wire> = serde_json::from_slice(body).ok()?;
        wire.into_iter().map(Wire::reading).collect()
    } else {
        serde_json::Deserializer::from_slice(body)
            .into_iter::<Wire>()
            .map(|w| w.ok()?.reading())
            .collect()
    }
}

/// Parses a batch: a JSON array, or one JSON object per line (NDJSON).
pub fn parse_batch(body: &[u8]) -> Result<Vec<Observation>, String> {
    if let Some(obs) = parse_fast(body) {
        return Ok(obs);
    }
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    let items: Vec<(usize, Value)> = if text.trim_start().starts_with('[') {
        let v: Vec<Value> = serde_json::from_str(text).map_err(|e| {
            format!(
                "the body is not a JSON array of readings: {e} (line {}, column {}); NaN and Infinity are \
                 not JSON numbers",
                e.line(),
                e.column()
            )
        })?;
        v.into_iter().enumerate().collect()
    } else {
        let mut out = vec![];
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let v =
                serde_json::from_str(line).map_err(|e| format!("NDJSON line {}: {e}", i + 1))?;
            out.push((out.len(), v));
        }
        out
    };
    let mut obs = Vec::with_capacity(items.len());
    for (i, v) in items {
        let at = |why: String| format!("reading {i}: {why}");
        let datastream = v.get("datastream").and_then(Value::as_i64).ok_or_else(|| {
            at("needs \"datastream\": the Datastream's @iot.id (an integer)".into())
        })?;
        let t = time(v.get("time").unwrap_or(&Value::Null), "\"time\"").map_err(at)?;
        let result = number(v.get("result").unwrap_or(&Value::Null)).map_err(at)?;
        obs.push(Observation {
            datastream,
            phenomenon_time: t,
            result_time: None,
            result,
            result_quality: v
                .get("resultQuality")
                .and_then(Value::as_str)
                .map(str::to_string),
        });
    }
    Ok(obs)
}

/// `POST /api/iot/observations`.
pub async fn observations(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = writer(&state, &headers).await?;
    let arrow = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(ARROW_STREAM));
    let obs = if arrow {
        parse_arrow(&body)
    } else {
        parse_batch(&body)
    }
    .map_err(ApiError::BadRequest)?;
    let how = how(
        &caller,
        "POST /api/iot/observations",
        &body,
        obs.len() as u64,
    );
    let outcome = state.iot.append(&state.store, obs, how).await?;
    Ok(axum::Json(json!({
        "written": outcome.written,
        "duplicates": outcome.duplicates,
        "version": outcome.version,
    }))
    .into_response())
}

/// A live-feed filter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveFilter {
    /// Only these datastreams (empty: all).
    pub datastreams: Vec<i64>,
    /// Only readings of Things inside this WGS 84 box.
    pub bbox: Option<[f64; 4]>,
    /// The subscriber may see protected readings (personal Datastreams, restricted Things).
    pub cleared: bool,
}

impl LiveFilter {
    /// Parses `datastream` and `bbox` parameters.
    pub fn parse(params: &[(String, String)]) -> Result<LiveFilter, String> {
        let mut f = LiveFilter::default();
        for (k, v) in params {
            match k.as_str() {
                "datastream" => {
                    for d in v.split(',') {
                        f.datastreams.push(d.trim().parse().map_err(|_| {
                            format!("datastream={v}: give Datastream ids separated by commas")
                        })?);
                    }
                }
                "bbox" => {
                    let n: Vec<f64> = v
                        .split(',')
                        .map(|x| x.trim().parse::<f64>())
                        .collect::<Result<_, _>>()
                        .map_err(|_| {
                            format!("bbox={v}: give minlon,minlat,maxlon,maxlat in degrees")
                        })?;
                    let [a, b, c, d] = n[..] else {
                        return Err(format!(
                            "bbox={v}: give four numbers minlon,minlat,maxlon,maxlat"
                        ));
                    };
                    f.bbox = Some([a, b, c, d]);
                }
                other => {
                    return Err(format!(
                        "unknown parameter '{other}'; use datastream and bbox"
                    ));
                }
            }
        }
        Ok(f)
    }

    /// Whether `r` passes.
    pub fn passes(&self, r: &LiveReading) -> bool {
        (self.cleared || !r.protected)
            && (self.datastreams.is_empty() || self.datastreams.contains(&r.datastream))
            && match (self.bbox, r.lon, r.lat) {
                (None, _, _) => true,
                (Some([x0, y0, x1, y1]), Some(x), Some(y)) => {
                    x >= x0 && x <= x1 && y >= y0 && y <= y1
                }
                _ => false,
            }
    }
}

/// One Server-Sent Events message (WHATWG HTML §9.2): `event:` and one `data:` line (JSON has no raw
/// newlines), ended by a blank line. Written here because axum 0.6's `Sse` needs its `tokio` feature,
/// which would turn on hyper's server features for the whole workspace (see docs/server.md).
fn sse_event(event: &str, data: &str) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {data}\n\n"))
}

/// `GET /api/iot/live`.
pub async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let caller = state.caller(&headers)?;
    readable(&state, &caller).await?;
    let mut filter = LiveFilter::parse(&params).map_err(ApiError::BadRequest)?;
    filter.cleared = caller.may_read(Classification::Restricted);
    let filter = Arc::new(filter);
    let rx = state.iot.subscribe();
    let stream = futures::stream::unfold(rx, move |mut rx| {
        let filter = filter.clone();
        async move {
            loop {
                match rx.recv().await {
                    Ok(r) if filter.passes(&r) => {
                        let data = serde_json::to_string(r.as_ref()).unwrap_or_default();
                        return Some((Ok::<_, Infallible>(sse_event("observation", &data)), rx));
                    }
                    Ok(_) => continue,
                    // A subscriber that fell behind is told how much it missed, then follows on.
                    Err(RecvError::Lagged(n)) => {
                        return Some((Ok(sse_event("lagged", &n.to_string())), rx));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    let mut response = StreamBody::new(stream).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_json_arrays_and_ndjson() {
        let a =
            parse_batch(br#"[{"datastream": 1, "time": "2026-01-01T00:00:00Z", "result": 1.5}]"#)
                .unwrap();
        let n = parse_batch(
            b"{\"datastream\": 1, \"time\": \"2026-01-01T00:00:00Z\", \"result\": 1.5}\n\n\
              {\"datastream\": 2, \"time\": \"2026-01-01T01:00:00+01:00\", \"result\": 2}\n",
        )
        .unwrap();
        assert_eq!(a[0], n[0]);
        assert_eq!(n[1].phenomenon_time, n[0].phenomenon_time);
    }

    #[test]
    fn refuses_malformed_batches_with_the_reading_named() {
        for (body, why) in [
            (
                &b"[{\"datastream\": 1, \"time\": \"2026-01-01T00:00:00Z\", \"result\": NaN}]"[..],
                "NaN",
            ),
            (
                b"[{\"datastream\": 1, \"time\": \"yesterday\", \"result\": 1}]",
                "reading 0: \"time\"",
            ),
            (
                b"[{\"time\": \"2026-01-01T00:00:00Z\", \"result\": 1}]",
                "needs \"datastream\"",
            ),
            (
                b"[{\"datastream\": 1, \"time\": \"2026-01-01T00:00:00Z\", \"result\": \"1\"}]",
                "not a number",
            ),
            (b"{\"datastream\": 1}\n{oops", "NDJSON line 2"),
        ] {
            let e = parse_batch(body).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
    }

    #[test]
    fn live_filter_checks_datastream_and_bbox() {
        let f = LiveFilter::parse(&[
            ("datastream".into(), "1,2".into()),
            ("bbox".into(), "12,55,13,56".into()),
        ])
        .unwrap();
        let r = |d, lon| LiveReading {
            datastream: d,
            time: String::new(),
            result: 0.0,
            quality: None,
            lon: Some(lon),
            lat: Some(55.5),
            unit: String::new(),
            protected: d == 2,
        };
        assert!(f.passes(&r(1, 12.5)));
        // A personal meter's reading reaches only cleared subscribers.
        assert!(!f.passes(&r(2, 12.5)));
        let cleared = LiveFilter {
            cleared: true,
            ..f.clone()
        };
        assert!(cleared.passes(&r(2, 12.5)));
        assert!(!f.passes(&r(3, 12.5)));
        assert!(!f.passes(&r(1, 14.0)));
        assert!(LiveFilter::parse(&[("bbox".into(), "1,2,3".into())]).is_err());
    }
}
