//! OGC SensorThings API 1.1 Part 1 (Sensing) under `/sta/v1.1/`, over the server's IoT collection
//! (`tvilling_core::iot`: `<collection>_datastreams` and `<collection>_observations`).
//!
//! Reads: the service root, the seven entity sets, single entities `Set(id)`, navigation
//! `Set(id)/Nav`, with `$top`, `$skip`, `$count`, `$orderby`, `$select`, `$filter` and `$expand` (nested
//! options in parentheses: `$expand=Observations($top=3;$orderby=phenomenonTime desc)`). Every request is
//! SQL run by DataFusion ([`entities`] holds the views, [`filter`] translates `$filter`), never a Rust loop
//! over rows. Creates: `POST Things` with deep insert of Locations and Datastreams (with Sensor and
//! ObservedProperty), `POST Observations` and `POST Datastreams(id)/Observations`.
//!
//! Access follows the rest of the server: the collection's classification decides who may read it (a
//! hidden collection answers 404 like a missing one, reads of non-open data are audited), and writes need
//! a credential (API key or token) whose role may read the collection; anonymous callers never write.
//! Not here: HistoricalLocations, MultiDatastreams, `$ref`, `$value`, property paths (`Things(1)/name`),
//! batch requests, PATCH and DELETE, the geospatial `$filter` functions.

pub mod aggregate;
pub mod arrow_body;
pub mod entities;
pub mod filter;
pub(crate) mod flusher;
mod group;
pub mod hub;
pub mod latest;
pub mod replay;
mod tail;
mod wal;
pub mod write;

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, Value, json};
use tvilling_core::Classification;
use tvilling_query::{QueryOptions, Session, output};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::ogcapi::render::base_url;
use crate::state::AppState;
use entities::{Id, SETS, Set, SetColumns};

/// Entities per page without `$top`.
pub const DEFAULT_TOP: usize = 100;
/// The largest `$top`.
pub const MAX_TOP: usize = 10_000;
/// Entities of a many-valued `$expand` without a `$top` of its own.
const EXPAND_TOP: usize = 100;

/// The SensorThings routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sta/v1.1", get(root))
        .route("/sta/v1.1/", get(root))
        .route("/sta/v1.1/*path", get(read).post(write::create))
}

/// The query options of one request or one `$expand` item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Opts {
    /// `$top`.
    pub top: Option<usize>,
    /// `$skip`.
    pub skip: usize,
    /// `$count=true`.
    pub count: bool,
    /// `$orderby` as SQL.
    pub orderby: Option<String>,
    /// `$select` property names.
    pub select: Option<Vec<String>>,
    /// `$filter` text (translated per set).
    pub filter: Option<String>,
    /// `$expand` items: navigation name and its options.
    pub expand: Vec<(String, Opts)>,
}

fn split_top_level(s: &str, sep: char) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quoted) = (vec![], String::new(), 0i32, false);
    for c in s.chars() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            c if c == sep && depth == 0 && !quoted => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

