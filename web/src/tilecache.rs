//! Tile content kept in memory. A tile content file is named by the hash of its bytes and never changes,
//! so a copy in memory can be served until it is evicted, with no file read and no copy per request:
//! a planner's viewer asks for the same few hundred tiles again and again, and every new visitor asks
//! for the root tiles first. The cache holds at most `server.tile_cache_mb` megabytes and evicts the
//! oldest entries first.

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hyper::body::Bytes;

/// Tile content files in memory, by path.
#[derive(Debug)]
pub struct TileCache {
    budget: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    bytes: usize,
    files: HashMap<PathBuf, Bytes>,
    order: VecDeque<PathBuf>,
}

impl TileCache {
    /// A cache of at most `budget` bytes (0 keeps nothing).
    pub fn new(budget: usize) -> TileCache {
        TileCache {
            budget,
            inner: Mutex::default(),
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every change below leaves the maps consistent before it can panic.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The content of `path`, from memory or read (and kept) now.
    ///
    /// # Errors
    /// The file cannot be read.
    pub async fn get(&self, path: &Path) -> std::io::Result<Bytes> {
        if let Some(b) = self.inner().files.get(path) {
            return Ok(b.clone());
        }
        let bytes = Bytes::from(tokio::fs::read(path).await?);
        if bytes.len() <= self.budget {
            let mut inner = self.inner();
            if !inner.files.contains_key(path) {
                while inner.bytes + bytes.len() > self.budget {
                    let Some(old) = inner.order.pop_front() else {
                        break;
                    };
                    if let Some(b) = inner.files.remove(&old) {
                        inner.bytes -= b.len();
                    }
                }
                inner.bytes += bytes.len();
                inner.order.push_back(path.to_path_buf());
                inner.files.insert(path.to_path_buf(), bytes.clone());
            }
        }
        Ok(bytes)
    }

    /// Bytes held now.
    pub fn held(&self) -> usize {
        self.inner().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_files_within_its_budget_and_evicts_the_oldest() {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..3)
            .map(|i| {
                let p = dir.path().join(format!("{i}.glb"));
                std::fs::write(&p, vec![i as u8; 400]).unwrap();
                p
            })
            .collect();
        let cache = TileCache::new(1000);
        for p in &paths {
            assert_eq!(cache.get(p).await.unwrap().len(), 400);
        }
        assert_eq!(
            cache.held(),
            800,
            "the first file was evicted for the third"
        );
        // Gone from disk: a kept file is still answered from memory, the evicted one is not.
        std::fs::remove_file(&paths[0]).unwrap();
        std::fs::remove_file(&paths[2]).unwrap();
        assert_eq!(cache.get(&paths[2]).await.unwrap()[0], 2);
        assert!(cache.get(&paths[0]).await.is_err());
        // A file over the budget is served but not kept.
        let big = dir.path().join("big.glb");
        std::fs::write(&big, vec![9u8; 2000]).unwrap();
        assert_eq!(cache.get(&big).await.unwrap().len(), 2000);
        assert_eq!(cache.held(), 800);
    }
}
