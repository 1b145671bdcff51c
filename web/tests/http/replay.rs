//! `server.iot.replay_seconds` (`tvilling serve --replay-sensors`, on in `tvilling demo`): the recorded
//! series come back as live readings stamped with the current time, through the normal write path.

use std::time::Duration;

use tvilling_web::ServerConfig;

use crate::iot::{iot_server, readings};
use crate::util::json;

#[tokio::test]
async fn recorded_series_are_replayed_as_live_readings_stamped_now() {
    let mut config = ServerConfig::default();
    config.iot.replay_seconds = Some(0.2);
    // The server starts before there is anything to replay: the replay waits for recordings.
    let t = iot_server(config).await;
    let started = chrono::Utc::now();
    let (_, ds) = t.station("Örebro", 15.2, 59.27).await;
    let recorded = |i: usize| 1.0 + i as f64;
    t.post_readings(readings(ds[0], 0, 30, 1.0)).await;
    t.flush().await;

    // Both Datastreams of the station: only the first has recordings, so only it is replayed.
    let mut live = vec![];
    for _ in 0..150 {
        let latest = json(t.get_auth("/api/iot/latest").send().await.unwrap()).await;
        live = latest
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["time"]
                    .as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .is_some_and(|time| time > started)
            })
            .cloned()
            .collect();
        if !live.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(live.len(), 1, "one replayed Datastream: {live:?}");
    assert_eq!(live[0]["datastream"], ds[0]);
    let value = live[0]["result"].as_f64().unwrap();
    assert!(
        (0..30).any(|i| recorded(i) == value),
        "{value} is not a recorded value"
    );

    // The replayed readings reach the store like any other, after the recorded ones.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let stored = t.stored().await;
    let replayed: Vec<&(i64, i64, f64)> = stored
        .iter()
        .filter(|(_, time, _)| *time > started.timestamp_micros())
        .collect();
    assert!(replayed.len() >= 2, "{replayed:?}");
    assert!(replayed.iter().all(|(d, _, _)| *d == ds[0]));
    // They walk through the recording in order, from its oldest value.
    let values: Vec<f64> = replayed.iter().map(|r| r.2).collect();
    assert_eq!(values[0], recorded(0), "{values:?}");
    assert!(values.windows(2).all(|w| w[1] == w[0] + 1.0), "{values:?}");
}
