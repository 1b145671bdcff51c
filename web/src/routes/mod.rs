//! The router: every URL of the contract in one table (docs/server.md), and the layers around it.
//!
//! ```text
//! /healthz /readyz /metrics /api/openapi.json   operations (ops)
//! /api/datasets                                 listing (datasets)
//! /api/datasets/{dataset}/versions              versions, newest first (datasets)
//! POST /api/sql                                 SQL (sql)
//! /tiles/{dataset}/…                            3D Tiles (tiles)
//! /ogcapi/…                                     OGC API Features: Core, CRS, CQL2 filtering (ogcapi)
//! /sta/v1.1/…                                   SensorThings API 1.1 (sta)
//! POST /api/iot/observations, /api/iot/live      IoT batch ingest, Server-Sent Events (iot)
//! /cesium/…                                     the CesiumJS build the viewer loads
//! /…                                            the viewer's static files (fallback)
//! ```

pub mod datasets;
pub mod iot;
pub mod ogcapi;
pub mod ops;
pub mod sql;
pub mod tiles;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware;
use axum::routing::{get, post};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;

use crate::config::{default_cesium_dir, default_viewer_dir};
use crate::state::AppState;
use crate::{compress, metrics};

/// The application: routes, then (inside out) body limit, CORS, compression, timeout, metrics + access log.
pub fn router(state: AppState) -> Router {
    let server = &state.options.server;
    let viewer = server.viewer_dir.clone().unwrap_or_else(default_viewer_dir);
    let static_files = ServeDir::new(viewer).append_index_html_on_directories(true);
    let cesium = ServeDir::new(server.cesium_dir.clone().unwrap_or_else(default_cesium_dir));
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/api/openapi.json", get(ops::openapi))
        .route("/api/viewer", get(ops::viewer))
        .route("/api/datasets", get(datasets::list))
        .route("/api/datasets/:dataset/versions", get(datasets::versions))
        .route("/api/sql", post(sql::query))
        .merge(tiles::routes())
        .merge(ogcapi::routes())
        .merge(crate::sta::routes())
        .merge(iot::routes())
        .nest_service("/cesium", cesium)
        .fallback_service(static_files)
        // Applies to the extractors that read bodies (POST /api/sql): 413 beyond the limit.
        .layer(DefaultBodyLimit::max(server.body_limit))
        // CORS replaces any Vary header it finds; compression, outside it, adds accept-encoding after.
        .layer(cors(&server.cors_origins))
        .layer(middleware::from_fn(compress::compress))
        .layer(TimeoutLayer::new(Duration::from_secs(
            server.request_timeout_seconds.max(1),
        )))
        // Outermost, so that timeouts, CORS refusals and 413s are counted and logged too.
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::HEAD, Method::OPTIONS])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_NONE_MATCH,
            HeaderName::from_static("x-api-key"),
        ])
        .expose_headers([
            header::ETAG,
            header::RETRY_AFTER,
            HeaderName::from_static("x-tvilling-rows"),
            HeaderName::from_static("x-tvilling-truncated"),
            HeaderName::from_static("x-tvilling-tiles-pending"),
        ])
        .max_age(Duration::from_secs(3600))
}
