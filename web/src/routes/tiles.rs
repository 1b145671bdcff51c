//! 3D Tiles from the store's tile cache (`<store>/<dataset>/_tiles/`, written by `tvilling tile` and by
//! this server's [`crate::tiling`]):
//!
//! ```text
//! GET /tiles/{dataset}/tileset.json             newest version (ETag, Cache-Control: no-cache)
//! GET /tiles/{dataset}/tileset.json?version=N   version N (immutable)
//! GET /tiles/{dataset}/content/{hash}.glb       content, named by its hash (immutable)
//! ```
//!
//! Tilesets reference content as `content/<hash>.glb`, relative to the tileset, so the URLs inside a served
//! tileset resolve to the content route above for every version. Paths are never joined from request text:
//! the dataset must parse as a [`DatasetName`] and the content file must be hex digits plus `.glb`, so
//! `..`, encoded dots, slashes and absolute paths cannot reach the file system.
//!
//! While the newest version is being tiled, the newest older tileset is served (the globe never goes blank
//! after a commit) with `X-Tvilling-Tiles-Pending: <version>`; a version with nothing to fall back on gets
//! 503 with `Retry-After`.

use axum::Router;
use axum::body::{Bytes, Full, boxed};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tvilling_core::{Classification, DatasetName};

use crate::auth::Caller;
use crate::catalog::Entry;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tiling::{TileState, tileset_path};

/// Seconds a client should wait before asking again for tiles being built.
const RETRY_AFTER: u64 = 2;
const IMMUTABLE: &str = "max-age=31536000, immutable";

/// The tile routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tiles/:dataset/tileset.json", get(tileset))
        .route("/tiles/:dataset/content/:file", get(content))
}

/// `?version=N`.
#[derive(Debug, Deserialize)]
pub struct VersionQuery {
    /// A version number from `tvilling log`.
    pub version: Option<u64>,
}

/// The dataset named in the path, if the caller may read it. Hidden and missing datasets answer alike.
pub(crate) fn visible_dataset(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> ApiResult<(DatasetName, Entry)> {
    let name: DatasetName = raw
        .parse()
        .map_err(|e: tvilling_core::Error| ApiError::BadRequest(e.to_string()))?;
    match state.catalog.get(&name) {
        Some(e) if caller.may_read(e.props.classification) => Ok((name, e)),
        _ => Err(ApiError::NotFound(format!(
            "dataset '{name}' does not exist"
        ))),
    }
}

fn cache_control(classification: Classification, rule: &str) -> HeaderValue {
    let scope = if classification == Classification::Open {
        "public"
    } else {
        "private"
    };
    HeaderValue::from_str(&format!("{scope}, {rule}"))
        .unwrap_or_else(|_| HeaderValue::from_static("private, no-cache"))
}

/// Whether `If-None-Match` holds `etag` (weak or strong, with or without a coding suffix added by
/// [`crate::compress`]).
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    let bare = etag.trim_matches('"');
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/").trim_matches('"'))
        .any(|t| {
            t == "*"
                || t == bare
                || t.strip_prefix(bare)
                    .is_some_and(|rest| rest == "-br" || rest == "-gzip")
        })
}

fn respond(
    headers: &HeaderMap,
    body: impl Into<Bytes>,
    content_type: &'static str,
    etag: String,
    cache: HeaderValue,
) -> ApiResult<Response> {
    let etag_value =
        HeaderValue::from_str(&etag).map_err(|_| ApiError::Internal(format!("bad ETag {etag}")))?;
    let mut r = if matches(headers, &etag) {
        let mut r = Response::new(boxed(Full::from(Vec::new())));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(boxed(Full::new(body.into())));
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        r
    };
    r.headers_mut().insert(header::ETAG, etag_value);
    r.headers_mut().insert(header::CACHE_CONTROL, cache);
    Ok(r)
}

async fn read(path: &std::path::Path) -> ApiResult<Vec<u8>> {
    tokio::fs::read(path).await.map_err(|e| read_error(path, e))
}

fn read_error(path: &std::path::Path, e: std::io::Error) -> ApiError {
    if e.kind() == std::io::ErrorKind::NotFound {
        ApiError::NotFound("no such tile content".into())
    } else {
        ApiError::Internal(format!("{}: {e}", path.display()))
    }
}

