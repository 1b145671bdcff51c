//! End-to-end tests of the `tvilling` binary, one module per area. Each test runs the real binary on its
//! own temporary store. Tests that need the real samples (`../shared/data`, or `$TVILLING_SAMPLES`) print
//! `SKIPPED <test>: …` and pass when the samples are absent; everything else runs on generated fixtures.

// Tests and their helpers assert by panicking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bad_input;
mod bim;
mod cesium;
mod concurrency;
mod config;
mod derive;
mod formats;
mod iot;
mod iot_rollup;
mod pointcloud;
mod samples;
mod serve;
mod sql;
mod tiles;
mod util;
mod versions;
