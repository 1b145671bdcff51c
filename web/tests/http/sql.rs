//! POST /api/sql in every format, and problem details for bad requests.

use crate::util::{json, serve};

#[tokio::test(flavor = "multi_thread")]
async fn answers_in_every_format() {
    let s = serve().await;
    let q = "SELECT id, hojd, geometry FROM byggnader ORDER BY id LIMIT 5";
    let r = s.sql(q, "json").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    assert_eq!(r.headers()["x-tvilling-rows"], "5");
    let rows = json(r).await;
    assert_eq!(rows.as_array().unwrap().len(), 5);
    assert_eq!(rows[0]["geometry"]["type"], "Polygon");

    let r = s.sql(q, "geojson").send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/geo+json");
    let fc = json(r).await;
    assert_eq!(fc["type"], "FeatureCollection");
    assert_eq!(fc["features"].as_array().unwrap().len(), 5);

    let r = s.sql(q, "csv").send().await.unwrap();
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = r.text().await.unwrap();
    assert!(text.starts_with("id,hojd,geometry"), "{text}");
    assert_eq!(text.lines().count(), 6);

    let r = s.sql(q, "arrow").send().await.unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.apache.arrow.stream"
    );
    let bytes = r.bytes().await.unwrap();
    let reader =
        tvilling_core::arrow::ipc::reader::StreamReader::try_new(&bytes[..], None).unwrap();
    let n: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(n, 5);

    let r = s.sql(q, "parquet").send().await.unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.apache.parquet"
    );
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    let reader = parquet::file::reader::SerializedFileReader::new(bytes).unwrap();
    use parquet::file::reader::FileReader;
    let meta = reader.metadata();
    assert_eq!(meta.file_metadata().num_rows(), 5);
    let geo = meta
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .find(|kv| kv.key == "geo")
        .unwrap();
    assert!(
        geo.value
            .as_deref()
            .unwrap()
            .contains("\"primary_column\":\"geometry\"")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_sql_is_a_400_problem() {
    let s = serve().await;
    for (body, needle) in [
        (r#"{"sql": "SELEKT 1"}"#, "SELEKT"),
        (r#"{"sql": "SELECT nope FROM byggnader"}"#, "nope"),
        (r#"{"sql": "DROP TABLE byggnader"}"#, "read-only"),
        (r#"{"sql": "SELECT 1", "format": "xls"}"#, "xls"),
        (r#"{"query": "SELECT 1"}"#, "sql"),
        ("not json", "JSON"),
    ] {
        let r = s
            .client
            .post(format!("{}/api/sql", s.base))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{body}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p = json(r).await;
        assert_eq!(p["status"], 400);
        assert!(
            p["detail"].as_str().unwrap().contains(needle),
            "{body}: {p}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cuts_answers_at_the_row_limit() {
    let config = tvilling_web::ServerConfig {
        sql_row_limit: 7,
        ..Default::default()
    };
    let s = crate::util::serve_with(&crate::util::twin().store, config).await;
    let r = s
        .sql("SELECT id FROM byggnader", "json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-tvilling-rows"], "7");
    assert_eq!(r.headers()["x-tvilling-truncated"], "true");
    assert_eq!(json(r).await.as_array().unwrap().len(), 7);
    let r = s.sql("SELECT 1 AS one", "json").send().await.unwrap();
    assert_eq!(r.headers()["x-tvilling-truncated"], "false");
}
