//! Recorded series replayed as live sensors (`tvilling serve --replay-sensors SECONDS`, and `tvilling
//! demo`): every tick, each open Datastream of the collection gets its next recorded value stamped with
//! the current time, written through the same path as `POST /api/iot/observations` (write-ahead log,
//! live feed, SensorThings). A planner then sees sensor billboards change and a Cesium developer has a
//! live feed to build against, without a real sensor.
//!
//! The values are the newest [`HISTORY`] recorded readings of each Datastream, oldest first, in a loop:
//! for a series recorded every five minutes, the replay starts at the same time of day as now, one day
//! earlier. Protected Datastreams (personal, or classified above the collection) are never replayed.

use std::time::Duration;

use chrono::{SubsecRound, Utc};
use tvilling_core::Store;
use tvilling_core::iot::Observation;

use super::hub::IotHub;
use super::write::server_how;
use crate::error::ApiResult;

/// How many recorded readings per Datastream the replay loops over (a day of five-minute readings).
pub const HISTORY: usize = 288;

/// Replays until the task is aborted. While the collection has no recorded readings (a server started
/// before the first ingest), it looks again every `every` (at least every second).
pub async fn run(hub: IotHub, store: Store, every: Duration) {
    let mut said = false;
    let series = loop {
        match recorded(&hub, &store).await {
            Ok(s) if !s.is_empty() => break s,
            Ok(_) if !said => tracing::info!(
                collection = %hub.names.base,
                "replay of recorded sensor series: no open Datastream has stored readings yet; waiting"
            ),
            Err(e) if !said => {
                tracing::warn!("replay of recorded sensor series: cannot read the recordings: {e}")
            }
            _ => {}
        }
        said = true;
        tokio::time::sleep(every.max(Duration::from_secs(1))).await;
    };
    tracing::info!(
        collection = %hub.names.base,
        datastreams = series.len(),
        every_seconds = every.as_secs_f64(),
        "replaying the recorded sensor series as live readings"
    );
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for step in 0usize.. {
        tick.tick().await;
        // Milliseconds: two ticks never share a phenomenon time, and the stored µs round-trip exactly.
        let now = Utc::now().trunc_subsecs(3);
        let batch: Vec<Observation> = series
            .iter()
            .filter_map(|(id, values)| {
                Some(Observation {
                    datastream: *id,
                    phenomenon_time: now,
                    result_time: Some(now),
                    result: *values.get(step % values.len())?,
                    result_quality: None,
                })
            })
            .collect();
        let rows = batch.len() as u64;
        if let Err(e) = hub
            .append(
                &store,
                batch,
                server_how(
                    "replay:recorded-series",
                    "tvilling serve --replay-sensors",
                    rows,
                ),
            )
            .await
        {
            tracing::warn!("replay of recorded sensor series: a tick was not stored: {e}");
        }
    }
}

/// The recorded values of every open Datastream that has some, by id.
async fn recorded(hub: &IotHub, store: &Store) -> ApiResult<Vec<(i64, Vec<f64>)>> {
    let streams = hub.datastreams(store).await?;
    let history = store.recent_results(&hub.names, HISTORY).await?;
    let mut series: Vec<(i64, Vec<f64>)> = history
        .into_iter()
        .filter(|(id, values)| {
            !values.is_empty() && streams.by_id.contains_key(id) && !streams.protected.contains(id)
        })
        .collect();
    series.sort_by_key(|(id, _)| *id);
    Ok(series)
}
