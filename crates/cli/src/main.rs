//! The `tvilling` binary: parse, set up logging, run, and turn the outcome into an exit code.
//! Exit codes: 0 success, 1 finished but some items were rejected (see the quality report),
//! 2 failed with nothing committed (also for usage errors).

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: under load the server's threads queued on glibc's arena locks,
/// and the tilers and readers allocate many short-lived buffers on every thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its place in `mi_option_e` in mimalloc.h; libmimalloc-sys names
/// no constant for it).
const MI_OPTION_PURGE_DELAY: i32 = 15;

/// For `tvilling tile`, freed memory goes back to the system after 10 ms, the delay mimalloc.h
/// documents, instead of the 1 s that mimalloc 3 ships with. The point tiler frees one bin's buffers
/// and allocates the next one's within that second, so both were resident together: at 100 M points
/// it peaked at 902 MiB with 1 s and 705 MiB with 10 ms, in about the same time. Other commands keep
/// the shipped delay: the ingest ran 1–3 s slower on 20 M points with 10 ms (the kernel zeroing
/// returned pages again), and the server's sensor throughput was measured with it (benches/RESULTS.md).
/// A `MIMALLOC_PURGE_DELAY` set in the environment wins.
fn tune_allocator(command: &tvilling::args::Command) {
    if !matches!(command, tvilling::args::Command::Tile(_))
        || std::env::var_os("MIMALLOC_PURGE_DELAY").is_some()
    {
        return;
    }
    // SAFETY: `mi_option_set` only stores an integer, but it is not thread safe; this runs before the
    // runtime starts, while main is the only thread.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10);
    }
}

fn main() -> ExitCode {
    let cli = tvilling::args::Cli::parse();
    tune_allocator(&cli.command);
    let config = match tvilling::config::Config::load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}", render(&e));
            return ExitCode::from(2);
        }
    };
    tvilling::logging::init(config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(tvilling::run(cli, config)) {
        Ok(code) => code,
        Err(e) => {
            tracing::debug!("{e:?}");
            eprintln!("error: {}", render(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, skipping a cause whose text the message already carries (typed
/// errors embed their source's text, so the plain `{:#}` chain would repeat it).
fn render(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purge_delay() -> std::os::raw::c_long {
        // SAFETY: reads an integer option.
        #[allow(unsafe_code)]
        unsafe {
            libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY)
        }
    }

    #[test]
    fn tile_sets_mimallocs_purge_delay_and_other_commands_do_not() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            eprintln!(
                "skipped: MIMALLOC_PURGE_DELAY is set, and then tvilling leaves the option alone"
            );
            return;
        }
        // mimalloc 3 ships 1000 ms, a default no neighbouring option has: the option number is right.
        assert_eq!(purge_delay(), 1000);
        let before = purge_delay();
        tune_allocator(&tvilling::args::Cli::parse_from(["tvilling", "serve"]).command);
        assert_eq!(purge_delay(), before, "serve keeps the shipped delay");
        tune_allocator(
            &tvilling::args::Cli::parse_from(["tvilling", "tile", "pts", "--out", "t"]).command,
        );
        assert_eq!(purge_delay(), 10);
    }
}
