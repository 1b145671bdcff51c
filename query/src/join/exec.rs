//! `SpatialJoinExec`: an inner join on a spatial predicate through an R-tree.
//!
//! The build side (the join's left input, which DataFusion's join selection makes the smaller one) is
//! collected once and shared by every output partition: its geometries are evaluated, prepared
//! ([`Prepared`]) and their envelopes packed into a static Hilbert R-tree (`geo-index`). Each partition of the probe side then
//! streams through on its own core: a probe row's envelope (grown by the distance for `ST_DWithin`) finds the
//! candidates, the exact predicate keeps the true pairs, and any other conditions of the join filter are
//! evaluated on the pairs.

use std::fmt;
use std::sync::Arc;

use deltalake::arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, RecordBatch, RecordBatchOptions, UInt32Array,
};
use deltalake::arrow::compute::{concat_batches, take};
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::datafusion::common::tree_node::TreeNodeRecursion;
use deltalake::datafusion::common::{DataFusionError, JoinSide, Result};
use deltalake::datafusion::execution::{SendableRecordBatchStream, TaskContext};
use deltalake::datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use deltalake::datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use deltalake::datafusion::physical_plan::joins::utils::JoinFilter;
use deltalake::datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet,
};
use deltalake::datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use deltalake::datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties, collect,
};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

use super::index::{Index, PointGrid, z_order};
use super::predicate::{Predicate, Prepared};
use crate::geom::wkb_array;
use crate::shape::Geom;

/// What the rule found in a join filter.
#[derive(Debug, Clone)]
pub struct SpatialCondition {
    /// The test.
    pub predicate: Predicate,
    /// Whether the build (left) geometry is the SQL function's first argument.
    pub build_is_a: bool,
    /// The build-side geometry, over the left input's columns.
    pub build_geom: Arc<dyn PhysicalExpr>,
    /// The probe-side geometry, over the right input's columns.
    pub probe_geom: Arc<dyn PhysicalExpr>,
    /// The SQL text of the condition, for `EXPLAIN`.
    pub display: String,
}

struct BuildSide {
    batch: RecordBatch,
    /// Envelopes of the non-empty build rows, Hilbert-packed into flat arrays (the build side never changes,
    /// so a static tree beats a dynamic one: a profile had rstar's iterator at half the join time).
    index: Index,
    /// The same envelopes in a grid for point probes, when they spread evenly enough.
    grid: Option<PointGrid>,
    /// Envelope of each index item.
    envelopes: Vec<[f64; 4]>,
    /// Build row of each index item.
    rows: Vec<u32>,
    geoms: Vec<Option<Prepared>>,
}

/// An R-tree spatial join (inner).
#[derive(Debug)]
pub struct SpatialJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    condition: SpatialCondition,
    /// The rest of the join filter (evaluated on candidate pairs), if any.
    residual: Option<JoinFilter>,
    projection: Option<Vec<usize>>,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
    build: Arc<OnceCell<Arc<BuildSide>>>,
    metrics: ExecutionPlanMetricsSet,
}

impl fmt::Debug for BuildSide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BuildSide({} rows)", self.batch.num_rows())
    }
}

impl SpatialJoinExec {
    /// A spatial join producing `schema` (the replaced join's output schema).
    pub fn new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        condition: SpatialCondition,
        residual: Option<JoinFilter>,
        projection: Option<Vec<usize>>,
        schema: SchemaRef,
    ) -> Self {
        let partitions = right.output_partitioning().partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        SpatialJoinExec {
            left,
            right,
            condition,
            residual,
            projection,
            schema,
            properties: Arc::new(properties),
            build: Arc::new(OnceCell::new()),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for SpatialJoinExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "SpatialJoinExec: on={}, index=rtree(left)",
            self.condition.display
        )?;
        if let Some(r) = &self.residual {
            write!(f, ", filter={}", r.expression())?;
        }
        Ok(())
    }
}

