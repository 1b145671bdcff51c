//! OGC API Features under `/ogcapi`: landing page, conformance, collections (one per dataset the caller may
//! read), queryables, items and single features. The logic lives in [`crate::ogcapi`]; these handlers find
//! the caller's datasets (a hidden dataset is 404 on every path, exactly like a missing one), run the SQL on
//! the worker runtime and shape the answers.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use tvilling_core::DatasetName;
use tvilling_query::{QueryOptions, Session, output};

use crate::auth::Caller;
use crate::catalog::Entry;
use crate::error::ApiError;
use crate::ogcapi::crs::{self, Crs};
use crate::ogcapi::query::{self, Queryables, ident, string};
use crate::ogcapi::render::{self, GEOJSON, HTML, JSON, Out, link};
use crate::ogcapi::{CONFORMANCE, OgcError};
use crate::state::AppState;

mod items;

/// Features per page without `limit`.
pub const DEFAULT_LIMIT: usize = 10;
/// The most features per page; `server.sql_row_limit` lowers it further.
pub const MAX_LIMIT: usize = 10_000;

type Params = Query<Vec<(String, String)>>;
type OgcResult<T> = Result<T, OgcError>;

/// The OGC API Features routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ogcapi", get(landing))
        .route("/ogcapi/", get(landing))
        .route("/ogcapi/conformance", get(conformance))
        .route("/ogcapi/collections", get(collections))
        .route("/ogcapi/collections/:dataset", get(collection))
        .route("/ogcapi/collections/:dataset/queryables", get(queryables))
        .route("/ogcapi/collections/:dataset/items", get(items::items))
        .route("/ogcapi/collections/:dataset/items/:id", get(items::item))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn out(params: &[(String, String)], headers: &HeaderMap) -> OgcResult<Out> {
    Out::pick(param(params, "f"), headers)
}

/// `GET /ogcapi`.
pub async fn landing(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Params,
) -> OgcResult<Response> {
    state.caller(&headers)?;
    let base = render::base_url(&headers);
    let doc = json!({
        "title": "tvilling",
        "description": "The urban digital twin's datasets as OGC API Features (open data for anonymous callers).",
        "links": [
            link(&format!("{base}/ogcapi"), "self", JSON, "This document"),
            link(&format!("{base}/ogcapi?f=html"), "alternate", HTML, "This document as HTML"),
            link(&format!("{base}/api/openapi.json"), "service-desc",
                 "application/vnd.oai.openapi+json;version=3.0", "The API definition"),
            link(&format!("{base}/ogcapi/conformance"), "conformance", JSON, "Conformance classes"),
            link(&format!("{base}/ogcapi/collections"), "data", JSON, "The collections"),
        ]
    });
    Ok(render::respond(
        out(&params, &headers)?,
        JSON,
        "tvilling OGC API Features",
        &doc,
    ))
}

/// `GET /ogcapi/conformance`.
pub async fn conformance(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Params,
) -> OgcResult<Response> {
    state.caller(&headers)?;
    let doc = json!({ "conformsTo": CONFORMANCE });
    Ok(render::respond(
        out(&params, &headers)?,
        JSON,
        "Conformance",
        &doc,
    ))
}

/// The dataset `name` if the caller may read it; 404 otherwise, the same words for hidden and missing.
fn visible_entry(state: &AppState, caller: &Caller, name: &str) -> OgcResult<(DatasetName, Entry)> {
    let missing = || {
        OgcError(ApiError::NotFound(format!(
            "collection '{name}' does not exist"
        )))
    };
    let parsed: DatasetName = name.parse().map_err(|_| missing())?;
    match state.catalog.get(&parsed) {
        Some(e) if caller.may_read(e.props.classification) => Ok((parsed, e)),
        _ => Err(missing()),
    }
}

