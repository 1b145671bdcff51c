//! Spatial order of written rows. Bbox statistics can only skip Parquet row groups (and Delta files) whose
//! rows lie close together, so a commit of more than one row group is written in Hilbert order of its rows'
//! bbox centres: a spatial filter then reads the few groups it meets instead of all of them. Smaller commits
//! keep their source order.

use deltalake::arrow::array::{Array, Float64Array, RecordBatch};

use crate::schema::BBOX;

/// The rows of `batches`, as (batch, row), in Hilbert order of their 2D bbox centres. `None` when the rows
/// have no bbox columns or no extent to order over (then the order does not matter).
pub fn hilbert_order(batches: &[RecordBatch]) -> Option<Vec<(usize, usize)>> {
    let mut centres: Vec<(usize, usize, f64, f64)> = Vec::new();
    for (b, batch) in batches.iter().enumerate() {
        let columns: Option<Vec<&Float64Array>> = BBOX[..4]
            .iter()
            .map(|name| batch.column_by_name(name)?.as_any().downcast_ref())
            .collect();
        let c = columns?;
        for row in 0..batch.num_rows() {
            // Rows without a geometry sort together at the start (NaN centre → cell 0).
            let x = (c[0].value(row) + c[2].value(row)) / 2.0;
            let y = (c[1].value(row) + c[3].value(row)) / 2.0;
            let valid = c.iter().all(|a| a.is_valid(row));
            let (x, y) = if valid { (x, y) } else { (f64::NAN, f64::NAN) };
            centres.push((b, row, x, y));
        }
    }
    let finite = centres
        .iter()
        .filter(|c| c.2.is_finite() && c.3.is_finite());
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for c in finite {
        lo = [lo[0].min(c.2), lo[1].min(c.3)];
        hi = [hi[0].max(c.2), hi[1].max(c.3)];
    }
    if !(hi[0] >= lo[0] && hi[1] >= lo[1]) {
        return None;
    }
    let size = [
        (hi[0] - lo[0]).max(f64::MIN_POSITIVE),
        (hi[1] - lo[1]).max(f64::MIN_POSITIVE),
    ];
    let cell = |v: f64, axis: usize| {
        let t = (v - lo[axis]) / size[axis];
        if t.is_nan() {
            0
        } else {
            (t.clamp(0.0, 1.0) * 65535.0) as u32
        }
    };
    let mut keyed: Vec<(u32, usize, usize)> = centres
        .into_iter()
        .map(|(b, row, x, y)| (hilbert(cell(x, 0), cell(y, 1)), b, row))
        .collect();
    // Stable, so rows at one spot keep their source order.
    keyed.sort_by_key(|k| k.0);
    Some(keyed.into_iter().map(|(_, b, row)| (b, row)).collect())
}

/// Position of cell (x, y) on the Hilbert curve through a 2^16 × 2^16 grid.
fn hilbert(mut x: u32, mut y: u32) -> u32 {
    let n: u32 = 1 << 16;
    let mut d: u32 = 0;
    let mut s = n / 2;
    while s > 0 {
        let rx = u32::from(x & s > 0);
        let ry = u32::from(y & s > 0);
        d = d.wrapping_add(s.wrapping_mul(s).wrapping_mul((3 * rx) ^ ry));
        // Rotate the quadrant so the curve's sub-square is in standard orientation.
        if ry == 0 {
            if rx == 1 {
                x = n - 1 - x;
                y = n - 1 - y;
            }
            std::mem::swap(&mut x, &mut y);
        }
        s /= 2;
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hilbert_visits_neighbours_in_turn() {
        // The curve starts in the corner and fills each aligned block before leaving it, so the corner's
        // 2 × 2 cells take positions 0–3 and its 64 × 64 cells one run of 4096, each step to a neighbour.
        let mut corner = [hilbert(0, 0), hilbert(0, 1), hilbert(1, 1), hilbert(1, 0)];
        corner.sort_unstable();
        assert_eq!(corner, [0, 1, 2, 3]);
        let mut cells: Vec<(u32, u32, u32)> = (0..64)
            .flat_map(|x| (0..64).map(move |y| (hilbert(x, y), x, y)))
            .collect();
        cells.sort_unstable();
        let mut seen = 0;
        for w in cells.windows(2) {
            if w[1].0 == w[0].0 + 1 {
                assert_eq!(w[0].1.abs_diff(w[1].1) + w[0].2.abs_diff(w[1].2), 1);
                seen += 1;
            }
        }
        assert_eq!(seen, 4095);
    }
}
