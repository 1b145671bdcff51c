//! Request counts and latencies per route in the Prometheus text format (`GET /metrics`), and the access
//! log: one `tracing` event (target `access`) per request. Routes are the router's patterns
//! (`/tiles/:dataset/tileset.json`), never raw paths, so the label set stays small whatever clients send.
//!
//! Hand-written rather than the `metrics` crates: two metric families do not justify their dependency tree.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, State};
use axum::http::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::state::AppState;

/// Upper bounds of the latency histogram buckets (seconds).
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    /// MQTT messages received (server.iot.mqtt).
    pub mqtt_received: AtomicU64,
    /// MQTT messages that could not become readings (logged and acknowledged).
    pub mqtt_rejected: AtomicU64,
}

impl Metrics {
    /// Counts one request.
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((method.to_string(), route.to_string(), status))
                .or_default() += 1;
        }
        if let Ok(mut l) = self.latency.lock() {
            let h = l.entry(route.to_string()).or_default();
            for (i, le) in BUCKETS.iter().enumerate() {
                if seconds <= *le {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        }
    }

    /// The Prometheus text exposition (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP tvilling_http_requests_total HTTP requests by method, route and status.\n",
        );
        out.push_str("# TYPE tvilling_http_requests_total counter\n");
        if let Ok(r) = self.requests.lock() {
            for ((method, route, status), n) in r.iter() {
                let _ = writeln!(
                    out,
                    "tvilling_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(method),
                    escape(route)
                );
            }
        }
        out.push_str(
            "# HELP tvilling_http_request_duration_seconds Time to the response head, by route.\n",
        );
        out.push_str("# TYPE tvilling_http_request_duration_seconds histogram\n");
        if let Ok(l) = self.latency.lock() {
            for (route, h) in l.iter() {
                let route = escape(route);
                for (le, n) in BUCKETS.iter().zip(h.counts) {
                    let _ = writeln!(
                        out,
                        "tvilling_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{le}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "tvilling_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(
                    out,
                    "tvilling_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                    h.sum
                );
                let _ = writeln!(
                    out,
                    "tvilling_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                    h.count
                );
            }
        }
        for (name, help, v) in [
            (
                "tvilling_mqtt_messages_total",
                "MQTT messages received.",
                &self.mqtt_received,
            ),
            (
                "tvilling_mqtt_rejected_total",
                "MQTT messages refused (not readings; see the log).",
                &self.mqtt_rejected,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", v.load(Ordering::Relaxed));
        }
        out
    }
}

/// Label values escape backslash, quote and newline (Prometheus text format).
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Middleware: times the request, counts it and writes the access log line.
pub async fn track<B>(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    req: Request<B>,
    next: Next<B>,
) -> Response {
    let started = Instant::now();
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    // Requests no route matched (the viewer's static files, 404s) share one label.
    let route = matched
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "/*static".to_string());
    let response = next.run(req).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    state.metrics.record(&method, &route, status, seconds);
    tracing::info!(
        target: "access",
        method,
        path,
        route,
        status,
        ms = seconds * 1000.0,
        "{method} {path} {status}"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.record("GET", "/healthz", 200, 0.002);
        m.record("GET", "/healthz", 200, 0.3);
        let text = m.render();
        assert!(text.contains(
            "tvilling_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2"
        ));
        assert!(text.contains("le=\"0.0025\"} 1"));
        assert!(text.contains("le=\"0.5\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }
}
