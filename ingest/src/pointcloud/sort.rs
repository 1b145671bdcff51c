//! Out-of-core Morton (Z-order) sort of point records.
//!
//! Pass 1 ([`Binner`]) sees every record once, in file order: it computes the record's Morton key over the
//! header bounds and appends the raw record (with its file record number) to one of 65 536 bins — the
//! top 16 bits of the key, a 256 × 256 grid. Bins buffer in memory and are flushed together as runs to a
//! spill (a temporary file when the input is larger than [`SortPlan::in_memory_points`], memory
//! otherwise) whenever the buffers reach [`SortPlan::buffer_bytes`].
//!
//! Pass 2 ([`SortedBatches`]) walks the bins in key order, in groups of consecutive bins holding at most
//! [`SortPlan::group_points`] points (a single denser bin is a group of its own), reads a group's runs
//! back, sorts it by full key and hands out Arrow batches. Memory is the bin buffers plus one group,
//! whatever the input size; disk is one copy of the raw records.
//!
//! Bins are contiguous key ranges, so concatenating sorted groups gives the globally sorted order. Points
//! outside the header bounds (a header that lies) are clamped to its edge: still correct, just less tidy.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};

use las::{PointData, PointDataBuilder, Transform, Vector, point::Format};
use tvilling_core::arrow::record_batch::RecordBatch;
use tvilling_core::wkb::Bbox;

use super::rows::Converter;
use crate::{Error, Result};

/// Sizes that bound memory; the defaults keep a 100 M point ingest well under 1 GiB.
#[derive(Debug, Clone, Copy)]
pub struct SortPlan {
    /// Up to this many points the spill stays in memory; above it, a temporary file (in `TMPDIR`).
    pub in_memory_points: u64,
    /// Bytes of bin buffers before they are flushed to the spill.
    pub buffer_bytes: usize,
    /// Points sorted in memory at a time in pass 2.
    pub group_points: u64,
    /// Rows per Arrow batch handed to the store (the store's Parquet row group is 64 Ki rows).
    pub batch_rows: usize,
}

impl Default for SortPlan {
    fn default() -> Self {
        SortPlan {
            in_memory_points: 2_000_000,
            buffer_bytes: 64 << 20,
            group_points: 1_000_000,
            batch_rows: 64 * 1024,
        }
    }
}

const BINS: usize = 1 << 16;

/// Morton key of (x, y) over `b`: 32 bits per axis, interleaved (x in the even bits).
pub fn morton(x: f64, y: f64, b: &Bbox) -> u64 {
    let q = |v: f64, lo: f64, hi: f64| {
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
        // NaN → 0; the clamp keeps points outside lying header bounds on the grid.
        let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
        (t * f64::from(u32::MAX)) as u32
    };
    spread(q(x, b.xmin, b.xmax)) | (spread(q(y, b.ymin, b.ymax)) << 1)
}

/// The bits of `v` moved to the even positions of a u64.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    x = (x | (x << 1)) & 0x5555_5555_5555_5555;
    x
}

/// Where spilled runs live: memory for small inputs, a temporary file (deleted on drop) for large ones.
trait Spill: Read + Write + Seek + Send {}
impl<T: Read + Write + Seek + Send> Spill for T {}

/// Pass 1: bins raw records by the top of their Morton key.
pub struct Binner {
    plan: SortPlan,
    bounds: Bbox,
    record_len: usize,
    buffers: Vec<Vec<u8>>,
    buffered: usize,
    runs: Vec<Vec<(u64, u64)>>,
    counts: Vec<u64>,
    spill: Box<dyn Spill>,
    end: u64,
}

impl Binner {
    /// A binner for `points` records of `record_len` bytes, keyed over `bounds` (file coordinates).
    pub fn new(plan: SortPlan, bounds: Bbox, record_len: usize, points: u64) -> Result<Self> {
        let spill: Box<dyn Spill> = if points > plan.in_memory_points {
            let f = tempfile::tempfile().map_err(|e| {
                Error::io(
                    std::env::temp_dir(),
                    std::io::Error::new(
                        e.kind(),
                        format!("cannot create the spill file for sorting points ({e}); set TMPDIR to a \
                                 writable folder with room for the points"),
                    ),
                )
            })?;
            Box::new(SpillFile(std::io::BufWriter::with_capacity(1 << 20, f)))
        } else {
            Box::new(Cursor::new(Vec::new()))
        };
        Ok(Binner {
            plan,
            bounds,
            record_len,
            buffers: vec![Vec::new(); BINS],
            buffered: 0,
            runs: vec![Vec::new(); BINS],
            counts: vec![0; BINS],
            spill,
            end: 0,
        })
    }

