//! The newest reading per Datastream, answered from the hub's hot tail without touching the store
//! (FROST-Server users' top complaint is how slow this is over a large history):
//!
//! - `GET /sta/v1.1/Datastreams(ID)/Observations?$top=1&$orderby=phenomenonTime desc`, the SensorThings
//!   way to ask, takes this path when it has no other options; the answer is the one the SQL path gives;
//! - `GET /api/iot/latest`: every Datastream the caller may see with its newest reading, for the viewer's
//!   sensor billboards (one request instead of one per Datastream).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tvilling_core::Classification;
use tvilling_core::iot::Observation;

use super::entities::{Set, SetColumns};
use super::hub::StreamIndex;
use super::{Opts, filter, readable};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::ogcapi::render::base_url;
use crate::state::AppState;

/// Whether the caller may see the readings of Datastream `id`: the Datastream exists, its Thing is within
/// the caller's clearance, and a protected one's readings need clearance for restricted data.
fn visible(streams: &StreamIndex, caller: &Caller, id: i64) -> bool {
    let Some(d) = streams.get(&id) else {
        return false;
    };
    let thing_ok = streams
        .thing_classes
        .get(&d.thing_id)
        .is_some_and(|c| caller.may_read(*c));
    thing_ok && (!streams.protected.contains(&id) || caller.may_read(Classification::Restricted))
}

/// Whether `opts` ask for exactly the newest reading: `$top=1`, `$orderby=phenomenonTime desc`, nothing
/// else.
pub(crate) fn asks_for_newest(opts: &Opts) -> bool {
    let newest_first =
        filter::orderby_sql("phenomenonTime desc", &SetColumns(Set::Observations)).ok();
    opts.top == Some(1)
        && opts.skip == 0
        && !opts.count
        && opts.select.is_none()
        && opts.filter.is_none()
        && opts.expand.is_empty()
        && opts.orderby.is_some()
        && opts.orderby == newest_first
}

/// The SensorThings document for `Datastreams(id)/Observations` with [`asks_for_newest`] options.
pub(crate) async fn newest_document(
    state: &AppState,
    headers: &HeaderMap,
    caller: &Caller,
    id: i64,
    path: &str,
    params: &[(String, String)],
) -> ApiResult<Value> {
    let streams = state.iot.datastreams(&state.store).await?;
    let base = format!("{}/sta/v1.1", base_url(headers));
    let mut doc = Map::new();
    let found = if visible(&streams, caller, id) {
        state.iot.newest_of(&state.store, id).await?
    } else {
        None
    };
    let mut value = vec![];
    if let Some((o, older)) = found {
        if streams.protected.contains(&id) {
            caller.audit(
                state.iot.names.restricted_observations.as_str(),
                Classification::Restricted,
                "sta",
            );
        }
        value.push(Value::Object(Set::Observations.render(&row(&o), &base)));
        if older {
            let mut q: Vec<(String, String)> = params
                .iter()
                .filter(|(k, _)| k != "$skip" && k != "$top")
                .cloned()
                .collect();
            q.push(("$skip".into(), "1".into()));
            q.push(("$top".into(), "1".into()));
            q.sort();
            doc.insert(
                "@iot.nextLink".into(),
                json!(crate::ogcapi::render::with_query(
                    &format!("{base}/{path}"),
                    &q
                )),
            );
        }
    }
    doc.insert("value".into(), Value::Array(value));
    Ok(Value::Object(doc))
}

/// A reading as the row the SQL view of Observations gives.
fn row(o: &Observation) -> Map<String, Value> {
    let time = |t: &chrono::DateTime<chrono::Utc>| {
        json!(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
    };
    let mut m = Map::new();
    let id = format!("{}-{}", o.datastream, o.phenomenon_time.timestamp_micros());
    m.insert("id".into(), json!(id));
    m.insert("datastream_id".into(), json!(o.datastream));
    m.insert("phenomenonTime".into(), time(&o.phenomenon_time));
    m.insert(
        "resultTime".into(),
        o.result_time.as_ref().map_or(Value::Null, time),
    );
    // As the SQL path's JSON writer gives it: an integral value without a fraction.
    let exact_int = o.result.fract() == 0.0 && o.result.abs() < 9e15;
    m.insert(
        "result".into(),
        if exact_int {
            json!(o.result as i64)
        } else {
            json!(o.result)
        },
    );
    m.insert("resultQuality".into(), json!(o.result_quality));
    m
}

/// `GET /api/iot/latest`.
pub async fn latest(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let caller = state.caller(&headers)?;
    readable(&state, &caller).await?;
    let streams = state.iot.datastreams(&state.store).await?;
    let mut out = vec![];
    let mut restricted = false;
    for o in state.iot.newest(&state.store).await? {
        let Some(d) = streams.get(&o.datastream) else {
            continue;
        };
        if !visible(&streams, &caller, o.datastream) {
            continue;
        }
        restricted |= streams.protected.contains(&o.datastream);
        let loc = d.spec.thing.location.as_ref();
        out.push(json!({
            "datastream": o.datastream,
            "name": d.spec.name,
            "thing": d.spec.thing.name,
            "property": d.spec.observed_property.name,
            "unit": d.spec.unit.symbol,
            "lon": loc.map(|l| l.lon),
            "lat": loc.map(|l| l.lat),
            "height": loc.and_then(|l| l.height),
            "time": o.phenomenon_time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            "result": o.result,
        }));
    }
    if restricted {
        caller.audit(
            state.iot.names.restricted_observations.as_str(),
            Classification::Restricted,
            "iot-latest",
        );
    }
    Ok(axum::Json(Value::Array(out)).into_response())
}
