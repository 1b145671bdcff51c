//! The versioned store: a root folder holding one Delta Lake table per dataset.
//!
//! ```text
//! <root>/
//!   <dataset>/_delta_log/…      Delta transaction log (versions, commit info with provenance + quality)
//!   <dataset>/part-….parquet    data files
//!   _tvilling/locks/<dataset>.lock   advisory writer lock (released by the OS if the writer dies)
//! ```
//!
//! A write either commits a whole new version or leaves the table as it was: data files are written first
//! and become visible only through the atomic log commit, so a killed writer leaves at most unreferenced
//! files that readers never see (`VACUUM` removes them).

mod compact;
mod history;
mod lock;
mod order;
mod parquet;
mod read;
mod write;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use deltalake::DeltaTable;
use url::Url;

use crate::error::near_misses;
use crate::{DatasetName, Error, Result};

pub use compact::Compaction;
pub use history::VersionInfo;
pub use lock::DatasetLock;
pub use read::DatasetInfo;
pub use write::{CommitOutcome, Mode, Rows, WriteRequest};

/// The default store root, relative to the working directory.
pub const DEFAULT_STORE: &str = "./tvilling-data";

/// Which version of a dataset to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum At {
    /// The newest committed version.
    #[default]
    Latest,
    /// A version number, as listed by `tvilling log`.
    Version(u64),
    /// The version that was current at this instant.
    Timestamp(DateTime<Utc>),
}

/// A store root. Cheap to clone; holds no open files.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    given: String,
}

impl Store {
    /// Opens the store at `root` (a path or a `file://` URL). Nothing is created until something is written.
    ///
    /// # Examples
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = tvilling_core::Store::open(dir.path().to_str().unwrap()).unwrap();
    /// assert!(store.datasets().await.unwrap().is_empty());
    /// # });
    /// ```
    pub fn open(root: &str) -> Result<Store> {
        let path = if root.contains("://") {
            let url = Url::parse(root).map_err(|e| Error::Store {
                root: root.into(),
                reason: e.to_string(),
            })?;
            if url.scheme() != "file" {
                return Err(Error::Store {
                    root: root.into(),
                    reason: format!(
                        "the '{}' scheme is not enabled in this build; use a local folder or a file:// URL",
                        url.scheme()
                    ),
                });
            }
            url.to_file_path().map_err(|_| Error::Store {
                root: root.into(),
                reason: "not a valid file:// URL".into(),
            })?
        } else {
            PathBuf::from(root)
        };
        let abs = std::path::absolute(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Store {
            root: abs,
            given: root.to_string(),
        })
    }

    /// The store root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The folder of a dataset's table.
    pub fn dataset_dir(&self, name: &DatasetName) -> PathBuf {
        self.root.join(name.as_str())
    }

    fn table_url(&self, name: &DatasetName) -> Result<Url> {
        Url::from_directory_path(self.dataset_dir(name)).map_err(|_| {
            Error::Internal(format!(
                "store path {} is not absolute",
                self.root.display()
            ))
        })
    }

    /// Makes sure the store root exists and is writable, with an actionable error if not.
    pub fn ensure_writable(&self) -> Result<()> {
        let fail = |e: std::io::Error| Error::Store {
            root: self.given.clone(),
            reason: format!(
                "{e}; pass --store with a writable folder (or set TVILLING_STORE), \
                 or fix the permissions of {}",
                self.root.display()
            ),
        };
        std::fs::create_dir_all(self.root.join("_tvilling/locks")).map_err(fail)?;
        let probe = self
            .root
            .join("_tvilling")
            .join(format!(".probe-{}", std::process::id()));
        std::fs::write(&probe, b"ok").map_err(fail)?;
        std::fs::remove_file(&probe).map_err(fail)?;
        Ok(())
    }

