//! The one place where errors become HTTP answers: RFC 9457 problem details (`application/problem+json`)
//! with a status chosen by the error's cause, never by parsing its message.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The request is malformed (bad JSON, bad SQL, a bad dataset name or version).
    #[error("{0}")]
    BadRequest(String),
    /// Nothing here, or nothing the caller may see (the two are not told apart, so that restricted
    /// datasets do not leak their existence).
    #[error("{0}")]
    NotFound(String),
    /// The request needs credentials it did not bring, or brought unknown ones.
    #[error("{0}")]
    Unauthorized(String),
    /// Tiles are being built; ask again after the given number of seconds.
    #[error("{message}")]
    NotReady {
        /// What is happening.
        message: String,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The statement ran past its time limit.
    #[error(
        "the query was cancelled after {0:?} (the server's SQL timeout); narrow it down or add LIMIT"
    )]
    Timeout(Duration),
    /// Tiling this dataset version failed; the message says why and what to do.
    #[error("{0}")]
    TilingFailed(String),
    /// A fault on the server side (store unreadable, a bug).
    #[error("{0}")]
    Internal(String),
}

/// Result of handlers.
pub type ApiResult<T> = std::result::Result<T, ApiError>;

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::NotReady { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::TilingFailed(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "Bad request",
            ApiError::NotFound(_) => "Not found",
            ApiError::Unauthorized(_) => "Unauthorized",
            ApiError::NotReady { .. } => "Not ready yet",
            ApiError::Timeout(_) => "Query timeout",
            ApiError::TilingFailed(_) => "Tiling failed",
            ApiError::Internal(_) => "Internal server error",
        }
    }
}

impl From<tvilling_core::Error> for ApiError {
    fn from(e: tvilling_core::Error) -> Self {
        use tvilling_core::Error as E;
        match e {
            E::BadInput(_) | E::VersionNotFound { .. } => ApiError::BadRequest(e.to_string()),
            E::DatasetNotFound { name, .. } => {
                ApiError::NotFound(format!("dataset '{name}' does not exist"))
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<tvilling_query::Error> for ApiError {
    fn from(e: tvilling_query::Error) -> Self {
        use tvilling_query::Error as E;
        match e {
            E::Timeout(d) => ApiError::Timeout(d),
            E::Store(s) => s.into(),
            // Unknown tables and columns, syntax errors, a function's argument errors, refused writes: all
            // about the statement the caller sent.
            E::DataFusion(_) | E::ReadOnly(_) => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), "{self}");
        }
        let body = json!({
            "type": "about:blank",
            "title": self.title(),
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::NotReady { retry_after, .. } = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        if let ApiError::Unauthorized(_) = &self {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tvilling\""),
            );
        }
        response
    }
}
