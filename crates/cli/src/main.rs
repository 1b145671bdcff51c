//! The `tvilling` binary: parse, set up logging, run, and turn the outcome into an exit code.
//! Exit codes: 0 success, 1 finished but some items were rejected (see the quality report),
//! 2 failed with nothing committed (also for usage errors).

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's malloc: under load the server's threads queued on glibc's arena locks,
/// and the tilers and readers allocate many short-lived buffers on every thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = tvilling::args::Cli::parse();
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
