//! OGC API Features under `/ogcapi`: landing page, conformance, collections (one per dataset the caller may
//! read), queryables, items and single features. The logic lives in [`crate::ogcapi`]; these handlers find
//! the caller's datasets (a hidden dataset is 404 on every path, exactly like a missing one), run the SQL on
//! the worker runtime and shape the answers.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;

use tvilling_core::DatasetName;
use tvilling_query::{QueryOptions, Session, output};

use crate::auth::Caller;
use crate::catalog::Entry;
use crate::error::ApiError;
use crate::ogcapi::cql2::{self, Expr};
use crate::ogcapi::crs::{self, Crs};
use crate::ogcapi::pages::{PageCache, Sorted};
use crate::ogcapi::query::{self, ColumnKind, GEOMETRY, ID, Queryables, Sql, ident, string};
use crate::ogcapi::render::{self, GEOJSON, HTML, JSON, Out, link};
use crate::ogcapi::{CONFORMANCE, OgcError};
use crate::state::AppState;

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
        .route("/ogcapi/collections/:dataset/items", get(items))
        .route("/ogcapi/collections/:dataset/items/:id", get(item))
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

/// Parameters of `/items` other than queryables.
const RESERVED: [&str; 12] = [
    "f",
    "limit",
    "offset",
    "bbox",
    "bbox-crs",
    "datetime",
    "crs",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
    "properties",
];

