//! Out-of-core point tiling: the same tree as the in-memory tiler, with at most
//! [`Plan::in_memory_points`] points (plus the upper levels' candidates) in memory at a time.
//!
//! 1. **Counting pass.** While the store is read, every batch is converted to the tileset frame and
//!    its fixed-size records ([`RECORD`] bytes) are appended to the files of a grid of cubes, in a
//!    temporary folder (`TMPDIR`). The grid's edge is a power of two guessed from the point count and the
//!    dataset's extent ([`Plan::with_bin_edge_for`]) and it is anchored at the frame's origin. The
//!    [`Summary`] of all points (bounds, colour ramp inputs) is gathered on the way; it fixes the root
//!    cube exactly as the in-memory tiler does.
//! 2. **Binning.** Every octree cube below the root is a cube of such a grid, so when the guess nests in
//!    the root's octree the grid's cells are the first bins as they are ([`bins_of_cells`]); otherwise
//!    they are binned again, k levels below the root (k from the point count, so that a surface spreads
//!    over bins of about half the budget). A bin that still holds more than the budget is binned again
//!    one level deeper, until every bin fits (or is smaller than the octree's smallest node). Octants are
//!    computed with [`octree::octant_of`], the in-memory tree's own arithmetic.
//! 3. **Candidates.** The levels above the bins keep one point per cell of their subsampling grid. Their
//!    grids nest: every cell of a level above contains whole cells of the grid of a bin's parent, so each
//!    of the d levels above a bin at depth d takes at most one point per such cell, and always the first
//!    remaining one (in the tiler's sort order). The first d points of each cell of a bin are therefore
//!    the only points the upper levels can take: each bin is loaded and sorted alone (bins side by side, one per core), hands those
//!    *candidates* up and is written back holding its sorted non-candidates.
//! 4. **Upper levels.** The candidates of all bins, sorted, go through the in-memory tree's own split
//!    ([`octree::split`]) from the root down to the bins; what reaches a bin is handed back to it.
//! 5. **Bins.** Each bin's non-candidates are loaded again, joined by the candidates that reached it,
//!    and tiled alone by [`octree::build`] as the subtree under its cell.
//!
//! The result is the tree the in-memory tiler builds from the same points: the same nodes, contents and
//! content hashes (a unit test compares the two). Every point is in exactly one tile whatever happens,
//! since each candidate is either kept by an upper node or handed to the bin it came from.
//!
//! Memory: one bin (at most the budget) at a time while units are tiled, and bins of at most twice the
//! budget together while candidates are chosen (two full bins, or more smaller ones, one per core);
//! about 120 bytes a point while a bin is sorted. Add the candidates (a few per occupied grid cell of the
//! levels above the bins: a small fraction of the points). Binning, and the counting pass's grid, hold
//! up to three sets of bin buffers of 64 MiB (one filling, one queued, one being written). Disk: two
//! copies of the converted points (42 bytes each) at most, removed when the run ends.

mod bins;
mod record;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rustc_hash::FxHashMap;
use std::time::Instant;

use super::octree::{self, MIN_SIZE};
use super::order::sort_runs;
use super::{Built, Ctx, Points, Setup, Summary, assemble, build, colouring, root_cube, settings};
use crate::frame::floor_i64;
use crate::{Error, Result, TileReport};
use bins::{
    Appender, BUFFER_BYTES, Bin, Cube, bin_file, first_levels, push, side_by_side, split_candidates,
};
pub use record::encode_all;
use record::{RECORD, load_into, position};

/// Bins are never split below this depth: only stacks of duplicate points get there.
const MAX_DEPTH: u32 = 24;

/// How many points the tiler holds in memory.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Up to this many points a dataset is tiled in memory; above it, out of core, in bins of at most
    /// this many points.
    pub in_memory_points: usize,
    /// Edge (m, a power of two) of the grid the spill bins points into as they are read
    /// ([`Plan::bin_edge_for`]).
    pub bin_edge: f64,
}

impl Plan {
    /// The environment variable that sets [`Plan::in_memory_points`].
    pub const ENV: &'static str = "TVILLING_TILE_POINTS_IN_MEMORY";
    /// The default: 2 M points, about 240 MiB while a bin is tiled (twice that while candidates are
    /// chosen).
    pub const DEFAULT: usize = 2_000_000;
    /// The smallest budget: a bin must be able to hold several tiles.
    pub const MIN: usize = 1_000;

