//! OWSLib (the Python OGC client) consumes the OGC API Features: landing page, OpenAPI, conformance,
//! collections, queryables, every page of a collection through the `next` links with exact
//! `numberMatched` / `numberReturned`, a feature by id and a sorted page.
//!
//! Needs Python with OWSLib: `scripts/bootstrap.sh` makes a venv at `~/.cache/tvilling-owslib`
//! (`$TVILLING_OWSLIB_PYTHON` names another interpreter). Without it the test says "skipped" and why.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde_json::Value;

use crate::util::{json, serve};

/// The Python that has OWSLib, or why there is none.
fn owslib_python() -> Result<PathBuf, String> {
    let python = match std::env::var_os("TVILLING_OWSLIB_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
            PathBuf::from(home).join(".cache/tvilling-owslib/bin/python")
        }
    };
    let ok = std::process::Command::new(&python)
        .args(["-c", "import owslib.ogcapi.features"])
        .output()
        .map_err(|e| {
            format!(
                "{} cannot run ({e}); run scripts/bootstrap.sh",
                python.display()
            )
        })?;
    if !ok.status.success() {
        return Err(format!(
            "{} has no OWSLib; run scripts/bootstrap.sh",
            python.display()
        ));
    }
    Ok(python)
}

#[tokio::test(flavor = "multi_thread")]
async fn owslib_walks_every_page_of_a_collection() {
    let python = match owslib_python() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("skipped: owslib_walks_every_page_of_a_collection: {why}");
            return;
        }
    };
    let s = serve().await;
    let r = s
        .sql("SELECT id, vaningar FROM byggnader", "json")
        .send()
        .await
        .unwrap();
    let rows = json(r).await;
    let all: BTreeSet<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/http/owslib_walk.py");
    let base = format!("{}/ogcapi", s.base);
    // OWSLib is blocking: run it off the runtime that serves it.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(python)
            .arg(script)
            .args([base.as_str(), "byggnader", "7"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "owslib_walk.py failed:\n{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();

    for rel in ["self", "service-desc", "conformance", "data"] {
        assert!(
            report["landing_rels"]
                .as_array()
                .unwrap()
                .contains(&rel.into()),
            "{report}"
        );
    }
    assert_eq!(report["openapi"], "3.0.3");
    // openapi-spec-validator's verdict on /api/openapi.json (null: not installed in the venv).
    match &report["openapi_errors"] {
        Value::Null => eprintln!("openapi-spec-validator not installed; run scripts/bootstrap.sh"),
        errors => assert_eq!(
            errors,
            &serde_json::json!([]),
            "the OpenAPI document is invalid"
        ),
    }
    let conforms = report["conforms_to"].as_array().unwrap();
    assert!(
        conforms.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core".into())
    );
    assert!(
        conforms.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson".into())
    );
    assert_eq!(
        report["collections"],
        serde_json::json!(["byggnader"]),
        "open only"
    );
    assert_eq!(
        report["feature_collections"],
        serde_json::json!(["byggnader"])
    );
    assert!(
        report["extent"]["spatial"]["bbox"][0].is_array(),
        "{report}"
    );
    assert!(
        report["extent"]["temporal"]["interval"][0].is_array(),
        "{report}"
    );
    assert!(
        report["queryables"]
            .as_array()
            .unwrap()
            .contains(&"vaningar".into())
    );

    // Every page: the same numberMatched, numberReturned = the features on it, 7 until the last.
    let pages = report["pages"].as_array().unwrap();
    assert_eq!(pages.len(), all.len().div_ceil(7), "{pages:?}");
    for (i, p) in pages.iter().enumerate() {
        assert_eq!(p["numberMatched"], all.len(), "page {i}");
        assert_eq!(p["numberReturned"], p["features"], "page {i}");
        let expected = if i + 1 < pages.len() {
            7
        } else {
            all.len() - 7 * i
        };
        assert_eq!(p["numberReturned"], expected, "page {i}");
    }
    let ids: Vec<String> = report["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a feature came twice");
    assert_eq!(unique, all);
    assert_eq!(report["item"]["id"], ids[0].as_str());
    assert_eq!(report["item"]["type"], "Feature");

    // sortby through OWSLib: the 7 highest floor counts, highest first.
    let mut floors: Vec<i64> = rows
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["vaningar"].as_i64())
        .collect();
    floors.sort_unstable_by(|a, b| b.cmp(a));
    let got: Vec<i64> = report["sorted_vaningar"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_i64)
        .collect();
    assert_eq!(got, floors[..7], "{report}");
    println!("OWSLib {} pages, {} features", pages.len(), ids.len());
}
