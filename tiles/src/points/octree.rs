//! The octree of a point tileset, with per-node grid subsampling for ADD refinement.
//!
//! A node with at most [`MAX_POINTS`] points is a leaf and holds them all. A larger node lays a grid of
//! [`GRID`]³ cells over its cube and keeps one point per occupied cell (the first in the dataset's
//! deterministic order); when that is still more than [`MAX_POINTS`] (dense vegetation fills the volume,
//! not just a surface), the grid is halved until it fits. The points it does not keep go to its eight
//! octant children. So every point is in exactly one tile, and a node's spacing (its cell size) is the
//! geometric error of showing it without its children.

use rayon::prelude::*;

/// Most points in one tile.
pub const MAX_POINTS: usize = 50_000;
/// Cells per axis of a node's subsampling grid.
pub const GRID: u32 = 128;
/// Below this cube size (m) a node is a leaf whatever it holds: only duplicate points stack that
/// densely, and splitting them further gains nothing.
const MIN_SIZE: f64 = 0.01;

/// One node: the points its content shows (indices into the dataset's points), its spacing and
/// children.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// `0`, `0-3`, `0-3-7`: the octant path, for messages.
    pub address: String,
    /// Points of this node's content.
    pub points: Vec<u32>,
    /// The grid cell size (m) of the subsample; 0 for a leaf, which shows every point.
    pub spacing: f64,
    /// Non-empty octants.
    pub children: Vec<Node>,
}

/// Builds the tree over `idx` (sorted ascending) inside the cube at `lo` with edge `size` (m).
pub fn build(
    positions: &[[f64; 3]],
    idx: Vec<u32>,
    lo: [f64; 3],
    size: f64,
    address: String,
) -> Node {
    if idx.len() <= MAX_POINTS || size < MIN_SIZE {
        return Node {
            address,
            points: idx,
            spacing: 0.0,
            children: vec![],
        };
    }
    let mut cells = GRID;
    let (kept, rest) = loop {
        let (kept, rest) = subsample(positions, &idx, lo, size, cells);
        if kept.len() <= MAX_POINTS || cells <= 2 {
            break (kept, rest);
        }
        cells /= 2;
    };
    let spacing = size / f64::from(cells);
    let half = size / 2.0;
    let mid = [0, 1, 2].map(|k| lo[k] + half);
    let mut octants: [Vec<u32>; 8] = Default::default();
    for i in rest {
        let p = positions[i as usize];
        let o = usize::from(p[0] >= mid[0])
            | usize::from(p[1] >= mid[1]) << 1
            | usize::from(p[2] >= mid[2]) << 2;
        octants[o].push(i);
    }
    let children: Vec<Node> = octants
        .into_par_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(o, v)| {
            let clo = [0, 1, 2].map(|k| if o >> k & 1 == 1 { mid[k] } else { lo[k] });
            build(positions, v, clo, half, format!("{address}-{o}"))
        })
        .collect();
    Node {
        address,
        points: kept,
        spacing,
        children,
    }
}

/// One point per occupied cell of a `cells`³ grid (the lowest index), and the rest; both ascending.
fn subsample(
    positions: &[[f64; 3]],
    idx: &[u32],
    lo: [f64; 3],
    size: f64,
    cells: u32,
) -> (Vec<u32>, Vec<u32>) {
    let c = size / f64::from(cells);
    let top = f64::from(cells - 1);
    let mut keyed: Vec<(u64, u32)> = idx
        .iter()
        .map(|&i| {
            let p = positions[i as usize];
            // Points on the cube's upper faces belong to the last cell.
            let cell = [0, 1, 2].map(|k| ((p[k] - lo[k]) / c).floor().clamp(0.0, top) as u64);
            ((cell[0] << 42) | (cell[1] << 21) | cell[2], i)
        })
        .collect();
    keyed.par_sort_unstable();
    let mut kept = Vec::new();
    let mut rest = Vec::with_capacity(idx.len());
    let mut last = None;
    for (key, i) in keyed {
        if last == Some(key) {
            rest.push(i);
        } else {
            kept.push(i);
            last = Some(key);
        }
    }
    kept.par_sort_unstable();
    rest.par_sort_unstable();
    (kept, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(n: &Node) -> usize {
        n.points.len() + n.children.iter().map(count).sum::<usize>()
    }

    fn all(n: &Node, out: &mut Vec<u32>) {
        out.extend(&n.points);
        n.children.iter().for_each(|c| all(c, out));
    }

    #[test]
    fn keeps_every_point_exactly_once_and_bounds_tile_sizes() {
        // A 400 × 400 grid of points 0.25 m apart on a gentle slope: 160 000 points.
        let positions: Vec<[f64; 3]> = (0..400 * 400)
            .map(|i| {
                let (x, y) = (f64::from(i % 400) * 0.25, f64::from(i / 400) * 0.25);
                [x, y, 0.01 * x]
            })
            .collect();
        let idx: Vec<u32> = (0..positions.len() as u32).collect();
        let root = build(&positions, idx, [0.0; 3], 100.0, "0".into());
        assert_eq!(count(&root), positions.len());
        let mut seen = vec![];
        all(&root, &mut seen);
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), positions.len());
        assert!(root.points.len() <= MAX_POINTS && !root.children.is_empty());
        assert!((root.spacing - 100.0 / 128.0).abs() < 1e-12);
        // Children have half the spacing (or are leaves).
        for c in &root.children {
            assert!(c.spacing <= root.spacing / 2.0 + 1e-12);
        }
    }
}