/// Evaluates a geometry expression over a batch and reads it as WKB.
fn geometry_column(expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Result<BinaryArray> {
    let value = expr.evaluate(batch)?.into_array(batch.num_rows())?;
    let field = expr.return_field(&batch.schema())?;
    wkb_array(&value, &field)
}

/// The 2D envelope and `geo` geometry of a WKB value; `None` for empty or unreadable geometries, which match
/// nothing (the SQL functions say false for empty inputs, and an unreadable one fails the query elsewhere).
fn read(wkb: &[u8]) -> Option<([f64; 4], geo::Geometry)> {
    if let Some((x, y)) = point_xy(wkb) {
        // An empty point is written with NaN coordinates.
        return (!x.is_nan() && !y.is_nan())
            .then(|| ([x, y, x, y], geo::Geometry::Point(geo::Point::new(x, y))));
    }
    let g = Geom::from_wkb(wkb).ok()?;
    if g.shape.is_empty() {
        return None;
    }
    let geo = g.to_geo()?;
    let rect = geo::BoundingRect::bounding_rect(&geo)?;
    Some((
        [rect.min().x, rect.min().y, rect.max().x, rect.max().y],
        geo,
    ))
}

/// x and y of a little-endian ISO WKB point (2D, Z, M or ZM), read in place: probe sides are mostly points
/// (addresses, sensors, laser returns) and the general reader would allocate for each.
fn point_xy(wkb: &[u8]) -> Option<(f64, f64)> {
    let kind = u32::from_le_bytes(wkb.get(1..5)?.try_into().ok()?);
    let dims = match kind {
        1 => 2,
        1001 | 2001 => 3,
        3001 => 4,
        _ => return None,
    };
    if wkb[0] != 1 || wkb.len() != 5 + 8 * dims {
        return None;
    }
    let x = f64::from_le_bytes(wkb[5..13].try_into().ok()?);
    let y = f64::from_le_bytes(wkb[13..21].try_into().ok()?);
    Some((x, y))
}

/// Reads and prepares the build rows `rows` of `wkb`: (row, envelope, prepared geometry) for each non-empty one.
fn prepare(wkb: &BinaryArray, rows: std::ops::Range<usize>) -> Vec<(u32, [f64; 4], Prepared)> {
    rows.filter(|&i| wkb.is_valid(i))
        .filter_map(|i| {
            let (e, g) = read(wkb.value(i))?;
            Some((i as u32, e, Prepared::new(g)))
        })
        .collect()
}

async fn build_side(
    left: Arc<dyn ExecutionPlan>,
    expr: Arc<dyn PhysicalExpr>,
    ctx: Arc<TaskContext>,
) -> Result<Arc<BuildSide>> {
    let schema = left.schema();
    let threads = ctx.session_config().target_partitions().max(1);
    let batches = collect(left, ctx).await?;
    let batch = concat_batches(&schema, &batches)?;
    let wkb = geometry_column(&expr, &batch)?;
    // Reading and preparing (edge bands) is most of the build's cost: share it out over the cores.
    let n = wkb.len();
    let chunk = n.div_ceil(threads).max(1);
    let parts = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|start| {
                let wkb = &wkb;
                s.spawn(move || prepare(wkb, start..(start + chunk).min(n)))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join())
            .collect::<std::result::Result<Vec<_>, _>>()
    })
    .map_err(|_| {
        DataFusionError::Internal("preparing the spatial join's build side failed".into())
    })?;
    let mut rows = Vec::with_capacity(n);
    let mut envelopes = Vec::with_capacity(n);
    let mut geoms: Vec<Option<Prepared>> = (0..n).map(|_| None).collect();
    for (i, e, g) in parts.into_iter().flatten() {
        rows.push(i);
        envelopes.push(e);
        geoms[i as usize] = Some(g);
    }
    let index = Index::new(&envelopes).ok_or_else(|| {
        DataFusionError::Execution("the spatial join's build side has over 4 billion rows".into())
    })?;
    let grid = index
        .extent()
        .and_then(|extent| PointGrid::new(&envelopes, extent));
    Ok(Arc::new(BuildSide {
        batch,
        index,
        grid,
        envelopes,
        rows,
        geoms,
    }))
}

