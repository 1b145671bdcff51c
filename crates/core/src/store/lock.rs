//! The per-dataset writer lock.
//!
//! Delta's optimistic concurrency already keeps two writers from corrupting a table, but it would let two
//! identical appends both succeed (duplicating rows) and make the loser of a create race fail. A local
//! advisory lock serialises tvilling writers on one store instead: the second one waits, then sees the
//! first one's commit (and, for an identical source, reports a no-op). The operating system releases the
//! lock when the holder exits, even on SIGKILL, so a crashed writer never blocks the store.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::{DatasetName, Error, Result};

/// How long a writer waits for another one before giving up.
pub const LOCK_WAIT: Duration = Duration::from_secs(600);

/// Held while a dataset is being written; released on drop.
#[derive(Debug)]
pub struct DatasetLock {
    file: File,
}

impl DatasetLock {
    pub(crate) fn acquire(path: &Path, name: &DatasetName) -> Result<DatasetLock> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let start = Instant::now();
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(DatasetLock { file }),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if !told {
                        tracing::info!(dataset = %name, "another tvilling process is writing this dataset; waiting");
                        told = true;
                    }
                    if start.elapsed() > LOCK_WAIT {
                        return Err(Error::Conflict {
                            name: name.to_string(),
                            detail: format!(
                                "another writer held {} for more than {} s",
                                path.display(),
                                LOCK_WAIT.as_secs()
                            ),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, e)),
            }
        }
    }
}

impl Drop for DatasetLock {
    fn drop(&mut self) {
        // Unlocking can only fail if the handle is already invalid; closing the file releases it anyway.
        let _ = self.file.unlock();
    }
}