/// Runs `work` on the worker runtime with a session that holds only `names` (datasets the caller may
/// read, checked by the route): opening every dataset of the store for each request would cost more than
/// answering it.
async fn with_session<T, F>(state: &AppState, names: Vec<DatasetName>, work: F) -> OgcResult<T>
where
    T: Send + 'static,
    F: for<'s> FnOnce(
            &'s Session,
        ) -> std::pin::Pin<
            Box<dyn std::future::Future<Output = OgcResult<T>> + Send + 's>,
        > + Send
        + 'static,
{
    let store = state.store.clone();
    let options = QueryOptions {
        timeout: Some(state.options.sql_timeout),
        memory_limit: state.options.memory_limit,
        ..QueryOptions::default()
    };
    let timeout = state.options.sql_timeout;
    let job = state.workers.spawn(async move {
        let run = async {
            let session = Session::open_datasets(&store, options, &names).await?;
            work(&session).await
        };
        tokio::time::timeout(timeout, run)
            .await
            .map_err(|_| OgcError(ApiError::Timeout(timeout)))?
    });
    job.await
        .map_err(|e| OgcError(ApiError::Internal(format!("the query task failed: {e}"))))?
}

/// The queryables of `name` in `session`.
async fn queryables_of(session: &Session, name: &DatasetName, crs: &str) -> OgcResult<Queryables> {
    let table = session
        .context()
        .table_provider(name.as_str())
        .await
        .map_err(|e| ApiError::Internal(format!("opening {name}: {e}")))?;
    Ok(Queryables::new(&table.schema(), crs))
}

/// Rows of a statement as JSON objects.
async fn rows(session: &Session, sql: &str) -> OgcResult<Vec<Value>> {
    tracing::debug!(sql, "ogcapi query");
    let q = session.query(sql).await?;
    let mut buf = Vec::new();
    output::write_json(&mut buf, &q.schema, &q.batches)
        .map_err(|e| ApiError::Internal(format!("encoding the result: {e}")))?;
    let v: Value = serde_json::from_slice(&buf)
        .map_err(|e| ApiError::Internal(format!("reading the encoded result: {e}")))?;
    Ok(match v {
        Value::Array(a) => a,
        _ => Vec::new(),
    })
}

/// The CRS84 bounding box of a dataset, from its bbox columns, transformed by ST_Transform.
async fn extent(session: &Session, name: &DatasetName, crs: &str) -> Option<[f64; 4]> {
    let sql = format!(
        "SELECT ST_AsGeoJSON(ST_Transform(ST_MakeEnvelope(min(bbox_xmin), min(bbox_ymin), max(bbox_xmax), \
         max(bbox_ymax), {}), 'EPSG:4326')) AS e FROM {}",
        string(crs),
        ident(name.as_str())
    );
    let r = rows(session, &sql).await.ok()?;
    let g: Value = serde_json::from_str(r.first()?.get("e")?.as_str()?).ok()?;
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    for p in g.get("coordinates")?.as_array()?.first()?.as_array()? {
        let (x, y) = (p.get(0)?.as_f64()?, p.get(1)?.as_f64()?);
        b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
    }
    b[0].is_finite().then_some(b)
}

/// The first and last instant of a dataset's temporal column (the one `datetime` filters on), in RFC 3339
/// UTC; `None` without such a column, `[None, None]` when it holds no values.
async fn temporal_extent(
    session: &Session,
    name: &DatasetName,
    crs: &str,
) -> Option<[Option<String>; 2]> {
    let q = queryables_of(session, name, crs).await.ok()?;
    let column = ident(&q.temporal()?.name);
    let sql = format!(
        "SELECT CAST(min({column}) AS VARCHAR) AS lo, CAST(max({column}) AS VARCHAR) AS hi FROM {}",
        ident(name.as_str())
    );
    let r = rows(session, &sql).await.ok()?;
    let row = r.first()?;
    let end = |k: &str| row.get(k).and_then(Value::as_str).and_then(query::rfc3339);
    Some([end("lo"), end("hi")])
}

/// The spatial (CRS84) and temporal extent of a dataset.
type Extent = (Option<[f64; 4]>, Option<[Option<String>; 2]>);

async fn extents(session: &Session, name: &DatasetName, crs: &str) -> Extent {
    (
        extent(session, name, crs).await,
        temporal_extent(session, name, crs).await,
    )
}

