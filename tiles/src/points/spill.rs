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
//!    the only points the upper levels can take: each bin is loaded and sorted alone, hands those
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
//! Memory: one bin (at most the budget) at a time, about 130 bytes a point while it is sorted and
//! split, plus the candidates (a few per occupied grid cell of the levels above the bins: a small
//! fraction of the points) and 64 MiB of bin buffers. Disk: two copies of the converted points (42
//! bytes each) at most, removed when the run ends.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rustc_hash::FxHashMap;

use super::octree::{self, GRID, MIN_SIZE};
use super::{
    Built, Ctx, Points, Setup, Summary, assemble, build, colouring, root_cube, settings, sort,
};
use crate::{Error, Result, TileReport};

/// Bytes of one spilled point: east, north, up and z (f64), intensity (u16), class (u8), an RGB flag (u8)
/// and RGB (3 × u16).
pub const RECORD: usize = 42;
/// Bytes of bin buffers before they are written out.
const BUFFER_BYTES: usize = 64 << 20;
/// Records read from a spill file at a time.
const READ_RECORDS: usize = 64 * 1024;
/// Bins are never split below this depth: only stacks of duplicate points get there.
const MAX_DEPTH: u32 = 24;
/// The most levels one binning pass descends (8⁴ = 4096 bins).
const MAX_LEVELS: u32 = 4;

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
    /// The default: 2 M points, about 260 MiB while a bin is tiled.
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

fn encode(p: &Points, i: usize, out: &mut Vec<u8>) {
    for c in p.enu[i] {
        out.extend_from_slice(&c.to_le_bytes());
    }
    out.extend_from_slice(&p.z[i].to_le_bytes());
    out.extend_from_slice(&p.intensity[i].to_le_bytes());
    out.push(p.class[i]);
    match p.rgb[i] {
        Some(rgb) => {
            out.push(1);
            for c in rgb {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        None => out.extend_from_slice(&[0; 7]),
    }
}

fn decode(r: &[u8], out: &mut Points) {
    let f = |k: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&r[k..k + 8]);
        f64::from_le_bytes(b)
    };
    let u = |k: usize| u16::from_le_bytes([r[k], r[k + 1]]);
    out.enu.push([f(0), f(8), f(16)]);
    out.z.push(f(24));
    out.intensity.push(u(32));
    out.class.push(r[34]);
    out.rgb.push((r[35] == 1).then(|| [u(36), u(38), u(40)]));
}

/// Streams a spill file in chunks of whole records.
fn for_each_record_chunk(path: &Path, mut f: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut buf = vec![0u8; READ_RECORDS * RECORD];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            match r.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(path, e)),
            }
        }
        if filled % RECORD != 0 {
            return Err(Error::Internal(format!(
                "spill file {} ends inside a record",
                path.display()
            )));
        }
        if filled == 0 {
            return Ok(());
        }
        f(&buf[..filled])?;
        if filled < buf.len() {
            return Ok(());
        }
    }
}

/// The position (east, north, up) of a spilled record.
fn position(r: &[u8]) -> [f64; 3] {
    [0, 8, 16].map(|k| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&r[k..k + 8]);
        f64::from_le_bytes(b)
    })
}

fn load(path: &Path) -> Result<Points> {
    let mut all = Points::default();
    for_each_record_chunk(path, |records| {
        for rec in records.chunks_exact(RECORD) {
            decode(rec, &mut all);
        }
        Ok(())
    })?;
    Ok(all)
}

