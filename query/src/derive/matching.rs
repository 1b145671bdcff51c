//! Matching points to footprints: the footprint polygons (in the points' CRS) in an R-tree of their
//! envelopes grown by the ground buffer, and the per-footprint lists of ground and roof heights that the
//! point stream fills ([`super::heights`] drives both).

use std::collections::BTreeMap;

use deltalake::arrow::array::{Array, AsArray, RecordBatch};
use geo::{BoundingRect, Contains, Distance, Euclidean, MultiPolygon, Point};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use tvilling_core::crs::Transformer;
use tvilling_core::provenance::Issue;
use tvilling_core::schema::{self, GEOMETRY};
use tvilling_core::{DatasetName, QualityReport};

use super::heights::bad;
use super::stats::BuildingHeights;
use crate::Result;
use crate::shape::Geom;

/// LAS class 2, ground.
const GROUND: i16 = 2;
/// LAS class 6, building.
const BUILDING: i16 = 6;
/// LAS classes 7 (low point, noise) and 18 (high noise): never roof points.
const NOISE: [i16; 2] = [7, 18];

/// The footprint envelopes, each grown by the ground buffer, with the footprint's row.
pub(super) type Tree = RTree<GeomWithData<Rectangle<[f64; 2]>, usize>>;

/// The footprint polygons in the points' CRS, by row (`None`: no polygon).
pub(super) struct Footprints {
    pub(super) polygons: Vec<Option<MultiPolygon<f64>>>,
    pub(super) issues: Vec<Issue>,
}

impl Footprints {
    pub(super) fn read(
        batches: &[RecordBatch],
        transform: Option<&Transformer>,
        name: &DatasetName,
    ) -> Result<Footprints> {
        let mut polygons = vec![];
        let mut issues = vec![];
        let mut other_types: BTreeMap<&'static str, u64> = BTreeMap::new();
        for b in batches {
            let geoms = b
                .column_by_name(GEOMETRY)
                .and_then(|c| c.as_binary_opt::<i32>())
                .ok_or_else(|| {
                    bad(format!(
                        "footprints '{name}' have no WKB geometry column; was it written by tvilling?"
                    ))
                })?;
            let ids = b
                .column_by_name(schema::ID)
                .and_then(|c| c.as_string_opt::<i32>());
            for i in 0..b.num_rows() {
                let row = polygons.len() as i64;
                let id = ids
                    .filter(|a| a.is_valid(i))
                    .map(|a| a.value(i).to_string());
                let mut note = |reason: String| {
                    QualityReport::example(
                        &mut issues,
                        Issue {
                            feature: Some(row),
                            id: id.clone(),
                            reason,
                        },
                    )
                };
                if geoms.is_null(i) {
                    polygons.push(None);
                    continue;
                }
                let mut g = match Geom::from_wkb(geoms.value(i)) {
                    Ok(g) => g,
                    Err(e) => {
                        note(format!("unreadable geometry: {e}"));
                        polygons.push(None);
                        continue;
                    }
                };
                if let Some(t) = transform {
                    let mut failed = None;
                    g.shape.map_coords(&mut |c| {
                        if failed.is_none()
                            && let Err(e) = t.apply(c)
                        {
                            failed = Some(e);
                        }
                    });
                    if let Some(e) = failed {
                        note(format!("cannot transform the footprint: {e}"));
                        polygons.push(None);
                        continue;
                    }
                }
                let mp = match g.to_geo() {
                    Some(geo::Geometry::Polygon(p)) => Some(MultiPolygon::new(vec![p])),
                    Some(geo::Geometry::MultiPolygon(mp)) => Some(mp),
                    _ => None,
                };
                if mp.is_none() {
                    *other_types.entry(g.shape.type_name()).or_default() += 1;
                    note(format!(
                        "a {} is not a footprint polygon",
                        g.shape.type_name()
                    ));
                }
                polygons.push(mp);
            }
        }
        if polygons.is_empty() {
            return Err(bad(format!(
                "footprints '{name}' have no rows; nothing to derive"
            )));
        }
        if polygons.iter().all(Option::is_none) {
            let found: Vec<String> = other_types
                .iter()
                .map(|(t, n)| format!("{n} {t}"))
                .collect();
            return Err(bad(format!(
                "footprints '{name}' hold no polygons (found {}); derive heights needs building \
                 footprints as Polygon or MultiPolygon",
                if found.is_empty() {
                    "only empty geometries".to_string()
                } else {
                    found.join(", ")
                }
            )));
        }
        Ok(Footprints { polygons, issues })
    }

