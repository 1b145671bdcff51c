//! The one configuration struct. Sources, lowest to highest precedence: built-in defaults, the config file
//! (`--config FILE`, `$TVILLING_CONFIG`, else `./tvilling.toml` when present), environment variables
//! (`TVILLING_*`, read by clap), command-line flags. `tvilling config print` shows the result and
//! `tvilling config schema` the JSON Schema (checked in as `schemas/config.schema.json`).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use tvilling_core::Classification;
use tvilling_core::store::DEFAULT_STORE;

use crate::args::{Cli, LogFormat};

/// The config file name looked for in the working directory.
pub const DEFAULT_CONFIG_FILE: &str = "tvilling.toml";

/// tvilling's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Store root folder or file:// URL.
    pub store: String,
    /// Log line format on stderr: "text" or "json".
    pub log_format: LogFormat,
    /// Defaults for `tvilling ingest`.
    pub ingest: IngestDefaults,
    /// Limits for `tvilling sql` (and `POST /api/sql` of `tvilling serve`).
    pub query: QueryDefaults,
    /// `tvilling serve`: address, CORS, limits, access control.
    pub server: tvilling_web::ServerConfig,
    /// Sensor collections: retention and roll-ups (`tvilling iot rollup`).
    pub iot: IotDefaults,
}

/// `[iot]`: what `tvilling iot rollup` keeps.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IotDefaults {
    /// How long readings and roll-ups are kept.
    pub retention: RetentionConfig,
}

/// `[iot.retention]`. Days; a missing entry keeps data forever.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Raw readings of every Datastream without an entry in `datastreams`.
    pub raw_days: Option<u32>,
    /// Raw readings per Datastream, by @iot.id or Datastream key, e.g. { "lgh:1102:el" = 7, "12" = 30 }.
    pub datastreams: std::collections::BTreeMap<String, u32>,
    /// Minute roll-ups.
    pub minute_days: Option<u32>,
    /// Hour roll-ups.
    pub hour_days: Option<u32>,
    /// Day roll-ups.
    pub day_days: Option<u32>,
}

/// Limits on SQL statements.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct QueryDefaults {
    /// Cancel a statement after this many seconds (default: no limit).
    pub timeout_seconds: Option<u64>,
    /// Memory cap for sorts, joins and aggregates, e.g. "2GiB" (default: no cap).
    pub memory_limit: Option<String>,
}

/// Defaults applied to new datasets unless the command line says otherwise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct IngestDefaults {
    /// Classification of new datasets: "open", "internal" or "restricted" (default "internal").
    pub classification: Option<String>,
    /// Owner recorded on new datasets.
    pub owner: Option<String>,
    /// Licence recorded on new datasets.
    pub licence: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            store: DEFAULT_STORE.to_string(),
            log_format: LogFormat::Text,
            ingest: IngestDefaults::default(),
            query: QueryDefaults::default(),
            server: tvilling_web::ServerConfig::default(),
            iot: IotDefaults::default(),
        }
    }
}

impl Config {
    /// Reads the config file (if any) and overlays the command line (flags and `TVILLING_*` variables).
    pub fn load(cli: &Cli) -> anyhow::Result<Config> {
        let file = match &cli.config {
            Some(p) => Some(p.clone()),
            None => Some(PathBuf::from(DEFAULT_CONFIG_FILE)).filter(|p| p.is_file()),
        };
        let mut config = match &file {
            Some(path) => Config::from_file(path)?,
            None => Config::default(),
        };
        if let Some(s) = &cli.store {
            config.store = s.clone();
        }
        if let Some(f) = cli.log_format {
            config.log_format = f;
        }
        config.validate()?;
        Ok(config)
    }

    /// Parses a config file; unknown keys are errors that name the key and its line.
    pub fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("config file {} is not valid", path.display()))
    }

    fn validate(&self) -> anyhow::Result<()> {
        if let Some(c) = &self.ingest.classification
            && c.parse::<Classification>().is_err()
        {
            bail!(
                "config: ingest.classification = '{c}' is not valid; use open, internal or restricted"
            );
        }
        if let Some(m) = &self.query.memory_limit {
            parse_size(m).with_context(|| format!("config: query.memory_limit = '{m}'"))?;
        }
        Ok(())
    }

    /// The JSON Schema of the config file.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Config)).unwrap_or_default()
    }
}

/// A size like `2GiB`, `512MiB`, `1.5G` or `1000000` (bytes).
pub fn parse_size(text: &str) -> anyhow::Result<usize> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .with_context(|| format!("'{text}' is not a size; write e.g. 2GiB or 512MiB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tb" | "tib" => 1024.0_f64.powi(4),
        other => bail!("'{text}': unknown unit '{other}'; use B, KiB, MiB, GiB or TiB"),
    };
    Ok((n * scale) as usize)
}
