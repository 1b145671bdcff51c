//! SensorThings creates: `POST Things` with deep insert of Locations and Datastreams (each with its Sensor
//! and ObservedProperty), `POST Observations` and `POST Datastreams(id)/Observations`; and the shared
//! parts of every IoT write (who may write, provenance).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tvilling_core::iot::{
    DatastreamSpec, IotWrite, LocationSpec, OM_MEASUREMENT, Observation, ObservedPropertySpec,
    SensorSpec, ThingSpec, Unit,
};
use tvilling_core::{Provenance, QualityReport, TOOL_VERSION};

use super::entities::{Id, Set};
use super::{Resource, resource};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::ogcapi::render::base_url;
use crate::state::AppState;

/// Who may write: a caller with a credential whose role may read the collection (a new collection is
/// `internal`). Anonymous callers never write, whatever `server.auth.anonymous` says.
pub(crate) async fn writer(state: &AppState, headers: &HeaderMap) -> ApiResult<Caller> {
    let caller = state.caller(headers)?;
    if caller == Caller::Anonymous || matches!(caller, Caller::Token { role: None, .. }) {
        return Err(ApiError::Unauthorized(
            "writing readings needs an API key or a token with a role (tvilling apikey create --role \
             reader-internal); anonymous callers may only read"
                .into(),
        ));
    }
    let names = &state.iot.names;
    // The catalog first: opening the Delta table on every request would cost more than the write.
    let class = match state.catalog.classification(&names.datastreams) {
        Some(c) => c,
        None if state.store.exists(&names.datastreams).await => {
            state
                .store
                .properties(&names.datastreams)
                .await?
                .classification
        }
        None => tvilling_core::Classification::Internal,
    };
    if !caller.may_read(class) {
        return Err(ApiError::NotFound(format!(
            "the IoT collection '{}' does not exist",
            names.base
        )));
    }
    Ok(caller)
}

/// The provenance of readings stored from the write-ahead log without a request to name: those a
/// crashed run left behind.
pub(crate) fn replay_how(rows: u64) -> IotWrite {
    server_how("iot-write-ahead-log:replay", "tvilling serve", rows)
}

/// The provenance of readings the server writes itself, with no request behind them.
pub(crate) fn server_how(source_uri: &str, user: &str, rows: u64) -> IotWrite {
    let mut how = how(&Caller::Anonymous, "server", &[], rows);
    how.provenance.source_uri = source_uri.into();
    how.provenance.user = user.into();
    how
}

/// The provenance of a write through the server: the request body's hash and size, the caller.
pub(crate) fn how(caller: &Caller, route: &str, body: &[u8], rows: u64) -> IotWrite {
    IotWrite {
        provenance: Provenance {
            source_uri: format!("http-request:{route}"),
            sha256: hex::encode(Sha256::digest(body)),
            bytes: body.len() as u64,
            layer: None,
            tool: TOOL_VERSION.to_string(),
            user: caller.id(),
            host: tvilling_core::store::hostname(),
            started: Utc::now(),
            mode: "append".into(),
            rows_read: rows,
            rows_written: 0,
            rows_rejected: 0,
            options: Default::default(),
            source_metadata: json!({ "route": route }),
        },
        quality: QualityReport::default(),
        classification: None,
        owner: None,
        licence: None,
    }
}

/// Parses an RFC 3339 time (SensorThings `phenomenonTime`; an interval `a/b` uses its start).
pub(crate) fn time(v: &Value, what: &str) -> Result<DateTime<Utc>, String> {
    let s = v.as_str().ok_or_else(|| {
        format!("{what} must be an RFC 3339 time string like 2026-11-22T07:00:00Z")
    })?;
    let start = s.split('/').next().unwrap_or(s);
    DateTime::parse_from_rfc3339(start)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("{what} '{s}' is not an RFC 3339 time ({e}); write e.g. 2026-11-22T07:00:00Z")
        })
}

/// A finite numeric result (a JSON number; NaN cannot be written in JSON, and strings are refused).
pub(crate) fn number(v: &Value) -> Result<f64, String> {
    v.as_f64().ok_or_else(|| {
        format!("result {v} is not a number; only numeric results (OM_Measurement) are stored")
    })
}