fn crs_param(params: &[(String, String)], name: &str, offered: &[Crs]) -> OgcResult<Crs> {
    match param(params, name) {
        None => Ok(Crs::Crs84),
        Some(v) => Crs::parse(v)
            .filter(|c| offered.contains(c))
            .ok_or_else(|| {
                OgcError::bad(format!(
                    "{name}={v} is not offered here; use one of {}",
                    offered
                        .iter()
                        .map(|c| c.uri())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }),
    }
}

/// The WHERE clause of an items request.
fn where_clause(q: &Queryables, params: &[(String, String)]) -> OgcResult<String> {
    let offered = crs::offered(q.storage);
    let bad = |m: String| OgcError::bad(m);
    let mut parts = Vec::new();
    if let Some(b) = param(params, "bbox") {
        let bbox_crs = crs_param(params, "bbox-crs", &offered)?;
        let e = query::bbox(b).map_err(bad)?;
        parts.push(
            Sql {
                queryables: q,
                literal_crs: bbox_crs,
            }
            .expr(&e)
            .map_err(bad)?,
        );
    } else if param(params, "bbox-crs").is_some() {
        return Err(OgcError::bad("bbox-crs needs a bbox"));
    }
    let plain = Sql {
        queryables: q,
        literal_crs: Crs::Crs84,
    };
    if let Some(d) = param(params, "datetime") {
        let e = query::datetime(q, d).map_err(bad)?;
        parts.push(plain.expr(&e).map_err(bad)?);
    }
    if let Some(f) = param(params, "filter") {
        let filter_crs = crs_param(params, "filter-crs", &offered)?;
        let lang = param(params, "filter-lang").unwrap_or("cql2-text");
        let e: Expr = match lang {
            "cql2-text" => cql2::parse_text(f),
            "cql2-json" => serde_json::from_str(f)
                .map_err(|e| format!("filter is not JSON: {e}"))
                .and_then(|v| cql2::parse_json(&v)),
            other => Err(format!(
                "filter-lang={other} is not supported; use cql2-text or cql2-json"
            )),
        }
        .map_err(|e| bad(format!("filter: {e}")))?;
        let sql = Sql {
            queryables: q,
            literal_crs: filter_crs,
        };
        parts.push(sql.expr(&e).map_err(|e| bad(format!("filter: {e}")))?);
    } else if param(params, "filter-lang").is_some() || param(params, "filter-crs").is_some() {
        return Err(OgcError::bad("filter-lang and filter-crs need a filter"));
    }
    for (k, v) in params {
        if RESERVED.contains(&k.as_str()) {
            continue;
        }
        let e = query::property_filter(q, k, v)
            .map_err(|e| bad(format!("{e}; other parameters are {}", RESERVED.join(", "))))?;
        parts.push(plain.expr(&e).map_err(bad)?);
    }
    Ok(if parts.is_empty() {
        "TRUE".into()
    } else {
        parts.join(" AND ")
    })
}

/// The SELECT list: the id, the properties (all, or the `properties=` selection), and the geometry as
/// GeoJSON in `crs`.
fn select_list(q: &Queryables, crs: Crs, selection: Option<&[String]>) -> String {
    let mut cols: Vec<String> = match selection {
        None => q
            .columns
            .iter()
            .filter(|c| c.kind != ColumnKind::Geometry)
            .map(|c| ident(&c.name))
            .collect(),
        Some(names) => q
            .columns
            .iter()
            .filter(|c| c.name == ID)
            .map(|c| ident(&c.name))
            .chain(names.iter().map(|n| ident(n)))
            .collect(),
    };
    if q.has_geometry() {
        cols.push(format!(
            "ST_AsGeoJSON(ST_Transform({}, {})) AS \"__tvilling_geometry\"",
            ident(GEOMETRY),
            string(&crs.sql_name())
        ));
    }
    cols.join(", ")
}

/// A query row as a GeoJSON feature.
fn feature(mut row: Value, crs: Crs, collection_url: &str) -> Value {
    let mut geometry = row
        .get("__tvilling_geometry")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .unwrap_or(Value::Null);
    if let Some(g) = geometry.as_object_mut() {
        // The response's CRS is in the Content-Crs header; GeoJSON's old `crs` member is not wanted.
        g.remove("crs");
    }
    if crs.north_first() {
        render::swap_axes(&mut geometry);
    }
    let mut id = Value::Null;
    if let Some(o) = row.as_object_mut() {
        o.remove("__tvilling_geometry");
        id = o.remove(ID).unwrap_or(Value::Null);
    }
    let id_text = match &id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let href = render::with_query(
        &format!("{collection_url}/items/{}", encode_segment(&id_text)),
        &[],
    );
    json!({
        "type": "Feature",
        "id": id,
        "geometry": geometry,
        "properties": row,
        "links": [ link(&href, "self", GEOJSON, "This feature") ],
    })
}

/// A path segment, percent-encoded.
fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn content_crs(r: &mut Response, crs: Crs) {
    if let Ok(v) = HeaderValue::from_str(&format!("<{}>", crs.uri())) {
        r.headers_mut().insert("content-crs", v);
    }
}

/// `GET /ogcapi/collections/{dataset}/items`.
pub async fn items(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(dataset): Path<String>,
    Query(params): Params,
) -> OgcResult<Response> {
    let caller = state.caller(&headers)?;
    let names = &state.iot.names;
    // Before the catalog is asked: the flush may be what creates the collection.
    if dataset == names.observations.as_str() || dataset == names.restricted_observations.as_str() {
        state.sync_iot().await?;
    }
    let (name, entry) = visible_entry(&state, &caller, &dataset)?;
    caller.audit(name.as_str(), entry.props.classification, "ogcapi");
    let o = out(&params, &headers)?;
    let max = MAX_LIMIT.min(state.options.server.sql_row_limit.max(1));
    let limit = match param(&params, "limit") {
        None => DEFAULT_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                OgcError::bad(format!("limit={l} must be a whole number from 1 to {max}"))
            })?
            .min(max),
    };
    let offset = match param(&params, "offset") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| OgcError::bad(format!("offset={v} must be a whole number from 0")))?,
    };
    let base = render::base_url(&headers);
    let url = format!("{base}/ogcapi/collections/{name}");
    let (n, crs_name, ps, coll) = (
        name.clone(),
        entry.props.crs.clone(),
        params.clone(),
        url.clone(),
    );
    // Plain paging (no filter, no sortby) is served from the collection kept in memory when it is there.
    let plain = params.iter().all(|(k, _)| PLAIN.contains(&k.as_str()));
    let pages = state.pages.clone();
    let version = entry.version;
    let hit = if plain {
        pages.get(&name, version)
    } else {
        None
    };
    let open = if hit.is_some() {
        vec![]
    } else {
        vec![name.clone()]
    };
    let (matched, features, crs) = with_session(&state, open, move |s| {
        Box::pin(async move {
            let t = ident(n.as_str());
            let sorted = match hit {
                Some(h) => Some(h),
                None if plain => {
                    let order = queryables_of(s, &n, &crs_name).await?.page_order();
                    keep_sorted(s, &pages, &n, version, &order).await?
                }
                None => None,
            };
            if let Some(sorted) = &sorted {
                // The page's rows stand in for the dataset under its name, for the same SQL below.
                let total = sorted.rows.num_rows();
                let start = offset.min(total);
                let page = sorted.rows.slice(start, limit.min(total - start));
                let ctx = s.context();
                let _ = ctx.deregister_table(n.as_str());
                ctx.register_batch(n.as_str(), page)
                    .map_err(|e| ApiError::Internal(format!("serving {n} from memory: {e}")))?;
            }
            let q = queryables_of(s, &n, &crs_name).await?;
            let crs = crs_param(&ps, "crs", &crs::offered(q.storage))?;
            let selection = param(&ps, "properties")
                .map(|v| query::property_selection(&q, v))
                .transpose()
                .map_err(OgcError::bad)?;
            let select = select_list(&q, crs, selection.as_deref());
            let (matched, sql) = match &sorted {
                Some(sorted) => (
                    sorted.rows.num_rows() as u64,
                    format!("SELECT {select} FROM {t}"),
                ),
                None => {
                    let w = where_clause(&q, &ps)?;
                    let count = rows(s, &format!("SELECT count(*) AS n FROM {t} WHERE {w}")).await?;
                    let matched = count
                        .first()
                        .and_then(|r| r.get("n"))
                        .and_then(Value::as_u64)
                        .unwrap_or(0);
                    let order = match param(&ps, "sortby") {
                        Some(v) => query::sortby(&q, v).map_err(OgcError::bad)?,
                        None => q.page_order(),
                    };
                    // The page is cut first and only its rows are transformed and encoded: DataFusion
                    // evaluates a select list below the sort, which would transform every matching row.
                    let sql = format!(
                        "SELECT {select} FROM (SELECT * FROM {t} WHERE {w} ORDER BY {order} LIMIT {limit} \
                         OFFSET {offset}) AS {t} ORDER BY {order}"
                    );
                    (matched, sql)
                }
            };
            let features: Vec<Value> = rows(s, &sql)
                .await?
                .into_iter()
                .map(|r| feature(r, crs, &coll))
                .collect();
            Ok((matched, features, crs))
        })
    })
    .await?;
    let returned = features.len();
    let page = |off: usize, fmt: Option<&str>| {
        let mut p: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k != "offset" && k != "f")
            .cloned()
            .collect();
        if off > 0 {
            p.push(("offset".into(), off.to_string()));
        }
        if let Some(f) = fmt {
            p.push(("f".into(), f.into()));
        }
        render::with_query(&format!("{url}/items"), &p)
    };
    let mut links = vec![
        link(&page(offset, None), "self", GEOJSON, "This page"),
        link(
            &page(offset, Some("html")),
            "alternate",
            HTML,
            "This page as HTML",
        ),
        link(&url, "collection", JSON, "The collection"),
    ];
    if (offset + returned) < matched as usize {
        links.push(link(
            &page(offset + returned, None),
            "next",
            GEOJSON,
            "Next page",
        ));
    }
    if offset > 0 {
        links.push(link(
            &page(offset.saturating_sub(limit), None),
            "prev",
            GEOJSON,
            "Previous page",
        ));
    }
    let doc = json!({
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": returned,
        "timeStamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "links": links,
    });
    let mut r = render::respond(o, GEOJSON, &format!("{name}: features"), &doc);
    content_crs(&mut r, crs);
    Ok(r)
}

