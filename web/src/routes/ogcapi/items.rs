//! `/items` and `/items/{id}`: a page of features (filters, CRS, property selection, paging from memory
//! or through the engine) and a single feature.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

use tvilling_core::DatasetName;
use tvilling_query::Session;

use super::{
    DEFAULT_LIMIT, MAX_LIMIT, OgcResult, Params, out, param, queryables_of, rows, visible_entry,
    with_session,
};
use crate::error::ApiError;
use crate::ogcapi::OgcError;
use crate::ogcapi::cql2::{self, Expr};
use crate::ogcapi::crs::{self, Crs};
use crate::ogcapi::pages::{PageCache, Sorted};
use crate::ogcapi::query::{self, ColumnKind, GEOMETRY, ID, Queryables, Sql, ident, string};
use crate::ogcapi::render::{self, GEOJSON, HTML, JSON, link};
use crate::state::AppState;

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

/// The response CRS and the property selection a request asks for.
fn crs_and_selection(
    q: &Queryables,
    params: &[(String, String)],
) -> OgcResult<(Crs, Option<Vec<String>>)> {
    let crs = crs_param(params, "crs", &crs::offered(q.storage))?;
    let selection = param(params, "properties")
        .map(|v| query::property_selection(q, v))
        .transpose()
        .map_err(OgcError::bad)?;
    Ok((crs, selection))
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
            let (crs, selection) = crs_and_selection(&q, &ps)?;
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
            let (crs, selection) = crs_and_selection(&q, &ps)?;
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
