//! `GET /api/iot/aggregates`: time-bucket aggregates of one ObservedProperty over groups of Things, the
//! only way callers without clearance for restricted data see personal readings (issue 7's privacy rule).
//!
//! A group is the Things that share a value of one of their properties (`group=building`), or the whole
//! collection. A cell (group × time bucket) is answered only when at least `server.iot.min_group_size`
//! Datastreams reported in it; smaller cells are withheld and counted in `suppressed`, so one apartment's
//! meter can never be read off an aggregate. Groups are fixed by the Things' properties, not chosen per
//! request, so a caller cannot difference two requests to isolate one Datastream. The aggregate is SQL run
//! by DataFusion over both observation datasets; readings of Things the caller may not see are left out.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tvilling_core::Classification;
use tvilling_core::arrow::array::{Int64Array, StringArray};
use tvilling_core::arrow::datatypes::{DataType, Field, Schema};
use tvilling_core::arrow::record_batch::RecordBatch;
use tvilling_query::{QueryOptions, Session};

use super::{json_rows, readable};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The request, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateQuery {
    /// The ObservedProperty's `@iot.id`.
    pub property: i64,
    /// Bucket width as a SQL interval (minute, hour, day or week).
    pub bucket: &'static str,
    /// The bucket's name as given.
    pub bucket_name: String,
    /// Thing property that forms the groups.
    pub group: Option<String>,
    /// Readings at or after.
    pub from: Option<DateTime<Utc>>,
    /// Readings before.
    pub to: Option<DateTime<Utc>>,
}

impl AggregateQuery {
    /// Parses `property`, `bucket`, `group`, `from`, `to`.
    pub fn parse(params: &[(String, String)]) -> Result<AggregateQuery, String> {
        let mut q = AggregateQuery {
            property: 0,
            bucket: "1 hour",
            bucket_name: "hour".into(),
            group: None,
            from: None,
            to: None,
        };
        let mut property = None;
        let time = |k: &str, v: &str| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.to_utc())
                .map_err(|e| format!("{k}={v} is not an RFC 3339 time ({e})"))
        };
        for (k, v) in params {
            match k.as_str() {
                "property" => {
                    property = Some(v.parse().map_err(|_| {
                        format!("property={v}: give the ObservedProperty's @iot.id")
                    })?)
                }
                "bucket" => {
                    q.bucket = match v.as_str() {
                        "minute" => "1 minute",
                        "hour" => "1 hour",
                        "day" => "1 day",
                        "week" => "7 days",
                        _ => return Err(format!("bucket={v}: use minute, hour, day or week")),
                    };
                    q.bucket_name = v.clone();
                }
                "group" => {
                    if v.is_empty() || v.len() > 64 {
                        return Err(
                            "group: name a property of the Things, e.g. group=building".into()
                        );
                    }
                    q.group = Some(v.clone());
                }
                "from" => q.from = Some(time(k, v)?),
                "to" => q.to = Some(time(k, v)?),
                other => {
                    return Err(format!(
                        "unknown parameter '{other}'; use property, bucket, group, from and to"
                    ));
                }
            }
        }
        q.property = property.ok_or_else(|| {
            "property is required: the @iot.id of the ObservedProperty to aggregate (see \
             /sta/v1.1/ObservedProperties)"
                .to_string()
        })?;
        Ok(q)
    }
}