    /// The plan from [`Plan::ENV`], else the default.
    pub fn from_env() -> Result<Plan> {
        let Ok(v) = std::env::var(Self::ENV) else {
            return Ok(Plan {
                in_memory_points: Self::DEFAULT,
                bin_edge: 1.0,
            });
        };
        match v.trim().replace('_', "").parse::<usize>() {
            Ok(n) if n >= Self::MIN => Ok(Plan {
                in_memory_points: n,
                bin_edge: 1.0,
            }),
            _ => Err(Error::BadInput(format!(
                "{}={v:?} is not a point count of at least {}; set it to the number of points the \
                 point tiler may hold in memory (default {}), or unset it",
                Self::ENV,
                Self::MIN,
                Self::DEFAULT
            ))),
        }
    }

    /// Sets [`Plan::bin_edge`] for `n` points spread over `extent` metres: the edge of the bins the
    /// first binning would make under a root cube of that extent. Only a guess (the root is known once
    /// every point is read); a wrong one costs one more binning pass, never a different tree.
    pub fn with_bin_edge_for(mut self, n: u64, extent: f64) -> Plan {
        let levels = first_levels(
            usize::try_from(n).unwrap_or(usize::MAX),
            self.in_memory_points,
        );
        let root = 2f64.powi(extent.max(MIN_SIZE).log2().ceil() as i32);
        self.bin_edge = (root / 2f64.powi(levels as i32)).max(MIN_SIZE);
        self
    }
}

/// Converted points spilled during the counting pass, binned as they arrive into the cubes of a grid of
/// edge [`Plan::bin_edge`] anchored at the frame's origin. Every cube of the octree below its root is a
/// cube of such a grid (the root's corner is an odd multiple of half its power-of-two edge), so when the
/// guess was right these cells are bins already and the spill is never read back just to be binned.
pub struct Spill {
    plan: Plan,
    dir: tempfile::TempDir,
    cells: FxHashMap<[i64; 3], Vec<u8>>,
    counts: FxHashMap<[i64; 3], u64>,
    buffered: usize,
    appender: Appender,
}

/// A grid cell's spilled points.
struct Cell {
    key: [i64; 3],
    count: u64,
    file: PathBuf,
}

impl Spill {
    /// A new spill in a fresh temporary folder.
    pub fn new(plan: Plan) -> Result<Spill> {
        let dir = tempfile::Builder::new()
            .prefix("tvilling-points-")
            .tempdir()
            .map_err(|e| {
                Error::io(
                    std::env::temp_dir(),
                    std::io::Error::new(
                        e.kind(),
                        format!(
                            "cannot create the point tiler's spill folder ({e}); set TMPDIR to a \
                             writable folder with room for about 90 bytes a point"
                        ),
                    ),
                )
            })?;
        Ok(Spill {
            plan,
            dir,
            cells: FxHashMap::default(),
            counts: FxHashMap::default(),
            buffered: 0,
            appender: Appender::new(),
        })
    }

    /// Appends points.
    pub fn write(&mut self, p: &Points) -> Result<()> {
        let mut records = Vec::new();
        encode_all(p, &mut records);
        self.write_encoded(&records)
    }

    /// Appends records made by [`encode_all`].
    pub fn write_encoded(&mut self, records: &[u8]) -> Result<()> {
        let records = &records[..records.len() / RECORD * RECORD];
        let edge = self.plan.bin_edge;
        // Exact: the edge is a power of two, so cell walls are where the octree's are.
        let key = |rec: &[u8]| position(rec).map(|v| floor_i64(v / edge));
        // Store rows come in Morton order, so runs of records share a cell: one lookup a run.
        let mut start = 0;
        while start < records.len() {
            let k = key(&records[start..]);
            let mut end = start + RECORD;
            while end < records.len() && key(&records[end..]) == k {
                end += RECORD;
            }
            self.cells
                .entry(k)
                .or_default()
                .extend_from_slice(&records[start..end]);
            *self.counts.entry(k).or_default() += ((end - start) / RECORD) as u64;
            start = end;
        }
        self.buffered += records.len();
        if self.buffered >= BUFFER_BYTES {
            let full = std::mem::take(&mut self.cells);
            let bufs = full.into_iter().map(|(k, b)| (self.file(k), b)).collect();
            self.appender.send(bufs)?;
            self.buffered = 0;
        }
        Ok(())
    }

