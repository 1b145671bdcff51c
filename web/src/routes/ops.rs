//! Operational endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document and the viewer's
//! settings. None of them needs credentials and none of them shows data.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /healthz`: the process answers.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the store can be read and the catalog has been loaded.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let root = state.store.root().to_path_buf();
    let reachable = tokio::task::spawn_blocking(move || match std::fs::read_dir(&root) {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{}: {e}", root.display())),
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let catalog = state.catalog.ready();
    let (status, body) = match (&reachable, catalog) {
        (Ok(()), true) => (
            StatusCode::OK,
            json!({ "status": "ready", "datasets": state.catalog.all().len() }),
        ),
        (Err(e), _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "store unreachable", "detail": e }),
        ),
        (Ok(()), false) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "loading the catalog" }),
        ),
    };
    (status, Json(body)).into_response()
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    let mut r = state.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r
}

/// `GET /api/openapi.json`.
pub async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

/// `GET /api/viewer`: what the viewer needs from the server's configuration: the base maps it offers
/// besides the bundled NaturalEarthII (`server.base_layers`).
pub async fn viewer(State(state): State<AppState>) -> Json<Value> {
    Json(json!({ "base_layers": state.options.server.base_layers }))
}
