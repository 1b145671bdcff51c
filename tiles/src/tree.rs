//! Spatial subdivision: a quadtree of cells aligned to a fixed grid in the dataset's CRS, split until a
//! cell holds at most [`LEAF_FEATURES`] features (by their bbox centre).
//!
//! The grid is anchored at multiples of the root cell size (a power of two), not at the data's extent,
//! so a small edit (one building taller) leaves every cell, and so every other tile, as it was: the
//! basis of incremental re-tiling.

/// Most features in a leaf tile.
pub const LEAF_FEATURES: usize = 1500;
/// Cells are not split below this size (CRS units), whatever their count: a pile of coincident
/// features would otherwise split forever.
const MIN_CELL: f64 = 1.0;

/// One tile of the tree: its cell and, for leaves, its features.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The cell's south-west corner and size.
    pub cell: [f64; 3],
    /// Address in the tree (`r`, `r0`, `r03`, …): stable, used in messages.
    pub address: String,
    /// Feature indices (leaves only), in input order.
    pub features: Vec<usize>,
    /// Child nodes (empty for leaves).
    pub children: Vec<Node>,
}

impl Node {
    /// Every feature under this node, in input order.
    pub fn all_features(&self) -> Vec<usize> {
        let mut out = self.features.clone();
        for c in &self.children {
            out.extend(c.all_features());
        }
        out.sort_unstable();
        out
    }

    /// Nodes in the tree.
    pub fn count(&self) -> usize {
        1 + self.children.iter().map(Node::count).sum::<usize>()
    }
}

/// Builds the tree over feature centres (x, y in the dataset CRS).
pub fn build(centres: &[[f64; 2]]) -> Option<Node> {
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for c in centres {
        for k in 0..2 {
            lo[k] = lo[k].min(c[k]);
            hi[k] = hi[k].max(c[k]);
        }
    }
    if !(lo[0] <= hi[0] && lo[1] <= hi[1]) {
        return None;
    }
    let mut size = 2f64.powi(
        (hi[0] - lo[0])
            .max(hi[1] - lo[1])
            .max(MIN_CELL)
            .log2()
            .ceil() as i32,
    );
    let root = loop {
        let x0 = (lo[0] / size).floor() * size;
        let y0 = (lo[1] / size).floor() * size;
        if hi[0] < x0 + size && hi[1] < y0 + size {
            break [x0, y0, size];
        }
        size *= 2.0;
    };
    let all: Vec<usize> = (0..centres.len()).collect();
    Some(split(root, "r".into(), all, centres, 0))
}

fn split(
    cell: [f64; 3],
    address: String,
    features: Vec<usize>,
    centres: &[[f64; 2]],
    depth: u32,
) -> Node {
    if features.len() <= LEAF_FEATURES || cell[2] / 2.0 < MIN_CELL || depth >= 24 {
        return Node {
            cell,
            address,
            features,
            children: vec![],
        };
    }
    let half = cell[2] / 2.0;
    let mut quads: [Vec<usize>; 4] = Default::default();
    for f in features {
        let c = centres[f];
        let qx = usize::from(c[0] >= cell[0] + half);
        let qy = usize::from(c[1] >= cell[1] + half);
        quads[qy * 2 + qx].push(f);
    }
    let non_empty = quads.iter().filter(|q| !q.is_empty()).count();
    let mut children = vec![];
    for (q, fs) in quads.into_iter().enumerate() {
        if fs.is_empty() {
            continue;
        }
        let sub = [
            cell[0] + half * (q % 2) as f64,
            cell[1] + half * (q / 2) as f64,
            half,
        ];
        // A cell whose features all fall in one quadrant would add a level with identical content:
        // descend into the quadrant instead, under the same address.
        if non_empty == 1 {
            return split(sub, address, fs, centres, depth + 1);
        }
        children.push(split(sub, format!("{address}{q}"), fs, centres, depth + 1));
    }
    Node {
        cell,
        address,
        features: vec![],
        children,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_until_leaves_are_small_and_keeps_every_feature_once() {
        let centres: Vec<[f64; 2]> = (0..10_000)
            .map(|i| {
                [
                    500_000.0 + (i % 100) as f64 * 7.0,
                    6_500_000.0 + (i / 100) as f64 * 7.0,
                ]
            })
            .collect();
        let root = build(&centres).unwrap();
        assert_eq!(root.all_features(), (0..10_000).collect::<Vec<_>>());
        fn leaves(n: &Node, out: &mut Vec<usize>) {
            if n.children.is_empty() {
                out.push(n.features.len());
            }
            n.children.iter().for_each(|c| leaves(c, out));
        }
        let mut sizes = vec![];
        leaves(&root, &mut sizes);
        assert!(sizes.iter().all(|s| *s <= LEAF_FEATURES), "{sizes:?}");
        assert!(root.count() > 4);
    }

    #[test]
    fn keeps_cells_when_one_feature_moves_a_little() {
        let mut centres: Vec<[f64; 2]> = (0..4000)
            .map(|i| {
                [
                    1000.0 + (i % 80) as f64 * 10.0,
                    2000.0 + (i / 80) as f64 * 10.0,
                ]
            })
            .collect();
        let a = build(&centres).unwrap();
        centres[17][0] += 0.5;
        let b = build(&centres).unwrap();
        assert_eq!(a.cell, b.cell);
        assert_eq!(a.count(), b.count());
    }
}