    fn file(&self, key: [i64; 3]) -> PathBuf {
        let [x, y, z] = key;
        self.dir.path().join(format!("cell_{x}_{y}_{z}.bin"))
    }

    /// Writes out what is buffered; the cells, in key order.
    fn finish(&mut self) -> Result<Vec<Cell>> {
        let rest = std::mem::take(&mut self.cells);
        let bufs = rest.into_iter().map(|(k, b)| (self.file(k), b)).collect();
        self.appender.send(bufs)?;
        self.appender.finish()?;
        let mut cells: Vec<Cell> = self
            .counts
            .iter()
            .map(|(&key, &count)| Cell {
                key,
                count,
                file: self.file(key),
            })
            .collect();
        cells.sort_by_key(|c| c.key);
        Ok(cells)
    }
}

/// The cells as bins under `root`, when the grid nests in its octree (its edge is `root`'s halved a
/// whole number of times, at least once); `None` otherwise.
fn bins_of_cells(cells: &[Cell], edge: f64, root: &Cube) -> Option<Vec<Bin>> {
    let levels = (root.size / edge).log2();
    if levels < 1.0 || levels.fract() != 0.0 || levels > f64::from(MAX_DEPTH) {
        return None;
    }
    cells
        .iter()
        .map(|c| {
            let lo = c.key.map(|k| k as f64 * edge);
            let centre = lo.map(|v| v + edge / 2.0);
            let mut cube = root.clone();
            for _ in 0..levels as u32 {
                cube = cube.child(octree::octant_of(centre, cube.lo, cube.size));
            }
            (cube.lo == lo && cube.size == edge).then(|| Bin {
                cube,
                file: c.file.clone(),
                count: c.count,
                candidates: 0,
            })
        })
        .collect()
}

/// The cells binned again under `root`, `levels` deep: for a grid that does not nest in its octree.
fn rebin_cells(cells: &[Cell], root: &Cube, levels: u32, dir: &Path) -> Result<Vec<Bin>> {
    // Several cells feed one bin: its file is appended to, its counts summed.
    let mut bins: BTreeMap<Vec<u8>, Bin> = BTreeMap::new();
    for c in cells {
        for b in bin_file(&c.file, root, levels, dir)? {
            match bins.get_mut(&b.cube.path) {
                Some(held) => held.count += b.count,
                None => {
                    bins.insert(b.cube.path.clone(), b);
                }
            }
        }
        std::fs::remove_file(&c.file).map_err(|e| Error::io(&c.file, e))?;
    }
    Ok(bins.into_values().collect())
}

/// The cubes above the bins.
struct Trie {
    cube: Cube,
    bin: Option<usize>,
    children: BTreeMap<u8, Trie>,
    /// Points in the bins below, and the candidates among them.
    total: u64,
    candidates: u64,
}

impl Trie {
    fn new(cube: Cube) -> Trie {
        Trie {
            cube,
            bin: None,
            children: BTreeMap::new(),
            total: 0,
            candidates: 0,
        }
    }

    fn insert(&mut self, bins: &[Bin], b: usize) {
        self.total += bins[b].count;
        self.candidates += bins[b].candidates;
        let depth = self.cube.path.len();
        if depth == bins[b].cube.path.len() {
            self.bin = Some(b);
            return;
        }
        let o = bins[b].cube.path[depth];
        let cube = self.cube.child(usize::from(o));
        self.children
            .entry(o)
            .or_insert_with(|| Trie::new(cube))
            .insert(bins, b);
    }

    fn bins(&self, out: &mut Vec<usize>) {
        out.extend(self.bin);
        self.children.values().for_each(|c| c.bins(out));
    }
}

/// A part of the tree that is tiled from the bins: a bin, or (when the upper levels leave few points
/// there) a cube with all the bins under it.
struct Unit {
    cube: Cube,
    bins: Vec<usize>,
    /// Candidates that reached it (indices into the sorted candidates).
    leftovers: Vec<u32>,
}

