//! `GET /api/datasets`: the datasets the caller may read, with what a client needs to show them.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use tvilling_core::Kind;

use crate::error::ApiResult;
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
