//! Store rows → points in the tileset frame, on one thread per core.
//!
//! Batches come from the store's scan in any order and the tiler sorts the points anyway, so each worker
//! takes the next batch, converts it alone (PROJ to WGS 84, geoid, ECEF, the local frame, through a
//! [`Lattice`] of exactly placed squares) and adds it to
//! the shared result: held in memory up to the plan's budget, then appended to the spill. Only the
//! append is serialised; a batch's records are encoded before the lock is taken.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use tokio::sync::mpsc::Receiver;
use tvilling_core::arrow::array::{
    Array, ArrowPrimitiveType, AsArray, PrimitiveArray, RecordBatch,
};
use tvilling_core::arrow::compute::cast;
use tvilling_core::arrow::datatypes::{Float64Type, Int64Type};
use tvilling_core::crs::Crs;

use super::spill::{self, Plan, Spill};
use super::{Points, Summary};
use crate::frame::{Enu, GeoidInfo, Lattice, Projector};
use crate::{Error, Result};

/// The store columns the tiler reads; the rest (WKB, ids, bbox and LAS detail columns) is never decoded.
pub const COLUMNS: [&str; 8] = [
    "x",
    "y",
    "z",
    "intensity",
    "classification",
    "red",
    "green",
    "blue",
];

/// What reading leaves behind.
pub struct Placed {
    /// The points, when they fit the plan's budget (else empty).
    pub points: Points,
    /// The spill holding every point, past the budget.
    pub spilled: Option<Spill>,
    pub summary: Summary,
}

/// What the workers add to.
#[derive(Default)]
struct Held {
    points: Points,
    spill: Option<Spill>,
}

/// Converts the batches of `rx` until it closes; see the module doc.
pub fn place(
    rx: Receiver<RecordBatch>,
    crs: Crs,
    geoid: &GeoidInfo,
    enu: &Enu,
    step: f64,
    plan: Plan,
) -> Result<Placed> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let shared = Shared {
        rx: Mutex::new(rx),
        held: Mutex::new(Held::default()),
        spilling: AtomicBool::new(false),
        crs,
        geoid,
        enu,
        step,
        plan,
    };
    let results: Vec<Result<Summary>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| shared.work()))
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join().unwrap_or_else(|_| {
                    Err(Error::Internal("a point conversion thread panicked".into()))
                })
            })
            .collect()
    });
    let mut summary = Summary::default();
    for r in results {
        summary.merge(&r?);
    }
    let held = shared.held.into_inner().map_err(poisoned)?;
    Ok(Placed {
        points: held.points,
        spilled: held.spill,
        summary,
    })
}

struct Shared<'a> {
    rx: Mutex<Receiver<RecordBatch>>,
    held: Mutex<Held>,
    /// Set once the points went to the spill, so workers encode before taking the lock.
    spilling: AtomicBool,
    crs: Crs,
    geoid: &'a GeoidInfo,
    enu: &'a Enu,
    /// The conversion lattice's step (dataset units).
    step: f64,
    plan: Plan,
}

impl Shared<'_> {
    /// One worker: its batches' summary.
    fn work(&self) -> Result<Summary> {
        let result = self.work_until_closed();
        if result.is_err() {
            // The reader stops sending; other workers finish what is queued.
            if let Ok(mut rx) = self.rx.lock() {
                rx.close();
            }
        }
        result
    }

    fn work_until_closed(&self) -> Result<Summary> {
        let mut summary = Summary::default();
        let mut records = Vec::new();
        loop {
            let batch = self.rx.lock().map_err(poisoned)?.blocking_recv();
            let Some(batch) = batch else {
                return Ok(summary);
            };
            let points = convert(&batch, self.crs, self.geoid, self.enu, self.step)?;
            summary.add(&points);
            if self.spilling.load(Ordering::Acquire) {
                spill::encode_all(&points, &mut records);
                let mut held = self.held.lock().map_err(poisoned)?;
                if let Some(s) = held.spill.as_mut() {
                    s.write_encoded(&records)?;
                }
                continue;
            }
            let mut held = self.held.lock().map_err(poisoned)?;
            match held.spill.as_mut() {
                Some(s) => s.write(&points)?,
                None => {
                    held.points.append(points);
                    if held.points.len() > self.plan.in_memory_points {
                        let mut s = Spill::new(self.plan)?;
                        s.write(&held.points)?;
                        held.points.clear();
                        held.spill = Some(s);
                        self.spilling.store(true, Ordering::Release);
                    }
                }
            }
        }
    }
}

fn poisoned<T>(_: PoisonError<T>) -> Error {
    Error::Internal("a point conversion thread failed while holding the shared points".into())
}

/// A column of `batch` as `T`, cast when stored as another numeric type; `None` when absent.
fn column<T: ArrowPrimitiveType>(
    batch: &RecordBatch,
    name: &str,
) -> Result<Option<PrimitiveArray<T>>> {
    let Some(col) = batch.column_by_name(name) else {
        return Ok(None);
    };
    let a = cast(col, &T::DATA_TYPE)
        .map_err(|e| Error::Internal(format!("column {name} as {}: {e}", T::DATA_TYPE)))?;
    Ok(Some(a.as_primitive::<T>().clone()))
}

/// Store rows → points in the tileset frame, through a lattice of `step` dataset units. Rows with a null or
/// non-finite coordinate are left out.
pub fn convert(
    batch: &RecordBatch,
    crs: Crs,
    geoid: &GeoidInfo,
    enu: &Enu,
    step: f64,
) -> Result<Points> {
    let need = |c: &str| {
        column::<Float64Type>(batch, c)?.ok_or_else(|| {
            Error::BadInput(format!(
                "the point dataset has no '{c}' column; re-ingest it with `tvilling ingest`"
            ))
        })
    };
    let (x, y, z) = (need("x")?, need("y")?, need("z")?);
    let intensity = column::<Int64Type>(batch, "intensity")?;
    let class = column::<Int64Type>(batch, "classification")?;
    let [r, g, b] = ["red", "green", "blue"].map(|c| column::<Int64Type>(batch, c));
    let (r, g, b) = (r?, g?, b?);
    // A value, or `None` when the column is absent or the row null.
    let at = |a: &Option<PrimitiveArray<Int64Type>>, i: usize| {
        a.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i))
    };
    let n = batch.num_rows();
    // PROJ handles are not Send: each thread keeps its own.
    Projector::with(crs, geoid, |projector| {
        let mut lattice = Lattice::new(projector, enu, step);
        let mut out = Points::with_capacity(n);
        for i in 0..n {
            if !(x.is_valid(i) && y.is_valid(i) && z.is_valid(i)) {
                continue;
            }
            let (px, py, pz) = (x.value(i), y.value(i), z.value(i));
            if !(px.is_finite() && py.is_finite() && pz.is_finite()) {
                continue;
            }
            out.enu.push(lattice.local([px, py, pz])?);
            out.z.push(pz);
            out.intensity
                .push(at(&intensity, i).map_or(0, |v| v.clamp(0, 65_535) as u16));
            out.class
                .push(at(&class, i).map_or(0, |v| v.clamp(0, 255) as u8));
            let rgb = match (at(&r, i), at(&g, i), at(&b, i)) {
                (Some(r), Some(g), Some(b)) => Some([r, g, b].map(|c| c.clamp(0, 65_535) as u16)),
                _ => None,
            };
            out.rgb.push(rgb);
        }
        Ok(out)
    })
}
