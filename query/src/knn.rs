//! `st_knn('left', 'right', k [, max_distance])`: for every feature of one dataset, its `k` nearest features in
//! another, as rows `(left_id, right_id, distance, rank)`.
//!
//! The right dataset's envelopes go into an R-tree. For a left geometry the tree is walked outwards from the
//! centre of its envelope; `centre distance − half the envelope diagonal` is a lower bound of the true
//! distance, so the walk stops as soon as that bound passes the k-th exact distance found. Exact distances
//! are `geo`'s Euclidean distances, the same as `ST_Distance`.

use std::sync::Arc;

use deltalake::arrow::array::{
    Array, ArrayRef, Float64Array, RecordBatch, StringArray, UInt32Array,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema};
use deltalake::datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use deltalake::datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use deltalake::datafusion::datasource::MemTable;
use deltalake::datafusion::logical_expr::Expr;
use futures::StreamExt;
use geo::{BoundingRect, Distance, Euclidean};
use rstar::RTree;
use rstar::primitives::{GeomWithData, Rectangle};
use tvilling_core::{At, DatasetName, Store};

use crate::shape::Geom;

/// The `st_knn` table function over a store.
#[derive(Debug)]
pub struct StKnn {
    store: Store,
}

impl StKnn {
    /// `st_knn` reading from `store`.
    pub fn new(store: Store) -> Self {
        StKnn { store }
    }
}

const USAGE: &str =
    "use st_knn('left_dataset', 'right_dataset', k) or st_knn('left', 'right', k, max_distance)";

/// A dataset's ids and geometries (rows with an empty or missing geometry are left out).
async fn features(
    store: &Store,
    name: &DatasetName,
) -> tvilling_core::Result<Vec<(String, geo::Geometry)>> {
    let (_, mut stream) = store.scan(name, At::Latest).await?;
    let mut out = Vec::new();
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let (Some(ids), Some(geoms)) =
            (batch.column_by_name("id"), batch.column_by_name("geometry"))
        else {
            continue;
        };
        let ids = deltalake::arrow::compute::cast(ids, &DataType::Utf8)?;
        let (Some(ids), Some(geoms)) = (
            ids.as_any().downcast_ref::<StringArray>(),
            geoms
                .as_any()
                .downcast_ref::<deltalake::arrow::array::BinaryArray>(),
        ) else {
            continue;
        };
        for i in 0..batch.num_rows() {
            if ids.is_null(i) || geoms.is_null(i) {
                continue;
            }
            if let Ok(g) = Geom::from_wkb(geoms.value(i))
                && !g.shape.is_empty()
                && let Some(geo) = g.to_geo()
            {
                out.push((ids.value(i).to_string(), geo));
            }
        }
    }
    Ok(out)
}

type Entry = GeomWithData<Rectangle<[f64; 2]>, u32>;

/// The `k` nearest right features of each left feature, at most `max_distance` away.
pub fn nearest(
    left: &[(String, geo::Geometry)],
    right: &[(String, geo::Geometry)],
    k: usize,
    max_distance: f64,
) -> Vec<(u32, u32, f64, u32)> {
    let entries: Vec<Entry> = right
        .iter()
        .enumerate()
        .filter_map(|(i, (_, g))| {
            let r = g.bounding_rect()?;
            Some(GeomWithData::new(
                Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                i as u32,
            ))
        })
        .collect();
    let tree = RTree::bulk_load(entries);
    let mut out = Vec::new();
    for (li, (_, g)) in left.iter().enumerate() {
        let Some(r) = g.bounding_rect() else { continue };
        let centre = [(r.min().x + r.max().x) / 2.0, (r.min().y + r.max().y) / 2.0];
        let half_diagonal = 0.5 * (r.width().hypot(r.height()));
        let mut best: Vec<(f64, u32)> = Vec::with_capacity(k + 1);
        for (hit, d2) in tree.nearest_neighbor_iter_with_distance_2(&centre) {
            let bound = (d2.sqrt() - half_diagonal).max(0.0);
            let kth = if best.len() == k {
                best[k - 1].0
            } else {
                f64::INFINITY
            };
            if bound > kth.min(max_distance) {
                break;
            }
            let d = Euclidean.distance(g, &right[hit.data as usize].1);
            if d <= max_distance && d < kth {
                let at = best.partition_point(|(x, _)| *x <= d);
                best.insert(at, (d, hit.data));
                best.truncate(k);
            }
        }
        out.extend(
            best.into_iter()
                .enumerate()
                .map(|(rank, (d, ri))| (li as u32, ri, d, rank as u32 + 1)),
        );
    }
    out
}

