//! `tileset.json` (3D Tiles 1.1): the tile tree with box bounding volumes, geometric errors, REPLACE
//! refinement, the root transform to ECEF, the metadata schema and the tileset statistics.
//!
//! Frames: every tile carries a `transform` that moves it to its content's centre (relative to its
//! parent), so glb positions stay small and exact in 32-bit floats; bounding boxes are written in that
//! frame. The root's transform also holds the east-north-up → ECEF rotation.

use serde_json::{Value, json};

use crate::frame::Enu;
use crate::properties::Properties;
use crate::{Error, Result};

/// A tile as the writer needs it: bounds in the tileset's local frame (z up), content URI and origin.
#[derive(Debug, Clone, PartialEq)]
pub struct TileView {
    /// Address in the tree, for messages.
    pub address: String,
    /// Content URI and the point its positions are relative to.
    pub content: Option<(String, [f64; 3])>,
    /// Lower corner of the tile (its content and all descendants).
    pub lo: [f64; 3],
    /// Upper corner.
    pub hi: [f64; 3],
    /// Geometric error (m).
    pub error: f64,
    /// Children.
    pub children: Vec<TileView>,
}

/// The tileset JSON.
pub fn json(
    root: &TileView,
    enu: &Enu,
    props: &Properties,
    heights: &str,
    version: u64,
) -> Result<Value> {
    if !root.lo.iter().chain(&root.hi).all(|v| v.is_finite()) {
        return Err(Error::BadInput(
            "no feature produced a surface to show: nothing to tile (the quality report of the \
             dataset lists invalid geometries)"
                .into(),
        ));
    }
    let origin = origin_of(root);
    let mut root_json = tile(root, origin, [0.0; 3]);
    let transform = root_transform(enu, origin);
    root_json["transform"] = json!(transform);
    root_json["refine"] = json!("REPLACE");
    let diagonal = (0..3)
        .map(|k| (root.hi[k] - root.lo[k]).powi(2))
        .sum::<f64>()
        .sqrt();
    let mut tileset = json!({
        "asset": {
            "version": "1.1",
            "generator": crate::GENERATOR,
            "tilesetVersion": version.to_string(),
            "extras": { "heights": heights },
        },
        "schema": props.schema.to_json(),
        "statistics": props.statistics(),
        // With nothing drawn, everything is missing: the error is the size of the whole dataset.
        "geometricError": diagonal.max(root.error),
        "root": root_json,
    });
    // Building models: their storeys bottom to top, for the viewer's storey filter (crate::storeys).
    if let Some(storeys) = crate::storeys::storeys(props) {
        tileset["extras"] = json!({ "storeys": storeys });
    }
    Ok(tileset)
}

/// The root transform: local east-north-up at `enu`, then the root's own shift to its `origin`.
pub(crate) fn root_transform(enu: &Enu, origin: [f64; 3]) -> [f64; 16] {
    let m = enu.to_ecef_matrix();
    let t = [
        m[0] * origin[0] + m[4] * origin[1] + m[8] * origin[2] + m[12],
        m[1] * origin[0] + m[5] * origin[1] + m[9] * origin[2] + m[13],
        m[2] * origin[0] + m[6] * origin[1] + m[10] * origin[2] + m[14],
    ];
    [
        m[0], m[1], m[2], 0.0, m[4], m[5], m[6], 0.0, m[8], m[9], m[10], 0.0, t[0], t[1], t[2], 1.0,
    ]
}

pub(crate) fn origin_of(t: &TileView) -> [f64; 3] {
    t.content
        .as_ref()
        .map(|(_, c)| *c)
        .unwrap_or_else(|| [0, 1, 2].map(|k| (t.lo[k] + t.hi[k]) / 2.0))
}

pub(crate) fn tile(t: &TileView, origin: [f64; 3], parent_origin: [f64; 3]) -> Value {
    let centre = [0, 1, 2].map(|k| (t.lo[k] + t.hi[k]) / 2.0 - origin[k]);
    // A flat tile (a single LoD0 footprint) still needs a box with some thickness.
    let half = [0, 1, 2].map(|k| ((t.hi[k] - t.lo[k]) / 2.0).max(0.01));
    let mut v = json!({
        "boundingVolume": { "box": [
            centre[0], centre[1], centre[2],
            half[0], 0.0, 0.0,
            0.0, half[1], 0.0,
            0.0, 0.0, half[2],
        ]},
        "geometricError": t.error,
    });
    if origin != parent_origin {
        let d = [0, 1, 2].map(|k| origin[k] - parent_origin[k]);
        v["transform"] = json!([
            1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, d[0], d[1], d[2], 1.0
        ]);
    }
    if let Some((uri, _)) = &t.content {
        v["content"] = json!({ "uri": uri });
    }
    let children: Vec<Value> = t
        .children
        .iter()
        .filter(|c| c.lo.iter().chain(&c.hi).all(|x| x.is_finite()))
        .map(|c| tile(c, origin_of(c), origin))
        .collect();
    if !children.is_empty() {
        v["children"] = json!(children);
    }
    v
}
