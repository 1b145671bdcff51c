//! The background flush of the IoT write-ahead log ([`super::hub`]), on a thread of its own at a lower CPU
//! priority.
//!
//! A flush encodes and writes Parquet for up to a few seconds (and every 60th also packs the files). On
//! the request threads it held up every request queued behind it; on the shared workers it still took
//! half the CPU from the requests. At nice 10 it runs when the request threads leave CPU free, and the
//! readings wait in the log meanwhile, durable already. A read of the observations flushes at once on the
//! reader's own thread, and so does shutdown.
#![allow(unsafe_code)] // setpriority(2): neither std nor the crates in use wrap it.

use std::thread::JoinHandle;

use tokio::sync::watch;
use tvilling_core::Store;

use super::hub::IotHub;

/// How much less the flusher's thread counts for the scheduler than a request thread.
const NICE: libc::c_int = 10;

/// The running flusher.
pub(crate) struct Flusher {
    stop: watch::Sender<bool>,
    thread: JoinHandle<()>,
}

impl Flusher {
    /// Starts flushing `hub`'s log to `store` by its flush policy.
    pub fn start(hub: IotHub, store: Store) -> std::io::Result<Flusher> {
        let (stop, stopped) = watch::channel(false);
        // A runtime of its own (one worker; its blocking threads inherit nothing, so each lowers itself).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("tvilling-iot-flush")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("tvilling-iot-flush".into())
            .spawn(move || rt.block_on(hub.flusher(store, stopped)))?;
        Ok(Flusher { stop, thread })
    }

    /// Stops after the flush under way, if any, has finished.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// Lowers the calling thread's priority (Linux keeps a nice value per thread).
fn lower_priority() {
    // SAFETY: setpriority only reads its integer arguments; `who` 0 is the calling thread.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICE) };
    if r != 0 {
        tracing::debug!(
            "cannot lower the IoT flusher's priority: {}",
            std::io::Error::last_os_error()
        );
    }
}
