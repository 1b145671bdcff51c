//! `tvilling serve`: merges the `[server]` config with the flags and runs `tvilling-web` until SIGINT or
//! SIGTERM. The binary wires in what the server must not link itself: GDAL's PROJJSON for GeoParquet
//! answers (through `tvilling-ingest`).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tvilling_core::Store;
use tvilling_web::{ServeOptions, Server};

use crate::args::ServeArgs;
use crate::config::{Config, parse_size};

pub async fn run(store: &Store, config: &Config, a: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut server = config.server.clone();
    if let Some(addr) = a.addr {
        server.addr = addr;
    }
    if let Some(dir) = a.viewer {
        server.viewer_dir = Some(dir);
    }
    if let Some(name) = a.iot_collection {
        server.iot.collection = name;
    }
    if let Some(url) = a.mqtt {
        server.iot.mqtt.get_or_insert_with(Default::default).url = url;
    }
    if let Some(seconds) = a.replay_sensors {
        server.iot.replay_seconds = Some(seconds);
    }
    let mut options = ServeOptions::new(server);
    if let Some(s) = config.query.timeout_seconds {
        options.sql_timeout = Duration::from_secs(s.max(1));
    }
    options.memory_limit = config
        .query
        .memory_limit
        .as_deref()
        .map(parse_size)
        .transpose()
        .context("config: query.memory_limit")?;
    options.projjson = Some(Arc::new(|crs: &str| {
        tvilling_ingest::export::projjson(crs).ok()
    }));
    let server = Server::bind(store.clone(), options).await?;
    server.run(tvilling_web::shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}