/// Parses query options (`$name=value` pairs) for `set`.
pub fn parse_opts(set: Set, pairs: &[(String, String)]) -> Result<Opts, String> {
    let mut o = Opts::default();
    let cols = SetColumns(set);
    for (k, v) in pairs {
        match k.as_str() {
            "$top" => {
                o.top = Some(
                    v.trim()
                        .parse()
                        .map_err(|_| format!("$top={v} is not a whole number ≥ 0"))?,
                )
            }
            "$skip" => {
                o.skip = v
                    .trim()
                    .parse()
                    .map_err(|_| format!("$skip={v} is not a whole number ≥ 0"))?
            }
            "$count" => {
                o.count = match v.trim() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(format!("$count={v}: use true or false")),
                }
            }
            "$orderby" => o.orderby = Some(filter::orderby_sql(v, &cols)?),
            "$filter" => {
                filter::filter_sql(v, &cols)?;
                o.filter = Some(v.clone());
            }
            "$select" => {
                o.select = Some(
                    v.split(',')
                        .map(|s| s.trim().replace("@iot.id", "id"))
                        .filter(|s| !s.is_empty())
                        .collect(),
                )
            }
            "$expand" => {
                for item in split_top_level(v, ',') {
                    let item = item.trim();
                    let (nav, inner) = match item.split_once('(') {
                        Some((n, rest)) => (n.trim(), rest.strip_suffix(')').unwrap_or(rest)),
                        None => (item, ""),
                    };
                    if nav.contains('/') {
                        return Err(format!(
                            "$expand={nav}: nested paths are not supported; expand one level, with its options in \
                             parentheses, e.g. Observations($top=3)"
                        ));
                    }
                    let Some((_, target, _)) = set.navigation().iter().find(|(n, _, _)| *n == nav)
                    else {
                        return Err(format!(
                            "{} has no navigation property '{nav}'; use one of {}",
                            set.name(),
                            set.navigation()
                                .iter()
                                .map(|n| n.0)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    };
                    let inner_pairs: Vec<(String, String)> = split_top_level(inner, ';')
                        .into_iter()
                        .filter_map(|p| {
                            p.split_once('=')
                                .map(|(a, b)| (a.trim().to_string(), b.to_string()))
                        })
                        .collect();
                    let sub = parse_opts(*target, &inner_pairs)?;
                    if !sub.expand.is_empty() {
                        return Err(format!(
                            "$expand={item}: an $expand inside an $expand is not supported (one level only)"
                        ));
                    }
                    o.expand.push((nav.to_string(), sub));
                }
            }
            "$resultFormat" | "$format" => {
                return Err(format!("{k} is not supported; results are JSON"));
            }
            other if other.starts_with('$') => {
                return Err(format!(
                    "unknown query option {other}; use $top, $skip, $count, $orderby, $select, $filter, $expand"
                ));
            }
            _ => {}
        }
    }
    Ok(o)
}

/// What a request needs to run its SQL: the session, the table names, the base URL.
pub(crate) struct Ctx {
    session: Session,
    ds: String,
    obs: String,
    has_obs: bool,
    base: String,
    limit: usize,
}

impl Ctx {
    /// Rows of `set` matching `cond` and `opts`, as JSON objects of the view's columns; with the total
    /// when `$count` asks, and whether there are more.
    async fn rows(
        &self,
        set: Set,
        cond: Option<String>,
        opts: &Opts,
        default_top: usize,
    ) -> ApiResult<(Vec<Map<String, Value>>, Option<u64>, bool)> {
        if set == Set::Observations && !self.has_obs {
            return Ok((vec![], opts.count.then_some(0), false));
        }
        let mut wh = vec![];
        if let Some(c) = cond {
            wh.push(c);
        }
        if let Some(f) = &opts.filter {
            wh.push(filter::filter_sql(f, &SetColumns(set)).map_err(ApiError::BadRequest)?);
        }
        let where_sql = if wh.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", wh.join(" AND "))
        };
        let from = format!("({}) AS e{where_sql}", set.view(&self.ds, &self.obs));
        let top = opts.top.unwrap_or(default_top).min(MAX_TOP).min(self.limit);
        let order = opts
            .orderby
            .clone()
            .unwrap_or_else(|| set.order().to_string());
        let sql = format!(
            "SELECT * FROM {from} ORDER BY {order} LIMIT {} OFFSET {}",
            top + 1,
            opts.skip
        );
        let batches = self.session.sql(&sql).await?;
        let mut rows = json_rows(&batches)?;
        let more = rows.len() > top;
        rows.truncate(top);
        let count = if opts.count {
            let b = self
                .session
                .sql(&format!("SELECT count(*) AS n FROM {from}"))
                .await?;
            json_rows(&b)?
                .first()
                .and_then(|r| r.get("n"))
                .and_then(Value::as_u64)
        } else {
            None
        };
        Ok((rows, count, more))
    }

    /// Rendered entities with their `$expand`s (one level) and `$select`.
    async fn entities(
        &self,
        set: Set,
        rows: &[Map<String, Value>],
        opts: &Opts,
    ) -> ApiResult<Vec<Value>> {
        let mut out = vec![];
        for row in rows {
            let mut e = set.render(row, &self.base);
            if let Some(id) = set.row_id(row) {
                for (nav, sub) in &opts.expand {
                    let Some((_, target, single)) =
                        set.navigation().iter().find(|(n, _, _)| n == nav)
                    else {
                        continue;
                    };
                    let cond = set.relation(nav, id, &self.ds);
                    let (child_rows, _, _) = self
                        .rows(*target, cond, sub, if *single { 1 } else { EXPAND_TOP })
                        .await?;
                    let children: Vec<Value> = child_rows
                        .iter()
                        .map(|r| selected(target.render(r, &self.base), sub))
                        .collect();
                    e.insert(
                        nav.clone(),
                        if *single {
                            children.into_iter().next().unwrap_or(Value::Null)
                        } else {
                            Value::Array(children)
                        },
                    );
                }
            }
            out.push(selected(e, opts));
        }
        Ok(out)
    }
}