fn group_value(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// `GET /api/iot/aggregates`.
pub async fn aggregates(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> ApiResult<Response> {
    let caller = state.caller(&headers)?;
    readable(&state, &caller).await?;
    let q = AggregateQuery::parse(&params).map_err(ApiError::BadRequest)?;
    state.sync_iot().await?;
    let streams = state.iot.datastreams(&state.store).await?;
    // The Datastreams of the property on Things the caller may see, with their group.
    let mut members: Vec<(i64, String)> = vec![];
    for (id, d) in &streams.by_id {
        let visible = streams
            .thing_classes
            .get(&d.thing_id)
            .is_some_and(|c| caller.may_read(*c));
        if d.property_id != Some(q.property) || !visible {
            continue;
        }
        let group = match &q.group {
            None => Some("all".to_string()),
            Some(p) => group_value(d.spec.thing.properties.get(p)),
        };
        if let Some(g) = group {
            members.push((*id, g));
        }
    }
    let names = state.iot.names.clone();
    let min_group = state.options.server.iot.min_group_size.max(1);
    let mut tables = vec![];
    for t in [&names.observations, &names.restricted_observations] {
        if state.store.exists(t).await {
            tables.push(t.to_string());
        }
    }
    if tables.len() == 2 {
        caller.audit(
            names.restricted_observations.as_str(),
            Classification::Restricted,
            "iot-aggregate",
        );
    }
    let options = QueryOptions {
        timeout: Some(state.options.sql_timeout),
        memory_limit: state.options.memory_limit,
        ..QueryOptions::default()
    };
    let store = state.store.clone();
    let limit = state.options.server.sql_row_limit.max(1);
    let q2 = q.clone();
    let rows = state
        .workers
        .spawn(async move {
            if members.is_empty() || tables.is_empty() {
                return Ok(vec![]);
            }
            let opened: Vec<tvilling_core::DatasetName> =
                tables.iter().filter_map(|t| t.parse().ok()).collect();
            let session = Session::open_datasets(&store, options, &opened).await?;
            let schema = Arc::new(Schema::new(vec![
                Field::new("datastream_id", DataType::Int64, false),
                Field::new("grp", DataType::Utf8, false),
            ]));
            let batch = RecordBatch::try_new(
                schema,
                vec![
                    Arc::new(members.iter().map(|m| m.0).collect::<Int64Array>()),
                    Arc::new(
                        members
                            .iter()
                            .map(|m| Some(m.1.as_str()))
                            .collect::<StringArray>(),
                    ),
                ],
            )
            .map_err(|e| ApiError::Internal(format!("aggregate groups: {e} (a bug)")))?;
            session
                .context()
                .register_batch("tvilling_aggregate_groups", batch)
                .map_err(|e| ApiError::Internal(format!("aggregate groups: {e} (a bug)")))?;
            let union = tables
                .iter()
                .map(|t| format!("SELECT datastream_id, phenomenon_time, result FROM \"{t}\""))
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            let mut wh = vec![];
            let lit = |t: DateTime<Utc>| {
                format!(
                    "arrow_cast('{}', 'Timestamp(Microsecond, Some(\"UTC\"))')",
                    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                )
            };
            if let Some(f) = q2.from {
                wh.push(format!("o.phenomenon_time >= {}", lit(f)));
            }
            if let Some(t) = q2.to {
                wh.push(format!("o.phenomenon_time < {}", lit(t)));
            }
            let where_sql = if wh.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", wh.join(" AND "))
            };
            let sql = format!(
                "SELECT g.grp AS \"group\", date_bin(INTERVAL '{bucket}', o.phenomenon_time, \
                 arrow_cast('1970-01-01T00:00:00Z', 'Timestamp(Microsecond, Some(\"UTC\"))')) AS bucket, \
                 count(DISTINCT o.datastream_id) AS datastreams, count(*) AS count, avg(o.result) AS mean, \
                 min(o.result) AS min, max(o.result) AS max \
                 FROM ({union}) AS o JOIN tvilling_aggregate_groups g ON o.datastream_id = g.datastream_id \
                 {where_sql} GROUP BY 1, 2 ORDER BY 1, 2 LIMIT {}",
                limit + 1,
                bucket = q2.bucket,
            );
            json_rows(&session.sql(&sql).await?)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("the aggregate task failed: {e} (a bug)")))??;
    let truncated = rows.len() > limit;
    let (mut shown, mut suppressed) = (vec![], 0u64);
    for r in rows.into_iter().take(limit) {
        if r.get("datastreams").and_then(Value::as_u64).unwrap_or(0) >= min_group as u64 {
            shown.push(Value::Object(r));
        } else {
            suppressed += 1;
        }
    }
    Ok(axum::Json(json!({
        "property": q.property,
        "bucket": q.bucket_name,
        "group": q.group,
        "min_group_size": min_group,
        "cells": shown,
        "suppressed": suppressed,
        "truncated": truncated,
    }))
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_and_explains() {
        let q = AggregateQuery::parse(&p(&[
            ("property", "3"),
            ("bucket", "day"),
            ("group", "building"),
            ("from", "2026-01-01T00:00:00Z"),
        ]))
        .expect("parses");
        assert_eq!((q.property, q.bucket), (3, "1 day"));
        assert_eq!(q.group.as_deref(), Some("building"));
        for (params, why) in [
            (p(&[]), "property is required"),
            (p(&[("property", "x")]), "@iot.id"),
            (p(&[("property", "1"), ("bucket", "year")]), "minute, hour"),
            (p(&[("property", "1"), ("from", "igår")]), "RFC 3339"),
            (
                p(&[("property", "1"), ("apartment", "1102")]),
                "unknown parameter",
            ),
        ] {
            let e = AggregateQuery::parse(&params).expect_err("refused");
            assert!(e.contains(why), "{e}");
        }
    }
}
