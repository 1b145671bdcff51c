//! /healthz, /readyz, /metrics, /api/openapi.json, and the viewer at /.

use tvilling_web::ServerConfig;

use crate::util::{json, serve, serve_with, twin};

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_and_metrics_answer() {
    let s = serve().await;
    let r = s.get("/healthz").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = s.get("/readyz").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await["status"], "ready");
    s.get("/api/datasets").send().await.unwrap();
    let r = s.get("/metrics").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains(
            r#"tvilling_http_requests_total{method="GET",route="/healthz",status="200"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"tvilling_http_request_duration_seconds_count{route="/api/datasets"} 1"#)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_covers_every_route() {
    let s = serve().await;
    let doc = json(s.get("/api/openapi.json").send().await.unwrap()).await;
    assert_eq!(doc["openapi"], "3.0.3");
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/api/openapi.json",
        "/api/viewer",
        "/api/datasets",
        "/api/sql",
        "/tiles/{dataset}/tileset.json",
        "/tiles/{dataset}/content/{file}",
        "/ogcapi",
        "/ogcapi/conformance",
        "/ogcapi/collections",
        "/ogcapi/collections/{dataset}",
        "/ogcapi/collections/{dataset}/queryables",
        "/ogcapi/collections/{dataset}/items",
        "/ogcapi/collections/{dataset}/items/{featureId}",
        "/api/iot/observations",
        "/api/iot/live",
        "/api/iot/aggregates",
        "/sta/v1.1",
        "/sta/v1.1/{path}",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} is not in the OpenAPI document"
        );
    }
    // Every documented operation's $refs resolve.
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = r.split('"').next().unwrap();
        assert!(doc["components"]["schemas"].get(name).is_some(), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_the_viewer_folder_at_the_root() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>tvilling</title>",
    )
    .unwrap();
    let config = ServerConfig {
        viewer_dir: Some(dir.path().to_path_buf()),
        ..ServerConfig::default()
    };
    let s = serve_with(&twin().store, config).await;
    let r = s.get("/").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("<title>tvilling</title>"));
    assert_eq!(
        s.get("/nothing-here.js").send().await.unwrap().status(),
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_the_pinned_cesium_build_the_viewer_loads() {
    let build = tvilling_web::config::default_cesium_dir();
    if !build.join("Cesium.js").is_file() {
        eprintln!(
            "SKIPPED serves_the_pinned_cesium_build_the_viewer_loads: {} is missing; run scripts/bootstrap.sh",
            build.display()
        );
        return;
    }
    let s = serve_with(&twin().store, ServerConfig::default()).await;
    let r = s.get("/cesium/Cesium.js").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().len() > 100_000);
    let r = s.get("/cesium/Widgets/widgets.css").send().await.unwrap();
    assert_eq!(r.status(), 200);
    // The viewer at / refers to exactly this path.
    let viewer =
        std::fs::read_to_string(tvilling_web::config::default_viewer_dir().join("index.html"))
            .unwrap();
    assert!(
        viewer.contains("/cesium/"),
        "web/viewer/index.html should load CesiumJS from /cesium/"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_allows_only_configured_origins() {
    let config = ServerConfig {
        cors_origins: vec!["https://karta.example.se".into()],
        ..ServerConfig::default()
    };
    let s = serve_with(&twin().store, config).await;
    let r = s
        .get("/api/datasets")
        .header("origin", "https://karta.example.se")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://karta.example.se"
    );
    let r = s
        .get("/api/datasets")
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_viewer_settings_list_the_configured_base_maps() {
    let s = serve().await;
    let none = json(s.get("/api/viewer").send().await.unwrap()).await;
    assert_eq!(none, serde_json::json!({ "base_layers": [] }));
    let config: ServerConfig = serde_json::from_value(serde_json::json!({
        "base_layers": [{
            "name": "Lantmäteriet topowebb",
            "kind": "wmts",
            "url": "https://maps.lantmateriet.se/open/topowebb-ccby/v1/wmts/token/TOKEN/",
            "layers": "topowebb",
            "tile_matrix_set": "3857",
            "credit": "© Lantmäteriet"
        }]
    }))
    .unwrap();
    let s = serve_with(&twin().store, config).await;
    let doc = json(s.get("/api/viewer").send().await.unwrap()).await;
    let layer = &doc["base_layers"][0];
    assert_eq!(layer["name"], "Lantmäteriet topowebb");
    assert_eq!(layer["kind"], "wmts");
    assert_eq!(layer["tile_matrix_set"], "3857");
    assert_eq!(layer["credit"], "© Lantmäteriet");
}
