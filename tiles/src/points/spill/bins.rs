//! Bins: the cubes the spilled points are streamed into, and the candidates each hands to the levels
//! above it (steps 2 and 3 of [`super`]).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Condvar, Mutex};
use std::thread::JoinHandle;

use rustc_hash::FxHashMap;

use super::record::{RECORD, for_each_record_chunk, load, position, save};
use crate::points::Points;
use crate::points::octree::{self, GRID};
use crate::points::order::sort;
use crate::{Error, Result};

/// Bytes of bin buffers before they are written out.
pub(super) const BUFFER_BYTES: usize = 64 << 20;
/// The most levels one binning pass descends (8⁴ = 4096 bins).
const MAX_LEVELS: u32 = 4;

/// A cube of the octree.
#[derive(Debug, Clone)]
pub(super) struct Cube {
    /// Octants from the root.
    pub(super) path: Vec<u8>,
    pub(super) lo: [f64; 3],
    pub(super) size: f64,
}

impl Cube {
    pub(super) fn depth(&self) -> u32 {
        self.path.len() as u32
    }

    pub(super) fn address(&self) -> String {
        let mut a = String::from("0");
        for o in &self.path {
            a.push('-');
            a.push(char::from(b'0' + o));
        }
        a
    }

    pub(super) fn child(&self, o: usize) -> Cube {
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
pub(super) struct Bin {
    pub(super) cube: Cube,
    pub(super) file: PathBuf,
    pub(super) count: u64,
    /// Candidates it handed up.
    pub(super) candidates: u64,
}

/// Buffers bound for bin files, by path.
pub(super) type Buffers = Vec<(PathBuf, Vec<u8>)>;

/// Appends full buffers to their bin files on a second thread while the caller fills the next ones: the
/// kernel's copy into the page cache is then off the binning thread.
pub(super) struct Appender {
    tx: Option<SyncSender<Buffers>>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl Appender {
    pub(super) fn new() -> Appender {
        // One set queued while one is written: at most three sets of buffers exist.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Buffers>(1);
        let thread = std::thread::spawn(move || {
            for bufs in rx {
                for (path, buf) in bufs {
                    let mut f = OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&path)
                        .map_err(|e| Error::io(&path, e))?;
                    f.write_all(&buf).map_err(|e| Error::io(&path, e))?;
                }
            }
            Ok(())
        });
        Appender {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// Queues buffers; a failed write of an earlier set is returned here.
    pub(super) fn send(&mut self, bufs: Buffers) -> Result<()> {
        let sent = self.tx.as_ref().is_some_and(|tx| tx.send(bufs).is_ok());
        if sent { Ok(()) } else { self.finish() }
    }

    /// Waits for every queued write.
    pub(super) fn finish(&mut self) -> Result<()> {
        drop(self.tx.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(Error::Internal("the bin writer thread panicked".into())),
            None => Err(Error::Internal("the bin writer had already stopped".into())),
        }
    }
}

/// Streams `src` (points inside `cube`) into bins `levels` below it, in `dir`. Records are copied as they
/// are: only their position is read.
pub(super) fn bin_file(src: &Path, cube: &Cube, levels: u32, dir: &Path) -> Result<Vec<Bin>> {
    let codes = 1usize << (3 * levels);
    let name = |code: usize| {
        let mut c = cube.clone();
        for l in (0..levels).rev() {
            c = c.child(code >> (3 * l) & 7);
        }
        c
    };
    let file_of = |c: &Cube| dir.join(format!("{}.bin", c.address()));
    // Fresh buffers each time, not cleared ones, as in the ingest's sort: bins fill area by area.
    let by_file = |bufs: Vec<Vec<u8>>| -> Buffers {
        bufs.into_iter()
            .enumerate()
            .filter(|(_, b)| !b.is_empty())
            .map(|(code, b)| (file_of(&name(code)), b))
            .collect()
    };
    let mut counts: Vec<u64> = vec![0; codes];
    let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); codes];
    let mut buffered = 0usize;
    let mut appender = Appender::new();
    let read = for_each_record_chunk(src, |records| {
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
            appender.send(by_file(std::mem::replace(
                &mut bufs,
                vec![Vec::new(); codes],
            )))?;
            buffered = 0;
        }
        Ok(())
    });
    let written = match read {
        Ok(()) => appender
            .send(by_file(bufs))
            .and_then(|()| appender.finish()),
        Err(e) => {
            let _ = appender.finish();
            Err(e)
        }
    };
    written?;
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

/// `f` of every bin, in bin order, run on one thread per core while the bins being worked on hold at
/// most `budget` points together (a bigger bin runs alone): memory stays bounded however many cores
/// there are, while small bins keep every core busy.
pub(super) fn side_by_side<T: Send>(
    bins: &mut [Bin],
    budget: usize,
    f: impl Fn(&mut Bin) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let queue = Mutex::new(bins.iter_mut().enumerate());
    // Points of the bins being worked on.
    let held = (Mutex::new(0usize), Condvar::new());
    let work = || -> Result<Vec<(usize, T)>> {
        let mut done = vec![];
        loop {
            let next = queue.lock().map_err(|_| poisoned())?.next();
            let Some((i, bin)) = next else {
                return Ok(done);
            };
            let n = usize::try_from(bin.count).unwrap_or(usize::MAX);
            let (lock, freed) = &held;
            let mut h = lock.lock().map_err(|_| poisoned())?;
            while *h > 0 && h.saturating_add(n) > budget {
                h = freed.wait(h).map_err(|_| poisoned())?;
            }
            *h += n;
            drop(h);
            let r = f(bin);
            *lock.lock().map_err(|_| poisoned())? -= n;
            freed.notify_all();
            match r {
                Ok(t) => done.push((i, t)),
                Err(e) => {
                    // The other workers stop after their current bin.
                    queue
                        .lock()
                        .map_err(|_| poisoned())?
                        .by_ref()
                        .for_each(drop);
                    return Err(e);
                }
            }
        }
    };
    let mut all: Vec<(usize, T)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads).map(|_| scope.spawn(work)).collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|_| Err(poisoned())))
            .collect::<Result<Vec<_>>>()
    })?
    .into_iter()
    .flatten()
    .collect();
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

