//! Issue 7, retention and roll-ups: `tvilling iot rollup` writes minute/hour/day aggregates that equal
//! DataFusion's GROUP BY over the raw readings, deletes raw readings past their retention while the
//! roll-ups stay, and a rerun with nothing new commits nothing (restartable and exact).

use chrono::{Duration, DurationRound, Utc};
use serde_json::Value;

use crate::util::Env;

/// An SMHI-format series (the station download layout) of one reading every 20 minutes over the last
/// ten days, ending yesterday.
fn smhi_series(env: &Env) -> (std::path::PathBuf, usize) {
    let start = (Utc::now() - Duration::days(10))
        .duration_trunc(Duration::days(1))
        .unwrap();
    let mut text = String::from(
        "Stationsnamn;Klimatnummer;Mäthöjd (meter över marken)\nTeststation;99999;2.0\n\n\
         Parameternamn;Beskrivning;Enhet\nLufttemperatur;momentanvärde, 1 gång/tim;degree celsius\n\n\
         Tidsperiod (fr.o.m);Tidsperiod (t.o.m);Höjd (meter över havet);Latitud (decimalgrader);Longitud (decimalgrader)\n\
         2000-01-01 00:00:00;2030-01-01 00:00:00;10.0;55.6;13.0\n\n\
         Datum;Tid (UTC);Lufttemperatur;Kvalitet;;Tidsutsnitt:\n",
    );
    let n = 9 * 72;
    for i in 0..n {
        let t = start + Duration::minutes(20 * i as i64);
        // Values with fractions that do not add up exactly in binary.
        let v = ((i * 37) % 101) as f64 / 10.0 - 3.3;
        text.push_str(&format!(
            "{};{};{v:.1};G;;\n",
            t.format("%Y-%m-%d"),
            t.format("%H:%M:%S")
        ));
    }
    let path = env.path("smhi-test.csv");
    std::fs::write(&path, text).unwrap();
    (path, n)
}

fn sql(env: &Env, q: &str) -> Vec<Value> {
    env.run(&["sql", q, "--format", "json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// `tvilling iot rollup`'s outcome for iot_observations (the collection has no restricted readings).
fn rollup(env: &Env) -> Value {
    let all = env.run(&["iot", "rollup", "--format", "json"]).ok().json();
    assert_eq!(all.as_object().unwrap().len(), 1, "{all}");
    all["iot_observations"].clone()
}

fn versions(env: &Env, dataset: &str) -> usize {
    env.run(&["log", dataset, "--format", "json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn rollups_equal_sql_aggregates_retention_keeps_them_and_reruns_change_nothing() {
    let env = Env::new();
    let (file, n) = smhi_series(&env);
    env.run(&["ingest", file.to_str().unwrap(), "--dataset", "iot"])
        .ok();
    // `tvilling info` of a table without geometry: rows, no extent.
    let info = env.info("iot_observations");
    assert_eq!(info["rows"], n as u64);
    assert!(info["extent"].is_null(), "{info}");

    let first = rollup(&env);
    assert_eq!(first["levels"]["day"]["written"], 9);
    assert_eq!(first["levels"]["hour"]["written"], 9 * 24);
    assert_eq!(first["levels"]["minute"]["written"], n);
    assert_eq!(first["raw_deleted"], 0);

    // Every hour bucket equals the SQL aggregate of its raw readings.
    let check = "SELECT count(*) AS n, max(abs(r.sum - s.total)) AS dsum, max(abs(r.mean - s.avg)) AS dmean \
                 FROM iot_rollup_hour r JOIN (SELECT datastream_id, date_trunc('hour', phenomenon_time) AS b, \
                 count(*) AS c, min(result) AS lo, max(result) AS hi, sum(result) AS total, avg(result) AS avg \
                 FROM iot_observations GROUP BY 1, 2) s ON r.datastream_id = s.datastream_id AND r.bucket_start = s.b \
                 WHERE r.count = s.c AND r.min = s.lo AND r.max = s.hi";
    let row = &sql(&env, check)[0];
    assert_eq!(row["n"], 9 * 24, "{row}");
    assert!(row["dsum"].as_f64().unwrap() < 1e-9, "{row}");
    assert!(row["dmean"].as_f64().unwrap() < 1e-9, "{row}");
    let day = sql(
        &env,
        "SELECT count, min, max FROM iot_rollup_day ORDER BY bucket_start LIMIT 1",
    );
    assert_eq!(day[0]["count"], 72);

    // A rerun with nothing new: no commit anywhere.
    let before: Vec<usize> = [
        "iot_observations",
        "iot_rollup_minute",
        "iot_rollup_hour",
        "iot_rollup_day",
    ]
    .iter()
    .map(|d| versions(&env, d))
    .collect();
    let again = rollup(&env);
    for level in ["minute", "hour", "day"] {
        assert_eq!(again["levels"][level]["written"], 0, "{again}");
    }
    let after: Vec<usize> = [
        "iot_observations",
        "iot_rollup_minute",
        "iot_rollup_hour",
        "iot_rollup_day",
    ]
    .iter()
    .map(|d| versions(&env, d))
    .collect();
    assert_eq!(before, after);

    // Retention from the config file: raw readings for 5 days, minute roll-ups for 7; hours and days stay.
    std::fs::write(
        env.path("tvilling.toml"),
        "[iot.retention]\nraw_days = 5\nminute_days = 7\n",
    )
    .unwrap();
    let hours_before = sql(
        &env,
        "SELECT count(*) AS n, sum(sum) AS s FROM iot_rollup_hour",
    );
    let kept = rollup(&env);
    let raw_left = sql(
        &env,
        "SELECT count(*) AS n, min(phenomenon_time) AS t FROM iot_observations",
    );
    let deleted = kept["raw_deleted"].as_u64().unwrap() as usize;
    assert!(deleted > 0 && deleted < n, "{kept}");
    assert_eq!(raw_left[0]["n"].as_u64().unwrap() as usize, n - deleted);
    // The oldest raw reading left starts a UTC day: whole days go.
    assert!(
        raw_left[0]["t"].as_str().unwrap().contains("00:00:00"),
        "{raw_left:?}"
    );
    assert_eq!(
        sql(
            &env,
            "SELECT count(*) AS n, sum(sum) AS s FROM iot_rollup_hour"
        ),
        hours_before
    );
    assert!(
        kept["levels"]["minute"]["deleted"].as_u64().unwrap() > 0,
        "{kept}"
    );
    assert_eq!(kept["levels"]["hour"]["written"], 0, "{kept}");

    // And once more: nothing to delete, nothing to write.
    let last = rollup(&env);
    assert_eq!(last["raw_deleted"], 0, "{last}");
    for level in ["minute", "hour", "day"] {
        assert_eq!(last["levels"][level]["written"], 0, "{last}");
        assert_eq!(last["levels"][level]["deleted"], 0, "{last}");
    }
}

#[test]
fn rollup_of_a_missing_collection_says_what_to_do() {
    let env = Env::new();
    env.run(&["iot", "rollup", "--collection", "energi"])
        .fails_with(&["energi_observations does not exist", "tvilling ingest"]);
}