fn text(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn random_key(kind: &str) -> String {
    let n: u128 = rand::rng().random();
    format!("sta:{kind}:{n:032x}")
}

fn thing_spec(body: &Value) -> Result<ThingSpec, String> {
    if text(body, "name").is_empty() {
        return Err("a Thing needs a \"name\"".into());
    }
    let location = match body
        .get("Locations")
        .and_then(Value::as_array)
        .and_then(|l| l.first())
    {
        None => None,
        Some(l) => {
            let coords = l
                .pointer("/location/coordinates")
                .and_then(Value::as_array)
                .filter(|_| l.pointer("/location/type").and_then(Value::as_str) == Some("Point"))
                .ok_or(
                    "a Location's \"location\" must be a GeoJSON Point with coordinates [lon, lat]",
                )?;
            let c = |i: usize| coords.get(i).and_then(Value::as_f64);
            let (Some(lon), Some(lat)) = (c(0), c(1)) else {
                return Err(
                    "a Location's coordinates must be numbers [lon, lat] (WGS 84 degrees)".into(),
                );
            };
            if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
                return Err(format!(
                    "Location [{lon}, {lat}] is not WGS 84 longitude, latitude in degrees"
                ));
            }
            Some(LocationSpec {
                name: text(l, "name"),
                description: text(l, "description"),
                lon,
                lat,
                height: c(2),
            })
        }
    };
    if let Some(c) = body.pointer("/properties/classification") {
        let ok = c
            .as_str()
            .is_some_and(|c| c.parse::<tvilling_core::Classification>().is_ok());
        if !ok {
            return Err(format!(
                "a Thing's properties.classification must be open, internal or restricted, not {c}"
            ));
        }
    }
    Ok(ThingSpec {
        key: random_key("thing"),
        name: text(body, "name"),
        description: text(body, "description"),
        properties: body.get("properties").cloned().unwrap_or(Value::Null),
        location,
    })
}

fn datastream_spec(d: &Value, thing: &ThingSpec) -> Result<DatastreamSpec, String> {
    let unit = d
        .get("unitOfMeasurement")
        .ok_or("a Datastream needs \"unitOfMeasurement\": {name, symbol, definition}")?;
    let sensor = d.get("Sensor").ok_or("a Datastream needs a \"Sensor\"")?;
    let prop = d
        .get("ObservedProperty")
        .ok_or("a Datastream needs an \"ObservedProperty\"")?;
    let otype = match text(d, "observationType") {
        t if t.is_empty() || t == OM_MEASUREMENT => OM_MEASUREMENT.to_string(),
        t => {
            return Err(format!(
                "observationType {t} is not supported; only {OM_MEASUREMENT} (numbers) is stored"
            ));
        }
    };
    let definition = text(prop, "definition");
    if definition.is_empty() || text(prop, "name").is_empty() {
        return Err("an ObservedProperty needs \"name\" and \"definition\"".into());
    }
    let properties = match d.get("properties") {
        None | Some(Value::Null) => Value::Null,
        Some(p @ Value::Object(o)) => {
            if o.get("personal").is_some_and(|v| !v.is_boolean()) {
                return Err(
                    "a Datastream's properties.personal must be true or false (true: readings about \
                     people, shown unaggregated only to callers cleared for restricted data)"
                        .into(),
                );
            }
            p.clone()
        }
        Some(_) => return Err("a Datastream's \"properties\" must be a JSON object".into()),
    };
    Ok(DatastreamSpec {
        key: random_key("datastream"),
        properties,
        name: text(d, "name"),
        description: text(d, "description"),
        unit: Unit {
            name: text(unit, "name"),
            symbol: text(unit, "symbol"),
            definition: text(unit, "definition"),
        },
        observation_type: otype,
        thing: thing.clone(),
        // Sensors and ObservedProperties are shared by what defines them.
        sensor: SensorSpec {
            key: format!(
                "sta:sensor:{}|{}|{}",
                text(sensor, "name"),
                text(sensor, "encodingType"),
                text(sensor, "metadata")
            ),
            name: text(sensor, "name"),
            description: text(sensor, "description"),
            encoding_type: text(sensor, "encodingType"),
            metadata: text(sensor, "metadata"),
        },
        observed_property: ObservedPropertySpec {
            key: definition.clone(),
            name: text(prop, "name"),
            definition,
            description: text(prop, "description"),
        },
    })
}