fn collection_doc(base: &str, name: &str, e: &Entry, (bbox, interval): Extent) -> Value {
    let p = &e.props;
    let storage = Crs::from_dataset(&p.crs);
    let url = format!("{base}/ogcapi/collections/{name}");
    let mut doc = json!({
        "id": name,
        "title": name,
        "description": format!(
            "{} dataset, version {}, {}{}{}", p.kind, e.version, p.classification,
            p.owner.as_deref().map(|o| format!(", owner {o}")).unwrap_or_default(),
            p.licence.as_deref().map(|l| format!(", licence {l}")).unwrap_or_default()),
        "itemType": "feature",
        "crs": crs::offered(storage).iter().map(|c| c.uri()).collect::<Vec<_>>(),
        "links": [
            link(&url, "self", JSON, "This collection"),
            link(&format!("{url}?f=html"), "alternate", HTML, "This collection as HTML"),
            link(&format!("{url}/items"), "items", GEOJSON, "The features"),
            link(&format!("{url}/items?f=html"), "items", HTML, "The features as HTML"),
            link(&format!("{url}/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                 "application/schema+json", "Queryables"),
        ]
    });
    if let Some(s) = storage {
        doc["storageCrs"] = json!(s.uri());
    }
    if let Some(b) = bbox {
        doc["extent"]["spatial"] = json!({ "bbox": [b], "crs": crs::CRS84 });
    }
    if let Some(i) = interval {
        doc["extent"]["temporal"] = json!({
            "interval": [i],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        });
    }
    doc
}

/// `GET /ogcapi/collections`.
pub async fn collections(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Params,
) -> OgcResult<Response> {
    let caller = state.caller(&headers)?;
    let o = out(&params, &headers)?;
    let base = render::base_url(&headers);
    let entries: Vec<(DatasetName, Entry)> = state
        .catalog
        .all()
        .into_iter()
        .filter(|(_, e)| caller.may_read(e.props.classification))
        .collect();
    let list = entries.clone();
    let names = entries.iter().map(|(n, _)| n.clone()).collect();
    let extents = with_session(&state, names, move |s| {
        Box::pin(async move {
            let mut out = Vec::new();
            for (n, e) in &list {
                out.push(extents(s, n, &e.props.crs).await);
            }
            Ok(out)
        })
    })
    .await?;
    let cols: Vec<Value> = entries
        .iter()
        .zip(extents)
        .map(|((n, e), b)| collection_doc(&base, n.as_str(), e, b))
        .collect();
    let doc = json!({
        "links": [
            link(&format!("{base}/ogcapi/collections"), "self", JSON, "The collections"),
            link(&format!("{base}/ogcapi/collections?f=html"), "alternate", HTML, "The collections as HTML"),
        ],
        "collections": cols,
    });
    Ok(render::respond(o, JSON, "Collections", &doc))
}

/// `GET /ogcapi/collections/{dataset}`.
pub async fn collection(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(dataset): Path<String>,
    Query(params): Params,
) -> OgcResult<Response> {
    let caller = state.caller(&headers)?;
    let (name, entry) = visible_entry(&state, &caller, &dataset)?;
    let o = out(&params, &headers)?;
    let base = render::base_url(&headers);
    let (n, crs) = (name.clone(), entry.props.crs.clone());
    let ext = with_session(&state, vec![name.clone()], move |s| {
        Box::pin(async move { Ok(extents(s, &n, &crs).await) })
    })
    .await?;
    let doc = collection_doc(&base, name.as_str(), &entry, ext);
    Ok(render::respond(o, JSON, name.as_str(), &doc))
}

/// `GET /ogcapi/collections/{dataset}/queryables`.
pub async fn queryables(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(dataset): Path<String>,
    Query(params): Params,
) -> OgcResult<Response> {
    let caller = state.caller(&headers)?;
    let (name, entry) = visible_entry(&state, &caller, &dataset)?;
    let o = out(&params, &headers)?;
    let base = render::base_url(&headers);
    let (n, crs) = (name.clone(), entry.props.crs.clone());
    let q = with_session(&state, vec![name.clone()], move |s| {
        Box::pin(async move { queryables_of(s, &n, &crs).await })
    })
    .await?;
    let id = format!("{base}/ogcapi/collections/{name}/queryables");
    let doc = q.json_schema(&id, &format!("Queryables of {name}"));
    Ok(render::respond(
        o,
        "application/schema+json",
        &format!("Queryables of {name}"),
        &doc,
    ))
}
