//! OGC API Features (Part 1 Core, Part 2 CRS, Part 3 CQL2 filtering) under `/ogcapi` — not implemented yet
//! (issue 8). Its routes go here and are merged in [`super::router`]; they must ask
//! [`crate::state::AppState::caller`] and `Caller::may_read` like every other path.

use axum::Router;

use crate::state::AppState;

/// The OGC API Features routes (none yet).
pub fn routes() -> Router<AppState> {
    Router::new()
}