/// Writes `p` to `path`, replacing what it held.
fn save(path: &Path, p: &Points) -> Result<()> {
    std::fs::write(path, encode_all(p)).map_err(|e| Error::io(path, e))
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

/// The spill records of `p`.
pub fn encode_all(p: &Points) -> Vec<u8> {
    let mut buf = Vec::with_capacity(p.len() * RECORD);
    for i in 0..p.len() {
        encode(p, i, &mut buf);
    }
    buf
}

/// A cube of the octree.
#[derive(Debug, Clone)]
struct Cube {
    /// Octants from the root.
    path: Vec<u8>,
    lo: [f64; 3],
    size: f64,
}

impl Cube {
    fn depth(&self) -> u32 {
        self.path.len() as u32
    }

    fn address(&self) -> String {
        let mut a = String::from("0");
        for o in &self.path {
            a.push('-');
            a.push(char::from(b'0' + o));
        }
        a
    }

    fn child(&self, o: usize) -> Cube {
        let mut path = self.path.clone();
        path.push(o as u8);
        Cube {
            path,
            lo: octree::octant_lo(self.lo, self.size, o),
            size: self.size / 2.0,
        }
    }

    /// The lower corner of the parent (a bin's candidates are cells of its parent's grid).
    fn parent_lo(&self) -> [f64; 3] {
        let Some(&o) = self.path.last() else {
            return self.lo;
        };
        [0, 1, 2].map(|k| {
            if o >> k & 1 == 1 {
                self.lo[k] - self.size
            } else {
                self.lo[k]
            }
        })
    }
}

/// A bin: the points of one cube, in a spill file.
#[derive(Debug)]
struct Bin {
    cube: Cube,
    file: PathBuf,
    count: u64,
    /// Candidates it handed up.
    candidates: u64,
}

/// Streams `src` (points inside `cube`) into bins `levels` below it, in `dir`. Records are copied as they
/// are: only their position is read.
fn bin_file(src: &Path, cube: &Cube, levels: u32, dir: &Path) -> Result<Vec<Bin>> {
    let codes = 1usize << (3 * levels);
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); codes];
    let mut counts: Vec<u64> = vec![0; codes];
    let mut buffered = 0usize;
    let name = |code: usize| {
        let mut c = cube.clone();
        for l in (0..levels).rev() {
            c = c.child(code >> (3 * l) & 7);
        }
        c
    };
    let file_of = |c: &Cube| dir.join(format!("{}.bin", c.address()));
    let flush = |bufs: &mut Vec<Vec<u8>>| -> Result<()> {
        for (code, buf) in bufs.iter_mut().enumerate().filter(|(_, b)| !b.is_empty()) {
            let path = file_of(&name(code));
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            f.write_all(buf).map_err(|e| Error::io(&path, e))?;
            // Freed, not cleared, as in the ingest's sort: bins fill area by area.
            *buf = Vec::new();
        }
        Ok(())
    };
    for_each_record_chunk(src, |records| {
        for rec in records.chunks_exact(RECORD) {
            let p = position(rec);
            let (mut lo, mut size, mut code) = (cube.lo, cube.size, 0usize);
            for _ in 0..levels {
                let o = octree::octant_of(p, lo, size);
                lo = octree::octant_lo(lo, size, o);
                size /= 2.0;
                code = code << 3 | o;
            }
            bufs[code].extend_from_slice(rec);
            counts[code] += 1;
            buffered += RECORD;
        }
        if buffered >= BUFFER_BYTES {
            flush(&mut bufs)?;
            buffered = 0;
        }
        Ok(())
    })?;
    flush(&mut bufs)?;
    Ok(counts
        .into_iter()
        .enumerate()
        .filter(|&(_, count)| count > 0)
        .map(|(code, count)| {
            let cube = name(code);
            Bin {
                file: file_of(&cube),
                cube,
                count,
                candidates: 0,
            }
        })
        .collect())
}

/// Which points of a sorted bin the levels above it may take: the first `depth` of each cell of its
/// parent's subsampling grid.
fn candidates(p: &Points, cube: &Cube) -> Vec<bool> {
    let (plo, psize, d) = (cube.parent_lo(), cube.size * 2.0, cube.depth());
    let mut seen: FxHashMap<u64, u32> = FxHashMap::default();
    p.enu
        .iter()
        .map(|&q| {
            let n = seen
                .entry(octree::cell_key(q, plo, psize, GRID))
                .or_default();
            *n += 1;
            *n <= d
        })
        .collect()
}

fn push(to: &mut Points, from: &Points, i: usize) {
    to.enu.push(from.enu[i]);
    to.z.push(from.z[i]);
    to.intensity.push(from.intensity[i]);
    to.class.push(from.class[i]);
    to.rgb.push(from.rgb[i]);
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
    let pts = sort(pts);
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

/// The first binning depth: a surface of `n` points spreads over about 4^k cells at depth k; aim at
/// bins of half the budget.
fn first_levels(n: usize, budget: usize) -> u32 {
    let mut k = 1;
    while k < MAX_LEVELS && n as f64 / 4f64.powi(k as i32) > budget as f64 / 2.0 {
        k += 1;
    }
    k
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
    let mut cands = Points::default();
    for bin in &mut bins {
        let p = sort(load(&bin.file)?);
        let mut rest = Points::with_capacity(p.len());
        for (i, is_candidate) in candidates(&p, &bin.cube).into_iter().enumerate() {
            if is_candidate {
                push(&mut cands, &p, i);
                bin.candidates += 1;
            } else {
                push(&mut rest, &p, i);
            }
        }
        // The bin keeps only its sorted non-candidates, so tiling it needs no second sort and
        // candidate pass.
        save(&bin.file, &rest)?;
    }
    if cands.len() > u32::MAX as usize {
        return Err(Error::BadInput(format!(
            "{} points would form the upper levels of the point tree, more than 2^32 − 1; lower {} \
             or split the dataset",
            cands.len(),
            Plan::ENV
        )));
    }
    let cands = sort(cands);
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
    fn records_round_trip() {
        let p = Points {
            enu: vec![[1.5, -2.25, 1e6], [0.0, 0.0, 0.0]],
            z: vec![3.0, -1.0],
            intensity: vec![7, 65_535],
            class: vec![6, 2],
            rgb: vec![Some([1, 256, 65_535]), None],
        };
        let mut buf = vec![];
        encode(&p, 0, &mut buf);
        encode(&p, 1, &mut buf);
        assert_eq!(buf.len(), 2 * RECORD);
        let mut q = Points::default();
        for r in buf.chunks_exact(RECORD) {
            decode(r, &mut q);
            assert_eq!(position(r), q.enu[q.len() - 1]);
        }
        assert_eq!(q.enu, p.enu);
        assert_eq!(q.z, p.z);
        assert_eq!(q.intensity, p.intensity);
        assert_eq!(q.class, p.class);
        assert_eq!(q.rgb, p.rgb);
    }

    #[test]
    fn first_levels_spread_a_surface_over_bins_of_half_the_budget() {
        assert_eq!(first_levels(3_000_000, 2_000_000), 1);
        assert_eq!(first_levels(100_000_000, 2_000_000), 4);
        assert_eq!(first_levels(10_000_000, 2_000_000), 2);
    }
}
