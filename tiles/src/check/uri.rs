//! Relative URIs in tilesets and glb files (3D Tiles 1.1 §"URIs": relative to the file that holds
//! them). The checker follows only relative references that stay inside the tileset's folder, so a
//! tileset can be copied or served as one directory.

use std::path::{Path, PathBuf};

/// Turns a URI reference into path segments: rejects schemes, absolute paths and backslashes, drops a
/// query or fragment, and percent-decodes (RFC 3986 §2.1).
fn segments(uri: &str) -> Result<Vec<String>, String> {
    if uri.is_empty() {
        return Err("the URI is empty".into());
    }
    // RFC 3986 §3.1: a scheme is a letter followed by letters, digits, `+`, `-`, `.` and then `:`.
    // A Windows drive (`C:`) matches too, and is just as unportable.
    if let Some(colon) = uri.find(':') {
        let scheme = uri.get(..colon).unwrap_or("");
        let first_is_letter = scheme
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic());
        let is_scheme = first_is_letter
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
            && !scheme.contains('/');
        if is_scheme {
            return Err(format!(
                "`{uri}` is an absolute URI; content must be referenced by a relative path inside the tileset folder"
            ));
        }
    }
    if uri.starts_with('/') {
        return Err(format!(
            "`{uri}` is an absolute path; use a path relative to the referencing file"
        ));
    }
    if uri.contains('\\') {
        return Err(format!(
            "`{uri}` contains a backslash; URI path segments are separated by `/`"
        ));
    }
    let path = uri.split(['?', '#']).next().unwrap_or("");
    let decoded = percent_decode(path)
        .ok_or_else(|| format!("`{uri}` has a bad percent-escape or is not UTF-8 once decoded"))?;
    Ok(decoded.split('/').map(str::to_string).collect())
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Resolves `uri`, found in a file whose folder is `base` (segments below the tileset root), to
/// segments below the root. Fails when the URI is not a relative path or climbs above the root.
pub(crate) fn resolve_in_root(base: &[String], uri: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = base.to_vec();
    for seg in segments(uri)? {
        match seg.as_str() {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err(format!("`{uri}` escapes the tileset folder through `..`"));
                }
            }
            _ => out.push(seg),
        }
    }
    if out.is_empty() {
        return Err(format!(
            "`{uri}` names the tileset folder itself, not a file"
        ));
    }
    Ok(out)
}

/// Resolves a relative `uri` against the folder `dir` (for glb buffers and schema files, which the
/// tile tree does not reach).
pub(crate) fn resolve_sibling(dir: &Path, uri: &str) -> Result<PathBuf, String> {
    let mut path = dir.to_path_buf();
    for seg in segments(uri)? {
        match seg.as_str() {
            "" | "." => {}
            ".." => path.push(".."),
            _ => path.push(seg),
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn resolves_relative_paths_with_dots_and_escapes() {
        assert_eq!(
            resolve_in_root(&base(&["a"]), "./b/../c%20d.glb?v=2").unwrap(),
            base(&["a", "c d.glb"])
        );
        assert_eq!(
            resolve_in_root(&base(&["a"]), "../x.glb").unwrap(),
            base(&["x.glb"])
        );
    }

    #[test]
    fn rejects_uris_that_leave_the_tileset_folder() {
        for uri in [
            "../x.glb",
            "/etc/passwd",
            "https://example.com/a.glb",
            "C:/a.glb",
            "a\\b.glb",
        ] {
            assert!(resolve_in_root(&[], uri).is_err(), "{uri}");
        }
    }

    #[test]
    fn rejects_broken_percent_escapes() {
        assert!(resolve_in_root(&[], "a%2.glb").is_err());
        assert!(resolve_in_root(&[], "a%ff.glb").is_err());
    }
}
