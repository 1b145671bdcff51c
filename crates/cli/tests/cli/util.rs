//! Helpers shared by the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A temporary store and scratch folder for one test.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }
    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// Runs `tvilling --store <store> args…`.
    pub fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().expect("run tvilling");
        Run { out }
    }
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_tvilling"));
        c.arg("--store")
            .arg(self.store())
            .args(args)
            .env("RUST_LOG", "warn")
            .env_remove("TVILLING_CONFIG")
            .current_dir(self.dir.path());
        c
    }
    /// `tvilling info NAME --format json`.
    pub fn info(&self, name: &str) -> Value {
        self.run(&["info", name, "--format", "json"]).ok().json()
    }
    /// Ingests the `byggnader` layer of a generated town into `dataset`, with extra flags; asserts success.
    pub fn ingest_buildings(&self, town: &Path, dataset: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "ingest",
            town.to_str().unwrap(),
            "--dataset",
            dataset,
            "--layer",
            "byggnader",
        ];
        args.extend(extra);
        self.run(&args).ok()
    }
    /// Exports a dataset as GeoJSON and returns the parsed FeatureCollection.
    pub fn export_geojson(&self, dataset: &str) -> Value {
        let out = self.path(&format!("{dataset}-export.geojson"));
        self.run(&[
            "export",
            dataset,
            "--format",
            "geojson",
            "--out",
            out.to_str().unwrap(),
        ])
        .ok();
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
    }
    /// Generates the sample town with `n` buildings and returns its path.
    pub fn town(&self, file: &str, n: usize, seed: u64) -> PathBuf {
        let p = self.path(file);
        tvilling_fixtures::town::generate(
            &p,
            &tvilling_fixtures::town::TownSpec { buildings: n, seed },
        )
        .expect("town");
        p
    }
}

/// The result of one run.
pub struct Run {
    pub out: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).to_string()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).to_string()
    }
    /// Asserts exit code 0.
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code(),
            0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
    /// Asserts exit code 2 (failed, nothing committed) and that stderr contains every needle.
    pub fn fails_with(self, needles: &[&str]) -> Run {
        assert_eq!(
            self.code(),
            2,
            "expected exit 2\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        let err = self.stderr();
        for n in needles {
            assert!(err.contains(n), "stderr should mention {n:?}:\n{err}");
        }
        assert!(!err.contains("panicked"), "must not panic:\n{err}");
        assert!(!err.contains(" WARN "), "no unexpected warnings:\n{err}");
        self
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout())
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout()))
    }
}

/// The real samples folder, or `None` after printing why the calling test is skipped.
pub fn samples(test: &str) -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("TVILLING_SAMPLES").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")),
    ];
    for c in candidates.into_iter().flatten() {
        if c.join("vector").is_dir() {
            return Some(c);
        }
    }
    eprintln!(
        "SKIPPED {test}: the real samples (../shared/data or $TVILLING_SAMPLES) are not present"
    );
    None
}

/// The EPSG code GDAL identifies for a layer's CRS.
pub fn gdal_epsg(path: &Path) -> Option<i32> {
    use gdal::vector::LayerAccess;
    let ds = gdal::Dataset::open(path).ok()?;
    let layer = ds.layer(0).ok()?;
    let mut srs = layer.spatial_ref()?;
    if srs.auth_code().is_err() {
        srs.auto_identify_epsg().ok()?;
    }
    srs.auth_code().ok()
}

/// GDAL's own feature count of the first layer.
pub fn gdal_count(path: &Path) -> u64 {
    use gdal::vector::LayerAccess;
    let ds = gdal::Dataset::open(path).expect("GDAL opens the file");
    let mut layer = ds.layer(0).expect("layer 0");
    layer.features().count() as u64
}
