//! OGC SensorThings API 1.1 under /sta/v1.1 against a real server: deep insert, entity sets, navigation,
//! the query options ($top, $skip, $count, $orderby, $select, $filter, $expand, @iot.nextLink) and access
//! control. Expected values are the readings the test posted.

use serde_json::{Value, json};
use tvilling_web::ServerConfig;

use crate::iot::{iot_server, readings};
use crate::util::json;

fn values(doc: &Value) -> &Vec<Value> {
    doc["value"].as_array().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sensorthings_entities_navigation_and_query_options() {
    let t = iot_server(ServerConfig::default()).await;
    let (thing, ds) = t.station("Falsterbo", 12.8166, 55.3837).await;
    let (_, ds2) = t.station("Lund", 13.19, 55.70).await;
    let mut batch = readings(ds[0], 0, 30, 10.0);
    batch.extend(readings(ds[1], 0, 5, 80.0));
    batch.extend(readings(ds2[0], 0, 4, -3.0));
    let r = t.post_readings(batch).await;
    assert_eq!(r.status(), 200);

    let root = json(t.get_auth("/sta/v1.1").send().await.unwrap()).await;
    let names: Vec<&str> = values(&root)
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Things",
            "Locations",
            "Sensors",
            "ObservedProperties",
            "Datastreams",
            "Observations",
            "FeaturesOfInterest"
        ]
    );

    let get = |p: &str| t.get_auth(p).send();
    let things = json(get("/sta/v1.1/Things?$count=true").await.unwrap()).await;
    assert_eq!(things["@iot.count"], 2);
    let first = &values(&things)[0];
    assert_eq!(first["@iot.id"], thing);
    assert_eq!(first["name"], "Falsterbo");
    assert_eq!(first["properties"]["owner"], "test");
    assert!(
        first["@iot.selfLink"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/sta/v1.1/Things({thing})"))
    );
    assert!(
        first["Datastreams@iot.navigationLink"]
            .as_str()
            .unwrap()
            .ends_with("/Datastreams")
    );

    let loc = json(
        get(&format!("/sta/v1.1/Things({thing})/Locations"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        values(&loc)[0]["location"],
        json!({"type": "Point", "coordinates": [12.8166, 55.3837]})
    );
    // Sensors and ObservedProperties are shared by definition: two stations, two of each.
    let sensors = json(get("/sta/v1.1/Sensors?$count=true").await.unwrap()).await;
    assert_eq!(sensors["@iot.count"], 2);
    let props = json(
        get("/sta/v1.1/ObservedProperties?$filter=name eq 'Air temperature'")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(values(&props).len(), 1);

    let d = json(
        get(&format!("/sta/v1.1/Datastreams({})", ds[0]))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(d["unitOfMeasurement"]["symbol"], "°C");
    let d_thing = json(
        get(&format!("/sta/v1.1/Datastreams({})/Thing", ds[0]))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(d_thing["@iot.id"], thing);
    let by_unit = json(
        get("/sta/v1.1/Datastreams?$filter=unitOfMeasurement/symbol eq '%'")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(values(&by_unit).len(), 2);

    // Newest first, two per page, with a next link that continues where the page ended.
    let p = format!(
        "/sta/v1.1/Datastreams({})/Observations?$top=2&$orderby=phenomenonTime desc&$count=true",
        ds[0]
    );
    let page = json(get(&p).await.unwrap()).await;
    assert_eq!(page["@iot.count"], 30);
    let v = values(&page);
    assert_eq!(
        (v[0]["result"].as_f64(), v[1]["result"].as_f64()),
        (Some(39.0), Some(38.0))
    );
    assert_eq!(v[0]["phenomenonTime"], "2026-01-01T00:29:00Z");
    let next = page["@iot.nextLink"].as_str().unwrap();
    assert!(
        next.contains("%24skip=2") || next.contains("$skip=2"),
        "{next}"
    );
    let page2 = json(
        t.s.client
            .get(next)
            .header("x-api-key", &t.key)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(values(&page2)[0]["result"].as_f64(), Some(37.0));

    // $filter runs in SQL: comparisons, logic, functions.
    let f = format!(
        "/sta/v1.1/Observations?$filter=Datastream/@iot.id eq {} and result ge 20 and result lt 25 and \
         minute(phenomenonTime) ne 12&$select=result&$orderby=result",
        ds[0]
    );
    let got = json(get(&f).await.unwrap()).await;
    let results: Vec<f64> = values(&got)
        .iter()
        .map(|o| o["result"].as_f64().unwrap())
        .collect();
    assert_eq!(results, [20.0, 21.0, 23.0, 24.0]);
    assert_eq!(
        values(&got)[0].as_object().unwrap().len(),
        1,
        "$select=result keeps only result"
    );

    // $expand, one level, with its own options.
    let e = json(
        get(&format!(
            "/sta/v1.1/Datastreams({})?$expand=Thing,Observations($top=1;$orderby=phenomenonTime desc)",
            ds2[0]
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(e["Thing"]["name"], "Lund");
    assert_eq!(e["Observations"].as_array().unwrap().len(), 1);
    assert_eq!(e["Observations"][0]["result"].as_f64(), Some(0.0));

    // An Observation's id leads back to its Datastream and FeatureOfInterest.
    let o = &values(&page)[0];
    let oid = o["@iot.selfLink"]
        .as_str()
        .unwrap()
        .split("/sta/v1.1/")
        .nth(1)
        .unwrap()
        .to_string();
    let back = json(get(&format!("/sta/v1.1/{oid}/Datastream")).await.unwrap()).await;
    assert_eq!(back["@iot.id"], ds[0]);
    let foi = json(
        get(&format!("/sta/v1.1/{oid}/FeatureOfInterest"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(foi["feature"]["coordinates"], json!([12.8166, 55.3837]));

    // POST one Observation to a Datastream.
    let r = t
        .post(
            &format!("/sta/v1.1/Datastreams({})/Observations", ds2[0]),
            json!({"phenomenonTime": "2026-02-01T00:00:00Z", "result": 4.25}).to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let latest = json(
        get(&format!(
            "/sta/v1.1/Datastreams({})/Observations?$top=1&$orderby=phenomenonTime desc",
            ds2[0]
        ))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(values(&latest)[0]["result"].as_f64(), Some(4.25));
}

#[tokio::test(flavor = "multi_thread")]
async fn sensorthings_refuses_bad_requests_and_hides_internal_collections() {
    let t = iot_server(ServerConfig::default()).await;
    t.station("Falsterbo", 12.8166, 55.3837).await;
    // The collection is internal (the default for new data): anonymous callers see nothing.
    let anon = t.s.get("/sta/v1.1/Things").send().await.unwrap();
    assert_eq!(anon.status(), 404);
    for (path, why) in [
        ("/sta/v1.1/Thingz", "not an entity set"),
        (
            "/sta/v1.1/Things?$filter=nosuch eq 1",
            "no property 'nosuch'",
        ),
        ("/sta/v1.1/Things?$filter=name eq 'x", "not closed"),
        ("/sta/v1.1/Things?$top=-1", "$top"),
        (
            "/sta/v1.1/Things?$expand=Sensor",
            "no navigation property 'Sensor'",
        ),
        ("/sta/v1.1/Datastreams(1)/Nope", "no navigation property"),
        ("/sta/v1.1/Things?$bogus=1", "unknown query option"),
    ] {
        let r = t.get_auth(path).send().await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains(why), "{path}: {body}");
    }
    assert_eq!(
        t.get_auth("/sta/v1.1/Things(999)")
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let r = t
        .post("/sta/v1.1/Things", json!({"name": "x", "Locations": [{"location": {"type": "Point", "coordinates": [500, 1]}}]}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
