//! The statistics of one building's points: percentiles and the quality flag.
//!
//! Heights are in the points' vertical datum and unit (metres above NAP for AHN, above RH 2000 for
//! Lantmäteriet's laser data). Percentiles interpolate linearly between the two nearest ranks (numpy's
//! default, type 7 of Hyndman & Fan): the 0th is the minimum, the 100th the maximum.
//!
//! Quality flags, most severe first (a building gets the first that applies):
//!
//! | flag | when | heights |
//! |---|---|---|
//! | `no_footprint` | the row has no polygon geometry | all null |
//! | `no_roof` | no roof point inside the footprint | roof heights and `height` null |
//! | `no_ground` | no ground point inside or within the ground buffer | `h_ground` and `height` null |
//! | `few_points` | fewer than [`MIN_ROOF_POINTS`] roof points or [`MIN_GROUND_POINTS`] ground points | all set |
//! | `ok` | otherwise | all set |
//!
//! Why these thresholds: AHN3 has 8–10 last returns per m², so 10 roof points is about one square metre
//! of roof, below which a percentile is the height of a few returns (a chimney, an antenna, a bird);
//! 3 ground points is the least that makes a 10th percentile differ from the minimum.

use std::fmt;

/// Roof points below this count give the flag `few_points`.
pub const MIN_ROOF_POINTS: usize = 10;
/// Ground points below this count give the flag `few_points`.
pub const MIN_GROUND_POINTS: usize = 3;
/// The percentile of the ground points taken as the building's ground height. 3dfier's default for a
/// building floor (`height_floor: percentile-10`): low enough to ignore cars and hedges that slipped into
/// class 2, high enough to ignore a single low outlier.
pub const GROUND_PERCENTILE: f64 = 10.0;

/// How reliable one building's heights are; see the module doc for the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Quality {
    /// Enough roof and ground points.
    Ok,
    /// Heights are set but rest on few points.
    FewPoints,
    /// No ground point inside or around the footprint.
    NoGround,
    /// No roof point inside the footprint.
    NoRoof,
    /// The row has no polygon geometry.
    NoFootprint,
}

impl Quality {
    /// Every flag, best first.
    pub const ALL: [Quality; 5] = [
        Quality::Ok,
        Quality::FewPoints,
        Quality::NoGround,
        Quality::NoRoof,
        Quality::NoFootprint,
    ];

    /// The text stored in the `quality` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::Ok => "ok",
            Quality::FewPoints => "few_points",
            Quality::NoGround => "no_ground",
            Quality::NoRoof => "no_roof",
            Quality::NoFootprint => "no_footprint",
        }
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One building's heights (points' vertical datum and unit).
#[derive(Debug, Clone, PartialEq)]
pub struct BuildingHeights {
    /// The [`GROUND_PERCENTILE`] of the ground points inside or around the footprint.
    pub h_ground: Option<f64>,
    /// The median roof point.
    pub h_roof_50: Option<f64>,
    /// The 70th percentile of the roof points (3D BAG's LOD1.2 roof height).
    pub h_roof_70: Option<f64>,
    /// The highest roof point.
    pub h_roof_max: Option<f64>,
    /// `h_roof_70 - h_ground`: the block height above the ground, for extruding from z = 0.
    pub height: Option<f64>,
    /// Ground points used.
    pub ground_points: usize,
    /// Roof points used.
    pub roof_points: usize,
    /// The flag.
    pub quality: Quality,
}

impl BuildingHeights {
    /// The heights of a row without a polygon.
    pub fn no_footprint() -> Self {
        BuildingHeights {
            h_ground: None,
            h_roof_50: None,
            h_roof_70: None,
            h_roof_max: None,
            height: None,
            ground_points: 0,
            roof_points: 0,
            quality: Quality::NoFootprint,
        }
    }