/// An entity with only the `$select`ed properties (and its expansions).
fn selected(mut e: Map<String, Value>, opts: &Opts) -> Value {
    if let Some(sel) = &opts.select {
        e.retain(|k, _| {
            let k = k.strip_suffix("@iot.navigationLink").unwrap_or(k);
            sel.iter().any(|s| s == k || (s == "id" && k == "@iot.id"))
                || opts.expand.iter().any(|(n, _)| n == k)
        });
    }
    Value::Object(e)
}

pub(crate) fn json_rows(
    batches: &[tvilling_core::arrow::record_batch::RecordBatch],
) -> ApiResult<Vec<Map<String, Value>>> {
    let Some(first) = batches.first() else {
        return Ok(vec![]);
    };
    let mut buf = vec![];
    output::write_json(&mut buf, &first.schema(), batches)
        .map_err(|e| ApiError::Internal(format!("encoding SensorThings rows: {e} (a bug)")))?;
    serde_json::from_slice(&buf)
        .map_err(|e| ApiError::Internal(format!("reading back SensorThings rows: {e} (a bug)")))
}

/// The collection's classification if `caller` may read it; 404 otherwise (hidden and missing alike).
pub(crate) async fn readable(state: &AppState, caller: &Caller) -> ApiResult<Classification> {
    let names = &state.iot.names;
    let class = match state.catalog.get(&names.datastreams) {
        Some(e) => Some(e.props.classification),
        None if state.store.exists(&names.datastreams).await => Some(
            state
                .store
                .properties(&names.datastreams)
                .await?
                .classification,
        ),
        None => None,
    };
    match class {
        Some(c) if caller.may_read(c) => {
            caller.audit(names.datastreams.as_str(), c, "sta");
            Ok(c)
        }
        _ => Err(ApiError::NotFound(format!(
            "the IoT collection '{}' does not exist (ingest series with `tvilling ingest FILE --dataset {}` \
             or POST /sta/v1.1/Things)",
            names.base, names.base
        ))),
    }
}

/// Opens a session for STA SQL, with the tables `caller` may see: Things classified above the caller's
/// clearance are left out, and the restricted readings (personal Datastreams, restricted Things) are
/// added to the observations only for callers cleared for restricted data.
pub(crate) async fn ctx(state: &AppState, headers: &HeaderMap, caller: &Caller) -> ApiResult<Ctx> {
    let options = QueryOptions {
        timeout: Some(state.options.sql_timeout),
        memory_limit: state.options.memory_limit,
        ..QueryOptions::default()
    };
    let names = &state.iot.names;
    state.sync_iot().await?;
    let streams = state.iot.datastreams(&state.store).await?;
    let hidden: Vec<String> = streams
        .thing_classes
        .iter()
        .filter(|(_, c)| !caller.may_read(**c))
        .map(|(t, _)| t.to_string())
        .collect();
    let ds = if hidden.is_empty() {
        format!("\"{}\"", names.datastreams)
    } else {
        format!(
            "(SELECT * FROM \"{}\" WHERE thing_id NOT IN ({})) AS dsv",
            names.datastreams,
            hidden.join(", ")
        )
    };
    let mut tables = vec![];
    if state.store.exists(&names.observations).await {
        tables.push(names.observations.to_string());
    }
    if caller.may_read(Classification::Restricted)
        && state.store.exists(&names.restricted_observations).await
    {
        caller.audit(
            names.restricted_observations.as_str(),
            Classification::Restricted,
            "sta",
        );
        tables.push(names.restricted_observations.to_string());
    }
    // Only the collection's tables: opening every dataset of the store per request would dominate.
    let mut opened: Vec<tvilling_core::DatasetName> = vec![names.datastreams.clone()];
    for t in &tables {
        if let Ok(n) = t.parse() {
            opened.push(n);
        }
    }
    let columns = "datastream_id, phenomenon_time, result_time, result, result_quality";
    let obs = match &tables[..] {
        [one] => format!("\"{one}\""),
        _ => format!(
            "({}) AS obsv",
            tables
                .iter()
                .map(|t| format!("SELECT {columns} FROM \"{t}\""))
                .collect::<Vec<_>>()
                .join(" UNION ALL ")
        ),
    };
    Ok(Ctx {
        session: Session::open_datasets(&state.store, options, &opened).await?,
        ds,
        obs,
        has_obs: !tables.is_empty(),
        base: format!("{}/sta/v1.1", base_url(headers)),
        limit: state.options.server.sql_row_limit.max(1),
    })
}