/// The parameters of plain paging, which the collection kept in memory can answer.
const PLAIN: [&str; 5] = ["f", "limit", "offset", "crs", "properties"];
/// Collections with more rows than this are never sorted into memory.
const MAX_KEPT_ROWS: u64 = 1_000_000;

/// Sorts `name` (open in `s`) by `order` (its [`Queryables::page_order`]) into the page cache, if it is
/// small enough to keep.
async fn keep_sorted(
    s: &Session,
    pages: &PageCache,
    name: &DatasetName,
    version: u64,
    order: &str,
) -> OgcResult<Option<Arc<Sorted>>> {
    let t = ident(name.as_str());
    let count = rows(s, &format!("SELECT count(*) AS n FROM {t}")).await?;
    let n = count
        .first()
        .and_then(|r| r.get("n"))
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX);
    if n > MAX_KEPT_ROWS {
        return Ok(None);
    }
    let all = s
        .query(&format!("SELECT * FROM {t} ORDER BY {order}"))
        .await?;
    pages
        .keep(name, version, &all.batches)
        .map_err(|e| OgcError(ApiError::Internal(format!("keeping {name} in memory: {e}"))))
}

/// `GET /ogcapi/collections/{dataset}/items/{id}`.
pub async fn item(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((dataset, id)): Path<(String, String)>,
    Query(params): Params,
) -> OgcResult<Response> {
    let caller = state.caller(&headers)?;
    let (name, entry) = visible_entry(&state, &caller, &dataset)?;
    caller.audit(name.as_str(), entry.props.classification, "ogcapi");
    let o = out(&params, &headers)?;
    if let Some((k, _)) = params
        .iter()
        .find(|(k, _)| !["f", "crs", "properties"].contains(&k.as_str()))
    {
        return Err(OgcError::bad(format!(
            "{k} is not a parameter of a single feature; use f, crs or properties"
        )));
    }
    let base = render::base_url(&headers);
    let url = format!("{base}/ogcapi/collections/{name}");
    let (n, crs_name, ps, coll, fid) = (
        name.clone(),
        entry.props.crs.clone(),
        params.clone(),
        url.clone(),
        id.clone(),
    );
    let (found, crs) = with_session(&state, vec![name.clone()], move |s| {
        Box::pin(async move {
            let q = queryables_of(s, &n, &crs_name).await?;
            let crs = crs_param(&ps, "crs", &crs::offered(q.storage))?;
            let selection = param(&ps, "properties")
                .map(|v| query::property_selection(&q, v))
                .transpose()
                .map_err(OgcError::bad)?;
            let literal = match q.columns.iter().find(|c| c.name == ID).map(|c| c.kind) {
                Some(ColumnKind::Integer) => match fid.parse::<i64>() {
                    Ok(v) => v.to_string(),
                    Err(_) => return Ok((None, crs)),
                },
                Some(_) => string(&fid),
                None => return Ok((None, crs)),
            };
            let sql = format!(
                "SELECT {} FROM {} WHERE {} = {literal} LIMIT 1",
                select_list(&q, crs, selection.as_deref()),
                ident(n.as_str()),
                ident(ID)
            );
            let row = rows(s, &sql).await?.into_iter().next();
            Ok((row.map(|r| feature(r, crs, &coll)), crs))
        })
    })
    .await?;
    let Some(mut f) = found else {
        return Err(OgcError(ApiError::NotFound(format!(
            "collection '{name}' has no feature '{id}'"
        ))));
    };
    if let Some(links) = f.get_mut("links").and_then(Value::as_array_mut) {
        links.push(link(
            &format!("{url}/items/{}?f=html", encode_segment(&id)),
            "alternate",
            HTML,
            "This feature as HTML",
        ));
        links.push(link(&url, "collection", JSON, "The collection"));
    }
    let mut r = render::respond(o, GEOJSON, &format!("{name}: {id}"), &f);
    content_crs(&mut r, crs);
    Ok(r)
}
