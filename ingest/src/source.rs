//! Identifying a source: its absolute URI, its files and their SHA-256, the basis of provenance and of
//! the "identical source is a no-op" rule.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// A source's identity.
#[derive(Debug, Clone)]
pub struct SourceId {
    /// `file://` URI of the source.
    pub uri: String,
    /// SHA-256 over the bytes of all its files, in name order.
    pub sha256: String,
    /// Total size in bytes.
    pub bytes: u64,
    /// The files hashed (a Shapefile has several).
    pub files: Vec<PathBuf>,
}

/// Hashes a source. A file is hashed with its same-stem siblings (`.shp` with `.shx`, `.dbf`, `.prj`,
/// `.cpg`), because they are one dataset; a folder is hashed over the files directly in it.
pub fn identify(path: &Path) -> Result<SourceId> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Error::BadInput(format!(
            "cannot read source {}: {e}; check the path and its permissions",
            path.display()
        ))
    })?;
    let abs = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
    let mut files: Vec<PathBuf> = if meta.is_dir() {
        list(&abs)?.into_iter().filter(|p| p.is_file()).collect()
    } else {
        let stem = abs.file_stem().map(|s| s.to_os_string());
        let dir = abs.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut v: Vec<PathBuf> = list(&dir)?
            .into_iter()
            .filter(|p| {
                p.is_file()
                    && p.file_stem().map(|s| s.to_os_string()) == stem
                    && is_sidecar(p, &abs)
            })
            .collect();
        if !v.contains(&abs) {
            v.push(abs.clone());
        }
        v
    };
    files.sort();
    let (sha256, bytes) = sha256_of(&files)?;
    let uri = url_of(&abs);
    Ok(SourceId {
        uri,
        sha256,
        bytes,
        files,
    })
}

/// SHA-256 (hex) over the bytes of `files` in the given order, and their total size.
pub fn sha256_of(files: &[PathBuf]) -> Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for f in files {
        let mut file = std::fs::File::open(f)
            .map_err(|e| Error::BadInput(format!("cannot read {}: {e}", f.display())))?;
        loop {
            let n = file.read(&mut buf).map_err(|e| Error::io(f, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            bytes += n as u64;
        }
    }
    Ok((hex::encode(hasher.finalize()), bytes))
}

fn is_sidecar(p: &Path, main: &Path) -> bool {
    if p == main {
        return true;
    }
    let main_ext = main
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    main_ext == "shp" && ["shx", "dbf", "prj", "cpg", "qix", "sbn", "sbx"].contains(&ext.as_str())
}

fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
}

fn url_of(abs: &Path) -> String {
    format!("file://{}", abs.display())
}
