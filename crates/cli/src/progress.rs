//! Progress for people and for logs: an indicatif bar when stderr is a terminal, otherwise a log line every
//! few seconds (cron jobs and CI logs get progress without control characters).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tvilling_core::progress::Progress;

use crate::args::LogFormat;

/// How often the log-line variant reports.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Progress shown on the terminal or logged.
pub enum CliProgress {
    /// An interactive bar.
    Bar(ProgressBar),
    /// Periodic log lines.
    Log {
        done: AtomicU64,
        total: AtomicU64,
        last: Mutex<Instant>,
        label: Mutex<String>,
    },
}

impl CliProgress {
    /// The right kind for this process's stderr and log format.
    pub fn new(format: LogFormat) -> CliProgress {
        if format == LogFormat::Text && std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} ({per_sec}, {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            CliProgress::Bar(bar)
        } else {
            CliProgress::Log {
                done: AtomicU64::new(0),
                total: AtomicU64::new(0),
                last: Mutex::new(Instant::now()),
                label: Mutex::new(String::new()),
            }
        }
    }
}

impl Progress for CliProgress {
    fn set_length(&self, len: u64) {
        match self {
            CliProgress::Bar(b) => b.set_length(len),
            CliProgress::Log { total, .. } => total.store(len, Ordering::Relaxed),
        }
    }
    fn set_message(&self, msg: &str) {
        match self {
            CliProgress::Bar(b) => b.set_message(msg.to_string()),
            CliProgress::Log { label, done, .. } => {
                if let Ok(mut l) = label.lock() {
                    *l = msg.to_string();
                }
                done.store(0, Ordering::Relaxed);
            }
        }
    }
    fn inc(&self, n: u64) {
        match self {
            CliProgress::Bar(b) => b.inc(n),
            CliProgress::Log {
                done,
                total,
                last,
                label,
            } => {
                let d = done.fetch_add(n, Ordering::Relaxed) + n;
                if let Ok(mut t) = last.lock()
                    && t.elapsed() >= LOG_EVERY
                {
                    *t = Instant::now();
                    let l = label.lock().map(|l| l.clone()).unwrap_or_default();
                    tracing::info!(done = d, total = total.load(Ordering::Relaxed), "{l}");
                }
            }
        }
    }
    fn finish(&self) {
        if let CliProgress::Bar(b) = self {
            b.finish_and_clear();
        }
    }
}
