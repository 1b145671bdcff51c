//! An independent checker for 3D Tiles 1.1 tilesets with glb content, written from the 3D Tiles 1.1,
//! 3D Metadata, `EXT_structural_metadata`, `EXT_mesh_features` and glTF 2.0 specifications rather
//! than from this crate's writer, so that the two can catch each other's mistakes. Tests use it on
//! everything the tiler writes; `--check` will run it on tilesets on disk.
//!
//! [`check_tileset`] reads a tileset JSON file and everything it references and returns a
//! [`CheckReport`]: counts, the root's position on the globe and every problem found, each naming
//! the tile path (`root/children[2]/children[0]`) and content URI. A problem in one file never stops
//! the others from being checked, and malformed input never panics.
//!
//! What is checked, by module:
//!
//! - `tileset`: `asset.version`, required tile fields, `refine`, geometric error ordering,
//!   transforms, content URIs inside the tileset folder, external tilesets (recursively), schema and
//!   statistics classes.
//! - `glb`: the GLB container (header, chunks, buffers); `compression` decodes `EXT_meshopt_compression`
//!   views first, so every other check sees the real data.
//! - `structure`: the glTF buffer views, accessors, meshes, nodes, scenes and extension declarations.
//! - `placement`: every rendered primitive lies inside its tile's (and content's) bounding volume.
//! - `metadata`: `EXT_structural_metadata` schemas, property tables and property attributes (each
//!   attribute present on its primitive with the class property's type), `EXT_mesh_features` IDs.
//! - `volume` and `geodesy`: bounding volumes, matrices and WGS 84 conversion.
//!
//! Not checked: implicit tiling, legacy b3dm/i3dm/pnts/cmpt content, `.gltf` (JSON) content,
//! `data:` buffers, sparse accessors, feature ID and property textures' texels, and
//! `EXT_mesh_gpu_instancing` placement. Each is reported as a problem when met, so a clean report
//! never hides unchecked content.

mod compression;
mod geodesy;
mod glb;
mod metadata;
mod placement;
mod structure;
mod tileset;
mod uri;
mod volume;

#[cfg(test)]
mod test_glb;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::Value;

pub use geodesy::ecef_to_geodetic;

use placement::Bound;
use tileset::{ContentJob, Walk};
use volume::IDENTITY;

/// The outcome of [`check_tileset`]: what was found and every problem, in tree order (tileset JSON
/// problems first, then one glb content after another).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CheckReport {
    /// Tiles visited, external tilesets' tiles included.
    pub tiles: usize,
    /// Content entries (`content` and each of `contents`), external tileset references included.
    pub contents: usize,
    /// Features: the sum of `featureCount` over every `EXT_mesh_features` feature ID set of every mesh
    /// primitive of every glb.
    pub features: u64,
    /// One human-readable line per problem, starting with the tile path and content URI.
    pub problems: Vec<String>,
    /// The top-level root bounding volume's centre as WGS 84 `[longitude °, latitude °, height m]`
    /// (ellipsoidal height): a box or sphere centre taken through the root `transform` to ECEF, or a
    /// region's midpoint. `None` when the root volume could not be read.
    pub root_center_lon_lat_height: Option<[f64; 3]>,
    /// Depth of the deepest tile; the root is 0 and an external tileset's root is one below the tile
    /// that references it.
    pub max_depth: usize,
}

impl CheckReport {
    /// Whether no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tiles, {} contents, {} features, depth {}",
            self.tiles, self.contents, self.features, self.max_depth
        )?;
        if let Some([lon, lat, h]) = self.root_center_lon_lat_height {
            write!(f, ", root centre {lon:.6}° {lat:.6}° {h:.1} m")?;
        }
        write!(f, ": {} problem(s)", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// Checks the tileset at `tileset_json` and everything it references.
///
/// Problems are collected in the report, never returned as errors; the only error is failing to
/// read `tileset_json` itself.
///
/// # Examples
///
/// ```
/// use tvilling_tiles::check::check_tileset;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("tileset.json");
/// std::fs::write(
///     &path,
///     r#"{"asset": {"version": "1.1"}, "geometricError": 10,
///         "root": {"boundingVolume": {"sphere": [6378137, 0, 0, 5]},
///                  "geometricError": 5, "refine": "ADD"}}"#,
/// )?;
/// let report = check_tileset(&path)?;
/// assert!(report.is_ok(), "{report}");
/// assert_eq!(report.tiles, 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn check_tileset(tileset_json: &Path) -> std::io::Result<CheckReport> {
    let bytes = std::fs::read(tileset_json)?;
    let root_dir = tileset_json
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = tileset_json
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "tileset.json".into());
    let mut report = CheckReport::default();
    let mut walk = Walk::new(root_dir, &mut report);
    let root = walk.tileset(
        std::slice::from_ref(&name),
        &bytes,
        &name,
        "",
        IDENTITY,
        0,
        None,
    );
    let jobs = std::mem::take(&mut walk.jobs);
    if let Some(root) = root {
        let center = root.volume.center_geodetic(&root.world);
        report.root_center_lon_lat_height = center.iter().all(|v| v.is_finite()).then_some(center);
    }
    // Contents are independent; check them in parallel and keep their order for stable reports.
    let outcomes: Vec<(Vec<String>, u64)> = jobs.par_iter().map(check_content).collect();
    for (problems, features) in outcomes {
        report.problems.extend(problems);
        report.features = report.features.saturating_add(features);
    }
    Ok(report)
}

