//! `tvilling config`.

use std::process::ExitCode;

use crate::args::{ConfigArgs, ConfigWhat};
use crate::config::Config;
use crate::output;

pub fn run(config: &Config, a: ConfigArgs) -> anyhow::Result<ExitCode> {
    match a.what {
        ConfigWhat::Print => output::line(toml::to_string_pretty(config)?.trim_end())?,
        ConfigWhat::Schema => output::json(&Config::json_schema())?,
    }
    Ok(ExitCode::SUCCESS)
}