    /// Computes the heights from a building's ground and roof point heights (any order; sorted here).
    /// Non-finite values are ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use tvilling_query::derive::stats::{BuildingHeights, Quality};
    /// let mut ground = vec![0.0, 0.1, -0.1];
    /// let mut roof: Vec<f64> = (0..=10).map(|i| 5.0 + i as f64).collect();
    /// let h = BuildingHeights::from_points(&mut ground, &mut roof);
    /// assert_eq!(h.h_roof_50, Some(10.0));
    /// assert_eq!(h.h_roof_max, Some(15.0));
    /// assert_eq!(h.quality, Quality::Ok);
    /// ```
    pub fn from_points(ground: &mut Vec<f64>, roof: &mut Vec<f64>) -> Self {
        ground.retain(|v| v.is_finite());
        roof.retain(|v| v.is_finite());
        ground.sort_unstable_by(f64::total_cmp);
        roof.sort_unstable_by(f64::total_cmp);
        let h_ground = percentile(ground, GROUND_PERCENTILE);
        let h_roof_70 = percentile(roof, 70.0);
        let quality = if roof.is_empty() {
            Quality::NoRoof
        } else if ground.is_empty() {
            Quality::NoGround
        } else if roof.len() < MIN_ROOF_POINTS || ground.len() < MIN_GROUND_POINTS {
            Quality::FewPoints
        } else {
            Quality::Ok
        };
        BuildingHeights {
            h_ground,
            h_roof_50: percentile(roof, 50.0),
            h_roof_70,
            h_roof_max: roof.last().copied(),
            height: h_roof_70.zip(h_ground).map(|(r, g)| r - g),
            ground_points: ground.len(),
            roof_points: roof.len(),
            quality,
        }
    }
}

/// The `p`th percentile (0–100) of ascending `sorted` values, interpolating linearly between ranks;
/// `None` for no values or a `p` outside 0–100.
///
/// # Examples
///
/// ```
/// use tvilling_query::derive::stats::percentile;
/// assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.5));
/// assert_eq!(percentile(&[], 50.0), None);
/// ```
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let (a, b) = (*sorted.get(lo)?, *sorted.get(hi)?);
    Some(a + (b - a) * (rank - lo as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_between_ranks() {
        let v = [10.0, 20.0, 30.0, 40.0, 50.0];
        for (p, want) in [
            (0.0, Some(10.0)),
            (10.0, Some(14.0)),
            (50.0, Some(30.0)),
            (70.0, Some(38.0)),
            (100.0, Some(50.0)),
            (-1.0, None),
            (100.5, None),
            (f64::NAN, None),
        ] {
            assert_eq!(percentile(&v, p), want, "p = {p}");
        }
        assert_eq!(percentile(&[7.0], 70.0), Some(7.0));
        assert_eq!(percentile(&[], 0.0), None);
    }

    fn heights(ground: usize, roof: usize) -> BuildingHeights {
        let mut g: Vec<f64> = (0..ground).map(|i| i as f64 * 0.01).collect();
        let mut r: Vec<f64> = (0..roof).map(|i| 10.0 + i as f64 * 0.1).collect();
        BuildingHeights::from_points(&mut g, &mut r)
    }

    #[test]
    fn flags_follow_the_documented_thresholds() {
        for (ground, roof, want) in [
            (50, 100, Quality::Ok),
            (MIN_GROUND_POINTS, MIN_ROOF_POINTS, Quality::Ok),
            (MIN_GROUND_POINTS - 1, 100, Quality::FewPoints),
            (50, MIN_ROOF_POINTS - 1, Quality::FewPoints),
            (0, 100, Quality::NoGround),
            (50, 0, Quality::NoRoof),
            (0, 0, Quality::NoRoof),
        ] {
            assert_eq!(
                heights(ground, roof).quality,
                want,
                "{ground} ground, {roof} roof"
            );
        }
    }

    #[test]
    fn missing_points_leave_heights_null_not_zero() {
        let h = heights(0, 20);
        assert_eq!(h.h_ground, None);
        assert_eq!(h.height, None);
        assert!(h.h_roof_70.is_some());
        let h = heights(20, 0);
        assert_eq!((h.h_roof_50, h.h_roof_70, h.h_roof_max), (None, None, None));
        assert!(h.h_ground.is_some());
        assert_eq!(
            BuildingHeights::no_footprint().quality,
            Quality::NoFootprint
        );
    }

    #[test]
    fn height_is_roof_70_above_ground_and_ignores_non_finite_values() {
        let mut g = vec![1.0, f64::NAN, 1.0, 1.0];
        let mut r = vec![f64::INFINITY; 3];
        r.extend((0..=10).map(|i| 11.0 + i as f64));
        let h = BuildingHeights::from_points(&mut g, &mut r);
        assert_eq!(h.ground_points, 3);
        assert_eq!(h.roof_points, 11);
        assert_eq!(h.h_roof_70, Some(18.0));
        assert_eq!(h.h_roof_max, Some(21.0));
        assert_eq!(h.height, Some(17.0));
    }
}
