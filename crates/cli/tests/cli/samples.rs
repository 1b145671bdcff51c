//! Every real vector sample: ingest, compare with GDAL's own reading, export to every format and read the
//! export back through GDAL (GeoParquet through the Parquet reader, since Debian's GDAL 3.6 has no Parquet
//! driver).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gdal::vector::{FieldValue, LayerAccess};
use tvilling_ingest::vector::field_value;

use crate::util::{Env, gdal_count, gdal_epsg, samples};

/// Samples whose files declare no CRS, with the CRS their publisher documents (shared/data/SOURCES.md).
const DOCUMENTED_CRS: &[(&str, &str)] = &[("Kommun_Sweref99TM.geojson", "EPSG:3006")];

fn vector_sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).expect("list samples") {
        let p = e.expect("entry").path();
        if p.is_dir() {
            let shp = std::fs::read_dir(&p)
                .expect("list")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .find(|f| f.extension().is_some_and(|x| x == "shp"));
            out.push(shp.expect("a shapefile in each sample folder"));
        } else if p.extension().is_some_and(|x| x != "md") {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn dataset_for(p: &Path) -> String {
    tvilling_core::DatasetName::sanitize(&p.file_stem().expect("stem").to_string_lossy())
        .to_string()
}

#[test]
fn ingests_every_vector_sample_with_gdals_counts_and_crs() {
    let Some(samples) = samples("ingests_every_vector_sample_with_gdals_counts_and_crs") else {
        return;
    };
    let env = Env::new();
    let sources = vector_sources(&samples.join("vector"));
    assert!(
        sources.len() >= 7,
        "expected the seven vector samples, found {sources:?}"
    );
    for src in &sources {
        let file = src.file_name().expect("name").to_string_lossy().to_string();
        let name = dataset_for(src);
        let documented = DOCUMENTED_CRS
            .iter()
            .find(|(f, _)| *f == file)
            .map(|(_, c)| *c);
        let mut args = vec!["ingest", src.to_str().expect("utf8"), "--dataset", &name];
        if let Some(crs) = documented {
            // Without the CRS the ingest must refuse and say how to fix it.
            env.run(&args)
                .fails_with(&["--crs", "not longitude/latitude"]);
            args.extend(["--crs", crs]);
        }
        env.run(&args).ok();
        let info = env.info(&name);
        assert_eq!(
            info["rows"].as_u64(),
            Some(gdal_count(src)),
            "{file}: row count vs GDAL"
        );
        let want_crs = match documented {
            Some(c) => c.to_string(),
            None => format!(
                "EPSG:{}",
                gdal_epsg(src).expect("GDAL identifies the sample's CRS")
            ),
        };
        assert_eq!(info["crs"], want_crs, "{file}: CRS vs GDAL");
        assert_eq!(info["version"], 0);
        assert!(info["extent"].is_array(), "{file}: extent");
        assert_eq!(
            info["last_provenance"]["source_uri"]
                .as_str()
                .map(|u| u.ends_with(&file)),
            Some(true)
        );
        assert_eq!(
            info["last_quality"]["completeness"]["features_read"].as_u64(),
            Some(gdal_count(src))
        );
    }
    // Lantmäteriet's footprints carry 153 distinct OBJEKT_IDs over 169 parts: the quality report says so
    // when that column is the id.
    let by14 = samples.join("vector/sweden_buildings_by_14/by_14.shp");
    env.run(&[
        "ingest",
        by14.to_str().expect("utf8"),
        "--dataset",
        "by14_keyed",
        "--id-column",
        "OBJEKT_ID",
    ])
    .ok();
    let q = &env.info("by14_keyed")["last_quality"]["logical_consistency"];
    assert_eq!(q["duplicate_ids"].as_u64(), Some(169 - 153), "{q}");
}

#[test]
fn exports_of_every_sample_read_back_through_gdal_unchanged() {
    let Some(samples) = samples("exports_of_every_sample_read_back_through_gdal_unchanged") else {
        return;
    };
    let env = Env::new();
    for src in vector_sources(&samples.join("vector")) {
        let file = src.file_name().expect("name").to_string_lossy().to_string();
        let name = dataset_for(&src);
        let mut args = vec!["ingest", src.to_str().expect("utf8"), "--dataset", &name];
        if let Some((_, crs)) = DOCUMENTED_CRS.iter().find(|(f, _)| *f == file) {
            args.extend(["--crs", crs]);
        }
        env.run(&args).ok();
        let want = attribute_rows(&src);
        for (format, ext) in [("gpkg", "gpkg"), ("geojson", "geojson"), ("fgb", "fgb")] {
            let out = env.path(&format!("{name}.{ext}"));
            env.run(&[
                "export",
                &name,
                "--format",
                format,
                "--out",
                out.to_str().expect("utf8"),
            ])
            .ok();
            assert_eq!(
                gdal_count(&out),
                want.len() as u64,
                "{file} → {format}: count"
            );
            assert_eq!(
                attribute_rows_like(&out, &src),
                want,
                "{file} → {format}: attributes"
            );
            let sum = std::fs::read_to_string(format!("{}.sha256", out.display()))
                .expect("checksum file");
            assert!(sum.ends_with(&format!("  {name}.{ext}\n")), "{sum}");
        }
        let pq = env.path(&format!("{name}.parquet"));
        env.run(&[
            "export",
            &name,
            "--format",
            "geoparquet",
            "--out",
            pq.to_str().expect("utf8"),
        ])
        .ok();
        check_geoparquet(&pq, want.len());
    }
}

/// Each feature's attribute values as normalised text, sorted (exports need not keep feature order).
fn attribute_rows(path: &Path) -> Vec<String> {
    attribute_rows_like(path, path)
}

/// Like [`attribute_rows`], for the fields of `reference` that `path` also has.
fn attribute_rows_like(path: &Path, reference: &Path) -> Vec<String> {
    let ref_ds = gdal::Dataset::open(reference).expect("open reference");
    let ref_layer = ref_ds.layer(0).expect("layer");
    let names: Vec<String> = ref_layer
        .defn()
        .fields()
        .map(|f| f.name())
        .filter(|n| !n.eq_ignore_ascii_case("id"))
        .collect();
    let ds = gdal::Dataset::open(path).expect("open export");
    let mut layer = ds.layer(0).expect("layer");
    let idx: BTreeMap<String, usize> = layer
        .defn()
        .fields()
        .enumerate()
        .map(|(i, f)| (f.name(), i))
        .collect();
    let mut rows: Vec<String> = layer
        .features()
        .map(|f| {
            names
                .iter()
                // GDAL's GeoJSON reader creates no field that is null in every feature.
                .map(|n| {
                    idx.get(n)
                        .map_or_else(|| norm(None), |&i| norm(field_value(&f, i)))
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect();
    rows.sort();
    rows
}

/// A value as comparable text. GeoJSON has no date type, so GDAL's GeoJSON reader recognises date-like
/// strings as dates: dates and date-times are compared in one canonical form whatever type carries them.
fn norm(v: Option<FieldValue>) -> String {
    match v {
        None => "∅".into(),
        Some(FieldValue::RealValue(x)) => format!("{:.9e}", x),
        Some(FieldValue::IntegerValue(x)) => x.to_string(),
        Some(FieldValue::Integer64Value(x)) => x.to_string(),
        Some(FieldValue::StringValue(s)) => {
            let formats = [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y/%m/%d %H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%d %H:%M",
                "%Y/%m/%d %H:%M",
            ];
            if let Some(t) = formats
                .iter()
                .find_map(|f| chrono::NaiveDateTime::parse_from_str(&s, f).ok())
            {
                return t.format("%Y-%m-%dT%H:%M:%S").to_string();
            }
            if let Ok(d) = chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .or_else(|_| chrono::NaiveDate::parse_from_str(&s, "%Y/%m/%d"))
            {
                return d.to_string();
            }
            s
        }
        Some(FieldValue::DateValue(d)) => d.to_string(),
        Some(FieldValue::DateTimeValue(d)) => d.naive_utc().format("%Y-%m-%dT%H:%M:%S").to_string(),
        Some(other) => format!("{other:?}"),
    }
}

fn check_geoparquet(path: &Path, rows: usize) {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(path).expect("open parquet");
    let reader = SerializedFileReader::new(file).expect("parquet reader");
    let meta = reader.metadata().file_metadata();
    assert_eq!(meta.num_rows() as usize, rows, "{}: rows", path.display());
    let geo = meta
        .key_value_metadata()
        .and_then(|kv| {
            kv.iter()
                .find(|k| k.key == "geo")
                .and_then(|k| k.value.clone())
        })
        .expect("geo metadata");
    let geo: serde_json::Value = serde_json::from_str(&geo).expect("geo is JSON");
    assert_eq!(geo["version"], "1.1.0");
    assert_eq!(geo["primary_column"], "geometry");
    assert_eq!(geo["columns"]["geometry"]["encoding"], "WKB");
    assert_eq!(
        geo["columns"]["geometry"]["covering"]["bbox"]["xmin"][0],
        "bbox"
    );
    assert!(
        geo["columns"]["geometry"]["crs"]["id"]["code"].is_number(),
        "PROJJSON crs with an EPSG id: {geo}"
    );
    let schema = meta.schema_descr();
    assert!(
        schema
            .columns()
            .iter()
            .any(|c| c.path().string() == "bbox.xmin"),
        "bbox covering column"
    );
}
