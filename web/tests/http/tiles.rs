//! 3D Tiles: tileset and content with ETag/304, compression, versions, path traversal.

use std::io::Read;

use serde_json::Value;

use crate::util::{json, serve};

/// The content URIs of a tileset.
fn uris(tile: &Value, out: &mut Vec<String>) {
    if let Some(u) = tile.pointer("/content/uri").and_then(Value::as_str) {
        out.push(u.to_string());
    }
    for c in tile["children"].as_array().into_iter().flatten() {
        uris(c, out);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_tileset_and_content_with_etags_and_304() {
    let s = serve().await;
    let r = s.get("/tiles/byggnader/tileset.json").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["cache-control"], "public, no-cache");
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(
        etag.starts_with('"') && etag.ends_with('"'),
        "strong ETag: {etag}"
    );
    let tileset = json(r).await;
    assert_eq!(tileset["asset"]["tilesetVersion"], "1");
    let r = s
        .get("/tiles/byggnader/tileset.json")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);

    let mut list = vec![];
    uris(&tileset["root"], &mut list);
    assert!(!list.is_empty());
    // The URIs are relative to the tileset: they resolve under /tiles/byggnader/.
    let uri = &list[0];
    assert!(
        uri.starts_with("content/") && uri.ends_with(".glb"),
        "{uri}"
    );
    let r = s
        .get(&format!("/tiles/byggnader/{uri}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "model/gltf-binary");
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let glb = r.bytes().await.unwrap();
    assert_eq!(&glb[..4], b"glTF");
    let r = s
        .get(&format!("/tiles/byggnader/{uri}"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
}

#[tokio::test(flavor = "multi_thread")]
async fn compresses_with_gzip_or_brotli_as_accepted() {
    let s = serve().await;
    let plain = s
        .get("/tiles/byggnader/tileset.json")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let r = s
        .get("/tiles/byggnader/tileset.json")
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    assert!(
        r.headers()
            .get_all("vary")
            .iter()
            .any(|v| v.to_str().unwrap().contains("accept-encoding"))
    );
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.ends_with("-gzip\""), "{etag}");
    let zipped = r.bytes().await.unwrap();
    assert!(zipped.len() < plain.len());
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, plain);
    // The coded ETag still revalidates.
    let r = s
        .get("/tiles/byggnader/tileset.json")
        .header("accept-encoding", "gzip")
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    let r = s
        .get("/tiles/byggnader/tileset.json")
        .header("accept-encoding", "gzip, br")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "br");
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_an_older_version_on_request() {
    let s = serve().await;
    let r = s
        .get("/tiles/byggnader/tileset.json?version=0")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(json(r).await["asset"]["tilesetVersion"], "0");
    let r = s
        .get("/tiles/byggnader/tileset.json?version=99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = s
        .get("/tiles/byggnader/tileset.json?version=abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn path_traversal_is_impossible() {
    let s = serve().await;
    let attempts = [
        "/tiles/../Cargo.toml",
        "/tiles/%2e%2e/tileset.json",
        "/tiles/%2E%2E%2F%2E%2E/tileset.json",
        "/tiles/byggnader/content/..%2f_delta_log%2f00000000000000000000.json",
        "/tiles/byggnader/content/%2e%2e%2f%2e%2e%2fhemlig%2f_tiles%2ftileset-v0.json",
        "/tiles/byggnader/content/%2fetc%2fpasswd",
        "/tiles/byggnader/../hemlig/tileset.json",
        "/tiles/byggnader/content/../../../../etc/passwd",
        "/../../../../etc/passwd",
        "/..%2f..%2f..%2fetc%2fpasswd",
        "//etc/passwd",
        "/tiles//etc/passwd/tileset.json",
        "/tiles/byggnader/_tiles/tileset-v1.json",
        "/tiles/byggnader/content/0123456789abcdef.glb",
    ];
    for path in attempts {
        let (status, text) = s.raw_get(path).await;
        assert!(
            status == 400 || status == 404,
            "{path}: status {status}\n{text}"
        );
        assert!(!text.contains("root:"), "{path} leaked /etc/passwd");
        assert!(
            !text.contains("\"commitInfo\""),
            "{path} leaked the Delta log"
        );
        assert!(!text.contains("tilesetVersion"), "{path} leaked a tileset");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn versions_are_listed_newest_first_with_commit_times_and_hidden_like_missing() {
    let s = serve().await;
    let r = s
        .get("/api/datasets/byggnader/versions")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let list = json(r).await;
    let versions: Vec<u64> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    assert_eq!(versions, [1, 0], "{list}");
    let times: Vec<chrono::DateTime<chrono::Utc>> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["timestamp"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times[0] >= times[1], "newest first: {list}");
    assert!(list[0]["operation"].is_string());
    // Restricted and missing datasets answer alike for an anonymous caller.
    let hidden = s.get("/api/datasets/hemlig/versions").send().await.unwrap();
    let missing = s
        .get("/api/datasets/finnsinte/versions")
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404);
    assert_eq!(missing.status(), 404);
    let (h, m) = (json(hidden).await, json(missing).await);
    assert_eq!(
        h["detail"].as_str().unwrap().replace("hemlig", "X"),
        m["detail"].as_str().unwrap().replace("finnsinte", "X")
    );
}
