//! OGC API Features (Part 1 Core with GeoJSON and HTML, Part 2 CRS, Part 3 Filtering with CQL2) over the
//! store's datasets, served under `/ogcapi` by [`crate::routes::ogcapi`]. Each collection is one dataset the
//! caller may read; rows come from the query engine: every request becomes one SQL statement over the
//! dataset (plus a `count(*)` for `numberMatched`), so filters, CRS transforms (`ST_Transform`, PROJ) and
//! paging all run in DataFusion, never in loops here.
//!
//! - [`cql2`]: CQL2 text and JSON into one AST.
//! - [`query`]: queryables, and the AST, `bbox`, `datetime` and `?property=value` into a SQL `WHERE`.
//! - [`crs`]: CRS URIs and their axis order.
//! - [`render`]: links, feature documents, HTML pages and the spec's error bodies.

pub mod cql2;
pub mod crs;
pub mod pages;
pub mod query;
pub mod render;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;

/// The conformance classes implemented, exactly.
pub const CONFORMANCE: [&str; 14] = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
];

/// An error answered the way OGC API Features asks: JSON with `code` and `description` (plus the RFC 9457
/// members the rest of the server uses, so clients of either find what they look for).
#[derive(Debug)]
pub struct OgcError(pub ApiError);

impl From<ApiError> for OgcError {
    fn from(e: ApiError) -> Self {
        OgcError(e)
    }
}

impl From<tvilling_query::Error> for OgcError {
    fn from(e: tvilling_query::Error) -> Self {
        OgcError(e.into())
    }
}

impl OgcError {
    /// A 400 for a bad parameter or filter.
    pub fn bad(msg: impl Into<String>) -> OgcError {
        OgcError(ApiError::BadRequest(msg.into()))
    }
}

impl IntoResponse for OgcError {
    fn into_response(self) -> Response {
        // 401 keeps its WWW-Authenticate header; Retry-After and friends do not occur here.
        if matches!(self.0, ApiError::Unauthorized(_)) {
            return self.0.into_response();
        }
        let status = self.0.status();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "{}", self.0);
        }
        let code = match status.as_u16() {
            400 => "InvalidParameterValue",
            404 => "NotFound",
            408 => "Timeout",
            _ => "ServerError",
        };
        let description = self.0.to_string();
        let body = json!({
            "code": code,
            "description": description,
            "type": "about:blank",
            "status": status.as_u16(),
            "detail": description,
        });
        let mut r = (status, body.to_string()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        r
    }
}
