//! `GET /api/datasets`: the datasets the caller may read, with what a client needs to show them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde::Serialize;
use tvilling_core::Kind;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::tiling::{has_tile_cache, tileable};

/// One dataset in the listing.
#[derive(Debug, Serialize)]
pub struct DatasetItem {
    /// Dataset (and SQL table) name.
    pub name: String,
    /// vector, pointcloud, citymodel, bim or iot.
    pub kind: String,
    /// Newest committed version.
    pub version: u64,
    /// open, internal or restricted.
    pub classification: String,
    /// The responsible owner.
    pub owner: Option<String>,
    /// Licence.
    pub licence: Option<String>,
    /// Horizontal CRS (`EPSG:N`).
    pub crs: String,
    /// Geometry type of the geometry column.
    pub geometry_type: Option<String>,
    /// The 3D Tiles tileset URL (relative to the server), when the dataset can be tiled.
    pub tileset: Option<String>,
}

/// `GET /api/datasets`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<DatasetItem>>> {
    let caller = state.caller(&headers)?;
    let items = state
        .catalog
        .all()
        .into_iter()
        .filter(|(_, e)| caller.may_read(e.props.classification))
        .map(|(name, e)| {
            let p = e.props;
            // Advertise tiles a viewer can load: tiled already, or tileable without guessing heights
            // (3D geometry, or a height column named in the config). 2D footprints with no known
            // height source would only answer 422 after a failed background tiling.
            let known_height = state
                .options
                .server
                .tile_height_attr
                .contains_key(name.as_str())
                || p.geometry_type.as_deref().is_some_and(is_3d);
            let tiles = has_tile_cache(&state.store, &name)
                || (tileable(p.kind, p.geometry_type.as_deref())
                    && (p.kind != Kind::Vector || known_height));
            DatasetItem {
                tileset: tiles.then(|| format!("/tiles/{name}/tileset.json")),
                name: name.to_string(),
                kind: p.kind.to_string(),
                version: e.version,
                classification: p.classification.to_string(),
                owner: p.owner,
                licence: p.licence,
                crs: p.crs,
                geometry_type: p.geometry_type,
            }
        })
        .collect();
    Ok(Json(items))
}

/// Whether an OGC geometry type name is 3D (`MultiPolygon Z`, `PolyhedralSurface Z`, `TIN Z`).
fn is_3d(geometry_type: &str) -> bool {
    let g = geometry_type.to_ascii_uppercase();
    g.ends_with(" Z") || g.ends_with(" ZM")
}

/// One committed version in `GET /api/datasets/{dataset}/versions`.
#[derive(Debug, Serialize)]
pub struct VersionItem {
    /// The version number (`?version=N` of the tileset).
    pub version: u64,
    /// When it was committed (RFC 3339, UTC).
    pub timestamp: Option<String>,
    /// The Delta operation (`WRITE`, `MERGE`, …).
    pub operation: String,
}

/// `GET /api/datasets/{dataset}/versions`: the dataset's versions, newest first, for a viewer's "as of"
/// selector. Hidden and missing datasets answer 404 alike.
pub async fn versions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(dataset): Path<String>,
) -> ApiResult<Json<Vec<VersionItem>>> {
    let caller = state.caller(&headers)?;
    let (name, _) = crate::routes::tiles::visible_dataset(&state, &caller, &dataset)?;
    let store = state.store.clone();
    let log = state
        .workers
        .spawn(async move { store.log(&name).await })
        .await
        .map_err(|e| ApiError::Internal(format!("reading the version log failed: {e}")))??;
    Ok(Json(
        log.into_iter()
            .map(|v| VersionItem {
                version: v.version,
                timestamp: v
                    .timestamp
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                operation: v.operation,
            })
            .collect(),
    ))
}
