//! OGC API Features against a real server over the shared twin: landing page, conformance, collections,
//! paging to the end, bbox and CRS handling, single features, CQL2 text and JSON (checked against the same
//! SQL through POST /api/sql), datetime, injection attempts, and hidden datasets.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::util::{json, key, serve};

const ITEMS: &str = "/ogcapi/collections/byggnader/items";

fn ids(fc: &Value) -> Vec<String> {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

async fn get(s: &crate::util::TestServer, path: &str, query: &[(&str, &str)]) -> reqwest::Response {
    s.get(path).query(query).send().await.unwrap()
}

async fn sql_ids(s: &crate::util::TestServer, sql: &str) -> BTreeSet<String> {
    let r = s.sql(sql, "json").send().await.unwrap();
    assert_eq!(r.status(), 200, "{sql}");
    json(r)
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

async fn filter_ids(s: &crate::util::TestServer, query: &[(&str, &str)]) -> BTreeSet<String> {
    let mut q = vec![("limit", "10000")];
    q.extend_from_slice(query);
    let r = get(s, ITEMS, &q).await;
    assert_eq!(r.status(), 200, "{query:?}");
    let fc = json(r).await;
    assert_eq!(fc["numberMatched"], fc["numberReturned"]);
    ids(&fc).into_iter().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn landing_conformance_and_collections() {
    let s = serve().await;
    let r = get(&s, "/ogcapi", &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    let doc = json(r).await;
    let rels: Vec<&str> = doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    for rel in ["self", "service-desc", "conformance", "data"] {
        assert!(rels.contains(&rel), "{rel} missing: {doc}");
    }
    let desc = doc["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "service-desc")
        .unwrap();
    assert!(
        desc["href"]
            .as_str()
            .unwrap()
            .ends_with("/api/openapi.json")
    );

    let conf = json(get(&s, "/ogcapi/conformance", &[]).await).await;
    let classes: Vec<&str> = conf["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"));
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs"));
    assert!(classes.contains(&"http://www.opengis.net/spec/cql2/1.0/conf/cql2-json"));

    let cols = json(get(&s, "/ogcapi/collections", &[]).await).await;
    let names: Vec<&str> = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["byggnader"]);
    let c = json(get(&s, "/ogcapi/collections/byggnader", &[]).await).await;
    assert_eq!(
        c["storageCrs"],
        "http://www.opengis.net/def/crs/EPSG/0/3006"
    );
    let crs: Vec<&str> = c["crs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(crs.contains(&"http://www.opengis.net/def/crs/OGC/1.3/CRS84"));
    assert!(crs.contains(&"http://www.opengis.net/def/crs/EPSG/0/4326"));
    let b = &c["extent"]["spatial"]["bbox"][0];
    // The town lies in Örebro municipality: about 15° E, 59° N.
    assert!((14.0..16.0).contains(&b[0].as_f64().unwrap()), "{c}");
    assert!((58.0..60.0).contains(&b[1].as_f64().unwrap()), "{c}");

    let q = json(get(&s, "/ogcapi/collections/byggnader/queryables", &[]).await).await;
    assert_eq!(q["properties"]["vaningar"]["type"], "integer");
    assert_eq!(q["properties"]["registrerad"]["format"], "date");

    let r = get(&s, "/ogcapi/collections", &[("f", "html")]).await;
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("byggnader"));
    let r = s
        .get(ITEMS)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_through_next_links_returns_every_feature_once() {
    let s = serve().await;
    let all = sql_ids(&s, "SELECT id FROM byggnader").await;
    let mut seen = Vec::new();
    let mut url = format!("{}{ITEMS}?limit=7", s.base);
    let mut pages = 0;
    loop {
        let r = s.client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/geo+json");
        assert_eq!(
            r.headers()["content-crs"],
            "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
        );
        let fc = json(r).await;
        assert_eq!(fc["numberMatched"], all.len());
        assert_eq!(
            fc["numberReturned"],
            fc["features"].as_array().unwrap().len()
        );
        seen.extend(ids(&fc));
        pages += 1;
        let next = fc["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
            .map(|l| l["href"].as_str().unwrap().to_string());
        match next {
            Some(n) => url = n,
            None => break,
        }
        assert!(pages < 100);
    }
    assert_eq!(pages, all.len().div_ceil(7));
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a feature came twice");
    assert_eq!(unique, all);
    let fc = json(get(&s, ITEMS, &[]).await).await;
    assert_eq!(fc["numberReturned"], 10);
    // Plain pages come from the collection kept in memory; with sortby the query engine cuts them: the
    // two agree feature for feature.
    let page = [("limit", "5"), ("offset", "13")];
    let memory = json(get(&s, ITEMS, &page).await).await;
    let engine = json(get(&s, ITEMS, &[page[0], page[1], ("sortby", "id")]).await).await;
    assert_eq!(memory["features"], engine["features"]);
    assert_eq!(memory["numberMatched"], engine["numberMatched"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn bbox_in_crs84_and_sweref_agree_and_4326_is_lat_lon() {
    let s = serve().await;
    // A window over part of the town in SWEREF 99 TM, and the same window in CRS84 via the query engine.
    let (x0, y0, x1, y1) = (513_000.0, 6_570_000.0, 513_200.0, 6_570_150.0);
    let corners = json(
        s.sql(
            &format!(
                "SELECT ST_AsText(ST_Transform(ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 3006), 4326)) AS w"
            ),
            "json",
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let wkt = corners[0]["w"].as_str().unwrap().to_string();
    let nums: Vec<f64> = wkt
        .trim_start_matches("POLYGON((")
        .trim_end_matches("))")
        .split([',', ' '])
        .map(|n| n.parse().unwrap())
        .collect();
    let xs: Vec<f64> = nums.iter().step_by(2).copied().collect();
    let ys: Vec<f64> = nums.iter().skip(1).step_by(2).copied().collect();
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // SWEREF 99 TM lists northing first (EPSG axis order).
    let sweref = format!("{y0},{x0},{y1},{x1}");
    let in_sweref = filter_ids(
        &s,
        &[
            ("bbox", &sweref),
            ("bbox-crs", "http://www.opengis.net/def/crs/EPSG/0/3006"),
        ],
    )
    .await;
    let expected = sql_ids(
        &s,
        &format!(
            "SELECT id FROM byggnader WHERE ST_Intersects(geometry, ST_MakeEnvelope({x0}, {y0}, {x1}, {y1}, 3006))"
        ),
    )
    .await;
    assert!(
        !expected.is_empty() && expected.len() < 45,
        "{}",
        expected.len()
    );
    assert_eq!(in_sweref, expected);
    // The CRS84 box around the transformed window holds at least the same features.
    let crs84 = format!("{},{},{},{}", min(&xs), min(&ys), max(&xs), max(&ys));
    let in_crs84 = filter_ids(&s, &[("bbox", &crs84)]).await;
    assert!(
        in_crs84.is_superset(&expected),
        "{in_crs84:?} vs {expected:?}"
    );
    assert!(in_crs84.len() <= expected.len() + 3);

    // crs=EPSG:4326 answers latitude first; CRS84 longitude first.
    let first = |fc: &Value| fc["features"][0]["geometry"]["coordinates"][0][0].clone();
    let lonlat = json(get(&s, ITEMS, &[("limit", "1")]).await).await;
    let r = get(
        &s,
        ITEMS,
        &[
            ("limit", "1"),
            ("crs", "http://www.opengis.net/def/crs/EPSG/0/4326"),
        ],
    )
    .await;
    assert_eq!(
        r.headers()["content-crs"],
        "<http://www.opengis.net/def/crs/EPSG/0/4326>"
    );
    let latlon = json(r).await;
    let (a, b) = (first(&lonlat), first(&latlon));
    assert!((14.0..16.0).contains(&a[0].as_f64().unwrap()), "{a}");
    assert_eq!(a[0], b[1]);
    assert_eq!(a[1], b[0]);
    let native = json(get(&s, ITEMS, &[("limit", "1"), ("crs", "EPSG:3857")]).await).await;
    assert!(first(&native)[0].as_f64().unwrap() > 1_000_000.0);
    let r = get(&s, ITEMS, &[("crs", "EPSG:9999")]).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn single_features_by_id() {
    let s = serve().await;
    let fc = json(get(&s, ITEMS, &[("limit", "1")]).await).await;
    let id = fc["features"][0]["id"].as_str().unwrap().to_string();
    let r = get(&s, &format!("{ITEMS}/{id}"), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/geo+json");
    let f = json(r).await;
    assert_eq!(f["type"], "Feature");
    assert_eq!(f["id"], id.as_str());
    assert_eq!(f["properties"], fc["features"][0]["properties"]);
    let r = get(&s, &format!("{ITEMS}/nope'%20OR%201=1"), &[]).await;
    assert_eq!(r.status(), 404);
    let p = json(r).await;
    assert_eq!(p["code"], "NotFound");
    assert!(p["description"].as_str().unwrap().contains("nope"));
}

#[tokio::test(flavor = "multi_thread")]
async fn cql2_text_and_json_match_sql() {
    let s = serve().await;
    let cases: [(&str, Value, &str); 4] = [
        (
            "vaningar >= 3 AND andamal LIKE 'Bostad%'",
            serde_json::json!({"op": "and", "args": [
                {"op": ">=", "args": [{"property": "vaningar"}, 3]},
                {"op": "like", "args": [{"property": "andamal"}, "Bostad%"]}]}),
            "vaningar >= 3 AND andamal LIKE 'Bostad%'",
        ),
        (
            "energiklass IN ('A', 'B') OR byggnadsar BETWEEN 1950 AND 1970",
            serde_json::json!({"op": "or", "args": [
                {"op": "in", "args": [{"property": "energiklass"}, ["A", "B"]]},
                {"op": "between", "args": [{"property": "byggnadsar"}, 1950, 1970]}]}),
            "energiklass IN ('A', 'B') OR byggnadsar BETWEEN 1950 AND 1970",
        ),
        (
            "NOT lagenheter IS NULL",
            serde_json::json!({"op": "not", "args": [{"op": "isNull", "args": [{"property": "lagenheter"}]}]}),
            "lagenheter IS NOT NULL",
        ),
        (
            "S_INTERSECTS(geometry, POLYGON((513000 6570000, 513200 6570000, 513200 6570150, 513000 6570150, 513000 6570000)))",
            serde_json::json!({"op": "s_intersects", "args": [{"property": "geometry"},
                {"type": "Polygon", "coordinates": [[[513000, 6570000], [513200, 6570000],
                    [513200, 6570150], [513000, 6570150], [513000, 6570000]]]}]}),
            "ST_Intersects(geometry, ST_MakeEnvelope(513000, 6570000, 513200, 6570150, 3006))",
        ),
    ];
    for (i, (text, cql_json, sql)) in cases.iter().enumerate() {
        let expected = sql_ids(&s, &format!("SELECT id FROM byggnader WHERE {sql}")).await;
        // The spatial case is written in SWEREF 99 TM, whose EPSG axis order is northing first: its literal
        // is sent swapped, with filter-crs naming the CRS.
        let mut extra: Vec<(&str, &str)> = Vec::new();
        if i == 3 {
            extra.push(("filter-crs", "http://www.opengis.net/def/crs/EPSG/0/3006"));
        }
        let swap = |t: &str| if i == 3 { swap_text(t) } else { t.to_string() };
        let text_q = swap(text);
        let mut q = vec![("filter", text_q.as_str())];
        q.extend(extra.iter().copied());
        let got = filter_ids(&s, &q).await;
        assert_eq!(got, expected, "{text}");
        let mut j = cql_json.clone();
        if i == 3 {
            crate::ogcapi::swap_json(&mut j);
        }
        let js = j.to_string();
        let mut q = vec![("filter", js.as_str()), ("filter-lang", "cql2-json")];
        q.extend(extra.iter().copied());
        let got = filter_ids(&s, &q).await;
        assert_eq!(got, expected, "{cql_json}");
        assert!(!expected.is_empty(), "{sql} matches nothing");
    }
    // ?property=value is equality on a queryable.
    let got = filter_ids(&s, &[("energiklass", "C")]).await;
    assert_eq!(
        got,
        sql_ids(&s, "SELECT id FROM byggnader WHERE energiklass = 'C'").await
    );
}

/// Swaps x and y in a WKT polygon written as numbers separated by spaces and commas.
fn swap_text(t: &str) -> String {
    let (head, rest) = t.split_once("((").unwrap();
    let (coords, tail) = rest.split_once("))").unwrap();
    let swapped: Vec<String> = coords
        .split(',')
        .map(|p| {
            let v: Vec<&str> = p.split_whitespace().collect();
            format!("{} {}", v[1], v[0])
        })
        .collect();
    format!("{head}(({})){tail}", swapped.join(", "))
}

/// Swaps x and y in every position of the GeoJSON polygon inside a CQL2 JSON spatial filter.
pub fn swap_json(v: &mut Value) {
    let coords = &mut v["args"][1]["coordinates"][0];
    for p in coords.as_array_mut().unwrap() {
        let a = p.as_array_mut().unwrap();
        a.swap(0, 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn datetime_filters_on_the_first_date_column() {
    let s = serve().await;
    for (dt, sql) in [
        ("2010-01-01/..", "registrerad >= DATE '2010-01-01'"),
        ("../2010-01-01", "registrerad <= DATE '2010-01-01'"),
        (
            "2000-01-01/2015-12-31",
            "registrerad BETWEEN DATE '2000-01-01' AND DATE '2015-12-31'",
        ),
    ] {
        let got = filter_ids(&s, &[("datetime", dt)]).await;
        let expected = sql_ids(&s, &format!("SELECT id FROM byggnader WHERE {sql}")).await;
        assert_eq!(got, expected, "{dt}");
    }
    let r = get(&s, ITEMS, &[("datetime", "last tuesday")]).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn injection_attempts_are_harmless() {
    let s = serve().await;
    let before = sql_ids(&s, "SELECT id FROM byggnader").await;
    for (name, value) in [
        ("filter", "andamal = 'x''; DROP TABLE byggnader; --'"),
        ("filter", "\"andamal\") OR 1=1 --\" = 'x'"),
        ("andamal", "'; DROP TABLE byggnader; --"),
        ("andamal", "x' OR '1'='1"),
        ("filter", "andamal = 'x' OR id IN (SELECT id FROM hemlig)"),
    ] {
        let r = get(&s, ITEMS, &[(name, value)]).await;
        let status = r.status().as_u16();
        let body = json(r).await;
        match status {
            200 => assert_eq!(body["numberMatched"], 0, "{value}: {body}"),
            400 => assert!(body["description"].is_string(), "{body}"),
            other => panic!("{value}: {other} {body}"),
        }
    }
    let r = get(&s, ITEMS, &[("filter", "nope = 1")]).await;
    assert_eq!(r.status(), 400);
    let p = json(r).await;
    assert_eq!(p["code"], "InvalidParameterValue");
    let d = p["description"].as_str().unwrap();
    assert!(d.contains("'nope'") && d.contains("vaningar"), "{d}");
    assert_eq!(sql_ids(&s, "SELECT id FROM byggnader").await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn hidden_datasets_are_404_on_every_path() {
    let s = serve().await;
    for ds in ["hemlig", "intern"] {
        for path in [
            format!("/ogcapi/collections/{ds}"),
            format!("/ogcapi/collections/{ds}/items"),
            format!("/ogcapi/collections/{ds}/queryables"),
            format!("/ogcapi/collections/{ds}/items/x"),
        ] {
            let r = get(&s, &path, &[]).await;
            assert_eq!(r.status(), 404, "{path}");
            assert_eq!(json(r).await["code"], "NotFound");
        }
    }
    let (restricted, _) = key(tvilling_web::auth::Role::ReaderRestricted);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let cols = json(
        s.get("/ogcapi/collections")
            .bearer_auth(&restricted)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let names: Vec<&str> = cols["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["byggnader", "hemlig", "intern"]);
    let r = s
        .get("/ogcapi/collections/hemlig/items")
        .bearer_auth(&restricted)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["numberMatched"], 40);
}

/// Every page of a `sortby` walk, concatenated: the ids in the server's order.
async fn walk(s: &crate::util::TestServer, query: &[(&str, &str)]) -> Vec<String> {
    let first = reqwest::Url::parse_with_params(&format!("{}{ITEMS}", s.base), query).unwrap();
    let mut url = first.to_string();
    let mut seen = Vec::new();
    for _ in 0..100 {
        let r = s.client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        let fc = json(r).await;
        seen.extend(ids(&fc));
        match fc["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["rel"] == "next")
        {
            Some(l) => url = l["href"].as_str().unwrap().to_string(),
            None => return seen,
        }
    }
    panic!("more than 100 pages");
}

#[tokio::test(flavor = "multi_thread")]
async fn sortby_pages_in_the_order_sql_gives() {
    let s = serve().await;
    for (sortby, order) in [
        ("-vaningar,andamal", "vaningar DESC, andamal ASC, id ASC"),
        ("+registrerad", "registrerad ASC, id ASC"),
        ("-id", "id DESC"),
    ] {
        let got = walk(&s, &[("limit", "7"), ("sortby", sortby)]).await;
        let r = s
            .sql(
                &format!("SELECT id FROM byggnader ORDER BY {order}"),
                "json",
            )
            .send()
            .await
            .unwrap();
        let expected: Vec<String> = json(r)
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, expected, "sortby={sortby}");
    }
    let r = get(&s, ITEMS, &[("sortby", "-hojdd")]).await;
    assert_eq!(r.status(), 400);
    let e = json(r).await;
    let d = e["description"].as_str().unwrap();
    assert!(d.contains("'hojdd'") && d.contains("vaningar"), "{e}");
    let r = get(&s, ITEMS, &[("sortby", "geometry")]).await;
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn properties_selects_what_each_feature_carries() {
    let s = serve().await;
    let fc = json(
        get(
            &s,
            ITEMS,
            &[("properties", "vaningar,andamal"), ("limit", "5")],
        )
        .await,
    )
    .await;
    assert_eq!(fc["numberReturned"], 5);
    for f in fc["features"].as_array().unwrap() {
        let keys: BTreeSet<&str> = f["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, BTreeSet::from(["andamal", "vaningar"]), "{f}");
        assert!(
            f["id"].is_string() && f["geometry"]["type"].is_string(),
            "{f}"
        );
    }
    // Empty: id and geometry only.
    let fc = json(get(&s, ITEMS, &[("properties", ""), ("limit", "1")]).await).await;
    assert_eq!(fc["features"][0]["properties"], serde_json::json!({}));
    // One feature, the same way.
    let id = fc["features"][0]["id"].as_str().unwrap().to_string();
    let f = json(get(&s, &format!("{ITEMS}/{id}"), &[("properties", "hojd")]).await).await;
    assert_eq!(
        f["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["hojd"]
    );
    let r = get(&s, ITEMS, &[("properties", "andamal,nope")]).await;
    assert_eq!(r.status(), 400);
    assert!(
        json(r).await["description"]
            .as_str()
            .unwrap()
            .contains("'nope'")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn collections_carry_the_temporal_extent_of_their_date_column() {
    let s = serve().await;
    let r = s
        .sql(
            "SELECT CAST(min(registrerad) AS VARCHAR) AS lo, CAST(max(registrerad) AS VARCHAR) AS hi FROM byggnader",
            "json",
        )
        .send()
        .await
        .unwrap();
    let row = json(r).await[0].clone();
    let expected = serde_json::json!([[
        format!("{}T00:00:00Z", row["lo"].as_str().unwrap()),
        format!("{}T00:00:00Z", row["hi"].as_str().unwrap())
    ]]);
    let c = json(get(&s, "/ogcapi/collections/byggnader", &[]).await).await;
    assert_eq!(c["extent"]["temporal"]["interval"], expected, "{c}");
    assert_eq!(
        c["extent"]["temporal"]["trs"],
        "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
    );
    assert!(c["extent"]["spatial"]["bbox"][0].is_array(), "{c}");
    let all = json(get(&s, "/ogcapi/collections", &[]).await).await;
    let listed = all["collections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "byggnader")
        .unwrap();
    assert_eq!(listed["extent"]["temporal"]["interval"], expected);
}