/// `GET /tiles/{dataset}/tileset.json[?version=N]`.
pub async fn tileset(
    State(state): State<AppState>,
    Path(dataset): Path<String>,
    Query(q): Query<VersionQuery>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let caller = state.caller(&headers)?;
    let (name, entry) = visible_dataset(&state, &caller, &dataset)?;
    let classification = entry.props.classification;
    let version = q.version.unwrap_or(entry.version);
    if version > entry.version {
        return Err(ApiError::NotFound(format!(
            "dataset '{name}' has no version {version}; its newest is {}",
            entry.version
        )));
    }
    caller.audit(name.as_str(), classification, "tiles");
    let (path, pending) = match state.tiler.ensure(&name, version) {
        TileState::Ready(p) => (p, None),
        TileState::Building if q.version.is_none() => match newest_tiled(&state, &name, version) {
            Some((p, _)) => (p, Some(version)),
            None => return Err(building(&name, version)),
        },
        TileState::Building => return Err(building(&name, version)),
        TileState::Failed(msg) => {
            return Err(ApiError::TilingFailed(format!(
                "tiling dataset '{name}' version {version} failed: {msg}"
            )));
        }
        TileState::Missing => {
            return Err(ApiError::NotFound(format!(
                "dataset '{name}' version {version} has no tiles; run `tvilling tile {name} --version {version}`"
            )));
        }
    };
    let body = read(&path).await?;
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..32]);
    let rule = if q.version.is_some() {
        IMMUTABLE
    } else {
        // The newest version changes with every commit: revalidate each time (cheap with the ETag).
        "no-cache"
    };
    let mut r = respond(
        &headers,
        body,
        "application/json",
        etag,
        cache_control(classification, rule),
    )?;
    if let Some(v) = pending {
        r.headers_mut()
            .insert("x-tvilling-tiles-pending", HeaderValue::from(v));
    }
    Ok(r)
}

fn building(name: &DatasetName, version: u64) -> ApiError {
    ApiError::NotReady {
        message: format!(
            "dataset '{name}' version {version} is being tiled; ask again in {RETRY_AFTER} s"
        ),
        retry_after: RETRY_AFTER,
    }
}

/// The newest cached tileset older than `below`.
fn newest_tiled(
    state: &AppState,
    name: &DatasetName,
    below: u64,
) -> Option<(std::path::PathBuf, u64)> {
    (0..below).rev().find_map(|v| {
        let p = tileset_path(&state.store, name, v);
        p.is_file().then_some((p, v))
    })
}

/// A content file name: lowercase hex digits and `.glb`, nothing else.
fn content_hash(file: &str) -> Option<&str> {
    let hash = file.strip_suffix(".glb")?;
    let ok = (8..=128).contains(&hash.len())
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then_some(hash)
}

/// `GET /tiles/{dataset}/content/{hash}.glb`.
pub async fn content(
    State(state): State<AppState>,
    Path((dataset, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let caller = state.caller(&headers)?;
    let (name, entry) = visible_dataset(&state, &caller, &dataset)?;
    let hash = content_hash(&file)
        .ok_or_else(|| ApiError::NotFound(format!("'{file}' is not a tile content file")))?;
    let classification = entry.props.classification;
    caller.audit(name.as_str(), classification, "tile content");
    let etag = format!("\"{hash}\"");
    if matches(&headers, &etag) {
        return respond(
            &headers,
            Vec::new(),
            "model/gltf-binary",
            etag,
            cache_control(classification, IMMUTABLE),
        );
    }
    let path = state
        .store
        .dataset_dir(&name)
        .join("_tiles")
        .join("content")
        .join(format!("{hash}.glb"));
    let body = state
        .tile_cache
        .get(&path)
        .await
        .map_err(|e| read_error(&path, e))?;
    respond(
        &headers,
        body,
        "model/gltf-binary",
        etag,
        cache_control(classification, IMMUTABLE),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_hex_glb_names() {
        for (file, ok) in [
            ("0123456789abcdef.glb", true),
            ("../../etc/passwd", false),
            ("..%2f..%2fx.glb", false),
            ("ABCDEF0123456789.glb", false),
            ("0123456789abcdef.json", false),
            ("/etc/passwd.glb", false),
            ("abc.glb", false),
        ] {
            assert_eq!(content_hash(file).is_some(), ok, "{file}");
        }
    }

    #[test]
    fn if_none_match_sees_coded_and_weak_tags() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("W/\"x1\", \"abc-br\""),
        );
        assert!(matches(&h, "\"abc\""));
        assert!(matches(&h, "\"x1\""));
        assert!(!matches(&h, "\"ab\""));
    }
}