    /// The envelope of every footprint grown by `buffer`: `[xmin, ymin, xmax, ymax]`.
    pub(super) fn extent(&self, buffer: f64) -> Option<[f64; 4]> {
        self.envelopes(buffer).map(|(_, e)| e).reduce(|a, b| {
            [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ]
        })
    }

    fn envelopes(&self, buffer: f64) -> impl Iterator<Item = (usize, [f64; 4])> + '_ {
        self.polygons.iter().enumerate().filter_map(move |(i, p)| {
            let r = p.as_ref()?.bounding_rect()?;
            Some((
                i,
                [
                    r.min().x - buffer,
                    r.min().y - buffer,
                    r.max().x + buffer,
                    r.max().y + buffer,
                ],
            ))
        })
    }

    pub(super) fn tree(&self, buffer: f64) -> Tree {
        RTree::bulk_load(
            self.envelopes(buffer)
                .map(|(i, e)| {
                    GeomWithData::new(Rectangle::from_corners([e[0], e[1]], [e[2], e[3]]), i)
                })
                .collect(),
        )
    }
}

/// The point heights collected per footprint row while the points stream past.
pub(super) struct Accumulator {
    ground: Vec<Vec<f64>>,
    roof: Vec<Vec<f64>>,
    /// Non-ground, non-noise points inside, kept only until the first class 6 point shows the points are
    /// classified for buildings.
    other: Vec<Vec<f64>>,
    /// Points of any class inside, per row.
    pub(super) inside: Vec<i64>,
    /// Whether any class 6 point was seen.
    pub(super) saw_building: bool,
    /// Points inside at least one footprint.
    pub(super) points_in_footprints: u64,
}

impl Accumulator {
    pub(super) fn new(rows: usize) -> Self {
        Accumulator {
            ground: vec![vec![]; rows],
            roof: vec![vec![]; rows],
            other: vec![vec![]; rows],
            inside: vec![0; rows],
            saw_building: false,
            points_in_footprints: 0,
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call site, in the point loop; a struct would be built per point"
    )]
    pub(super) fn add(
        &mut self,
        tree: &Tree,
        polygons: &[Option<MultiPolygon<f64>>],
        buffer: f64,
        x: f64,
        y: f64,
        z: f64,
        class: Option<i16>,
    ) {
        if class == Some(BUILDING) && !self.saw_building {
            self.saw_building = true;
            self.other = vec![vec![]; self.other.len()];
        }
        let p = Point::new(x, y);
        let mut in_any = false;
        for cand in tree.locate_in_envelope_intersecting(&AABB::from_point([x, y])) {
            let k = cand.data;
            let Some(mp) = polygons.get(k).and_then(Option::as_ref) else {
                continue;
            };
            let inside = mp.contains(&p);
            if inside {
                in_any = true;
                if let Some(n) = self.inside.get_mut(k) {
                    *n += 1;
                }
            }
            let list = match class {
                Some(GROUND)
                    if inside
                        || mp
                            .0
                            .iter()
                            .any(|poly| Euclidean.distance(&p, poly) <= buffer) =>
                {
                    &mut self.ground
                }
                Some(BUILDING) if inside => &mut self.roof,
                Some(c) if NOISE.contains(&c) || c == GROUND => continue,
                _ if inside && !self.saw_building => &mut self.other,
                _ => continue,
            };
            if let Some(v) = list.get_mut(k) {
                v.push(z);
            }
        }
        if in_any {
            self.points_in_footprints += 1;
        }
    }

    pub(super) fn finish(
        &mut self,
        polygons: &[Option<MultiPolygon<f64>>],
    ) -> Vec<BuildingHeights> {
        let roof = if self.saw_building {
            &mut self.roof
        } else {
            &mut self.other
        };
        polygons
            .iter()
            .zip(self.ground.iter_mut().zip(roof.iter_mut()))
            .map(|(poly, (g, r))| {
                if poly.is_none() {
                    BuildingHeights::no_footprint()
                } else {
                    BuildingHeights::from_points(g, r)
                }
            })
            .collect()
    }
}
