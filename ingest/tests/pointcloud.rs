//! The point-cloud reader against an independent reader: every real sample in ../shared/data/pointcloud
//! must give the point count, bounds, classification histogram and first/last points (found by their
//! `id`, the file record number) that laspy gives (`ingest/tests/expected/pointcloud.json`, made by
//! `tools/expected/pointcloud_expected.py`). Bad input must fail with a message naming the file.

// Tests assert by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tvilling_core::arrow::array::{Array, AsArray, RecordBatch};
use tvilling_core::arrow::datatypes::{Float32Type, Float64Type, Int16Type, Int32Type, Int64Type};
use tvilling_core::crs::Crs;
use tvilling_core::progress::NoProgress;
use tvilling_ingest::pointcloud::{PointCloudReader, SortPlan};
use tvilling_ingest::{Batches, Error, ReadOptions, ReadOutput, SourceReader};

fn samples(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/pointcloud");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED {test}: the real samples in ../shared/data/pointcloud are not present ({})",
            dir.display()
        );
        None
    }
}

fn expected() -> Value {
    let text = include_str!("expected/pointcloud.json");
    serde_json::from_str(text).expect("the expected-values file is valid JSON (checked in)")
}

fn read(reader: &PointCloudReader, path: &Path, crs: Option<&str>) -> Result<ReadOutput, Error> {
    let opts = ReadOptions {
        crs: crs.map(|c| c.parse::<Crs>().expect("test CRS parses")),
        ..ReadOptions::default()
    };
    let mut out = reader.read(path, &opts, &NoProgress)?;
    assert_eq!(out.len(), 1);
    Ok(out.remove(0))
}

fn collect(out: ReadOutput) -> (ReadOutput, Vec<RecordBatch>) {
    let mut out = out;
    let batches = match std::mem::replace(&mut out.batches, Batches::InMemory(vec![])) {
        Batches::Streamed { batches, .. } => batches
            .collect::<Result<Vec<_>, _>>()
            .expect("every batch converts"),
        Batches::InMemory(b) => b,
    };
    (out, batches)
}

