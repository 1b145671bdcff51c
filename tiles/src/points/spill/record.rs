//! The spill's record format: one converted point in [`RECORD`] bytes, and the files made of them.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;

use crate::points::Points;
use crate::{Error, Result};

/// Bytes of one spilled point: east, north, up and z (f64), intensity (u16), class (u8), an RGB flag (u8)
/// and RGB (3 × u16).
pub const RECORD: usize = 42;
/// Records read from a spill file at a time.
pub(super) const READ_RECORDS: usize = 64 * 1024;

pub(super) fn encode(p: &Points, i: usize, out: &mut Vec<u8>) {
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

pub(super) fn decode(r: &[u8], out: &mut Points) {
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
pub(super) fn for_each_record_chunk(
    path: &Path,
    mut f: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
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
pub(super) fn position(r: &[u8]) -> [f64; 3] {
    [0, 8, 16].map(|k| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&r[k..k + 8]);
        f64::from_le_bytes(b)
    })
}

pub(super) fn load(path: &Path) -> Result<Points> {
    // Sized from the file: grown by doubling, the columns were copied into fresh memory again and
    // again, and the kernel zeroing those pages was a large part of the tiler's time.
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    let mut all = Points::with_capacity(usize::try_from(len).unwrap_or(0) / RECORD);
    load_into(path, &mut all)?;
    Ok(all)
}

/// Appends the points of a spill file to `out` (which the caller sized, as [`load`] does).
pub(super) fn load_into(path: &Path, out: &mut Points) -> Result<()> {
    for_each_record_chunk(path, |records| {
        for rec in records.chunks_exact(RECORD) {
            decode(rec, out);
        }
        Ok(())
    })
}

/// Writes `p` to `path`, replacing what it held, a few MiB of records at a time.
pub(super) fn save(path: &Path, p: &Points) -> Result<()> {
    let mut out = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut buf = Vec::with_capacity(READ_RECORDS * RECORD);
    for start in (0..p.len()).step_by(READ_RECORDS) {
        buf.clear();
        for i in start..p.len().min(start + READ_RECORDS) {
            encode(p, i, &mut buf);
        }
        out.write_all(&buf).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// The spill records of `p`, in `buf` (cleared first; callers keep one buffer for every batch).
pub fn encode_all(p: &Points, buf: &mut Vec<u8>) {
    buf.clear();
    buf.reserve(p.len() * RECORD);
    for i in 0..p.len() {
        encode(p, i, buf);
    }
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
}
