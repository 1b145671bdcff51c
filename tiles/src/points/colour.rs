//! What a run's points share (bounds, colour-ramp inputs, statistics) and how each point is coloured.

use super::Points;

/// What all the points of a run share, gathered batch by batch: the bounds that fix the root cube, what
/// the colour ramps are made from and the tileset's statistics.
pub(super) struct Summary {
    pub(super) count: usize,
    /// Bounds in the tileset frame.
    pub(super) lo: [f64; 3],
    pub(super) hi: [f64; 3],
    /// The largest RGB component, when any point has colour.
    pub(super) rgb_max: Option<u16>,
    /// Points per intensity value (65 536 buckets): the 99th percentile without holding the points.
    pub(super) intensity_counts: Vec<u64>,
    /// The store's z range (elevation ramp).
    pub(super) zlo: f64,
    pub(super) zhi: f64,
    pub(super) class_lo: u8,
    pub(super) class_hi: u8,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            count: 0,
            lo: [f64::INFINITY; 3],
            hi: [f64::NEG_INFINITY; 3],
            rgb_max: None,
            intensity_counts: vec![0; 1 << 16],
            zlo: f64::INFINITY,
            zhi: f64::NEG_INFINITY,
            class_lo: u8::MAX,
            class_hi: 0,
        }
    }
}

impl Summary {
    #[cfg(test)]
    pub(super) fn of(p: &Points) -> Summary {
        let mut s = Summary::default();
        s.add(p);
        s
    }

    /// Adds the points of `p` (in place: a batch's own summary would allocate and merge the 65 536
    /// intensity buckets for every batch).
    pub(super) fn add(&mut self, p: &Points) {
        self.count += p.len();
        self.rgb_max = self
            .rgb_max
            .max(p.rgb.iter().flatten().flatten().copied().max());
        for q in &p.enu {
            for ((lo, hi), v) in self.lo.iter_mut().zip(self.hi.iter_mut()).zip(q) {
                *lo = lo.min(*v);
                *hi = hi.max(*v);
            }
        }
        for &i in &p.intensity {
            self.intensity_counts[usize::from(i)] += 1;
        }
        for &z in &p.z {
            self.zlo = self.zlo.min(z);
            self.zhi = self.zhi.max(z);
        }
        for &c in &p.class {
            self.class_lo = self.class_lo.min(c);
            self.class_hi = self.class_hi.max(c);
        }
    }

    pub(super) fn merge(&mut self, o: &Summary) {
        self.count += o.count;
        for k in 0..3 {
            self.lo[k] = self.lo[k].min(o.lo[k]);
            self.hi[k] = self.hi[k].max(o.hi[k]);
        }
        self.rgb_max = self.rgb_max.max(o.rgb_max);
        for (a, b) in self.intensity_counts.iter_mut().zip(&o.intensity_counts) {
            *a += b;
        }
        self.zlo = self.zlo.min(o.zlo);
        self.zhi = self.zhi.max(o.zhi);
        self.class_lo = self.class_lo.min(o.class_lo);
        self.class_hi = self.class_hi.max(o.class_hi);
    }

    /// The lowest and highest intensity present.
    pub(super) fn intensity_range(&self) -> (u16, u16) {
        let present = |(i, n): (usize, &u64)| (*n > 0).then_some(i as u16);
        let mut it = self.intensity_counts.iter().enumerate().filter_map(present);
        let lo = it.next().unwrap_or(u16::MAX);
        let hi = it.next_back().unwrap_or(lo);
        (lo, if lo == u16::MAX { 0 } else { hi })
    }

    /// The intensity of rank `k` (0-based) in ascending order, as `select_nth_unstable` would give it.
    pub(super) fn intensity_rank(&self, k: u64) -> u16 {
        let mut seen = 0;
        for (i, n) in self.intensity_counts.iter().enumerate() {
            seen += n;
            if seen > k {
                return i as u16;
            }
        }
        u16::MAX
    }
}

/// How point colours are made.
#[derive(Debug, Clone, Copy)]
pub(super) enum Colouring {
    /// The file's RGB, shifted right by this many bits (8 for 16-bit LAS colour, 0 for 8-bit).
    Rgb(u32),
    /// Grey from intensity, scaled to this maximum (the 99th percentile rounded up to a power of two).
    Intensity(u16),
    /// Colour ramp of z between these heights (whole 10 m steps around the data).
    Elevation(f64, f64),
}

