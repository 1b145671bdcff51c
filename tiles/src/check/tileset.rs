//! The tile tree of a tileset JSON file (3D Tiles 1.1 §"Tileset JSON", §"Tiles"): required fields,
//! geometric error ordering, refinement, transforms, content URIs and external tilesets.
//!
//! The walk only reads JSON; glb contents are collected as [`ContentJob`]s and checked afterwards,
//! in parallel, by the caller.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use super::metadata::check_schema;
use super::uri::resolve_in_root;
use super::volume::{Mat4, Volume, mul, numbers};
use super::{CheckReport, check_extensions_declared, field, load_json_uri};

/// One glb content to check, with everything the tile tree says about it.
pub(crate) struct ContentJob {
    /// `tile path (uri)`, the prefix of every message about this content.
    pub label: String,
    /// The file.
    pub file: PathBuf,
    /// The tile's bounding volume, when it parsed.
    pub tile_volume: Option<Volume>,
    /// The content's own `boundingVolume`, when given.
    pub content_volume: Option<Volume>,
    /// Tile frame to ECEF: the product of every `transform` from the root down to this tile.
    pub tile_to_ecef: Mat4,
    /// The metadata schema in force (this tileset's, or the referencing tileset's).
    pub schema: Option<Arc<Value>>,
}

/// What a parent tile passes to its children.
#[derive(Clone, Copy)]
struct Parent {
    geometric_error: Option<f64>,
    is_root: bool,
}

/// The walk over one tileset and the external tilesets it references.
pub(crate) struct Walk<'r> {
    /// The folder of the top-level tileset; no URI may leave it.
    pub root_dir: PathBuf,
    /// Counts and problems.
    pub report: &'r mut CheckReport,
    /// glb contents found so far.
    pub jobs: Vec<ContentJob>,
    /// Tileset files on the current chain of external references, to catch cycles.
    chain: Vec<Vec<String>>,
}

/// The top-level root tile, for the report's centre.
pub(crate) struct RootInfo {
    pub volume: Volume,
    pub world: Mat4,
}

impl<'r> Walk<'r> {
    pub(crate) fn new(root_dir: PathBuf, report: &'r mut CheckReport) -> Self {
        Walk {
            root_dir,
            report,
            jobs: Vec::new(),
            chain: Vec::new(),
        }
    }

    fn problem(&mut self, message: String) {
        self.report.problems.push(message);
    }

