//! One configuration from file, environment and flags; its schema is checked in.

use crate::util::Env;

#[test]
fn flags_override_environment_override_file() {
    let env = Env::new();
    let cfg = env.path("tvilling.toml");
    std::fs::write(
        &cfg,
        "store = \"from-file\"\nlog_format = \"json\"\n[ingest]\nowner = \"Stadsbyggnad\"\n",
    )
    .unwrap();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tvilling"));
    let out = c
        .args(["--config", cfg.to_str().unwrap(), "config", "print"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("store = \"from-file\""), "{text}");
    assert!(text.contains("owner = \"Stadsbyggnad\""), "{text}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tvilling"))
        .args(["--config", cfg.to_str().unwrap(), "config", "print"])
        .env("TVILLING_STORE", "from-env")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("store = \"from-env\""));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tvilling"))
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "--store",
            "from-flag",
            "config",
            "print",
        ])
        .env("TVILLING_STORE", "from-env")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("store = \"from-flag\""));
}

#[test]
fn unknown_config_keys_are_reported_with_their_name() {
    let env = Env::new();
    let cfg = env.path("bad.toml");
    std::fs::write(&cfg, "stor = \"x\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tvilling"))
        .args(["--config", cfg.to_str().unwrap(), "datasets"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stor") && err.contains("bad.toml"), "{err}");
}

#[test]
fn checked_in_config_schema_matches_the_config_struct() {
    let generated = serde_json::to_string_pretty(&tvilling::config::Config::json_schema()).unwrap();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/config.schema.json");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        checked_in.trim(),
        generated.trim(),
        "schemas/config.schema.json is out of date: run `tvilling config schema > schemas/config.schema.json`"
    );
}
