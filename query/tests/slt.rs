//! Runs the sqllogictest files in `tests/slt/` against a session over a small store, twice: with the R-tree
//! spatial join rule and without it, so both plans must give the same rows. Expected values of the `ST_`
//! functions were computed with PostGIS (see `tests/slt/README.md`).

// A `harness = false` test binary reports its results on stdout.
#![allow(clippy::print_stdout)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use async_trait::async_trait;
use sqllogictest::{DBOutput, DefaultColumnType};
use tvilling_core::arrow::array::{Array, ArrayRef, AsArray};
use tvilling_core::arrow::datatypes::{DataType, Field};
use tvilling_core::arrow::util::display::{ArrayFormatter, FormatOptions};
use tvilling_query::{QueryOptions, Session};

struct Db {
    session: Session,
}

#[derive(Debug)]
struct SqlError(String);
impl std::fmt::Display for SqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SqlError {}

/// One cell as the .slt files spell it: NULL, shortest floats, WKT for geometries.
fn cell(array: &ArrayRef, field: &Field, row: usize) -> Result<String, SqlError> {
    if array.is_null(row) {
        return Ok("NULL".into());
    }
    if tvilling_query::geom::is_geometry(field) {
        let wkb =
            tvilling_query::geom::wkb_array(array, field).map_err(|e| SqlError(e.to_string()))?;
        let g = tvilling_query::shape::Geom::from_wkb(wkb.value(row))
            .map_err(|e| SqlError(e.to_string()))?;
        return Ok(tvilling_query::text::to_wkt(&g));
    }
    Ok(match array.data_type() {
        // + 0.0 turns -0 into 0, as PostgreSQL's numeric rounding prints it.
        DataType::Float64 => format!(
            "{}",
            array
                .as_primitive::<tvilling_core::arrow::datatypes::Float64Type>()
                .value(row)
                + 0.0
        ),
        DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 => {
            let s = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
                .map_err(|e| SqlError(e.to_string()))?
                .value(row)
                .to_string();
            if s.is_empty() { "(empty)".into() } else { s }
        }
        _ => ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())
            .map_err(|e| SqlError(e.to_string()))?
            .value(row)
            .to_string(),
    })
}

#[async_trait]
impl sqllogictest::AsyncDB for Db {
    type Error = SqlError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SqlError> {
        let out = self
            .session
            .query(sql)
            .await
            .map_err(|e| SqlError(e.to_string()))?;
        let mut rows = Vec::new();
        for batch in &out.batches {
            for row in 0..batch.num_rows() {
                let mut r = Vec::with_capacity(batch.num_columns());
                for (c, f) in batch.columns().iter().zip(out.schema.fields()) {
                    r.push(cell(c, f, row)?);
                }
                rows.push(r);
            }
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; out.schema.fields().len()],
            rows,
        })
    }

    async fn shutdown(&mut self) {}

    async fn sleep(dur: Duration) {
        tokio::time::sleep(dur).await;
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "slt"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let only = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::town_store(dir.path()).await;
    let mut failed = Vec::new();
    let files = slt_files();
    assert!(!files.is_empty(), "no .slt files in query/tests/slt");
    for spatial_join in [true, false] {
        for file in &files {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("?")
                .to_string();
            if only.as_deref().is_some_and(|o| !name.contains(o)) {
                continue;
            }
            let store = store.clone();
            let mut runner = sqllogictest::Runner::new(move || {
                let store = store.clone();
                async move {
                    let options = QueryOptions {
                        spatial_join,
                        ..Default::default()
                    };
                    let session = Session::open(&store, options)
                        .await
                        .map_err(|e| SqlError(e.to_string()))?;
                    Ok::<_, SqlError>(Db { session })
                }
            });
            let label = format!(
                "{name} (spatial join {})",
                if spatial_join { "on" } else { "off" }
            );
            // Every record runs, so one report lists all differences of a file.
            let records = sqllogictest::parse_file::<DefaultColumnType>(file).expect("parse slt");
            let mut errors = 0;
            for record in records {
                if let Err(e) = runner.run_async(record).await {
                    errors += 1;
                    println!("{}\n", e.display(false));
                }
            }
            if errors == 0 {
                println!("ok {label}");
            } else {
                println!("FAILED {label}: {errors} records");
                failed.push(label);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} slt runs failed: {failed:?}",
        failed.len()
    );
}