enum Upper {
    Node {
        address: String,
        kept: Vec<u32>,
        spacing: f64,
        children: Vec<Upper>,
    },
    Unit(Unit),
}

/// The upper levels over the candidates `idx` (ascending) that reach trie node `t`.
fn upper(t: &Trie, cands: &Points, idx: Vec<u32>) -> Result<Upper> {
    let reaching = t.total - t.candidates + idx.len() as u64;
    if t.bin.is_some()
        || octree::is_leaf(usize::try_from(reaching).unwrap_or(usize::MAX), t.cube.size)
    {
        let mut bins = vec![];
        t.bins(&mut bins);
        return Ok(Upper::Unit(Unit {
            cube: t.cube.clone(),
            bins,
            leftovers: idx,
        }));
    }
    let (kept, spacing, octants) = octree::split(&cands.enu, &idx, t.cube.lo, t.cube.size);
    let mut children = vec![];
    for (o, v) in octants.into_iter().enumerate() {
        match t.children.get(&(o as u8)) {
            Some(c) => children.push(upper(c, cands, v)?),
            None if v.is_empty() => {}
            None => {
                return Err(Error::Internal(format!(
                    "{} candidate points of tile {} fall in octant {o}, which has no bin",
                    v.len(),
                    t.cube.address()
                )));
            }
        }
    }
    if kept.is_empty() {
        return Err(Error::Internal(format!(
            "tile {} above the bins keeps no point",
            t.cube.address()
        )));
    }
    Ok(Upper::Node {
        address: t.cube.address(),
        kept,
        spacing,
        children,
    })
}

/// What the tiling of units shares.
struct Run<'a> {
    bins: &'a [Bin],
    cands: &'a Points,
    ctx: Ctx<'a>,
}

/// Tiles the upper levels and the units below them, one unit at a time.
fn finish_upper(r: &Run, u: &Upper) -> Result<Option<Built>> {
    match u {
        Upper::Unit(unit) => tile_unit(r, unit),
        Upper::Node {
            address,
            kept,
            spacing,
            children,
        } => {
            let mut built = vec![];
            for c in children {
                built.extend(finish_upper(r, c)?);
            }
            assemble(&r.ctx, address, kept, *spacing, built).map(Some)
        }
    }
}

fn tile_unit(r: &Run, unit: &Unit) -> Result<Option<Built>> {
    // Sized once: the bins' files hold their non-candidates (see `run`), and the leftovers come back.
    let kept: u64 = unit
        .bins
        .iter()
        .map(|&b| r.bins[b].count - r.bins[b].candidates)
        .sum();
    let mut pts = Points::with_capacity(usize::try_from(kept).unwrap_or(0) + unit.leftovers.len());
    for &b in &unit.bins {
        load_into(&r.bins[b].file, &mut pts)?;
    }
    for &i in &unit.leftovers {
        push(&mut pts, r.cands, i as usize);
    }
    if pts.len() == 0 {
        return Ok(None);
    }
    let n = pts.len();
    let pts = sort_runs(pts);
    let idx: Vec<u32> = (0..n as u32).collect();
    let node = octree::build(
        &pts.enu,
        idx,
        unit.cube.lo,
        unit.cube.size,
        unit.cube.address(),
    );
    let ctx = Ctx {
        points: &pts,
        colouring: r.ctx.colouring,
        settings: r.ctx.settings.clone(),
        s: r.ctx.s,
    };
    let built = build(&ctx, &node)?;
    r.ctx.s.progress.inc(n as u64);
    Ok(Some(built))
}

