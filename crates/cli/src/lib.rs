//! The `tvilling` command line: argument definitions, configuration, and one module per command.
//! This crate is glue: everything it does is a call into `tvilling-core`, `tvilling-ingest` or
//! `tvilling-query`.
//!
//! Exit codes (documented in `--help` and `docs/cli.md`):
//! - 0: success (including "unchanged": an identical source was already ingested)
//! - 1: finished, but some items were rejected; they are listed in the quality report
//! - 2: failed; nothing was committed

pub mod args;
mod commands;
pub mod config;
pub mod logging;
mod output;
mod progress;

use std::process::ExitCode;

use args::{Cli, Command};
use config::Config;

/// Runs a parsed command line.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<ExitCode> {
    let store = tvilling_core::Store::open(&config.store)?;
    match cli.command {
        Command::Ingest(a) => commands::ingest::run(&store, &config, a).await,
        Command::Datasets(a) => commands::datasets::run(&store, a).await,
        Command::Info(a) => commands::info::run(&store, a).await,
        Command::Log(a) => commands::log::run(&store, a).await,
        Command::Export(a) => commands::export::run(&store, a).await,
        Command::Classify(a) => commands::classify::run(&store, a).await,
        Command::Sql(a) => commands::sql::run(&store, &config, a).await,
        Command::Tile(a) => commands::tile::run(&store, &config, a).await,
        Command::Derive(a) => commands::derive::run(&store, &config, a).await,
        Command::Demo(a) => commands::demo::run(&store, &config, a).await,
        Command::Serve(a) => commands::serve::run(&store, &config, a).await,
        Command::Apikey(a) => commands::apikey::run(&store, a),
        Command::Iot(a) => commands::iot::run(&store, &config, a).await,
        Command::Config(a) => commands::config::run(&config, a),
    }
}
