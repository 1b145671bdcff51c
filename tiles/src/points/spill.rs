//! Out-of-core point tiling: the same tree as the in-memory tiler, with at most
//! [`Plan::in_memory_points`] points (plus the upper levels' candidates) in memory at a time.
//!
//! 1. **Counting pass.** While the store is read, every batch is converted to the tileset frame and
//!    appended to a spill file of fixed-size records ([`RECORD`] bytes) in a temporary folder (`TMPDIR`);
//!    the [`Summary`] of all points (bounds, colour ramp inputs) is gathered on the way. It fixes the root
//!    cube exactly as the in-memory tiler does.
//! 2. **Binning.** The spill file is streamed into one file per octree cell at depth k (k from the point
//!    count, so that a surface spreads over bins of about half the budget). A bin that still holds more
//!    than the budget is binned again one level deeper, until every bin fits (or is smaller than the
//!    octree's smallest node). Octants are computed with [`octree::octant_of`], the in-memory tree's own
//!    arithmetic.
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
//! levels above the bins: a small fraction of the points). Binning holds no points, only up to three sets
//! of bin buffers of 64 MiB (one filling, one queued, one being written). Disk: two copies of the
//! converted points (42 bytes each) at most, removed when the run ends.

mod bins;
mod record;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use super::octree::{self, MIN_SIZE};
use super::order::sort_runs;
use super::{Built, Ctx, Points, Setup, Summary, assemble, build, colouring, root_cube, settings};
use crate::{Error, Result, TileReport};
use bins::{Bin, Cube, bin_file, first_levels, push, side_by_side, split_candidates};
pub use record::encode_all;
use record::load;

/// Bins are never split below this depth: only stacks of duplicate points get there.
const MAX_DEPTH: u32 = 24;

/// How many points the tiler holds in memory.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Up to this many points a dataset is tiled in memory; above it, out of core, in bins of at most
    /// this many points.
    pub in_memory_points: usize,
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
            });
        };
        match v.trim().replace('_', "").parse::<usize>() {
            Ok(n) if n >= Self::MIN => Ok(Plan {
                in_memory_points: n,
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
}

/// Converted points spilled during the counting pass.
pub struct Spill {
    plan: Plan,
    dir: tempfile::TempDir,
    path: PathBuf,
    out: BufWriter<File>,
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
        let path = dir.path().join("all.bin");
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Spill {
            plan,
            dir,
            path,
            out: BufWriter::with_capacity(1 << 20, file),
        })
    }

    /// Appends points.
    pub fn write(&mut self, p: &Points) -> Result<()> {
        self.write_encoded(&encode_all(p))
    }

    /// Appends records made by [`encode_all`].
    pub fn write_encoded(&mut self, records: &[u8]) -> Result<()> {
        self.out
            .write_all(records)
            .map_err(|e| Error::io(&self.path, e))
    }
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
    let mut pts = Points::default();
    for &b in &unit.bins {
        // The bin's non-candidates (see `run`).
        pts.append(load(&r.bins[b].file)?);
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
    spill.out.flush().map_err(|e| Error::io(&spill.path, e))?;
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
    let mut bins = bin_file(
        &spill.path,
        &root,
        first_levels(summary.count, budget),
        &dir,
    )?;
    std::fs::remove_file(&spill.path).map_err(|e| Error::io(&spill.path, e))?;
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