    /// Adds the records of `points`, whose first file record number is `first`.
    pub fn add(&mut self, points: &PointData, first: u64) -> Result<()> {
        let raw = points.raw_bytes();
        let records = raw.chunks_exact(self.record_len);
        for (i, ((x, y), rec)) in points.x().zip(points.y()).zip(records).enumerate() {
            let bin = (morton(x, y, &self.bounds) >> 48) as usize;
            let buf = &mut self.buffers[bin];
            buf.extend_from_slice(&(first + i as u64).to_le_bytes());
            buf.extend_from_slice(rec);
            self.counts[bin] += 1;
            self.buffered += 8 + self.record_len;
        }
        if self.buffered >= self.plan.buffer_bytes {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        for (bin, buf) in self.buffers.iter_mut().enumerate() {
            if buf.is_empty() {
                continue;
            }
            self.spill.write_all(buf).map_err(spill_error)?;
            self.runs[bin].push((self.end, buf.len() as u64));
            self.end += buf.len() as u64;
            // Freed, not cleared: a file's points reach the bins area by area, so every bin would keep
            // the capacity of its busiest stretch and their sum grew with the input (1.5 GB for 20 M
            // points) instead of staying near `buffer_bytes`.
            *buf = Vec::new();
        }
        self.buffered = 0;
        Ok(())
    }

    /// Ends pass 1: the batches of pass 2, in Morton order.
    pub fn finish(
        mut self,
        format: Format,
        transforms: Vector<Transform>,
        converter: Converter,
    ) -> Result<SortedBatches> {
        self.flush()?;
        self.buffers = Vec::new();
        let mut groups = vec![];
        let mut start = 0;
        let mut in_group = 0u64;
        for bin in 0..BINS {
            let n = self.counts[bin];
            if in_group > 0 && in_group + n > self.plan.group_points {
                groups.push(start..bin);
                start = bin;
                in_group = 0;
            }
            in_group += n;
        }
        if in_group > 0 {
            groups.push(start..BINS);
        }
        groups.reverse();
        Ok(SortedBatches {
            plan: self.plan,
            bounds: self.bounds,
            record_len: self.record_len,
            runs: self.runs,
            spill: self.spill,
            groups,
            entries: Vec::new(),
            order: Vec::new(),
            pos: 0,
            format,
            transforms,
            converter,
        })
    }
}

/// Pass 2: the sorted rows, one batch at a time.
pub struct SortedBatches {
    plan: SortPlan,
    bounds: Bbox,
    record_len: usize,
    runs: Vec<Vec<(u64, u64)>>,
    spill: Box<dyn Spill>,
    /// Bin ranges still to read, last first.
    groups: Vec<std::ops::Range<usize>>,
    /// The current group: (record number, record) entries.
    entries: Vec<u8>,
    /// Entry indices of the current group in key order.
    order: Vec<u32>,
    pos: usize,
    format: Format,
    transforms: Vector<Transform>,
    converter: Converter,
}

impl SortedBatches {
    fn load_group(&mut self, bins: std::ops::Range<usize>) -> Result<()> {
        self.entries.clear();
        for bin in bins {
            for &(offset, len) in &self.runs[bin] {
                self.spill
                    .seek(SeekFrom::Start(offset))
                    .map_err(spill_error)?;
                let at = self.entries.len();
                let len = usize::try_from(len).map_err(|e| Error::Internal(e.to_string()))?;
                self.entries.resize(at + len, 0);
                self.spill
                    .read_exact(&mut self.entries[at..])
                    .map_err(spill_error)?;
            }
        }
        let entry = 8 + self.record_len;
        let t = self.transforms;
        let mut keyed: Vec<(u64, u64, u32)> = self
            .entries
            .chunks_exact(entry)
            .enumerate()
            .map(|(i, e)| {
                let word = |o: usize| [e[o], e[o + 1], e[o + 2], e[o + 3]];
                let mut id = [0u8; 8];
                id.copy_from_slice(&e[..8]);
                // Every LAS point record starts with X, Y, Z as little-endian i32.
                let x = t.x.direct(i32::from_le_bytes(word(8)));
                let y = t.y.direct(i32::from_le_bytes(word(12)));
                (morton(x, y, &self.bounds), u64::from_le_bytes(id), i as u32)
            })
            .collect();
        // Ties (points in one cell) keep file order, so the output is deterministic.
        keyed.sort_unstable();
        self.order = keyed.into_iter().map(|k| k.2).collect();
        self.pos = 0;
        Ok(())
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        while self.pos >= self.order.len() {
            let Some(bins) = self.groups.pop() else {
                return Ok(None);
            };
            self.load_group(bins)?;
        }
        let end = (self.pos + self.plan.batch_rows).min(self.order.len());
        let entry = 8 + self.record_len;
        let mut bytes = Vec::with_capacity((end - self.pos) * self.record_len);
        let mut ids = Vec::with_capacity(end - self.pos);
        for &i in &self.order[self.pos..end] {
            let e = &self.entries[i as usize * entry..(i as usize + 1) * entry];
            let mut id = [0u8; 8];
            id.copy_from_slice(&e[..8]);
            ids.push(u64::from_le_bytes(id));
            bytes.extend_from_slice(&e[8..]);
        }
        self.pos = end;
        let points = PointDataBuilder::new()
            .with_format(self.format)
            .with_transforms(self.transforms)
            .build_from_bytes(bytes)
            .map_err(|e| Error::Internal(format!("re-reading sorted points: {e}")))?;
        self.converter.batch(&points, &ids).map(Some)
    }
}

impl Iterator for SortedBatches {
    type Item = Result<RecordBatch>;
    fn next(&mut self) -> Option<Self::Item> {
        match self.next_batch() {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => {
                // Stop after an error: the commit fails and nothing more is needed.
                self.groups.clear();
                self.order.clear();
                Some(Err(e))
            }
        }
    }
}

/// A buffered spill file that can be read back: reading or seeking flushes what is buffered first.
struct SpillFile(std::io::BufWriter<std::fs::File>);

impl Write for SpillFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl Seek for SpillFile {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

impl Read for SpillFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.flush()?;
        self.0.get_mut().read(buf)
    }
}

