//! Access control: a restricted dataset never appears to an anonymous caller — not in listings, tiles or
//! SQL — but does for a key of the right role, and every such read is audited with the key id.

use tvilling_web::auth::Role;

use crate::util::{audit_events, json, key, serve};

fn names(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_callers_never_see_restricted_or_internal_data() {
    let s = serve().await;
    let list = json(s.get("/api/datasets").send().await.unwrap()).await;
    assert_eq!(names(&list), ["byggnader"]);
    let b = &list[0];
    assert_eq!(b["kind"], "vector");
    assert_eq!(b["classification"], "open");
    assert_eq!(b["version"], 1);
    assert_eq!(b["owner"], "Stadsbyggnad");
    assert_eq!(b["tileset"], "/tiles/byggnader/tileset.json");

    for path in [
        "/tiles/hemlig/tileset.json",
        "/tiles/hemlig/tileset.json?version=0",
        "/tiles/intern/tileset.json",
    ] {
        assert_eq!(s.get(path).send().await.unwrap().status(), 404, "{path}");
    }
    // A content file of the restricted dataset, named correctly, is still not served.
    let tileset: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            crate::util::twin()
                .store
                .join("hemlig/_tiles/tileset-v0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let uri = tileset["root"]["content"]["uri"].as_str().unwrap();
    assert_eq!(
        s.get(&format!("/tiles/hemlig/{uri}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    for sql in [
        "SELECT * FROM hemlig",
        "SELECT count(*) FROM intern",
        "SELECT * FROM table_at('hemlig', 0)",
        "SELECT * FROM table_at(concat('hem', 'lig'), 0)",
        "SELECT * FROM st_knn('byggnader', 'hemlig', 1)",
        "SELECT * FROM byggnader WHERE id IN (SELECT id FROM hemlig)",
    ] {
        let r = s.sql(sql, "json").send().await.unwrap();
        assert_eq!(r.status(), 400, "{sql}");
        let p = json(r).await;
        let detail = p["detail"].as_str().unwrap().to_lowercase();
        assert!(
            detail.contains("not found")
                || detail.contains("does not exist")
                || detail.contains("in quotes"),
            "{sql}: {detail}"
        );
    }
    let tables = s
        .sql("SELECT table_name FROM information_schema.tables", "csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(tables.contains("byggnader"));
    assert!(
        !tables.contains("hemlig") && !tables.contains("intern"),
        "{tables}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_see_what_their_role_allows_and_reads_are_audited() {
    let s = serve().await;
    let (internal, _) = key(Role::ReaderInternal);
    let (restricted, restricted_id) = key(Role::ReaderRestricted);
    // The server notices new keys within a poll interval.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    let list = json(
        s.get("/api/datasets")
            .bearer_auth(&internal)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(names(&list), ["byggnader", "intern"]);
    let r = s
        .sql("SELECT count(*) AS n FROM hemlig", "json")
        .header("x-api-key", &internal)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    let list = json(
        s.get("/api/datasets")
            .header("x-api-key", &restricted)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(names(&list), ["byggnader", "hemlig", "intern"]);
    let r = s
        .sql("SELECT count(*) AS n FROM hemlig", "json")
        .bearer_auth(&restricted)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(json(r).await[0]["n"], 40);
    let r = s
        .get("/tiles/hemlig/tileset.json")
        .bearer_auth(&restricted)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, no-cache");

    let events = audit_events();
    for access in ["sql", "tiles"] {
        assert!(
            events
                .iter()
                .any(|(k, d, a)| k == &restricted_id && d == "hemlig" && a == access),
            "no audit event for {access}: {events:?}"
        );
    }

    let r = s
        .get("/api/datasets")
        .bearer_auth("tvk_000000000000_bad")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}