/// Checks one glb content; returns its problems (prefixed with its label) and its feature count.
fn check_content(job: &ContentJob) -> (Vec<String>, u64) {
    let mut problems = Vec::new();
    let features = match std::fs::read(&job.file) {
        Err(e) => {
            problems.push(format!("cannot read {}: {e}", job.file.display()));
            0
        }
        Ok(bytes) => {
            let dir = job.file.parent().unwrap_or(Path::new("."));
            match glb::parse(&bytes, dir, &mut problems) {
                None => 0,
                Some(g) => {
                    structure::check_structure(&g, &mut problems);
                    let mut bounds = Vec::new();
                    if let Some(v) = &job.tile_volume {
                        bounds.push(Bound {
                            label: format!("tile's bounding {}", v.kind()),
                            volume: v,
                        });
                    }
                    if let Some(v) = &job.content_volume {
                        bounds.push(Bound {
                            label: format!("content's bounding {}", v.kind()),
                            volume: v,
                        });
                    }
                    placement::check_placement(&g, &bounds, &job.tile_to_ecef, &mut problems);
                    metadata::check_metadata(&g, dir, job.schema.as_deref(), &mut problems)
                }
            }
        }
    };
    let problems = problems
        .into_iter()
        .map(|p| format!("{}: {p}", job.label))
        .collect();
    (problems, features)
}

static NULL: Value = Value::Null;

/// `v[key]`, or JSON null when `v` is not an object or lacks the key.
pub(crate) fn field<'a>(v: &'a Value, key: &str) -> &'a Value {
    v.get(key).unwrap_or(&NULL)
}

/// `v[key]` as an unsigned integer.
pub(crate) fn uint(v: &Value, key: &str) -> Option<u64> {
    field(v, key).as_u64()
}

/// `v[key]` as an array index.
pub(crate) fn index(v: &Value, key: &str) -> Option<usize> {
    uint(v, key).and_then(|x| usize::try_from(x).ok())
}

/// Whether the string array `json[list]` contains `name`.
pub(crate) fn declares(json: &Value, list: &str, name: &str) -> bool {
    field(json, list)
        .as_array()
        .is_some_and(|l| l.iter().any(|v| v.as_str() == Some(name)))
}

/// Every extension used anywhere in a glTF or tileset JSON must be listed in `extensionsUsed`, and
/// every `extensionsRequired` entry must also be used (glTF 2.0 §3.12, 3D Tiles 1.1 §"Extensions").
pub(crate) fn check_extensions_declared(json: &Value, what: &str, problems: &mut Vec<String>) {
    let mut used = std::collections::BTreeSet::new();
    collect_extensions(json, &mut used);
    for name in used {
        if !declares(json, "extensionsUsed", &name) {
            problems.push(format!(
                "{what} uses extension {name} but does not list it in extensionsUsed"
            ));
        }
    }
    for required in field(json, "extensionsRequired")
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(name) = required.as_str()
            && !declares(json, "extensionsUsed", name)
        {
            problems.push(format!(
                "{what} lists {name} in extensionsRequired but not in extensionsUsed"
            ));
        }
    }
}

fn collect_extensions(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (key, value) in map {
                // `extras` is application data; a key named `extensions` there is not an extension.
                if key == "extras" {
                    continue;
                }
                if key == "extensions"
                    && let Some(ext) = value.as_object()
                {
                    out.extend(ext.keys().cloned());
                }
                collect_extensions(value, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_extensions(i, out)),
        _ => {}
    }
}

/// Reads and parses the JSON file a relative `uri` names, from the folder `dir`.
pub(crate) fn load_json_uri(
    dir: &Path,
    uri: &str,
    what: &str,
    problems: &mut Vec<String>,
) -> Option<Value> {
    let path = match uri::resolve_sibling(dir, uri) {
        Ok(p) => p,
        Err(e) => {
            problems.push(format!("{what}: {e}"));
            return None;
        }
    };
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            problems.push(format!("{what} `{uri}` cannot be read: {e}"));
            return None;
        }
    };
    match serde_json::from_slice(&bytes) {
        Ok(v) => Some(v),
        Err(e) => {
            problems.push(format!("{what} `{uri}` does not parse as JSON: {e}"));
            None
        }
    }
}