fn created(location: String, body: Value) -> Response {
    let mut r = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// `POST /sta/v1.1/{path}`.
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(path): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let caller = writer(&state, &headers).await?;
    let res = resource(&path).map_err(ApiError::BadRequest)?;
    let doc: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
    let base = format!("{}/sta/v1.1", base_url(&headers));
    match res {
        Resource::Collection(Set::Things) => {
            let thing = thing_spec(&doc).map_err(ApiError::BadRequest)?;
            let specs = doc
                .get("Datastreams")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .map(|d| datastream_spec(d, &thing))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()
                .map_err(ApiError::BadRequest)?
                .unwrap_or_default();
            let how = how(&caller, "POST /sta/v1.1/Things", &body, specs.len() as u64);
            let (store, names) = (state.store.clone(), state.iot.names.clone());
            let t = thing.clone();
            let (things, streams) = state
                .workers
                .spawn(async move { store.ensure_datastreams(&names, &[t], &specs, &how).await })
                .await
                .map_err(|e| {
                    ApiError::Internal(format!("the writer task failed: {e} (a bug)"))
                })??;
            // The catalog learns the new version now: every write checks the collection's
            // classification there, and would otherwise read it from the table until the next poll.
            state.poll().await;
            state.iot.streams_changed();
            let id = things.first().copied().unwrap_or_default();
            let me = format!("{base}/Things({id})");
            Ok(created(
                me.clone(),
                json!({
                    "@iot.id": id, "@iot.selfLink": me, "name": thing.name,
                    "description": thing.description, "properties": thing.properties,
                    "Datastreams": streams.iter().map(|d| json!({
                        "@iot.id": d, "@iot.selfLink": format!("{base}/Datastreams({d})")
                    })).collect::<Vec<_>>(),
                    "Locations@iot.navigationLink": format!("{me}/Locations"),
                    "Datastreams@iot.navigationLink": format!("{me}/Datastreams"),
                }),
            ))
        }
        Resource::Collection(Set::Observations) | Resource::Related(Set::Datastreams, _, _) => {
            let ds = match &res {
                Resource::Related(_, Id::Int(d), nav) if nav == "Observations" => *d,
                Resource::Related(..) => {
                    return Err(ApiError::BadRequest(
                        "only Datastreams(id)/Observations takes POSTs under a Datastream".into(),
                    ));
                }
                _ => doc
                    .pointer("/Datastream/@iot.id")
                    .and_then(Value::as_i64)
                    .ok_or_else(|| {
                        ApiError::BadRequest(
                            "an Observation needs \"Datastream\": {\"@iot.id\": ID}, or POST it to \
                             Datastreams(ID)/Observations"
                                .into(),
                        )
                    })?,
            };
            let bad = ApiError::BadRequest;
            let o = Observation {
                datastream: ds,
                phenomenon_time: match doc.get("phenomenonTime") {
                    Some(v) => time(v, "phenomenonTime").map_err(bad)?,
                    None => Utc::now(),
                },
                result_time: doc
                    .get("resultTime")
                    .filter(|v| !v.is_null())
                    .map(|v| time(v, "resultTime"))
                    .transpose()
                    .map_err(bad)?,
                result: number(doc.get("result").unwrap_or(&Value::Null)).map_err(bad)?,
                result_quality: doc.get("resultQuality").and_then(|q| match q {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                }),
            };
            let micros = o.phenomenon_time.timestamp_micros();
            let how = how(&caller, "POST /sta/v1.1/Observations", &body, 1);
            state.iot.append(&state.store, vec![o.clone()], how).await?;
            let me = format!("{base}/Observations('{ds}-{micros}')");
            Ok(created(
                me.clone(),
                json!({
                    "@iot.id": format!("{ds}-{micros}"), "@iot.selfLink": me,
                    "phenomenonTime": o.phenomenon_time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                    "result": o.result, "resultQuality": o.result_quality,
                    "Datastream@iot.navigationLink": format!("{me}/Datastream"),
                }),
            ))
        }
        _ => Err(ApiError::BadRequest(format!(
            "POST {path} is not supported; create Things (with deep insert of Locations and Datastreams) \
             and Observations"
        ))),
    }
}