/// The row with `id` as JSON-comparable values.
fn row(batches: &[RecordBatch], id: &str) -> BTreeMap<String, Value> {
    for b in batches {
        let ids = b
            .column_by_name("id")
            .expect("id column")
            .as_string::<i32>();
        let Some(i) = (0..b.num_rows()).find(|&i| ids.value(i) == id) else {
            continue;
        };
        let mut m = BTreeMap::new();
        for (f, c) in b.schema().fields().iter().zip(b.columns()) {
            let v = if c.is_null(i) {
                Value::Null
            } else if let Some(a) = c.as_primitive_opt::<Float64Type>() {
                Value::from(a.value(i))
            } else if let Some(a) = c.as_primitive_opt::<Float32Type>() {
                Value::from(f64::from(a.value(i)))
            } else if let Some(a) = c.as_primitive_opt::<Int16Type>() {
                Value::from(a.value(i))
            } else if let Some(a) = c.as_primitive_opt::<Int32Type>() {
                Value::from(a.value(i))
            } else if let Some(a) = c.as_primitive_opt::<Int64Type>() {
                Value::from(a.value(i))
            } else {
                continue;
            };
            m.insert(f.name().clone(), v);
        }
        return m;
    }
    panic!("no row with id {id}");
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn every_sample_matches_laspy() {
    let Some(dir) = samples("every_sample_matches_laspy") else {
        return;
    };
    let exp = expected();
    let files = exp["files"].as_object().expect("files object");
    assert_eq!(files.len(), 10, "the expected file covers all ten samples");
    for (name, e) in files {
        let path = dir.join(name);
        let out = read(&PointCloudReader::default(), &path, e["crs_arg"].as_str())
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(
            out.crs.to_string(),
            e["crs"].as_str().unwrap_or(""),
            "{name} CRS"
        );
        let n = e["point_count"].as_u64().unwrap_or(0);
        assert_eq!(out.batches.rows(), n, "{name} rows");
        let q = out.quality.clone();
        assert_eq!(q.completeness.features_read, n, "{name}");
        assert_eq!(
            q.content["classification_counts"], e["classification_counts"],
            "{name} classes"
        );
        let xy = e["xy_factor"].as_f64().unwrap_or(1.0);
        let zf = e["z_factor"].as_f64().unwrap_or(1.0);
        let ext = q.positional.extent.expect("extent");
        let z = q.positional.z_range.expect("z range");
        let min: Vec<f64> = e["min"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .collect();
        let max: Vec<f64> = e["max"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_f64)
            .collect();
        let tol = 1e-6 * (1.0 + min[0].abs());
        assert!(
            close(ext[0], min[0] * xy, tol) && close(ext[1], min[1] * xy, tol),
            "{name} min {ext:?} vs {min:?}"
        );
        assert!(
            close(ext[2], max[0] * xy, tol) && close(ext[3], max[1] * xy, tol),
            "{name} max {ext:?} vs {max:?}"
        );
        assert!(
            close(z[0], min[2] * zf, 1e-6) && close(z[1], max[2] * zf, 1e-6),
            "{name} z {z:?}"
        );

        let (out, batches) = collect(out);
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows as u64, n, "{name} streamed rows");
        assert_eq!(batches[0].schema(), out.schema, "{name} schema");
        for b in &batches {
            assert!(b.num_rows() <= SortPlan::default().batch_rows);
        }
        let extra: Vec<&str> = e["extra_dimensions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        // laspy's name → the column (laspy reads only the first Extra Bytes VLR; see the script).
        let column_of = |d: &str| e["extra_columns"][d].as_str().unwrap_or(d).to_string();
        for d in &extra {
            let c = column_of(d);
            assert!(
                out.schema.field_with_name(&c).is_ok(),
                "{name}: extra dimension {c} is a column"
            );
        }
        for (which, id) in [("first", "0".to_string()), ("last", (n - 1).to_string())] {
            let got = row(&batches, &id);
            let want = e[which].as_object().expect("point object");
            for (k, v) in want {
                let (col, f) = match k.as_str() {
                    "x" | "y" => (k.as_str(), xy),
                    "z" => ("z", zf),
                    _ => (k.as_str(), 1.0),
                };
                let col = match col.strip_prefix("extra:") {
                    Some(d) => column_of(d),
                    None => col.to_string(),
                };
                let col = col.as_str();
                let g = got
                    .get(col)
                    .unwrap_or_else(|| panic!("{name}: no column {col}"));
                // A descriptor's no-data value becomes null (laspy keeps the number).
                if e["extra_no_data"][col]
                    .as_f64()
                    .is_some_and(|nd| Some(nd) == v.as_f64())
                {
                    assert_eq!(g, &Value::Null, "{name} {which} point {col} is no-data");
                    continue;
                }
                match (v.as_f64(), g.as_f64()) {
                    (Some(w), Some(g)) => assert!(
                        close(g, w * f, 1e-6 * (1.0 + w.abs())),
                        "{name} {which} point {col}: {g} vs laspy {w}"
                    ),
                    _ => assert_eq!(v, g, "{name} {which} point {col}"),
                }
            }
        }
    }
}

#[test]
fn spill_file_sort_gives_the_in_memory_order() {
    let Some(dir) = samples("spill_file_sort_gives_the_in_memory_order") else {
        return;
    };
    let path = dir.join("autzen_trim.laz");
    let ids = |reader: PointCloudReader| -> Vec<String> {
        let (_, batches) = collect(read(&reader, &path, Some("EPSG:2994")).expect("reads"));
        batches
            .iter()
            .flat_map(|b| {
                let a = b
                    .column_by_name("id")
                    .expect("id")
                    .as_string::<i32>()
                    .clone();
                (0..a.len()).map(move |i| a.value(i).to_string())
            })
            .collect()
    };
    let in_memory = ids(PointCloudReader::default());
    // A spill file, buffers flushed every ~1000 points, groups of ~5000 points, small batches.
    let tiny = SortPlan {
        in_memory_points: 1000,
        buffer_bytes: 40_000,
        group_points: 5000,
        batch_rows: 4096,
    };
    let spilled = ids(PointCloudReader::with_plan(tiny));
    assert_eq!(in_memory.len(), 110_000);
    assert_eq!(in_memory, spilled);
    let mut sorted = in_memory.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 110_000, "every point once");
    assert_ne!(
        in_memory[..100],
        (0..100).map(|i| i.to_string()).collect::<Vec<_>>()[..],
        "sorted, not file order"
    );
}

#[test]
fn refuses_files_without_a_usable_crs() {
    let Some(dir) = samples("refuses_files_without_a_usable_crs") else {
        return;
    };
    for (file, says) in [
        ("ahn3_cropped_2.laz", "no CRS record"),
        ("lone-star.copc.laz", "geocentric"),
        ("autzen_trim.las", "no EPSG code"),
    ] {
        match read(&PointCloudReader::default(), &dir.join(file), None) {
            Err(e @ Error::MissingCrs { .. }) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(file) && msg.contains("--crs") && msg.contains(says),
                    "{msg}"
                );
            }
            other => panic!(
                "{file}: expected MissingCrs, got {:?}",
                other.map(|o| o.crs)
            ),
        }
    }
}