fn spill_error(e: std::io::Error) -> Error {
    Error::io(
        std::env::temp_dir(),
        std::io::Error::new(
            e.kind(),
            format!(
                "writing or reading the point sort's spill file: {e}; set TMPDIR to a folder with room"
            ),
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_square() -> Bbox {
        Bbox {
            xmin: 0.0,
            ymin: 0.0,
            xmax: 1.0,
            ymax: 1.0,
            zmin: None,
            zmax: None,
        }
    }

    #[test]
    fn morton_orders_quadrants() {
        let b = unit_square();
        let k = |x, y| morton(x, y, &b);
        assert!(k(0.1, 0.1) < k(0.9, 0.1));
        assert!(k(0.9, 0.1) < k(0.1, 0.9));
        assert!(k(0.1, 0.9) < k(0.9, 0.9));
        assert_eq!(k(f64::NAN, 0.0), 0);
        assert_eq!(k(-5.0, -5.0), 0);
        assert_eq!(spread(0b11), 0b101);
    }

    #[test]
    fn bin_buffers_do_not_keep_the_memory_of_areas_already_passed() {
        let plan = SortPlan {
            buffer_bytes: 4096,
            ..SortPlan::default()
        };
        let mut binner = Binner::new(plan, unit_square(), 10, 0).unwrap();
        // A file that reaches the bins area by area: each stretch fills other bins, then flushes.
        for area in 0..200 {
            binner.buffers[area * 300].extend_from_slice(&[7u8; 4096]);
            binner.buffered = 4096;
            binner.flush().unwrap();
        }
        let kept: usize = binner.buffers.iter().map(Vec::capacity).sum();
        assert_eq!(kept, 0, "flushed buffers must give their memory back");
        assert_eq!(binner.end, 200 * 4096);
    }
}
