//! Every OGC API Features answer of the shared twin validated against the OGC response schemas
//! (`schemas/ogcapi-features.json`: Part 1 Core, Part 2 CRS, Part 3 queryables): the landing page, the
//! conformance declaration, the collections, each collection, its queryables (also a valid JSON Schema
//! itself), every page of its items walked through the `next` links to the end (with `numberMatched` and
//! `numberReturned` adding up), and a single feature, in CRS84 and in the collection's storage CRS.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::util::{TestServer, json, serve};

/// The validator of one `$defs` entry of the OGC schemas.
fn validator(def: &str) -> jsonschema::Validator {
    let text = include_str!("schemas/ogcapi-features.json");
    let mut schema: Value = serde_json::from_str(text).unwrap();
    schema["$ref"] = Value::String(format!("#/$defs/{def}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

/// Fetches `url` (absolute, or a path on `s`) as JSON and validates it as `def`.
async fn valid(s: &TestServer, url: &str, def: &str) -> Value {
    let url = if url.starts_with("http") {
        url.to_string()
    } else {
        format!("{}{url}", s.base)
    };
    let r = s.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    let doc = json(r).await;
    let errors: Vec<String> = validator(def)
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{url} is not a valid {def}: {errors:#?}");
    doc
}

fn link(doc: &Value, rel: &str) -> Option<String> {
    doc["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .and_then(|l| l["href"].as_str())
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_validates_against_the_ogc_schemas_and_paging_adds_up() {
    let s = serve().await;
    valid(&s, "/ogcapi", "landingPage").await;
    valid(&s, "/ogcapi/conformance", "confClasses").await;
    let all = valid(&s, "/ogcapi/collections", "collections").await;
    let collections = all["collections"].as_array().unwrap();
    assert!(!collections.is_empty(), "{all}");
    for c in collections {
        let id = c["id"].as_str().unwrap();
        let one = valid(&s, &format!("/ogcapi/collections/{id}"), "collection").await;
        let queryables = valid(
            &s,
            &format!("/ogcapi/collections/{id}/queryables"),
            "queryables",
        )
        .await;
        assert!(
            jsonschema::meta::is_valid(&queryables),
            "{id}: the queryables are not a JSON Schema: {queryables}"
        );
        // Walk every page in about four steps.
        let first = valid(
            &s,
            &format!("/ogcapi/collections/{id}/items?limit=1"),
            "featureCollection",
        )
        .await;
        let matched = first["numberMatched"].as_u64().unwrap();
        let limit = matched.div_ceil(4).max(1);
        let mut url = format!("/ogcapi/collections/{id}/items?limit={limit}");
        let (mut seen, mut pages) = (BTreeSet::new(), 0);
        loop {
            let page = valid(&s, &url, "featureCollection").await;
            let features = page["features"].as_array().unwrap();
            assert_eq!(page["numberMatched"], matched, "{id}: {url}");
            assert_eq!(page["numberReturned"], features.len(), "{id}: {url}");
            for f in features {
                assert!(seen.insert(f["id"].to_string()), "{id}: {} twice", f["id"]);
            }
            pages += 1;
            match link(&page, "next") {
                Some(next) => url = next,
                None => break,
            }
            assert!(
                pages <= 5,
                "{id}: more pages than {matched} / {limit} needs"
            );
        }
        assert_eq!(seen.len() as u64, matched, "{id}: every feature once");
        // A single feature, in CRS84 and in the storage CRS (Part 2).
        if let Some(fid) = first["features"][0]["id"].as_str() {
            let f = format!("/ogcapi/collections/{id}/items/{fid}");
            valid(&s, &f, "feature").await;
            if let Some(storage) = one["storageCrs"].as_str() {
                // ':' and '/' may stand unescaped in a query.
                valid(&s, &format!("{f}?crs={storage}"), "feature").await;
            }
        }
    }
}

#[test]
fn the_schemas_refuse_what_the_standard_refuses() {
    let fc = validator("featureCollection");
    assert!(fc.is_valid(&serde_json::json!({"type": "FeatureCollection", "features": []})));
    for bad in [
        serde_json::json!({"type": "FeatureCollection"}),
        serde_json::json!({"type": "FeatureCollection", "features": [], "numberMatched": -1}),
        serde_json::json!({"type": "FeatureCollection", "features": [], "links": [{"href": "x"}]}),
        serde_json::json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}}]}),
        serde_json::json!({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {},
            "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}}]}),
    ] {
        assert!(!fc.is_valid(&bad), "{bad}");
    }
    let conformance = validator("confClasses");
    assert!(
        !conformance.is_valid(&serde_json::json!({"conformsTo": ["http://example.com/other"]}))
    );
}
