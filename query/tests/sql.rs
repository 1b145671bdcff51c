//! SQL sessions over real stores: the spatial join against the nested-loop plan and a brute-force
//! reference, time travel, pruning, KNN, safety limits, and an analysis on the real Swedish samples.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tvilling_core::arrow::array::{AsArray, RecordBatch};
use tvilling_core::arrow::datatypes::Int64Type;
use tvilling_query::{Error, QueryOptions, Session};

async fn session(store: &tvilling_core::Store, spatial_join: bool) -> Session {
    Session::open(
        store,
        QueryOptions {
            spatial_join,
            ..Default::default()
        },
    )
    .await
    .expect("session")
}

/// All rows as text, sorted, so two plans can be compared.
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let formatters: Vec<_> = b
            .columns()
            .iter()
            .map(|c| {
                tvilling_core::arrow::util::display::ArrayFormatter::try_new(
                    c.as_ref(),
                    &Default::default(),
                )
                .expect("fmt")
            })
            .collect();
        for r in 0..b.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(r).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    out.sort();
    out
}

fn count(batches: &[RecordBatch]) -> i64 {
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

async fn plan_text(s: &Session, sql: &str) -> String {
    let plan = s.physical_plan(sql).await.expect("plan");
    tvilling_core::datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spatial_joins_match_the_nested_loop_plan() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = common::town_store(dir.path()).await;
    let (indexed, nested) = (session(&store, true).await, session(&store, false).await);
    for sql in [
        "SELECT b.id, v.id FROM byggnader b JOIN vagar v ON ST_DWithin(b.geometry, v.geometry, 25)",
        "SELECT b.id, v.id FROM byggnader b, vagar v WHERE ST_Distance(v.geometry, b.geometry) < 60 AND b.vaningar >= 2",
        "SELECT a.id, b.id FROM byggnader a JOIN byggnader b ON ST_Intersects(a.geometry, ST_Buffer(b.geometry, 5)) AND a.id < b.id",
        "SELECT a.id, b.id FROM byggnader a JOIN byggnader b ON ST_Contains(ST_Buffer(a.geometry, 20), b.geometry)",
        "SELECT a.id, b.id FROM byggnader a JOIN byggnader b ON ST_Within(a.geometry, ST_Buffer(b.geometry, 20))",
    ] {
        assert!(
            plan_text(&indexed, sql).await.contains("SpatialJoinExec"),
            "not an index join: {sql}"
        );
        assert!(!plan_text(&nested, sql).await.contains("SpatialJoinExec"));
        let (a, b) = (
            indexed.sql(sql).await.expect(sql),
            nested.sql(sql).await.expect(sql),
        );
        let (a, b) = (rows(&a), rows(&b));
        assert!(!a.is_empty(), "no rows: {sql}");
        assert_eq!(a, b, "{sql}");
    }
    let explain = indexed
        .sql("EXPLAIN SELECT count(*) FROM byggnader b JOIN vagar v ON ST_DWithin(b.geometry, v.geometry, 50)")
        .await
        .expect("explain");
    assert!(
        rows(&explain)
            .join("\n")
            .contains("SpatialJoinExec: on=st_dwithin"),
        "{:?}",
        rows(&explain)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_at_reads_older_versions_and_knn_finds_neighbours() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = common::town_store(dir.path()).await;
    // Version 1 of byggnader: a smaller town overwrites the first.
    let smaller = dir.path().join("smaller.gpkg");
    tvilling_fixtures::town::generate(
        &smaller,
        &tvilling_fixtures::town::TownSpec {
            buildings: 150,
            seed: 8,
        },
    )
    .expect("town");
    common::ingest(&store, &smaller, "byggnader", Some("byggnader"), None).await;
    let s = session(&store, true).await;
    let count_of = |sql: &'static str| {
        let s = &s;
        async move { count(&s.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))) as usize }
    };
    assert_eq!(
        count_of("SELECT count(*) FROM table_at('byggnader', 0)").await,
        common::BUILDINGS
    );
    assert_eq!(
        count_of("SELECT count(*) FROM table_at('byggnader', 1)").await,
        150
    );
    assert_eq!(count_of("SELECT count(*) FROM byggnader").await, 150);
    assert_eq!(
        count_of("SELECT count(*) FROM table_at('byggnader', '2999-01-01T00:00:00Z')").await,
        150
    );
    // Rows of version 0 that version 1 no longer has.
    assert!(count_of("SELECT count(*) FROM table_at('byggnader', 0) o LEFT JOIN byggnader n ON o.id = n.id WHERE n.id IS NULL").await > 0);
    let err = s
        .sql("SELECT * FROM table_at('byggnader', 99)")
        .await
        .expect_err("no version 99");
    assert!(err.to_string().contains("table_at('byggnader'"), "{err}");
    let err = s
        .sql("SELECT * FROM table_at('byggnader', 'yesterday')")
        .await
        .expect_err("bad time");
    assert!(err.to_string().contains("RFC 3339"), "{err}");

    // k nearest roads of each building, checked against ORDER BY ST_Distance for a few buildings.
    let knn = s
        .sql("SELECT left_id, right_id, distance, rank FROM st_knn('byggnader', 'vagar', 2)")
        .await
        .expect("knn");
    let knn_rows: usize = knn.iter().map(|b| b.num_rows()).sum();
    assert_eq!(knn_rows, 2 * 150);
    for id in rows(
        &s.sql("SELECT id FROM byggnader ORDER BY id LIMIT 5")
            .await
            .expect("ids"),
    ) {
        let brute = s
            .sql(&format!(
                "SELECT round(ST_Distance(b.geometry, v.geometry), 6) FROM byggnader b, vagar v WHERE b.id = '{id}' \
                 ORDER BY ST_Distance(b.geometry, v.geometry) LIMIT 2"
            ))
            .await
            .expect("brute");
        let mine = s
            .sql(&format!("SELECT round(distance, 6) FROM st_knn('byggnader', 'vagar', 2) WHERE left_id = '{id}' ORDER BY rank"))
            .await
            .expect("knn one");
        assert_eq!(rows(&brute), rows(&mine), "building {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_are_read_only_and_limited() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = common::town_store(dir.path()).await;
    let s = session(&store, true).await;
    for sql in [
        "CREATE TABLE x AS SELECT 1",
        "INSERT INTO byggnader SELECT * FROM byggnader",
        "COPY (SELECT 1) TO '/tmp/tvilling-copy.csv'",
        "CREATE EXTERNAL TABLE p STORED AS CSV LOCATION '/etc/passwd'",
        "DROP TABLE byggnader",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let err = s.sql(sql).await.expect_err(sql);
        assert!(matches!(err, Error::ReadOnly(_)), "{sql}: {err}");
    }
    assert!(!Path::new("/tmp/tvilling-copy.csv").exists());
    let err = s
        .sql("SELECT * FROM '/etc/passwd'")
        .await
        .expect_err("paths are not tables");
    assert!(err.to_string().contains("not found"), "{err}");
    let err = s
        .sql("SELECT ST_Buffer(geometry, 'far') FROM byggnader")
        .await
        .expect_err("bad argument");
    assert!(
        err.to_string()
            .contains("ST_Buffer: argument 2 (radius) must be a number"),
        "{err}"
    );

    let slow = Session::open(
        &store,
        QueryOptions {
            timeout: Some(Duration::from_millis(50)),
            ..Default::default()
        },
    )
    .await
    .expect("session");
    let err = slow
        .sql("SELECT count(*) FROM byggnader a, byggnader b, byggnader c WHERE ST_Distance(a.geometry, c.geometry) + ST_Area(b.geometry) > 0")
        .await
        .expect_err("times out");
    assert!(matches!(err, Error::Timeout(_)), "{err}");

    let small = Session::open(
        &store,
        QueryOptions {
            memory_limit: Some(64 * 1024),
            ..Default::default()
        },
    )
    .await
    .expect("session");
    let err = small
        .sql("SELECT a.id, b.id FROM byggnader a CROSS JOIN byggnader b ORDER BY ST_Distance(a.geometry, b.geometry)")
        .await
        .expect_err("memory cap");
    assert!(
        err.to_string()
            .to_lowercase()
            .contains("resources exhausted"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bbox_filters_reach_the_scan() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = common::town_store(dir.path()).await;
    let s = session(&store, true).await;
    let sql = "SELECT count(*) FROM byggnader WHERE ST_Intersects(geometry, ST_MakeEnvelope(513000, 6570000, 513200, 6570200, 3006))";
    let plan = plan_text(&s, sql).await;
    assert!(
        plan.contains("bbox_xmax"),
        "no bbox predicate in the scan:\n{plan}"
    );
    let with = count(&s.sql(sql).await.expect("query"));
    let without = count(
        &s.sql("SELECT count(*) FROM byggnader WHERE ST_Intersects(ST_Force2D(geometry), ST_MakeEnvelope(513000, 6570000, 513200, 6570200, 3006))")
            .await
            .expect("query"),
    );
    assert_eq!(with, without);
    assert!(with > 0);
}

fn samples(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("TVILLING_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    if dir.join("vector").is_dir() {
        Some(dir.join("vector"))
    } else {
        eprintln!(
            "SKIPPED {test}: the real samples (../shared/data or $TVILLING_SAMPLES) are not present"
        );
        None
    }
}

/// Which Gothenburg buildings lie within 50 m of a street ("Gata"), and in which municipality. Expected values
/// were computed with PostGIS 3.3.2 (GEOS 3.11.1) on the same files loaded with ogr2ogr (`-a_srs EPSG:3006`
/// for the municipalities), e.g. `SELECT count(*) FROM byggnader b JOIN vagar v ON ST_DWithin(b.geom, v.geom,
/// 50) AND v."KATEGORI" = 'Gata'` = 56. The index join and the nested-loop plan must both give them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gothenburg_buildings_near_streets_by_municipality() {
    let Some(data) = samples("gothenburg_buildings_near_streets_by_municipality") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let store =
        tvilling_core::Store::open(dir.path().join("s").to_str().expect("path")).expect("store");
    common::ingest(
        &store,
        &data.join("sweden_buildings_by_14/by_14.shp"),
        "byggnader",
        None,
        None,
    )
    .await;
    common::ingest(
        &store,
        &data.join("gothenburg_roads_vl_riks/vl_riks.shp"),
        "vagar",
        None,
        None,
    )
    .await;
    common::ingest(
        &store,
        &data.join("Kommun_Sweref99TM.geojson"),
        "kommuner",
        None,
        Some("EPSG:3006"),
    )
    .await;
    let near = "FROM byggnader b JOIN vagar v ON ST_DWithin(b.geometry, v.geometry, 50) AND v.\"KATEGORI\" = 'Gata'";
    let checks: Vec<(String, Vec<&str>)> = vec![
        (format!("SELECT count(*) {near}"), vec!["56"]),
        // 169 rows share 153 OBJEKT_IDs; tvilling's ids tell the 44 rows apart.
        (format!("SELECT count(DISTINCT b.id), count(DISTINCT b.\"OBJEKT_ID\") {near}"), vec!["44|40"]),
        (
            format!(
                "SELECT k.\"KnNamn\", count(DISTINCT b.\"OBJEKT_ID\") {near} \
                 JOIN kommuner k ON ST_Within(b.geometry, k.geometry) GROUP BY k.\"KnNamn\""
            ),
            vec!["Göteborg|40"],
        ),
        ("SELECT count(*) FROM byggnader b JOIN kommuner k ON ST_Intersects(b.geometry, k.geometry)".into(), vec!["169"]),
        ("SELECT count(*) FROM byggnader b JOIN kommuner k ON ST_Within(b.geometry, k.geometry)".into(), vec!["169"]),
        ("SELECT round(sum(ST_Area(geometry)), 3), count(*) FROM byggnader".into(), vec!["47915.407|169"]),
        (
            "SELECT round(min(ST_Distance(b.geometry, v.geometry)), 6) FROM byggnader b, vagar v WHERE v.\"KATEGORI\" = 'Gata'".into(),
            vec!["0.706308"],
        ),
        (
            "SELECT round(ST_Distance(b.geometry, v.geometry), 6) AS d FROM byggnader b, vagar v \
             WHERE v.\"KATEGORI\" = 'Gata' AND b.\"OBJEKT_ID\" = '002c4e86-7b06-42d1-aa80-a628aab4ccf9' ORDER BY d LIMIT 5"
                .into(),
            vec!["177.109839", "177.109839", "273.886409", "506.070552", "55.661045"],
        ),
        (
            "SELECT \"KnNamn\" FROM kommuner WHERE ST_Intersects(geometry, ST_Point(318200, 6399200, 3006))".into(),
            vec!["Göteborg"],
        ),
    ];
    for spatial_join in [true, false] {
        let s = session(&store, spatial_join).await;
        for (sql, expected) in &checks {
            let got = rows(&s.sql(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}")));
            assert_eq!(&got, expected, "{sql} (spatial join {spatial_join})");
        }
    }
}

/// A dataset of `n` points spread over 10 × 10 km in EPSG:3006 (a fixed pseudo-random sequence), with a
/// property `n` (the feature's number).
async fn scattered_points(store: &tvilling_core::Store, dir: &Path, n: usize) {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut text = String::with_capacity(n * 64);
    for i in 0..n {
        let (x, y) = (
            500_000.0 + next() * 10_000.0,
            6_570_000.0 + next() * 10_000.0,
        );
        text.push_str(&format!(
            "{{\"type\":\"Feature\",\"properties\":{{\"n\":{i}}},\"geometry\":{{\"type\":\"Point\",\"coordinates\":[{x:.3},{y:.3}]}}}}\n"
        ));
    }
    let path = dir.join("punkter.geojsonl");
    std::fs::write(&path, text).expect("write points");
    common::ingest(store, &path, "punkter", None, Some("EPSG:3006")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nearest_k_reads_a_window_and_gives_the_full_scan_answer() {
    let dir = tempfile::tempdir().expect("tmp");
    let store = tvilling_core::Store::open(dir.path().join("store").to_str().expect("utf-8"))
        .expect("store");
    // More than one row group (64 Ki rows), so the store writes the rows in Hilbert order.
    scattered_points(&store, dir.path(), 150_000).await;
    let (indexed, plain) = (session(&store, true).await, session(&store, false).await);
    let queries = [
        "SELECT n, ST_Distance(geometry, ST_Point(505000, 6575000, 3006)) AS d FROM punkter ORDER BY ST_Distance(geometry, ST_Point(505000, 6575000, 3006)) LIMIT 10",
        "SELECT n FROM punkter ORDER BY ST_Distance(ST_Point(500010.5, 6570020, 3006), geometry), n LIMIT 1",
        "SELECT n, ST_Distance(geometry, ST_Point(509000, 6571000, 3006)) AS d FROM punkter WHERE n % 7 = 3 ORDER BY ST_Distance(geometry, ST_Point(509000, 6571000, 3006)) LIMIT 25 OFFSET 5",
        // Far outside the data: the windows grow until they reach it.
        "SELECT n FROM punkter ORDER BY ST_Distance(geometry, ST_Point(700000, 7000000, 3006)) LIMIT 3",
        "SELECT n, ST_Distance(geometry, ST_MakeEnvelope(503000, 6573000, 503100, 6573100, 3006)) AS d FROM punkter ORDER BY d LIMIT 50",
        // A computed geometry has no statistics to prune with: planned as a plain top-k sort.
        "SELECT n FROM punkter ORDER BY ST_Distance(ST_Force2D(geometry), ST_Point(502000, 6572000, 3006)) LIMIT 4",
    ];
    for sql in queries {
        let a = indexed.sql(sql).await.expect("indexed");
        let b = plain.sql(sql).await.expect("plain");
        assert_eq!(rows(&a), rows(&b), "{sql}");
        assert!(!rows(&a).is_empty(), "{sql}");
    }
    let plan = plan_text(&indexed, queries[0]).await;
    assert!(
        plan.contains("st_dwithin"),
        "no window in the plan:\n{plan}"
    );
    assert!(
        plan.contains("bbox_xmax"),
        "the window does not reach the scan:\n{plan}"
    );
    let analyzed = indexed
        .sql(&format!("EXPLAIN ANALYZE {}", queries[0]))
        .await
        .expect("explain analyze");
    // The rows are stored in Hilbert order, so the window meets fewer row groups than there are.
    let text = rows(&analyzed).join("\n");
    let pruning = text
        .split("row_groups_pruned_statistics=")
        .nth(1)
        .and_then(|t| t.split(" matched").next())
        .unwrap_or_default()
        .to_string();
    let numbers: Vec<u64> = pruning
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        matches!(numbers.as_slice(), [total, matched] if matched < total),
        "no row group skipped ({pruning}):\n{text}"
    );
}
