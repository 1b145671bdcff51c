//! IoT series ingest (issue 7) against the real samples in ../shared/data/iot: counts, first and last
//! values and time ranges per datastream compared with `expected/iot.json`, which `expected/iot.py` reads
//! from the same files with Python's csv and json modules; idempotent re-ingest; bad rows counted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::TryStreamExt;
use tvilling_core::arrow::array::{Array, AsArray};
use tvilling_core::arrow::datatypes::{Float64Type, Int64Type, TimestampMicrosecondType};
use tvilling_core::iot::IotNames;
use tvilling_core::progress::NoProgress;
use tvilling_core::{At, CommitOutcome, Mode, Store};
use tvilling_ingest::{IngestOptions, IngestReport, ReadOptions, SourceReader};

fn data() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/iot");
    if p.is_dir() {
        Some(p)
    } else {
        println!("skipped: {} is absent", p.display());
        None
    }
}

fn opts() -> IngestOptions {
    IngestOptions {
        dataset: "iot".parse().unwrap(),
        read: ReadOptions::default(),
        mode: Mode::Append,
        key: None,
        classification: None,
        owner: None,
        licence: None,
    }
}

async fn ingest(store: &Store, path: &Path) -> Vec<IngestReport> {
    tvilling_ingest::ingest(store, path, &opts(), Arc::new(NoProgress))
        .await
        .expect("ingest")
}

/// Per datastream key: (count, first time, first value, last time, last value, count of quality Y).
type Series = BTreeMap<String, (u64, String, f64, String, f64, u64)>;