#[test]
fn mvk_thin_feet_become_metres_with_a_note() {
    let Some(dir) = samples("mvk_thin_feet_become_metres_with_a_note") else {
        return;
    };
    let out = read(
        &PointCloudReader::default(),
        &dir.join("mvk-thin.las"),
        None,
    )
    .expect("reads");
    assert_eq!(out.crs.to_string(), "EPSG:26995");
    let notes = out.quality.positional.notes.join("\n");
    assert!(
        notes.contains("US survey foot") && notes.contains("ProjLinearUnitsGeoKey"),
        "{notes}"
    );
    assert_eq!(out.quality.positional.within_crs_area_of_use, Some(true));
    // With --crs the numbers stay as they are: the user said what they are.
    let out = read(
        &PointCloudReader::default(),
        &dir.join("mvk-thin.las"),
        Some("EPSG:2255"),
    )
    .expect("reads");
    assert_eq!(out.quality.positional.crs_source, "--crs");
    assert!(
        out.quality
            .positional
            .extent
            .is_some_and(|e| e[0] > 2_000_000.0)
    );
}

/// A small valid LAS file written with the las crate: 10 points on a line.
fn write_las(path: &Path) {
    let mut b = las::Builder::from((1, 2));
    b.point_format = las::point::Format::new(1).expect("format 1");
    let header = b.into_header().expect("header");
    let mut w = las::Writer::from_path(path, header).expect("writer");
    for i in 0..10 {
        let p = las::Point {
            x: 1000.0 + f64::from(i),
            y: 2000.0,
            z: 3.0,
            gps_time: Some(1.0),
            ..Default::default()
        };
        w.write_point(p).expect("write point");
    }
    w.close().expect("close");
}

fn bad_input(path: &Path) -> String {
    let err = read(&PointCloudReader::default(), path, Some("EPSG:3006"))
        .map(|o| o.crs)
        .expect_err("bad input is refused");
    assert!(
        err.is_bad_input() || matches!(err, Error::Io { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "names the file: {msg}"
    );
    msg
}

#[test]
fn rejects_bad_files_with_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.las");
    write_las(&good);
    let bytes = std::fs::read(&good).expect("read back");
    assert!(read(&PointCloudReader::default(), &good, Some("EPSG:3006")).is_ok());

    let empty = dir.path().join("empty.las");
    std::fs::write(&empty, b"").expect("write");
    assert!(bad_input(&empty).contains("truncated or empty"));

    let not_las = dir.path().join("notes.las");
    std::fs::write(
        &not_las,
        b"hello, this is not a point cloud at all, just some text\n".repeat(10),
    )
    .expect("write");
    assert!(bad_input(&not_las).contains("not a LAS/LAZ file"));

    let truncated = dir.path().join("truncated.las");
    std::fs::write(&truncated, &bytes[..bytes.len() - 40]).expect("write");
    let msg = bad_input(&truncated);
    assert!(
        msg.contains("truncated") || msg.contains("ends early"),
        "{msg}"
    );

    let absurd = dir.path().join("absurd.las");
    let mut b = bytes.clone();
    b[131..139].copy_from_slice(&0.0f64.to_le_bytes());
    std::fs::write(&absurd, &b).expect("write");
    assert!(bad_input(&absurd).contains("scale"));
}

#[test]
fn rejects_a_truncated_laz() {
    let Some(dir) = samples("rejects_a_truncated_laz") else {
        return;
    };
    let bytes = std::fs::read(dir.join("autzen_trim.laz")).expect("read");
    let tmp = tempfile::tempdir().expect("tempdir");
    let cut = tmp.path().join("cut.laz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let reader = PointCloudReader::default();
    let opts = ReadOptions {
        crs: Some(Crs::epsg(2994, None)),
        ..ReadOptions::default()
    };
    let err = reader
        .read(&cut, &opts, &NoProgress)
        .map(|_| ())
        .expect_err("a truncated LAZ is refused");
    assert!(err.to_string().contains("cut.laz"), "{err}");
}