/// Joins one probe batch against the build side.
fn probe(
    build: &BuildSide,
    batch: &RecordBatch,
    condition: &SpatialCondition,
    residual: Option<&JoinFilter>,
    projection: Option<&[usize]>,
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let wkb = geometry_column(&condition.probe_geom, batch)?;
    let reach = condition.predicate.reach();
    let Some(extent) = build.index.extent() else {
        return Ok(RecordBatch::new_empty(schema.clone()));
    };
    let probes: Vec<(u32, [f64; 4], geo::Geometry)> = (0..wkb.len())
        .filter(|&row| wkb.is_valid(row))
        .filter_map(|row| {
            let (e, g) = read(wkb.value(row))?;
            Some((row as u32, e, g))
        })
        .collect();
    let centres: Vec<(u32, f64, f64)> = probes
        .iter()
        .enumerate()
        .map(|(k, (_, e, _))| (k as u32, (e[0] + e[2]) / 2.0, (e[1] + e[3]) / 2.0))
        .collect();
    let (mut left_idx, mut right_idx) = (Vec::new(), Vec::new());
    let (mut stack, mut hits) = (Vec::new(), Vec::new());
    for k in z_order(&centres, extent) {
        let (row, e, g) = &probes[k as usize];
        hits.clear();
        match (&build.grid, g) {
            (Some(grid), geo::Geometry::Point(p)) if reach == 0.0 => {
                grid.point_into(&build.envelopes, p.x(), p.y(), &mut hits)
            }
            _ => build.index.search_into(
                [e[0] - reach, e[1] - reach, e[2] + reach, e[3] + reach],
                &mut stack,
                &mut hits,
            ),
        }
        for &hit in &hits {
            let Some(&i) = build.rows.get(hit as usize) else {
                continue;
            };
            if let Some(Some(prepared)) = build.geoms.get(i as usize)
                && prepared.test(condition.predicate, g, condition.build_is_a)
            {
                left_idx.push(i);
                right_idx.push(*row);
            }
        }
    }
    let (left_idx, right_idx) = (UInt32Array::from(left_idx), UInt32Array::from(right_idx));
    let rows = left_idx.len();
    // Gather only the columns the output or the residual filter reads (a count(*) reads none).
    let n_left = build.batch.num_columns();
    let mut needed = vec![false; n_left + batch.num_columns()];
    match projection {
        Some(p) => p.iter().for_each(|&i| needed[i] = true),
        None => needed.iter_mut().for_each(|n| *n = true),
    }
    if let Some(filter) = residual {
        for c in filter.column_indices() {
            let i = if c.side == JoinSide::Left {
                c.index
            } else {
                n_left + c.index
            };
            needed[i] = true;
        }
    }
    let mut all: Vec<Option<ArrayRef>> = Vec::with_capacity(needed.len());
    for (i, need) in needed.iter().enumerate() {
        all.push(if !need {
            None
        } else if i < n_left {
            Some(take(build.batch.column(i).as_ref(), &left_idx, None)?)
        } else {
            Some(take(batch.column(i - n_left).as_ref(), &right_idx, None)?)
        });
    }
    let mut rows_out = rows;
    if let Some(filter) = residual {
        let column = |i: usize| {
            all[i]
                .clone()
                .ok_or_else(|| DataFusionError::Internal("join filter column not gathered".into()))
        };
        let inputs = filter
            .column_indices()
            .iter()
            .map(|c| {
                column(if c.side == JoinSide::Left {
                    c.index
                } else {
                    n_left + c.index
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let pairs = RecordBatch::try_new_with_options(
            filter.schema().clone(),
            inputs,
            &RecordBatchOptions::new().with_row_count(Some(rows)),
        )?;
        let keep = filter.expression().evaluate(&pairs)?.into_array(rows)?;
        let keep = keep
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| DataFusionError::Internal("join filter is not boolean".into()))?;
        // A NULL condition drops the pair, as in a WHERE clause.
        let mask = if keep.null_count() > 0 {
            deltalake::arrow::compute::prep_null_mask_filter(keep)
        } else {
            keep.clone()
        };
        rows_out = mask.true_count();
        for c in all.iter_mut().flatten() {
            *c = deltalake::arrow::compute::filter(c, &mask)?;
        }
    }
    let pick = |i: usize| {
        all[i]
            .clone()
            .ok_or_else(|| DataFusionError::Internal("output column not gathered".into()))
    };
    let columns = match projection {
        Some(p) => p.iter().map(|&i| pick(i)).collect::<Result<Vec<_>>>()?,
        None => (0..all.len()).map(pick).collect::<Result<Vec<_>>>()?,
    };
    let rows = rows_out;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}

impl ExecutionPlan for SpatialJoinExec {
    fn name(&self) -> &str {
        "SpatialJoinExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.left, &self.right]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        let roots = [&self.condition.build_geom, &self.condition.probe_geom]
            .into_iter()
            .chain(self.residual.iter().map(|r| r.expression()));
        for e in roots {
            if f(e)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [left, right]: [Arc<dyn ExecutionPlan>; 2] = children
            .try_into()
            .map_err(|_| DataFusionError::Internal("SpatialJoinExec takes two children".into()))?;
        Ok(Arc::new(SpatialJoinExec::new(
            left,
            right,
            self.condition.clone(),
            self.residual.clone(),
            self.projection.clone(),
            self.schema.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let cell = self.build.clone();
        let (left, build_expr) = (self.left.clone(), self.condition.build_geom.clone());
        let build_ctx = context.clone();
        let build = async move {
            cell.get_or_try_init(|| build_side(left, build_expr, build_ctx))
                .await
                .cloned()
        };
        let probe_stream = self.right.execute(partition, context)?;
        let (condition, residual, projection, schema) = (
            self.condition.clone(),
            self.residual.clone(),
            self.projection.clone(),
            self.schema.clone(),
        );
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let out_schema = schema.clone();
        let stream = futures::stream::once(async move {
            let build = build.await?;
            let joined = probe_stream.map(move |batch| {
                let batch = batch?;
                let timer = metrics.elapsed_compute().timer();
                let out = probe(
                    &build,
                    &batch,
                    &condition,
                    residual.as_ref(),
                    projection.as_deref(),
                    &schema,
                );
                timer.done();
                out.inspect(|b| metrics.record_output(b.num_rows()))
            });
            Ok::<_, DataFusionError>(joined)
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(out_schema, stream)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