/// Tiles the spilled points out of core.
pub fn run(mut spill: Spill, summary: &Summary, s: Setup) -> Result<TileReport> {
    let budget = spill.plan.in_memory_points;
    let cells = spill.finish()?;
    let started = Instant::now();
    let (lo, size) = root_cube(summary.lo, summary.hi);
    let root = Cube {
        path: vec![],
        lo,
        size,
    };
    s.progress.set_message("binning points");
    s.progress.set_length(summary.count as u64);
    let dir = spill.dir.path().to_path_buf();
    let mut bins = match bins_of_cells(&cells, spill.plan.bin_edge, &root) {
        Some(bins) => bins,
        None => {
            let levels = first_levels(summary.count, budget);
            tracing::debug!(
                edge = spill.plan.bin_edge,
                root = size,
                "the spill's grid does not nest in the octree; binning again"
            );
            rebin_cells(&cells, &root, levels, &dir)?
        }
    };
    // Bins over the budget are binned again, one level deeper.
    loop {
        let (big, ok): (Vec<Bin>, Vec<Bin>) = bins.into_iter().partition(|b| {
            b.count > budget as u64 && b.cube.size / 2.0 >= MIN_SIZE && b.cube.depth() < MAX_DEPTH
        });
        bins = ok;
        if big.is_empty() {
            break;
        }
        for b in big {
            bins.extend(bin_file(&b.file, &b.cube, 1, &dir)?);
            std::fs::remove_file(&b.file).map_err(|e| Error::io(&b.file, e))?;
        }
    }
    bins.sort_by(|a, b| a.cube.path.cmp(&b.cube.path));
    tracing::debug!(
        bins = bins.len(),
        seconds = started.elapsed().as_secs_f64(),
        "binned points"
    );

    s.progress.set_message("choosing the upper levels' points");
    let per_bin = side_by_side(&mut bins, 2 * budget, split_candidates)?;
    let mut cands = Points::with_capacity(per_bin.iter().map(Points::len).sum());
    for p in per_bin {
        cands.append(p);
    }
    if cands.len() > u32::MAX as usize {
        return Err(Error::BadInput(format!(
            "{} points would form the upper levels of the point tree, more than 2^32 − 1; lower {} \
             or split the dataset",
            cands.len(),
            Plan::ENV
        )));
    }
    let cands = sort_runs(cands);
    let mut trie = Trie::new(root);
    for b in 0..bins.len() {
        trie.insert(&bins, b);
    }
    tracing::debug!(
        candidates = cands.len(),
        seconds = started.elapsed().as_secs_f64(),
        "chose the candidates of the upper levels"
    );
    let tree = upper(&trie, &cands, (0..cands.len() as u32).collect())?;

    s.progress.set_message("writing point tiles");
    s.progress.set_length(summary.count as u64);
    let colouring = colouring(summary);
    let r = Run {
        bins: &bins,
        cands: &cands,
        ctx: Ctx {
            points: &cands,
            colouring,
            settings: settings(&s, colouring),
            s: &s,
        },
    };
    let built = finish_upper(&r, &tree)?
        .ok_or_else(|| Error::Internal("the out-of-core point tree is empty".into()))?;
    // Candidates kept by upper nodes count too.
    tracing::debug!(
        seconds = started.elapsed().as_secs_f64(),
        "tiled the points out of core"
    );
    let report = super::finish(built, summary, &s)?;
    drop(spill);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_of_a_grid_that_nests_are_the_octree_cubes_that_hold_their_points() {
        let (lo, size) = root_cube([-100.0, -30.0, -5.0], [140.0, 90.0, 20.0]);
        let root = Cube {
            path: vec![],
            lo,
            size,
        };
        let points = [[-99.0, -29.0, -4.0], [139.5, 89.5, 19.5], [0.0, 0.0, 0.0]];
        let cells_at = |edge: f64| -> Vec<Cell> {
            points
                .iter()
                .map(|p| Cell {
                    key: p.map(|v| floor_i64(v / edge)),
                    count: 1,
                    file: PathBuf::new(),
                })
                .collect()
        };
        for levels in [1, 2, 5] {
            let edge = size / 2f64.powi(levels);
            let bins = bins_of_cells(&cells_at(edge), edge, &root).expect("the grid nests");
            for (b, p) in bins.iter().zip(points) {
                // The octree's own descent to that depth reaches the same cube.
                let mut cube = root.clone();
                for _ in 0..levels {
                    cube = cube.child(octree::octant_of(p, cube.lo, cube.size));
                }
                assert_eq!(
                    (&b.cube.path, b.cube.lo, b.cube.size),
                    (&cube.path, cube.lo, edge)
                );
            }
        }
        // As large as the root or larger, or not the root's edge halved: binned again instead.
        for edge in [size, 2.0 * size, 3.0] {
            assert!(
                bins_of_cells(&cells_at(edge), edge, &root).is_none(),
                "{edge}"
            );
        }
    }
}