async fn stored(store: &Store) -> Series {
    let names = IotNames::new(&"iot".parse().unwrap());
    let keys: BTreeMap<i64, String> = store
        .load_datastreams(&names)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|d| Some((d.id?, d.spec.key)))
        .collect();
    let (_, stream) = store.scan(&names.observations, At::Latest).await.unwrap();
    let batches: Vec<_> = stream.try_collect().await.unwrap();
    let mut rows: BTreeMap<String, Vec<(i64, f64, Option<String>)>> = BTreeMap::new();
    for b in &batches {
        let ds = b
            .column_by_name("datastream_id")
            .unwrap()
            .as_primitive::<Int64Type>();
        let t = b
            .column_by_name("phenomenon_time")
            .unwrap()
            .as_primitive::<TimestampMicrosecondType>();
        let r = b
            .column_by_name("result")
            .unwrap()
            .as_primitive::<Float64Type>();
        let q = b
            .column_by_name("result_quality")
            .unwrap()
            .as_string::<i32>();
        for i in 0..b.num_rows() {
            rows.entry(keys[&ds.value(i)].clone()).or_default().push((
                t.value(i),
                r.value(i),
                (!q.is_null(i)).then(|| q.value(i).to_string()),
            ));
        }
    }
    let fmt = |us: i64| {
        chrono::DateTime::from_timestamp_micros(us)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    rows.into_iter()
        .map(|(k, mut v)| {
            v.sort_by_key(|x| x.0);
            let y = v.iter().filter(|x| x.2.as_deref() == Some("Y")).count() as u64;
            let (first, last) = (v[0].clone(), v[v.len() - 1].clone());
            (
                k,
                (
                    v.len() as u64,
                    fmt(first.0),
                    first.1,
                    fmt(last.0),
                    last.1,
                    y,
                ),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn ingests_smhi_and_sensor_community_samples_like_python_reads_them() {
    let Some(dir) = data() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store").to_str().unwrap()).unwrap();
    let files = [
        "smhi-opendata_1_52240_20200905_163726.csv",
        "2018-05-02_sds011_sensor_5331.csv",
        "2018-05-02_dht22_sensor_5332.csv",
        "2017-10-08_sds011_sensor_5331.json",
    ];
    for f in files {
        let reports = ingest(&store, &dir.join(f)).await;
        assert_eq!(reports.len(), 1, "{f}");
        assert_eq!(reports[0].dataset, "iot_observations");
        assert_eq!(
            reports[0].rejected(),
            0,
            "{f}: {:?}",
            reports[0].quality.rejected
        );
    }
    let expected: BTreeMap<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/iot.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let got = stored(&store).await;
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "one datastream per measured column"
    );
    for (k, want) in &expected {
        let (n, t0, v0, t1, v1, y) = &got[k];
        assert_eq!(*n, want["count"].as_u64().unwrap(), "{k} count");
        assert_eq!(t0, want["first_time"].as_str().unwrap(), "{k} first time");
        assert_eq!(*v0, want["first"].as_f64().unwrap(), "{k} first value");
        assert_eq!(t1, want["last_time"].as_str().unwrap(), "{k} last time");
        assert_eq!(*v1, want["last"].as_f64().unwrap(), "{k} last value");
        if let Some(qy) = want.get("quality_y") {
            assert_eq!(*y, qy.as_u64().unwrap(), "{k} readings with quality Y");
        }
    }

    // The station is the Thing and its Location; co-located sensors share the Thing.
    let names = IotNames::new(&"iot".parse().unwrap());
    let streams = store.load_datastreams(&names).await.unwrap();
    let smhi = streams
        .iter()
        .find(|d| d.spec.key == "smhi:52240:Lufttemperatur")
        .unwrap();
    let loc = smhi.spec.thing.location.as_ref().unwrap();
    assert_eq!(
        (loc.lat, loc.lon, loc.height),
        (55.3837, 12.8166, Some(1.575))
    );
    assert_eq!(smhi.spec.unit.symbol, "°C");
    assert_eq!(smhi.spec.thing.name, "Falsterbo A");
    let site: Vec<_> = streams
        .iter()
        .filter(|d| d.spec.thing.key == "sensor.community:location:3121")
        .collect();
    assert_eq!(site.len(), 4);
    assert!(site.iter().all(|d| d.thing_id == site[0].thing_id));
    let pm10 = site.iter().find(|d| d.spec.key.ends_with(":P1")).unwrap();
    assert_eq!(
        (
            pm10.spec.observed_property.name.as_str(),
            pm10.spec.unit.symbol.as_str()
        ),
        ("PM10", "µg/m³")
    );

    // Ingesting a file again writes nothing and keeps the ids.
    let ids: Vec<_> = streams.iter().map(|d| (d.id, d.spec.key.clone())).collect();
    let again = ingest(&store, &dir.join(files[1])).await;
    assert!(
        matches!(again[0].outcome, CommitOutcome::Unchanged { .. }),
        "{:?}",
        again[0].outcome
    );
    assert_eq!(again[0].quality.content["duplicates_left_out"], 1160);
    assert_eq!(stored(&store).await, got);
    let after: Vec<_> = store
        .load_datastreams(&names)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.id, d.spec.key))
        .collect();
    assert_eq!(after, ids);
}

#[tokio::test(flavor = "multi_thread")]
async fn counts_malformed_rows_nan_and_far_future_readings_in_the_quality_report() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store").to_str().unwrap()).unwrap();
    let csv = tmp.path().join("bad.csv");
    std::fs::write(
        &csv,
        "sensor_id;sensor_type;location;lat;lon;timestamp;temperature;humidity\n\
         1;DHT22;9;57.1;-2.0;2018-05-02T00:00:58;8.10;99.90\n\
         1;DHT22;9;57.1;-2.0;2018-05-02T00:03:25;NaN;99.80\n\
         1;DHT22;9;57.1;-2.0;2999-01-01T00:00:00;8.00;99.00\n\
         1;DHT22;9;57.1;-2.0;yesterday;8.00;99.00\n\
         1;DHT22;9;57.1;-2.0;2018-05-02T00:05:53;warm;\n\
         1;DHT22;9;57.1\n",
    )
    .unwrap();
    let reports = ingest(&store, &csv).await;
    let q = &reports[0].quality;
    // Rejected: NaN, two far-future values, the bad time, 'warm', the short row.
    assert_eq!(q.completeness.rejected, 6, "{:?}", q.rejected);
    let reasons: Vec<&str> = q.rejected.iter().map(|i| i.reason.as_str()).collect();
    assert!(
        reasons.iter().any(|r| r.contains("not a finite number")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("in the future")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("'yesterday'")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("'warm' is not a number")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("4 fields")),
        "{reasons:?}"
    );
    assert_eq!(
        q.rejected[0].feature,
        Some(3),
        "line numbers are 1-based file lines"
    );
    // Good readings: row 2 (2), row 3's humidity (1).
    assert!(
        matches!(reports[0].outcome, CommitOutcome::Committed { rows: 3, .. }),
        "{:?}",
        reports[0].outcome
    );
    assert_eq!(q.completeness.attributes["humidity"].nulls, 1);
}

#[test]
fn leaves_unrecognised_csv_to_the_gdal_reader() {
    let Some(dir) = data() else { return };
    let reader = tvilling_ingest::iot::IotReader;
    assert!(reader.accepts(&dir.join("2018-05-02_dht22_sensor_5332.csv")));
    assert!(reader.accepts(&dir.join("smhi-opendata_1_52240_20200905_163726.csv")));
    assert!(reader.accepts(&dir.join("2017-10-08_sds011_sensor_5331.json")));
    // The Madavi device log has no station columns: not a format this reader knows.
    assert!(!reader.accepts(&dir.join("data-esp8266-3654427-2017-12-16.csv")));
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain.csv");
    std::fs::write(&plain, "id;name\n1;a\n").unwrap();
    assert!(!reader.accepts(&plain));
}
