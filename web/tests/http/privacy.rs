//! Issue 7, privacy: readings of personal Datastreams (apartment meters) and of Things classified above
//! their collection live in the restricted observations dataset, so a caller without clearance for
//! restricted data never sees them on any path (SensorThings, SQL, listing) and gets them only as
//! aggregates over at least `server.iot.min_group_size` Datastreams.

use serde_json::{Value, json};
use tvilling_web::ServerConfig;
use tvilling_web::config::IotConfig;

use crate::iot::{IotServer, iot_server, readings};
use crate::util::json;

/// An apartment Thing in `building` with one personal electricity Datastream; returns its id.
async fn apartment(t: &IotServer, building: &str, n: u32) -> i64 {
    let body = json!({
        "name": format!("lgh {n}"), "description": "apartment",
        "properties": {"building": building},
        "Locations": [{"name": building, "description": "entrance", "encodingType": "application/geo+json",
                       "location": {"type": "Point", "coordinates": [13.0, 55.6]}}],
        "Datastreams": [{
            "name": "El", "description": "electricity use", "properties": {"personal": true},
            "unitOfMeasurement": {"name": "kilowatt hour", "symbol": "kWh", "definition": "ucum:kW.h"},
            "Sensor": {"name": "meter", "description": "electricity meter", "encodingType": "text/html",
                       "metadata": "https://example.org/meter"},
            "ObservedProperty": {"name": "Electricity use", "definition": "https://example.org/el",
                                 "description": "energy"}}]
    });
    let r = t
        .post("/sta/v1.1/Things", body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    json(r).await["Datastreams"][0]["@iot.id"].as_i64().unwrap()
}

fn count(doc: &Value) -> u64 {
    doc["@iot.count"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_readings_reach_uncleared_callers_only_as_large_enough_aggregates() {
    let config = ServerConfig {
        iot: IotConfig {
            min_group_size: 3,
            ..IotConfig::default()
        },
        ..ServerConfig::default()
    };
    let t = iot_server(config).await;
    let (_, weather) = t.station("Väder", 13.0, 55.6).await;
    let mut a = vec![];
    for n in 0..4 {
        a.push(apartment(&t, "Rosengård 1", 1101 + n).await);
    }
    let mut b = vec![];
    for n in 0..2 {
        b.push(apartment(&t, "Rosengård 2", 2101 + n).await);
    }
    // The Datastream's own properties are part of its SensorThings entity.
    let ds = json(
        t.get_cleared(&format!("/sta/v1.1/Datastreams({})", a[0]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(ds["properties"], json!({"personal": true}), "{ds}");
    // Apartment i of house A uses i+1 kWh every minute; house B 10 kWh.
    let mut batch = readings(weather[0], 0, 10, 0.0);
    for (i, d) in a.iter().enumerate() {
        batch.extend(readings(*d, 0, 60, 0.0).into_iter().map(|mut r| {
            r["result"] = json!(i as f64 + 1.0);
            r
        }));
    }
    for d in &b {
        batch.extend(readings(*d, 0, 60, 10.0).into_iter().map(|mut r| {
            r["result"] = json!(10.0);
            r
        }));
    }
    let r = t.post_readings(batch).await;
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["written"], 10 + 6 * 60);

    // The split in the store.
    assert_eq!(t.stored_in("iot_observations").await.len(), 10);
    assert_eq!(t.stored_in("iot_restricted_observations").await.len(), 360);

    // SensorThings: the internal key sees the weather readings only, the cleared key everything.
    let internal = json(
        t.get_auth("/sta/v1.1/Observations?$count=true&$top=1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(count(&internal), 10);
    let path = format!("/sta/v1.1/Datastreams({})/Observations?$count=true", a[0]);
    let doc = json(t.get_auth(&path).send().await.unwrap()).await;
    assert_eq!(count(&doc), 0, "{doc}");
    let cleared = json(
        t.get_cleared("/sta/v1.1/Observations?$count=true&$top=1")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(count(&cleared), 370);

    // SQL and the listing: the restricted dataset does not exist for the internal key. (Wait until the
    // server's catalog has seen the commit: the cleared key lists it.)
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let l = t.get_cleared("/api/datasets").send().await.unwrap();
        if json(l)
            .await
            .to_string()
            .contains("iot_restricted_observations")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never listed");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r =
        t.s.sql(
            "SELECT count(*) AS n FROM iot_restricted_observations",
            "json",
        )
        .header("x-api-key", &t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "{}", r.text().await.unwrap());
    let listing = json(t.get_auth("/api/datasets").send().await.unwrap()).await;
    assert!(
        !listing.to_string().contains("iot_restricted_observations"),
        "{listing}"
    );
    let r =
        t.s.sql(
            "SELECT count(*) AS n FROM iot_restricted_observations",
            "json",
        )
        .header("x-api-key", &t.cleared_key)
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await[0]["n"], 360);

    // Aggregates: house A (4 meters ≥ 3) is answered, house B (2 meters) is withheld.
    let props = json(
        t.get_auth("/sta/v1.1/ObservedProperties?$filter=name eq 'Electricity use'")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let property = props["value"][0]["@iot.id"].as_i64().unwrap();
    let agg = json(
        t.get_auth(&format!(
            "/api/iot/aggregates?property={property}&group=building&bucket=hour"
        ))
        .send()
        .await
        .unwrap(),
    )
    .await;
    let cells = agg["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 1, "{agg}");
    assert_eq!(cells[0]["group"], "Rosengård 1");
    assert_eq!(cells[0]["datastreams"], 4);
    assert_eq!(cells[0]["count"], 240);
    assert_eq!(cells[0]["mean"], 2.5);
    assert_eq!(
        (cells[0]["min"].as_f64(), cells[0]["max"].as_f64()),
        (Some(1.0), Some(4.0))
    );
    assert_eq!(agg["suppressed"], 1, "{agg}");
    assert!(!agg.to_string().contains("Rosengård 2"), "{agg}");

    // Roll-ups of personal readings are as restricted as the readings.
    let st = tvilling_core::Store::open(t.store.to_str().unwrap()).unwrap();
    let names = tvilling_core::iot::IotNames::new(&"iot".parse().unwrap());
    let how = tvilling_core::iot::IotWrite {
        provenance: tvilling_core::Provenance {
            source_uri: "test".into(),
            sha256: String::new(),
            bytes: 0,
            layer: None,
            tool: "test".into(),
            user: "test".into(),
            host: "test".into(),
            started: chrono::Utc::now(),
            mode: "upsert".into(),
            rows_read: 0,
            rows_written: 0,
            rows_rejected: 0,
            options: Default::default(),
            source_metadata: Value::Null,
        },
        quality: Default::default(),
        classification: None,
        owner: None,
        licence: None,
    };
    let out = st
        .rollup(&names, &Default::default(), chrono::Utc::now(), &how)
        .await
        .unwrap();
    assert_eq!(out["iot_restricted_observations"].levels.len(), 3);
    for (dataset, class) in [
        ("iot_restricted_rollup_hour", "restricted"),
        ("iot_rollup_hour", "internal"),
    ] {
        let props = st.properties(&dataset.parse().unwrap()).await.unwrap();
        assert_eq!(props.classification.as_str(), class, "{dataset}");
    }

    let r = t
        .get_auth("/api/iot/aggregates?group=building")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thing_classified_above_its_collection_is_hidden_from_lower_clearances() {
    let t = iot_server(ServerConfig::default()).await;
    t.station("Öppen", 13.0, 55.6).await;
    let body = json!({
        "name": "Skyddad", "description": "protected site", "properties": {"classification": "restricted"},
        "Datastreams": [{"name": "T", "description": "temperature",
            "unitOfMeasurement": {"name": "degree Celsius", "symbol": "°C", "definition": "ucum:Cel"},
            "Sensor": {"name": "PT100", "description": "thermometer", "encodingType": "text/html", "metadata": "x"},
            "ObservedProperty": {"name": "T", "definition": "https://example.org/t", "description": "t"}}]
    });
    let r = t
        .post("/sta/v1.1/Things", body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let ds = json(r).await["Datastreams"][0]["@iot.id"].as_i64().unwrap();
    let r = t.post_readings(readings(ds, 0, 5, 1.0)).await;
    assert_eq!(r.status(), 200);
    assert_eq!(t.stored_in("iot_restricted_observations").await.len(), 5);

    let things = json(
        t.get_auth("/sta/v1.1/Things?$count=true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(count(&things), 1, "{things}");
    assert_eq!(things["value"][0]["name"], "Öppen");
    let things = json(
        t.get_cleared("/sta/v1.1/Things?$count=true")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(count(&things), 2, "{things}");

    // A classification that is not one is refused with the choices.
    let bad = json!({"name": "X", "properties": {"classification": "hemlig"}});
    let r = t
        .post("/sta/v1.1/Things", bad.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("open, internal or restricted")
    );
}
