//! The IoT write-ahead log: readings are durable once their record is written and `fdatasync`ed here,
//! and reach the Delta store in large batches later ([`super::hub`]).
//!
//! Committing every HTTP request or MQTT message to Delta would make one Parquet file and one log entry
//! per request: slow to write (a table open, a file, a commit) and ruinous to read after a day (tens of
//! thousands of tiny files). The log turns many small writes into one sequential append and one sync per
//! group, and the store gets one file per flush.
//!
//! Layout: `<store>/_wal/<collection>/<segment>.wal`, segments numbered upwards. Each write is one
//! record: `len: u32 LE`, `crc32(payload): u32 LE`, payload = readings, each `datastream i64`,
//! `phenomenon µs i64`, `result f64`, `result time µs i64` (`i64::MIN`: none), `quality length u16` +
//! UTF-8 bytes. A record cut short by a crash fails its length or checksum and ends the replay of its
//! segment; it was never acknowledged (the answer comes after the sync), so nothing acknowledged is lost.
//! A `LOCK` file held with an OS lock keeps a second server off the same log.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use chrono::DateTime;
use tvilling_core::iot::Observation;

/// No record is larger (a 64 MiB request body holds far fewer readings than this many bytes).
const MAX_RECORD: usize = 1 << 30;
const NO_TIME: i64 = i64::MIN;

/// An open write-ahead log (see the module doc).
#[derive(Debug)]
pub struct Wal {
    dir: PathBuf,
    file: File,
    segment: u64,
    _lock: File,
}

impl Wal {
    /// Opens (creating) the log in `dir` and returns the readings of every segment left by an earlier
    /// run, which the caller must store before [`Wal::remove_through`] the returned segment number.
    pub fn open(dir: &Path) -> io::Result<(Wal, Vec<Observation>, u64)> {
        fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        lock.try_lock().map_err(|_| {
            io::Error::other(format!(
                "another tvilling server holds the IoT write-ahead log {}; serve each IoT collection from \
                 one server, or give this one another server.iot.collection",
                dir.display()
            ))
        })?;
        let segments = segments(dir)?;
        let mut readings = vec![];
        for s in &segments {
            replay(&segment_path(dir, *s), &mut readings)?;
        }
        let last = segments.last().copied().unwrap_or(0);
        let segment = last + 1;
        let file = create(dir, segment)?;
        Ok((
            Wal {
                dir: dir.to_path_buf(),
                file,
                segment,
                _lock: lock,
            },
            readings,
            last,
        ))
    }

    /// Appends `obs` as one record and syncs it to disk: when this returns, the readings survive a crash
    /// of the process or of the machine.
    pub fn append(&mut self, obs: &[Observation]) -> io::Result<()> {
        let mut payload = Vec::with_capacity(obs.len() * 34);
        for o in obs {
            payload.extend_from_slice(&o.datastream.to_le_bytes());
            payload.extend_from_slice(&o.phenomenon_time.timestamp_micros().to_le_bytes());
            payload.extend_from_slice(&o.result.to_le_bytes());
            let rt = o.result_time.map_or(NO_TIME, |t| t.timestamp_micros());
            payload.extend_from_slice(&rt.to_le_bytes());
            let q = o.result_quality.as_deref().unwrap_or("").as_bytes();
            let q = &q[..q.len().min(u16::MAX as usize)];
            payload.extend_from_slice(&(q.len() as u16).to_le_bytes());
            payload.extend_from_slice(q);
        }
        let mut record = Vec::with_capacity(payload.len() + 8);
        record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        record.extend_from_slice(&payload);
        self.file.write_all(&record)?;
        self.file.sync_data()
    }

    /// Starts a new segment; returns the number of the one just closed, whose readings the caller is
    /// about to store.
    pub fn rotate(&mut self) -> io::Result<u64> {
        let closed = self.segment;
        self.file = create(&self.dir, closed + 1)?;
        self.segment = closed + 1;
        Ok(closed)
    }

    /// Deletes the segments up to `last` (their readings are committed to the store).
    pub fn remove_through(&self, last: u64) -> io::Result<()> {
        for s in segments(&self.dir)? {
            if s <= last && s != self.segment {
                fs::remove_file(segment_path(&self.dir, s))?;
            }
        }
        Ok(())
    }
}

fn segment_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("{n:012}.wal"))
}

fn create(dir: &Path, n: u64) -> io::Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(segment_path(dir, n))?;
    // The new name must survive a crash too, or its records would be unreachable.
    File::open(dir)?.sync_all()?;
    Ok(file)
}