fn poisoned() -> Error {
    Error::Internal("a point tiling thread failed".into())
}

/// Sorts a bin, writes it back holding only its non-candidates (so tiling it needs no second sort and
/// candidate pass) and returns its candidates.
pub(super) fn split_candidates(bin: &mut Bin) -> Result<Points> {
    let mut p = sort(load(&bin.file)?);
    let is_candidate = candidates(&p, &bin.cube);
    let mut cands = Points::default();
    for (i, _) in is_candidate.iter().enumerate().filter(|(_, c)| **c) {
        push(&mut cands, &p, i);
    }
    // In place: a second copy of the bin would be its largest allocation.
    retain(&mut p, &is_candidate, false);
    bin.candidates = cands.len() as u64;
    save(&bin.file, &p)?;
    Ok(cands)
}

/// Keeps the points whose `flags` entry is `keep`, in order.
fn retain(p: &mut Points, flags: &[bool], keep: bool) {
    fn column<T>(v: &mut Vec<T>, flags: &[bool], keep: bool) {
        let mut i = 0;
        v.retain(|_| {
            i += 1;
            flags[i - 1] == keep
        });
    }
    column(&mut p.enu, flags, keep);
    column(&mut p.z, flags, keep);
    column(&mut p.intensity, flags, keep);
    column(&mut p.class, flags, keep);
    column(&mut p.rgb, flags, keep);
}

pub(super) fn push(to: &mut Points, from: &Points, i: usize) {
    to.enu.push(from.enu[i]);
    to.z.push(from.z[i]);
    to.intensity.push(from.intensity[i]);
    to.class.push(from.class[i]);
    to.rgb.push(from.rgb[i]);
}

/// The first binning depth: a surface of `n` points spreads over about 4^k cells at depth k; aim at
/// bins of half the budget.
pub(super) fn first_levels(n: usize, budget: usize) -> u32 {
    let mut k = 1;
    while k < MAX_LEVELS && n as f64 / 4f64.powi(k as i32) > budget as f64 / 2.0 {
        k += 1;
    }
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_run_side_by_side_only_within_the_budget_and_come_back_in_order() {
        let mut bins: Vec<Bin> = [4, 5, 2, 9, 12, 1, 1, 3]
            .into_iter()
            .map(|count| Bin {
                cube: Cube {
                    path: vec![],
                    lo: [0.0; 3],
                    size: 1.0,
                },
                file: PathBuf::new(),
                count,
                candidates: 0,
            })
            .collect();
        let held = Mutex::new((0u64, 0u64));
        let counts = side_by_side(&mut bins, 10, |b| {
            {
                let mut h = held.lock().unwrap();
                h.0 += b.count;
                h.1 = h.1.max(h.0);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
            held.lock().unwrap().0 -= b.count;
            Ok(b.count)
        })
        .unwrap();
        assert_eq!(counts, vec![4, 5, 2, 9, 12, 1, 1, 3]);
        // 12 ran alone; nothing else ever held more than 10 together.
        assert_eq!(held.lock().unwrap().1, 12);
        let err = side_by_side(&mut bins, 10, |b| match b.count {
            9 => Err(Error::BadInput("bin of nine".into())),
            n => Ok(n),
        });
        assert!(err.is_err_and(|e| e.to_string().contains("bin of nine")));
    }

    #[test]
    fn first_levels_spread_a_surface_over_bins_of_half_the_budget() {
        assert_eq!(first_levels(3_000_000, 2_000_000), 1);
        assert_eq!(first_levels(100_000_000, 2_000_000), 4);
        assert_eq!(first_levels(10_000_000, 2_000_000), 2);
    }
}
