//! `POST /api/sql` with a JSON body `{"sql": "…", "format": "json|geojson|csv|arrow|parquet"}`. The work
//! itself is [`crate::sql`]; this handler parses the body, picks the caller's datasets and runs the
//! statement on the worker runtime.

use axum::body::{Bytes, Full, boxed};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};
use crate::sql::{Format, Limits, run};
use crate::state::AppState;

/// The request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    /// One read-only statement.
    pub sql: String,
    /// Result format (default json).
    pub format: Option<String>,
}

/// `POST /api/sql`.
pub async fn query(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = state.caller(&headers)?;
    let req: SqlRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "the body must be JSON like {{\"sql\": \"SELECT …\", \"format\": \"geojson\"}}: {e}"
        ))
    })?;
    if req.sql.trim().is_empty() {
        return Err(ApiError::BadRequest("\"sql\" is empty".into()));
    }
    let format = Format::parse(req.format.as_deref().unwrap_or("json"))?;
    // Every acknowledged sensor reading is in the store before the query reads it.
    state.sync_iot().await?;
    let visible = state.visible(&caller);
    let o = &state.options;
    let limits = Limits {
        timeout: o.sql_timeout,
        memory_limit: o.memory_limit,
        row_limit: o.server.sql_row_limit.max(1),
    };
    let store = state.store.clone();
    let projjson = o.projjson.clone();
    let started = std::time::Instant::now();
    let job = state.workers.spawn(async move {
        run(
            &store, &caller, &visible, &req.sql, format, limits, projjson,
        )
        .await
    });
    let answer = job
        .await
        .map_err(|e| ApiError::Internal(format!("the query task failed: {e}")))??;
    let mut r = Response::new(boxed(Full::from(answer.body)));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    h.insert("x-tvilling-rows", HeaderValue::from(answer.rows));
    h.insert(
        "x-tvilling-truncated",
        HeaderValue::from_static(if answer.truncated { "true" } else { "false" }),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    tracing::debug!(
        rows = answer.rows,
        seconds = started.elapsed().as_secs_f64(),
        "sql answered"
    );
    Ok(r)
}