pub(super) fn colouring(s: &Summary) -> Colouring {
    if let Some(m) = s.rgb_max {
        return Colouring::Rgb(if m > 255 { 8 } else { 0 });
    }
    let (lo, hi) = s.intensity_range();
    if hi > lo {
        // Scale to the 99th percentile: a few specular returns would otherwise darken everything.
        let n = s.count as u64;
        let p99 = s.intensity_rank((n * 99 / 100).min(n - 1));
        // Rounded up to a power of two so that an edit elsewhere does not recolour (and so rebuild)
        // every tile.
        return Colouring::Intensity(p99.max(1).checked_next_power_of_two().unwrap_or(u16::MAX));
    }
    // Whole 10 m steps, for the same reason.
    Colouring::Elevation((s.zlo / 10.0).floor() * 10.0, (s.zhi / 10.0).ceil() * 10.0)
}

pub(super) fn colour(p: &Points, i: usize, c: Colouring) -> [u8; 3] {
    match c {
        Colouring::Rgb(shift) => p.rgb[i].map_or([255; 3], |v| {
            v.map(|c| u8::try_from(c >> shift).unwrap_or(u8::MAX))
        }),
        Colouring::Intensity(max) => {
            let t = f64::from(p.intensity[i].min(max)) / f64::from(max);
            let g = (40.0 + 215.0 * t).round() as u8;
            [g; 3]
        }
        Colouring::Elevation(lo, hi) => {
            let t = if hi > lo {
                ((p.z[i] - lo) / (hi - lo)).clamp(0.0, 1.0)
            } else {
                0.5
            };
            ramp(t)
        }
    }
}

/// A blue → green → yellow → red ramp (sRGB), `t` in 0..=1.
pub(super) fn ramp(t: f64) -> [u8; 3] {
    const STOPS: [[f64; 3]; 4] = [
        [49.0, 54.0, 149.0],
        [26.0, 152.0, 80.0],
        [254.0, 224.0, 139.0],
        [215.0, 48.0, 39.0],
    ];
    let s = t * 3.0;
    let k = (s.floor() as usize).min(2);
    let f = s - k as f64;
    [0, 1, 2].map(|c| (STOPS[k][c] + (STOPS[k + 1][c] - STOPS[k][c]) * f).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(intensity: &[u16], rgb: Option<[u16; 3]>) -> Points {
        let n = intensity.len();
        Points {
            enu: vec![[0.0; 3]; n],
            z: (0..n).map(|i| i as f64).collect(),
            intensity: intensity.to_vec(),
            class: vec![2; n],
            rgb: vec![rgb; n],
        }
    }

    #[test]
    fn sixteen_bit_las_colour_is_scaled_to_eight_bits_and_eight_bit_kept() {
        let p = points(&[1, 2], Some([65_535, 32_768, 0]));
        let c = colouring(&Summary::of(&p));
        assert!(matches!(c, Colouring::Rgb(8)));
        assert_eq!(colour(&p, 0, c), [255, 128, 0]);
        let p = points(&[1, 2], Some([200, 100, 0]));
        let c = colouring(&Summary::of(&p));
        assert!(matches!(c, Colouring::Rgb(0)));
        assert_eq!(colour(&p, 0, c), [200, 100, 0]);
    }

    #[test]
    fn without_rgb_intensity_then_elevation_gives_the_colour() {
        let p = points(&[0, 100, 200], None);
        let c = colouring(&Summary::of(&p));
        assert!(matches!(c, Colouring::Intensity(_)));
        assert!(colour(&p, 0, c)[0] < colour(&p, 2, c)[0]);
        let p = points(&[7, 7, 7], None);
        let c = colouring(&Summary::of(&p));
        assert!(matches!(c, Colouring::Elevation(..)));
        // z 0..2 m, ramped over 0..10 m.
        assert_eq!(colour(&p, 0, c), ramp(0.0));
        assert_eq!(colour(&p, 2, c), ramp(0.2));
        assert_eq!(ramp(1.0), [215, 48, 39]);
    }
}
