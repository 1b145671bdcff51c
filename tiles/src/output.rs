//! Where tiles are written: the store's tile cache (`<dataset>/_tiles/`, beside the Delta table; Delta
//! ignores folders starting with `_`) and an optional exported copy.
//!
//! ```text
//! _tiles/content/<hash>.glb      content, named by the hash of everything it is made from
//! _tiles/index/<hash>.json       what the tiler needs to reuse it without reading it (bounds, error)
//! _tiles/tileset-v<N>.json       the tileset of dataset version N
//! ```
//!
//! Versions share unchanged content, so tiling a new version writes only what changed, and every older
//! tileset stays servable. An export folder holds `tileset.json` and the content it references.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// What is known about one content file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ContentInfo {
    /// Lower corner of the content in the tileset's local frame (m, z up).
    pub lo: [f64; 3],
    /// Upper corner.
    pub hi: [f64; 3],
    /// The content's origin: its positions are relative to this point.
    pub centre: [f64; 3],
    /// How far the content deviates from the full-detail features (m).
    pub deviation: f64,
    /// Features in the content.
    pub features: usize,
    /// Triangles in the content.
    pub triangles: usize,
}

/// The tile cache of one dataset and an optional export folder.
pub struct Output {
    cache: PathBuf,
    out: Option<PathBuf>,
}

impl Output {
    /// Prepares the folders.
    pub fn new(cache: PathBuf, out: Option<PathBuf>) -> Result<Output> {
        for d in [cache.join("content"), cache.join("index")] {
            std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
        if let Some(o) = &out {
            let c = o.join("content");
            std::fs::create_dir_all(&c).map_err(|e| {
                Error::BadInput(format!(
                    "cannot create the output folder {}: {e}; choose a writable --out",
                    c.display()
                ))
            })?;
        }
        Ok(Output { cache, out })
    }

    /// The cached content with this hash, if an earlier run made it (both files present and readable).
    pub fn cached(&self, hash: &str) -> Option<ContentInfo> {
        let glb = self.cache.join("content").join(format!("{hash}.glb"));
        let index = self.cache.join("index").join(format!("{hash}.json"));
        if !glb.is_file() {
            return None;
        }
        let text = std::fs::read_to_string(index).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Stores new content. The index is written last and both via rename, so a killed run never
    /// leaves an index pointing at a half-written glb.
    pub fn store(&self, hash: &str, glb: &[u8], info: &ContentInfo) -> Result<ContentInfo> {
        write_atomic(&self.cache.join("content").join(format!("{hash}.glb")), glb)?;
        let json = serde_json::to_vec(info).map_err(|e| Error::Internal(e.to_string()))?;
        write_atomic(
            &self.cache.join("index").join(format!("{hash}.json")),
            &json,
        )?;
        Ok(*info)
    }

    /// Writes the tileset for `version`, and the export copy with exactly the content it references.
    /// Returns the cached tileset's path and the exported one's.
    pub fn finish(
        &self,
        tileset: &serde_json::Value,
        version: u64,
    ) -> Result<(PathBuf, Option<PathBuf>)> {
        let text = serde_json::to_vec(tileset).map_err(|e| Error::Internal(e.to_string()))?;
        let cached = self.cache.join(format!("tileset-v{version}.json"));
        write_atomic(&cached, &text)?;
        let Some(out) = &self.out else {
            return Ok((cached, None));
        };
        let mut uris = BTreeSet::new();
        collect_uris(tileset.get("root"), &mut uris);
        for uri in &uris {
            let (from, to) = (self.cache.join(uri), out.join(uri));
            // Same name, same bytes: content files are named by their hash.
            if to.is_file() {
                continue;
            }
            std::fs::copy(&from, &to).map_err(|e| Error::io(&to, e))?;
        }
        // Content of an earlier export that this tileset no longer uses.
        if let Ok(dir) = std::fs::read_dir(out.join("content")) {
            for e in dir.flatten() {
                let uri = format!("content/{}", e.file_name().to_string_lossy());
                if uri.ends_with(".glb") && !uris.contains(&uri) {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let exported = out.join("tileset.json");
        write_atomic(&exported, &text)?;
        Ok((cached, Some(exported)))
    }
}

fn collect_uris(tile: Option<&serde_json::Value>, out: &mut BTreeSet<String>) {
    let Some(t) = tile else { return };
    if let Some(u) = t.pointer("/content/uri").and_then(|u| u.as_str()) {
        out.insert(u.to_string());
    }
    if let Some(children) = t.get("children").and_then(|c| c.as_array()) {
        children.iter().for_each(|c| collect_uris(Some(c), out));
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}
