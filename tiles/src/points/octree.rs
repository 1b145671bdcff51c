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
pub const MIN_SIZE: f64 = 0.01;

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

/// Whether a node holding `n` points in a cube of edge `size` is a leaf.
pub fn is_leaf(n: usize, size: f64) -> bool {
    n <= MAX_POINTS || size < MIN_SIZE
}

/// The lower corner of octant `o` (bit 0 east, 1 north, 2 up) of the cube at `lo` with edge `size`.
/// Every caller goes through this (and [`octant_of`]) so that the octants of the in-memory tree and the
/// bins of the out-of-core tiler are computed with the same arithmetic.
pub fn octant_lo(lo: [f64; 3], size: f64, o: usize) -> [f64; 3] {
    let half = size / 2.0;
    [0, 1, 2].map(|k| if o >> k & 1 == 1 { lo[k] + half } else { lo[k] })
}

/// The octant of the cube at `lo` with edge `size` that holds `p`.
pub fn octant_of(p: [f64; 3], lo: [f64; 3], size: f64) -> usize {
    let half = size / 2.0;
    usize::from(p[0] >= lo[0] + half)
        | usize::from(p[1] >= lo[1] + half) << 1
        | usize::from(p[2] >= lo[2] + half) << 2
}

/// The subsampling grid cell of `p` in a `cells`³ grid over the cube at `lo` with edge `size`.
pub fn cell_key(p: [f64; 3], lo: [f64; 3], size: f64, cells: u32) -> u64 {
    let c = size / f64::from(cells);
    let top = f64::from(cells - 1);
    // Points on the cube's upper faces belong to the last cell. Clamped at 0 first, the truncating cast
    // is the floor (without `f64::floor`, a libm call on the x86-64 baseline, for every point and level).
    let cell = [0, 1, 2].map(|k| ((p[k] - lo[k]) / c).clamp(0.0, top) as u64);
    (cell[0] << 42) | (cell[1] << 21) | cell[2]
}

/// An inner node's subsample (ascending), its spacing, and the rest of its points by octant (each
/// ascending): the [`GRID`]³ grid, halved while it keeps more than [`MAX_POINTS`].
pub fn split(
    positions: &[[f64; 3]],
    idx: &[u32],
    lo: [f64; 3],
    size: f64,
) -> (Vec<u32>, f64, [Vec<u32>; 8]) {
    let mut cells = GRID;
    let (kept, rest) = loop {
        let (kept, rest) = subsample(positions, idx, lo, size, cells);
        if kept.len() <= MAX_POINTS || cells <= 2 {
            break (kept, rest);
        }
        cells /= 2;
    };
    let mut octants: [Vec<u32>; 8] = Default::default();
    for i in rest {
        octants[octant_of(positions[i as usize], lo, size)].push(i);
    }
    (kept, size / f64::from(cells), octants)
}

/// Builds the tree over `idx` (sorted ascending) inside the cube at `lo` with edge `size` (m).
pub fn build(
    positions: &[[f64; 3]],
    idx: Vec<u32>,
    lo: [f64; 3],
    size: f64,
    address: String,
) -> Node {
    if is_leaf(idx.len(), size) {
        return Node {
            address,
            points: idx,
            spacing: 0.0,
            children: vec![],
        };
    }
    let (kept, spacing, octants) = split(positions, &idx, lo, size);
    drop(idx);
    let half = size / 2.0;
    let children: Vec<Node> = octants
        .into_par_iter()
        .enumerate()
        .filter(|(_, v)| !v.is_empty())
        .map(|(o, v)| {
            build(
                positions,
                v,
                octant_lo(lo, size, o),
                half,
                format!("{address}-{o}"),
            )
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
///
/// `idx` is ascending, so one pass that keeps the first point of each cell gives both lists in order;
/// the occupied cells are a bitmap (at most [`GRID`]³ bits, 256 KiB), which keeps the pass linear and
/// in cache instead of sorting every point of every level.
fn subsample(
    positions: &[[f64; 3]],
    idx: &[u32],
    lo: [f64; 3],
    size: f64,
    cells: u32,
) -> (Vec<u32>, Vec<u32>) {
    let n = cells as usize;
    let mut seen = vec![0u64; (n * n * n).div_ceil(64)];
    let mut kept = Vec::new();
    let mut rest = Vec::with_capacity(idx.len());
    for &i in idx {
        let key = cell_key(positions[i as usize], lo, size, cells);
        let (x, y, z) = (
            (key >> 42) as usize,
            (key >> 21 & 0x1f_ffff) as usize,
            (key & 0x1f_ffff) as usize,
        );
        let bit = (x * n + y) * n + z;
        let (word, mask) = (bit / 64, 1u64 << (bit % 64));
        if seen[word] & mask == 0 {
            seen[word] |= mask;
            kept.push(i);
        } else {
            rest.push(i);
        }
    }
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

    /// The former sort-based subsample: the lowest index per cell, both lists ascending.
    fn subsample_by_sorting(
        positions: &[[f64; 3]],
        idx: &[u32],
        lo: [f64; 3],
        size: f64,
        cells: u32,
    ) -> (Vec<u32>, Vec<u32>) {
        let mut keyed: Vec<(u64, u32)> = idx
            .iter()
            .map(|&i| (cell_key(positions[i as usize], lo, size, cells), i))
            .collect();
        keyed.sort_unstable();
        let (mut kept, mut rest, mut last) = (vec![], vec![], None);
        for (key, i) in keyed {
            if last == Some(key) {
                rest.push(i);
            } else {
                kept.push(i);
                last = Some(key);
            }
        }
        kept.sort_unstable();
        rest.sort_unstable();
        (kept, rest)
    }

    #[test]
    fn the_bitmap_subsample_equals_sorting() {
        // Scattered points, some on the cube's faces and some outside it (clamped into the edge cells).
        let positions: Vec<[f64; 3]> = (0..20_000u32)
            .map(|i| {
                let f = |k: u32| {
                    f64::from((i.wrapping_mul(2_654_435_761).rotate_left(k)) % 10_007) / 97.0 - 1.0
                };
                [f(0), f(11), f(23)]
            })
            .collect();
        let idx: Vec<u32> = (0..positions.len() as u32).filter(|i| i % 3 != 1).collect();
        for cells in [128, 64, 2] {
            assert_eq!(
                subsample(&positions, &idx, [0.0; 3], 100.0, cells),
                subsample_by_sorting(&positions, &idx, [0.0; 3], 100.0, cells)
            );
        }
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
