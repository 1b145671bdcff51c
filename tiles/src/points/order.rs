//! The deterministic order of points that the tree, each tile's content and its hash depend on.

use rayon::prelude::*;

use super::Points;

/// Sorts points by position, then attributes: the store hands rows over in any order, and the tree, each
/// tile's content and so its hash must depend on the data alone.
///
/// The sort runs over compact keys (the position's bits in `f64::total_cmp` order and the index), not over
/// indices compared through the point arrays, which missed the cache on every comparison. Points at
/// the same position (rare) are then ordered by their attributes.
pub(super) fn sort(points: Points) -> Points {
    sort_keyed(points, false)
}

/// [`sort`] for points that arrive as a few sorted runs (out of core: bins written back sorted, each
/// bin's candidates). A merge sort merges such runs instead of sorting them again, while pdqsort is the
/// faster for points in no order. Keys are unique (they hold the index), so both give the same order.
pub(super) fn sort_runs(points: Points) -> Points {
    sort_keyed(points, true)
}

fn sort_keyed(points: Points, runs: bool) -> Points {
    let mut keys: Vec<([u64; 3], u32)> = points
        .enu
        .par_iter()
        .enumerate()
        .map(|(i, p)| (p.map(total_order), i as u32))
        .collect();
    if runs {
        keys.par_sort();
    } else {
        keys.par_sort_unstable();
    }
    let attrs = |i: u32| {
        let i = i as usize;
        (points.intensity[i], points.class[i], points.rgb[i])
    };
    let mut start = 0;
    while start < keys.len() {
        let mut end = start + 1;
        while end < keys.len() && keys[end].0 == keys[start].0 {
            end += 1;
        }
        if end - start > 1 {
            keys[start..end].sort_unstable_by_key(|k| attrs(k.1));
        }
        start = end;
    }
    let order: Vec<u32> = keys.into_iter().map(|k| k.1).collect();
    permute(points, &order)
}

/// The bits of `v` as an unsigned integer in the order of `f64::total_cmp`.
fn total_order(v: f64) -> u64 {
    let bits = v.to_bits();
    // Negative values: every bit flipped (larger magnitude sorts first); positive: the sign bit set.
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

fn permute(p: Points, order: &[u32]) -> Points {
    let pick = |i: &u32| *i as usize;
    Points {
        enu: order.iter().map(|i| p.enu[pick(i)]).collect(),
        z: order.iter().map(|i| p.z[pick(i)]).collect(),
        intensity: order.iter().map(|i| p.intensity[pick(i)]).collect(),
        class: order.iter().map(|i| p.class[pick(i)]).collect(),
        rgb: order.iter().map(|i| p.rgb[pick(i)]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_order_keys_order_as_total_cmp() {
        let v = [
            f64::NEG_INFINITY,
            -1e300,
            -2.5,
            -0.0,
            0.0,
            1e-310,
            2.5,
            f64::INFINITY,
            f64::NAN,
        ];
        for a in v {
            for b in v {
                assert_eq!(
                    total_order(a).cmp(&total_order(b)),
                    a.total_cmp(&b),
                    "{a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn sort_orders_by_position_then_attributes() {
        // Shuffled positions with repeats, so ties are broken by intensity, class and colour.
        let n = 5_000;
        let mut p = Points::with_capacity(n);
        for i in 0..n {
            let k = (i * 7_919) % 997;
            p.enu.push([
                (k % 10) as f64 - 4.5,
                (k / 10 % 10) as f64,
                -((k / 100) as f64),
            ]);
            p.z.push(i as f64);
            p.intensity.push((i % 3) as u16);
            p.class.push((i % 5) as u8);
            p.rgb.push((i % 2 == 0).then_some([i as u16, 0, 0]));
        }
        let sorted = sort(p.clone());
        // Two sorted runs: the merge sort of out-of-core tiling orders them the same.
        let mut halves = sort(p.part(0..n / 2));
        halves.append(sort(p.part(n / 2..n)));
        let halves = sort_runs(halves);
        assert_eq!(halves.enu, sorted.enu);
        assert_eq!(halves.intensity, sorted.intensity);
        assert_eq!(halves.rgb, sorted.rgb);
        let key = |i: usize| {
            let q = sorted.enu[i];
            (q, sorted.intensity[i], sorted.class[i], sorted.rgb[i])
        };
        for i in 1..n {
            let (a, b) = (key(i - 1), key(i));
            let pos = (0..3).fold(std::cmp::Ordering::Equal, |o, k| {
                o.then(a.0[k].total_cmp(&b.0[k]))
            });
            assert_ne!(
                pos.then((a.1, a.2, a.3).cmp(&(b.1, b.2, b.3))),
                std::cmp::Ordering::Greater
            );
        }
    }
}