fn segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut out: Vec<u64> = fs::read_dir(dir)?
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".wal")?
                .parse::<u64>()
                .ok()
        })
        .collect();
    out.sort_unstable();
    Ok(out)
}

/// Reads a segment's readings up to its first incomplete or damaged record.
fn replay(path: &Path, out: &mut Vec<Observation>) -> io::Result<()> {
    let mut bytes = vec![];
    File::open(path)?.read_to_end(&mut bytes)?;
    let mut at = 0;
    while let Some(head) = bytes.get(at..at + 8) {
        let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        let Some(payload) = bytes
            .get(at + 8..at + 8 + len)
            .filter(|_| len <= MAX_RECORD)
        else {
            tracing::warn!(segment = %path.display(), offset = at, "IoT log ends in a cut record (never acknowledged); ignored");
            break;
        };
        if crc32fast::hash(payload) != crc {
            tracing::warn!(segment = %path.display(), offset = at, "IoT log record fails its checksum (never acknowledged); the rest of the segment is ignored");
            break;
        }
        decode(payload, out).map_err(|why| {
            io::Error::other(format!(
                "{} at byte {at}: {why} (the checksum matched, so tvilling wrote it this way: a bug)",
                path.display()
            ))
        })?;
        at += 8 + len;
    }
    Ok(())
}

fn decode(mut p: &[u8], out: &mut Vec<Observation>) -> Result<(), String> {
    fn take<'a>(p: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if p.len() < n {
            return Err("a reading is cut short".into());
        }
        let (head, rest) = p.split_at(n);
        *p = rest;
        Ok(head)
    }
    fn i64_of(p: &mut &[u8]) -> Result<i64, String> {
        let b = take(p, 8)?;
        Ok(i64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
        ]))
    }
    let time =
        |v: i64| DateTime::from_timestamp_micros(v).ok_or(format!("time {v} µs out of range"));
    while !p.is_empty() {
        let datastream = i64_of(&mut p)?;
        let phenomenon_time = time(i64_of(&mut p)?)?;
        let result = f64::from_bits(i64_of(&mut p)? as u64);
        let rt = i64_of(&mut p)?;
        let q = take(&mut p, 2)?;
        let qlen = u16::from_le_bytes([q[0], q[1]]) as usize;
        let q = std::str::from_utf8(take(&mut p, qlen)?).map_err(|e| e.to_string())?;
        out.push(Observation {
            datastream,
            phenomenon_time,
            result_time: if rt == NO_TIME { None } else { Some(time(rt)?) },
            result,
            result_quality: (!q.is_empty()).then(|| q.to_string()),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(ds: i64, s: i64, q: Option<&str>) -> Observation {
        Observation {
            datastream: ds,
            phenomenon_time: DateTime::from_timestamp(1_780_000_000 + s, 0).unwrap(),
            result_time: (s % 2 == 0)
                .then(|| DateTime::from_timestamp(1_780_000_100, 5000).unwrap()),
            result: s as f64 * 0.5 - 3.0,
            result_quality: q.map(str::to_string),
        }
    }

    #[test]
    fn replays_what_was_written_and_ignores_a_cut_tail() {
        let dir = tempfile::tempdir().unwrap();
        let first = vec![reading(1, 0, Some("G")), reading(2, 1, None)];
        let second = vec![reading(3, 2, Some("Y"))];
        {
            let (mut wal, old, last) = Wal::open(dir.path()).unwrap();
            assert!(old.is_empty());
            assert_eq!(last, 0);
            wal.append(&first).unwrap();
            wal.append(&second).unwrap();
        }
        // A crash in the middle of a third record: half of it is on disk.
        let path = segment_path(dir.path(), 1);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, 9, 9]).unwrap();
        drop(f);
        let (mut wal, old, last) = Wal::open(dir.path()).unwrap();
        assert_eq!(old, [first.clone(), second].concat());
        assert_eq!(last, 1);
        wal.remove_through(last).unwrap();
        wal.append(&first).unwrap();
        drop(wal);
        let (_wal, old, last) = Wal::open(dir.path()).unwrap();
        assert_eq!(old, first);
        assert_eq!(last, 2);
    }

    #[test]
    fn a_second_writer_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (_wal, _, _) = Wal::open(dir.path()).unwrap();
        let err = Wal::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("another tvilling server"), "{err}");
    }
}