/// `GET /sta/v1.1`: the service root.
pub async fn root(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    state.caller(&headers)?;
    let base = format!("{}/sta/v1.1", base_url(&headers));
    let value: Vec<Value> = SETS
        .iter()
        .map(|s| json!({"name": s.name(), "url": format!("{base}/{}", s.name())}))
        .collect();
    Ok(axum::Json(json!({
        "value": value,
        "serverSettings": {
            "conformance": [
                "http://www.opengis.net/spec/iot_sensing/1.1/req/datamodel",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/resource-path/resource-path-to-entities",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/create-entity",
                "http://www.opengis.net/spec/iot_sensing/1.1/req/create-update-delete/deep-insert",
            ]
        }
    }))
    .into_response())
}

/// A parsed resource path.
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    /// `Set`.
    Collection(Set),
    /// `Set(id)`.
    Entity(Set, Id),
    /// `Set(id)/Nav`.
    Related(Set, Id, String),
}

/// Parses the part of the URL after `/sta/v1.1/`.
pub fn resource(path: &str) -> Result<Resource, String> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let entity = |s: &str| -> Result<(Set, Option<Id>), String> {
        let (name, id) = match s.split_once('(') {
            Some((n, rest)) => (
                n,
                Some(
                    rest.strip_suffix(')')
                        .ok_or_else(|| format!("'{s}': the id is not closed with ')'"))?,
                ),
            ),
            None => (s, None),
        };
        let set = Set::parse(name).ok_or_else(|| {
            format!(
                "'{name}' is not an entity set; use one of {}",
                SETS.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
            )
        })?;
        match id {
            None => Ok((set, None)),
            Some(i) => Id::parse(set, i)
                .map(|id| (set, Some(id)))
                .ok_or_else(|| format!("'{i}' is not an id of {}", set.name())),
        }
    };
    match segs.as_slice() {
        [one] => match entity(one)? {
            (set, None) => Ok(Resource::Collection(set)),
            (set, Some(id)) => Ok(Resource::Entity(set, id)),
        },
        [one, nav] => match entity(one)? {
            (set, Some(id)) if set.navigation().iter().any(|(n, _, _)| n == nav) => {
                Ok(Resource::Related(set, id, nav.to_string()))
            }
            (set, Some(_)) => Err(format!(
                "{} has no navigation property '{nav}' (property paths and $value are not supported); use one of {}",
                set.name(),
                set.navigation()
                    .iter()
                    .map(|n| n.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            (set, None) => Err(format!(
                "{}/{nav}: name one entity first, e.g. {}(1)/{nav}",
                set.name(),
                set.name()
            )),
        },
        _ => Err(format!(
            "'{path}': paths deeper than Set(id)/Nav are not supported"
        )),
    }
}

/// `GET /sta/v1.1/{path}`.
pub async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(path): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let caller = state.caller(&headers)?;
    let res = resource(&path).map_err(ApiError::BadRequest)?;
    readable(&state, &caller).await?;
    let (set, id, nav) = match &res {
        Resource::Collection(s) => (*s, None, None),
        Resource::Entity(s, id) => (*s, Some(*id), None),
        Resource::Related(s, id, n) => (*s, Some(*id), Some(n.clone())),
    };
    let (target, single) = match &nav {
        Some(n) => set
            .navigation()
            .iter()
            .find(|(x, _, _)| x == n)
            .map(|(_, t, s)| (*t, *s))
            .ok_or_else(|| ApiError::BadRequest(format!("no navigation '{n}'")))?,
        None => (set, id.is_some()),
    };
    let opts = parse_opts(target, &params).map_err(ApiError::BadRequest)?;
    if let (Set::Datastreams, Some(Id::Int(ds)), Some("Observations")) = (set, id, nav.as_deref())
        && latest::asks_for_newest(&opts)
    {
        let doc = latest::newest_document(&state, &headers, &caller, ds, &path, &params).await?;
        return Ok(axum::Json(doc).into_response());
    }
    let st = state.clone();
    let job = state.workers.spawn(async move {
        let ctx = ctx(&st, &headers, &caller).await?;
        let cond = match (&nav, id) {
            (Some(n), Some(id)) => set.relation(n, id, &ctx.ds),
            (None, Some(id)) => Some(format!("id = {}", id.sql())),
            _ => None,
        };
        let (rows, count, more) = ctx
            .rows(target, cond, &opts, if single { 1 } else { DEFAULT_TOP })
            .await?;
        let entities = ctx.entities(target, &rows, &opts).await?;
        if single {
            return entities.into_iter().next().ok_or_else(|| {
                ApiError::NotFound(format!("{} has no entity {path}", target.name()))
            });
        }
        let mut doc = Map::new();
        if let Some(n) = count {
            doc.insert("@iot.count".into(), json!(n));
        }
        if more {
            let top = opts.top.unwrap_or(DEFAULT_TOP).min(MAX_TOP).min(ctx.limit);
            let mut q: BTreeMap<String, String> = params
                .iter()
                .filter(|(k, _)| k != "$skip" && k != "$top")
                .cloned()
                .collect();
            q.insert("$top".into(), top.to_string());
            q.insert("$skip".into(), (opts.skip + top).to_string());
            let pairs: Vec<(String, String)> = q.into_iter().collect();
            doc.insert(
                "@iot.nextLink".into(),
                json!(crate::ogcapi::render::with_query(
                    &format!("{}/{path}", ctx.base),
                    &pairs
                )),
            );
        }
        doc.insert("value".into(), Value::Array(entities));
        Ok(Value::Object(doc))
    });
    let doc = job
        .await
        .map_err(|e| ApiError::Internal(format!("the SensorThings task failed: {e} (a bug)")))??;
    Ok(axum::Json(doc).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_resource_paths() {
        assert_eq!(
            resource("Things").unwrap(),
            Resource::Collection(Set::Things)
        );
        assert_eq!(
            resource("Datastreams(1)/Observations").unwrap(),
            Resource::Related(Set::Datastreams, Id::Int(1), "Observations".into())
        );
        assert!(
            resource("Datastreams(1)/Nope")
                .unwrap_err()
                .contains("Observations")
        );
        assert!(resource("Thingz").unwrap_err().contains("Things"));
        assert!(resource("Things(x)").is_err());
    }

    #[test]
    fn parses_nested_expand_options() {
        let pairs = vec![(
            "$expand".to_string(),
            "Thing,Observations($top=3;$orderby=phenomenonTime desc)".to_string(),
        )];
        let o = parse_opts(Set::Datastreams, &pairs).unwrap();
        assert_eq!(o.expand.len(), 2);
        assert_eq!(o.expand[1].1.top, Some(3));
        assert_eq!(
            o.expand[1].1.orderby.as_deref(),
            Some("\"phenomenonTime\" DESC")
        );
        assert!(parse_opts(Set::Datastreams, &[("$expand".into(), "Things".into())]).is_err());
        assert!(parse_opts(Set::Things, &[("$frob".into(), "1".into())]).is_err());
    }
}
