//! `tvilling-benches` holds the benchmark binaries under `benches/` (run with `cargo bench -p
//! tvilling-benches`); results and the commands that produced them are recorded in `benches/RESULTS.md`.
//! This library holds what the binaries share.

pub mod http;

use std::path::PathBuf;

/// Where generated bench inputs are cached between runs: `$CARGO_TARGET_DIR/bench-data` (or
/// `target/bench-data`), created when missing.
///
/// # Errors
///
/// When the folder cannot be created.
pub fn data_dir() -> std::io::Result<PathBuf> {
    let dir = http::target_dir().join("bench-data");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`; 0 where it cannot be read).
pub fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb / 1024)
        .unwrap_or(0)
}
