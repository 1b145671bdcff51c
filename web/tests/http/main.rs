//! Integration tests of the server: each test starts the real server on 127.0.0.1:0 over a temporary store
//! (a generated town, ingested and tiled) and speaks HTTP to it with reqwest, or with raw TCP where a
//! client would normalise the path (traversal attempts).

// Tests and their helpers assert by panicking, and print the measured commit → served delay.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod access;
mod gdal_oapif;
mod iot;
mod iot_tail;
mod live;
mod mqtt;
mod ogc_schemas;
mod ogcapi;
mod oidc;
mod ops;
mod owslib;
mod privacy;
mod replay;
mod sql;
mod sta;
mod tiles;
mod util;