fn literal(e: &Expr) -> Option<&ScalarValue> {
    match e {
        Expr::Literal(v, _) => Some(v),
        _ => None,
    }
}

fn dataset(e: &Expr, which: &str) -> Result<DatasetName> {
    match literal(e) {
        Some(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => s
            .parse()
            .map_err(|e| DataFusionError::Plan(format!("st_knn: {e}"))),
        _ => plan_err!("st_knn: the {which} argument must be a dataset name in quotes; {USAGE}"),
    }
}

fn number(e: &Expr, which: &str) -> Result<f64> {
    literal(e)
        .and_then(|v| v.cast_to(&DataType::Float64).ok())
        .and_then(|v| match v {
            ScalarValue::Float64(Some(x)) if x >= 0.0 => Some(x),
            _ => None,
        })
        .ok_or_else(|| {
            DataFusionError::Plan(format!(
                "st_knn: {which} must be a non-negative number; {USAGE}"
            ))
        })
}

impl TableFunctionImpl for StKnn {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        if !(3..=4).contains(&exprs.len()) {
            return plan_err!(
                "st_knn takes 3 or 4 arguments, got {}; {USAGE}",
                exprs.len()
            );
        }
        let (left, right) = (dataset(&exprs[0], "first")?, dataset(&exprs[1], "second")?);
        let k = number(&exprs[2], "k")? as usize;
        if k == 0 || k > 10_000 {
            return plan_err!("st_knn: k must be between 1 and 10000, got {k}");
        }
        let max_distance = exprs
            .get(3)
            .map(|e| number(e, "max_distance"))
            .transpose()?
            .unwrap_or(f64::INFINITY);
        let store = &self.store;
        let loaded = crate::table_at::block_on_store(async {
            let (lp, rp) = (
                store.properties(&left).await?,
                store.properties(&right).await?,
            );
            if lp.crs != rp.crs {
                return Err(tvilling_core::Error::BadInput(format!(
                    "st_knn: {left} is in {} and {right} in {}: different CRS",
                    lp.crs, rp.crs
                )));
            }
            Ok((
                features(store, &left).await?,
                features(store, &right).await?,
            ))
        });
        let (lf, rf) = match loaded {
            Ok(v) => v,
            Err(e) => return plan_err!("{e}"),
        };
        let pairs = nearest(&lf, &rf, k, max_distance);
        let schema = Arc::new(Schema::new(vec![
            Field::new("left_id", DataType::Utf8, false),
            Field::new("right_id", DataType::Utf8, false),
            Field::new("distance", DataType::Float64, false),
            Field::new("rank", DataType::UInt32, false),
        ]));
        let columns: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values(
                pairs.iter().map(|p| lf[p.0 as usize].0.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                pairs.iter().map(|p| rf[p.1 as usize].0.as_str()),
            )),
            Arc::new(Float64Array::from_iter_values(pairs.iter().map(|p| p.2))),
            Arc::new(UInt32Array::from_iter_values(pairs.iter().map(|p| p.3))),
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        Ok(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_same_neighbours_as_brute_force() {
        let pts = |n: usize, off: f64| -> Vec<(String, geo::Geometry)> {
            (0..n)
                .map(|i| {
                    let x = ((i * 7919) % 101) as f64 + off;
                    let y = ((i * 104_729) % 97) as f64;
                    (
                        format!("{i}"),
                        geo::Geometry::Polygon(
                            geo::Rect::new((x, y), (x + 1.5, y + 0.5)).to_polygon(),
                        ),
                    )
                })
                .collect()
        };
        let (left, right) = (pts(60, 0.3), pts(200, 0.0));
        let got = nearest(&left, &right, 3, f64::INFINITY);
        for (li, (_, g)) in left.iter().enumerate() {
            let mut all: Vec<f64> = right
                .iter()
                .map(|(_, r)| Euclidean.distance(g, r))
                .collect();
            all.sort_by(f64::total_cmp);
            let mine: Vec<f64> = got
                .iter()
                .filter(|p| p.0 == li as u32)
                .map(|p| p.2)
                .collect();
            assert_eq!(mine, all[..3].to_vec(), "left {li}");
        }
    }
}