    /// Takes the writer lock of a dataset, waiting for another tvilling process that holds it.
    pub fn lock(&self, name: &DatasetName) -> Result<DatasetLock> {
        self.ensure_writable()?;
        DatasetLock::acquire(
            &self
                .root
                .join("_tvilling/locks")
                .join(format!("{name}.lock")),
            name,
        )
    }

    /// The datasets in the store, sorted by name.
    pub async fn datasets(&self) -> Result<Vec<DatasetName>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        let mut names = vec![];
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.root, e))?;
            let Some(name) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<DatasetName>().ok())
            else {
                continue;
            };
            if entry.path().join("_delta_log").is_dir() && self.has_commits(&name) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn has_commits(&self, name: &DatasetName) -> bool {
        std::fs::read_dir(self.dataset_dir(name).join("_delta_log"))
            .map(|mut d| {
                d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".json")))
            })
            .unwrap_or(false)
    }

    /// Whether a dataset exists.
    pub async fn exists(&self, name: &DatasetName) -> bool {
        self.has_commits(name)
    }

    /// Opens a dataset's Delta table at a version.
    pub async fn table(&self, name: &DatasetName, at: At) -> Result<DeltaTable> {
        if !self.exists(name).await {
            let existing = self.datasets().await.unwrap_or_default();
            return Err(Error::DatasetNotFound {
                name: name.to_string(),
                store: self.root.display().to_string(),
                suggestions: near_misses(name.as_str(), existing.iter().map(|n| n.as_str())),
            });
        }
        let url = self.table_url(name)?;
        let table = match at {
            At::Latest => deltalake::open_table(url).await?,
            At::Version(v) => deltalake::open_table_with_version(url, v)
                .await
                .map_err(|e| version_error(name, &v, e))?,
            At::Timestamp(t) => {
                let mut table = deltalake::DeltaTableBuilder::from_url(url)?.build()?;
                table
                    .load_with_datetime(t)
                    .await
                    .map_err(|e| version_error(name, &t.to_rfc3339(), e))?;
                // Delta falls back to the first version for a time before it; the dataset did not
                // exist then, and answering with version 0 would be silently wrong.
                let v = table.version().unwrap_or(0);
                let committed = table.snapshot()?.version_timestamp(v);
                if let Some(ms) = committed.filter(|ms| *ms > t.timestamp_millis()) {
                    let first = DateTime::from_timestamp_millis(ms)
                        .map(|d| d.to_rfc3339())
                        .unwrap_or_default();
                    return Err(Error::VersionNotFound {
                        name: name.to_string(),
                        what: format!(
                            "as of {} (its first version {v} was committed at {first})",
                            t.to_rfc3339()
                        ),
                    });
                }
                table
            }
        };
        Ok(table)
    }
}

fn version_error(
    name: &DatasetName,
    what: &dyn std::fmt::Display,
    e: deltalake::DeltaTableError,
) -> Error {
    use deltalake::DeltaTableError as D;
    match e {
        D::InvalidVersion(_) | D::NotATable(_) | D::InvalidDateTimeString { .. } => {
            Error::VersionNotFound {
                name: name.to_string(),
                what: format!("{what} ({e})"),
            }
        }
        other => {
            let msg = other.to_string();
            if msg.contains("version") || msg.contains("timestamp") || msg.contains("not found") {
                Error::VersionNotFound {
                    name: name.to_string(),
                    what: format!("{what} ({msg})"),
                }
            } else {
                Error::Delta(other)
            }
        }
    }
}

/// The host this process runs on, for provenance (`/etc/hostname`; "unknown" without one).
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// The operating-system user running this process, for provenance: `$USER`/`$LOGNAME`, else the name
/// of the process's uid in `/etc/passwd` (cron jobs and containers often set neither variable).
pub fn whoami() -> String {
    if let Some(u) = ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
    {
        return u;
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(String::from))
        });
    let name = uid.as_deref().and_then(|uid| {
        std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
            })
        })
    });
    name.or(uid.map(|u| format!("uid {u}")))
        .unwrap_or_else(|| "unknown".into())
}