    /// Checks the tileset file at `rel` (segments below the root folder) whose JSON is `bytes`.
    /// `label` names the file in messages, `tile_prefix` comes before its tile paths.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn tileset(
        &mut self,
        rel: &[String],
        bytes: &[u8],
        label: &str,
        tile_prefix: &str,
        parent_world: Mat4,
        depth: usize,
        inherited_schema: Option<Arc<Value>>,
    ) -> Option<RootInfo> {
        // Every tileset on the way down stays on the chain while its tiles are walked.
        self.chain.push(rel.to_vec());
        let root = self.tileset_body(
            rel,
            bytes,
            label,
            tile_prefix,
            parent_world,
            depth,
            inherited_schema,
        );
        self.chain.pop();
        root
    }

    #[allow(clippy::too_many_arguments)]
    fn tileset_body(
        &mut self,
        rel: &[String],
        bytes: &[u8],
        label: &str,
        tile_prefix: &str,
        parent_world: Mat4,
        depth: usize,
        inherited_schema: Option<Arc<Value>>,
    ) -> Option<RootInfo> {
        let json: Value = match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => {
                self.problem(format!("{label}: tileset JSON does not parse: {e}"));
                return None;
            }
        };
        if !json.is_object() {
            self.problem(format!("{label}: tileset JSON is not an object"));
            return None;
        }
        match field(field(&json, "asset"), "version").as_str() {
            Some("1.0" | "1.1") => {}
            Some(other) => self.problem(format!(
                "{label}: asset.version is \"{other}\"; this checker knows 3D Tiles \"1.1\" and \"1.0\""
            )),
            None => self.problem(format!("{label}: asset.version is missing (required)")),
        }
        let mut problems = Vec::new();
        check_extensions_declared(&json, "tileset", &mut problems);
        let base: Vec<String> = rel
            .split_last()
            .map(|(_, dir)| dir.to_vec())
            .unwrap_or_default();
        let schema = self
            .schema(&json, &base, label, &mut problems)
            .or(inherited_schema);
        self.report
            .problems
            .extend(problems.into_iter().map(|p| format!("{label}: {p}")));
        self.statistics_and_metadata(&json, schema.as_deref(), label);

        let tileset_error = field(&json, "geometricError").as_f64();
        match tileset_error {
            Some(e) if e >= 0.0 && e.is_finite() => {}
            _ => self.problem(format!(
                "{label}: top-level geometricError is missing or not a non-negative number"
            )),
        }
        let root = field(&json, "root");
        if !root.is_object() {
            self.problem(format!("{label}: root tile is missing"));
            return None;
        }
        // The tileset's geometricError is the error when the root is not rendered at all, so the root's
        // own error cannot be larger (3D Tiles 1.1 §"Geometric error").
        if let (Some(t), Some(r)) = (tileset_error, field(root, "geometricError").as_f64())
            && r > t * (1.0 + 1e-12)
        {
            self.problem(format!(
                "{label}: root geometricError {r} exceeds the tileset's geometricError {t}"
            ));
        }
        let parent = Parent {
            geometric_error: None,
            is_root: true,
        };
        let at = Here {
            base: &base,
            depth,
            schema: schema.as_ref(),
        };
        self.tile(
            root,
            &format!("{tile_prefix}root"),
            parent,
            parent_world,
            &at,
        )
    }

    /// The tileset's own metadata schema (`schema` or `schemaUri`), checked.
    fn schema(
        &mut self,
        json: &Value,
        base: &[String],
        label: &str,
        problems: &mut Vec<String>,
    ) -> Option<Arc<Value>> {
        let embedded = field(json, "schema");
        let schema = match field(json, "schemaUri").as_str() {
            Some(_) if !embedded.is_null() => {
                problems.push("has both schema and schemaUri; give one".into());
                Some(embedded.clone())
            }
            Some(uri) => match resolve_in_root(base, uri) {
                Err(e) => {
                    problems.push(format!("schemaUri: {e}"));
                    None
                }
                Ok(segs) => {
                    let path = self.path_of(&segs);
                    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
                    let name = segs.last().cloned().unwrap_or_default();
                    load_json_uri(&dir, &name, "schemaUri", problems)
                }
            },
            None if embedded.is_null() => None,
            None => Some(embedded.clone()),
        }?;
        check_schema(&schema, label, problems);
        Some(Arc::new(schema))
    }

    /// `statistics.classes` and the `metadata` / `groups` entities must name classes (and properties)
    /// of the tileset schema (3D Tiles 1.1 §"Metadata statistics", §"Metadata").
    fn statistics_and_metadata(&mut self, json: &Value, schema: Option<&Value>, label: &str) {
        let classes = schema.and_then(|s| field(s, "classes").as_object());
        let stats = field(field(json, "statistics"), "classes").as_object();
        for (class_id, stat) in stats.into_iter().flatten() {
            let Some(class) = classes.and_then(|c| c.get(class_id)) else {
                self.problem(format!(
                    "{label}: statistics.classes has `{class_id}`, which the tileset schema does not define"
                ));
                continue;
            };
            for prop in field(stat, "properties")
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k)
            {
                if field(field(class, "properties"), prop).is_null() {
                    self.problem(format!(
                        "{label}: statistics for class `{class_id}` name property `{prop}`, which the class does not define"
                    ));
                }
            }
        }
        let mut entities = vec![("metadata".to_string(), field(json, "metadata"))];
        for (i, g) in field(json, "groups")
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            entities.push((format!("groups[{i}]"), g));
        }
        for (what, entity) in entities {
            if entity.is_null() {
                continue;
            }
            let class = field(entity, "class").as_str().unwrap_or("");
            if !classes.is_some_and(|c| c.contains_key(class)) {
                self.problem(format!(
                    "{label}: {what}.class `{class}` is not a class of the tileset schema"
                ));
            }
        }
    }

    fn path_of(&self, segs: &[String]) -> PathBuf {
        let mut p = self.root_dir.clone();
        p.extend(segs);
        p
    }

    fn tile(
        &mut self,
        tile: &Value,
        path: &str,
        parent: Parent,
        parent_world: Mat4,
        at: &Here<'_>,
    ) -> Option<RootInfo> {
        self.report.tiles += 1;
        self.report.max_depth = self.report.max_depth.max(at.depth);
        let is_root = parent.is_root;

        let world = match field(tile, "transform") {
            Value::Null => parent_world,
            t => match numbers::<16>(t) {
                Some(m) => mul(&parent_world, &m),
                None => {
                    self.problem(format!("{path}: transform is not 16 finite numbers"));
                    parent_world
                }
            },
        };
        let volume = match field(tile, "boundingVolume") {
            Value::Null => {
                self.problem(format!("{path}: boundingVolume is missing (required)"));
                None
            }
            v => match Volume::parse(v) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.problem(format!("{path}: {e}"));
                    None
                }
            },
        };
        if let Some(v) = field(tile, "viewerRequestVolume")
            .as_object()
            .map(|_| field(tile, "viewerRequestVolume"))
            && let Err(e) = Volume::parse(v)
        {
            self.problem(format!("{path}: viewerRequestVolume: {e}"));
        }

        let error = field(tile, "geometricError")
            .as_f64()
            .filter(|e| *e >= 0.0 && e.is_finite());
        if error.is_none() {
            self.problem(format!(
                "{path}: geometricError is missing or not a non-negative number (required)"
            ));
        }
        // A child refines its parent, so its error may not exceed the parent's (3D Tiles 1.1
        // §"Geometric error").
        if let (Some(e), Some(pe)) = (error, parent.geometric_error)
            && e > pe * (1.0 + 1e-12)
        {
            self.problem(format!(
                "{path}: geometricError {e} exceeds its parent's {pe}; a child must not be coarser than its parent"
            ));
        }
        match field(tile, "refine") {
            Value::Null if is_root => self.problem(format!(
                "{path}: refine is missing; the root tile must say ADD or REPLACE (children inherit it)"
            )),
            Value::Null => {}
            Value::String(s) if s == "ADD" || s == "REPLACE" => {}
            other => self.problem(format!("{path}: refine is {other}, not \"ADD\" or \"REPLACE\"")),
        }
        if !field(tile, "implicitTiling").is_null() {
            self.problem(format!(
                "{path}: uses implicitTiling, which this checker does not expand; its subtrees are unchecked"
            ));
        }

        let children = field(tile, "children")
            .as_array()
            .map_or(&[][..], Vec::as_slice);
        let contents: Vec<(String, &Value)> =
            match (field(tile, "content"), field(tile, "contents")) {
                (Value::Null, Value::Null) => Vec::new(),
                (c, Value::Null) => vec![("content".into(), c)],
                (Value::Null, Value::Array(list)) => list
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (format!("contents[{i}]"), c))
                    .collect(),
                (Value::Null, _) => {
                    self.problem(format!("{path}: contents is not an array"));
                    Vec::new()
                }
                _ => {
                    self.problem(format!(
                        "{path}: has both content and contents; 3D Tiles 1.1 allows one"
                    ));
                    Vec::new()
                }
            };
        for (which, content) in contents {
            self.content(
                content,
                &which,
                path,
                !children.is_empty(),
                volume.as_ref(),
                world,
                at,
            );
        }

        let next = Parent {
            geometric_error: error.or(parent.geometric_error),
            is_root: false,
        };
        let child_at = Here {
            depth: at.depth + 1,
            ..*at
        };
        for (i, child) in children.iter().enumerate() {
            self.tile(
                child,
                &format!("{path}/children[{i}]"),
                next,
                world,
                &child_at,
            );
        }
        if !field(tile, "children").is_null() && field(tile, "children").as_array().is_none() {
            self.problem(format!("{path}: children is not an array"));
        }
        volume
            .filter(|_| is_root)
            .map(|volume| RootInfo { volume, world })
    }

    #[allow(clippy::too_many_arguments)]
    fn content(
        &mut self,
        content: &Value,
        which: &str,
        path: &str,
        has_children: bool,
        tile_volume: Option<&Volume>,
        world: Mat4,
        at: &Here<'_>,
    ) {
        self.report.contents += 1;
        let Some(uri) = field(content, "uri").as_str() else {
            self.problem(format!("{path}: {which}.uri is missing (required)"));
            return;
        };
        let label = format!("{path} ({uri})");
        let content_volume = match field(content, "boundingVolume") {
            Value::Null => None,
            v => match Volume::parse(v) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.problem(format!("{label}: content {e}"));
                    None
                }
            },
        };
        let segs = match resolve_in_root(at.base, uri) {
            Ok(s) => s,
            Err(e) => {
                self.problem(format!("{label}: {e}"));
                return;
            }
        };
        let file = self.path_of(&segs);
        let mut head = [0u8; 16];
        let head_len = match std::fs::File::open(&file).and_then(|mut f| f.read(&mut head)) {
            Ok(n) => n,
            Err(e) => {
                self.problem(format!(
                    "{label}: content file {} cannot be read: {e}",
                    file.display()
                ));
                return;
            }
        };
        let head = head.get(..head_len).unwrap_or(&[]);
        let first = head.iter().find(|b| !b.is_ascii_whitespace());
        let is_json = uri
            .split(['?', '#'])
            .next()
            .is_some_and(|p| p.ends_with(".json"))
            || first == Some(&b'{');
        if is_json {
            self.external(&label, &segs, &file, has_children, world, at);
            return;
        }
        if let Some(kind) = ["b3dm", "i3dm", "pnts", "cmpt"]
            .into_iter()
            .find(|m| head.starts_with(m.as_bytes()))
        {
            self.problem(format!(
                "{label}: {kind} is a legacy 3D Tiles 1.0 format this checker does not verify; 3D Tiles 1.1 content is glb"
            ));
            return;
        }
        self.jobs.push(ContentJob {
            label,
            file,
            tile_volume: tile_volume.cloned(),
            content_volume,
            tile_to_ecef: world,
            schema: at.schema.cloned(),
        });
    }

    /// An external tileset: the referencing tile has no children, references form no cycle, and the
    /// referencing tile's transform applies to the external root (3D Tiles 1.1 §"External tilesets").
    fn external(
        &mut self,
        label: &str,
        segs: &[String],
        file: &std::path::Path,
        has_children: bool,
        world: Mat4,
        at: &Here<'_>,
    ) {
        if has_children {
            self.problem(format!(
                "{label}: a tile whose content is an external tileset must not have children"
            ));
        }
        if self.chain.iter().any(|c| c.as_slice() == segs) {
            self.problem(format!("{label}: external tileset reference forms a cycle"));
            return;
        }
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                self.problem(format!("{label}: cannot read external tileset: {e}"));
                return;
            }
        };
        let prefix = format!("{label} → ");
        self.tileset(
            segs,
            &bytes,
            label,
            &prefix,
            world,
            at.depth + 1,
            at.schema.cloned(),
        );
    }
}

/// Where in the tree a tile sits: the folder its URIs resolve against, its depth, the schema in force.
#[derive(Clone, Copy)]
struct Here<'a> {
    base: &'a [String],
    depth: usize,
    schema: Option<&'a Arc<Value>>,
}
