//! Nearest-k ordering through the spatial index: `ORDER BY ST_Distance(geom, <constant>) LIMIT k`.
//!
//! Without help DataFusion computes the distance of every row and keeps the k smallest. The store's spatial
//! index is its bbox columns: Delta file statistics and Parquet row-group statistics over rows that are
//! written in Hilbert order (see the store's writer), so a window around the constant reads only the files and
//! row groups that meet it. The rewrite searches growing square windows until one holds k rows (their k-th
//! distance `R` then bounds the answer), and adds `ST_DWithin(geom, <constant>, R)` below the sort: every
//! row of the true top k is within `R`, so the answer is the same, and the scan reads only the window.
//!
//! It applies to a sort with a limit whose first key is ascending `ST_Distance` between a dataset's geometry
//! column and a constant geometry, over a single dataset scan of more than one row group (below that a full
//! read is as cheap as a window).

use std::sync::Arc;

use deltalake::arrow::array::{Array, Float64Array};
use deltalake::datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use deltalake::datafusion::common::{Result, ScalarValue};
use deltalake::datafusion::datasource::source_as_provider;
use deltalake::datafusion::execution::FunctionRegistry;
use deltalake::datafusion::functions_aggregate::expr_fn::{max, min};
use deltalake::datafusion::logical_expr::expr::ScalarFunction;
use deltalake::datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, Projection, Sort, lit,
};
use deltalake::datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use deltalake::datafusion::prelude::{SessionContext, col};
use tvilling_core::schema::{BBOX, GEOMETRY};

/// Rows below which a full read is as cheap as a window (one row group of the store's writer).
const MIN_ROWS: usize = 64 * 1024;

/// A sort the rewrite applies to.
struct Site {
    /// The geometry expression (over `input`) and the constant geometry.
    geometry: Expr,
    constant: Expr,
    k: usize,
    /// Where the window filter goes: the sort's input, or the input of the projection under the sort when
    /// the sort key is a column that projection computes (`SELECT ST_Distance(…) AS d … ORDER BY d`, also
    /// what DataFusion makes of a distance both selected and sorted on).
    input: Arc<LogicalPlan>,
    through_projection: bool,
}

/// Adds the window filter to every nearest-k sort of `plan` (an optimized plan) that the index can serve.
/// Returns `None` when there is none, so the caller keeps the plan it had.
pub async fn rewrite(ctx: &SessionContext, plan: &LogicalPlan) -> Result<Option<LogicalPlan>> {
    // The radii need queries, which are async, so they are found first (in the order a top-down walk meets
    // the sorts) and the (sync) tree rewrite then installs them in the same order.
    let mut radii: Vec<Option<f64>> = Vec::new();
    let mut sites = Vec::new();
    plan.apply(|node| {
        if let LogicalPlan::Sort(sort) = node
            && let Some(site) = site(sort)
        {
            sites.push(site);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    if sites.is_empty() {
        return Ok(None);
    }
    for site in &sites {
        radii.push(radius(ctx, site).await?);
    }
    if radii.iter().all(Option::is_none) {
        return Ok(None);
    }
    let mut next = radii.into_iter();
    let rewritten = plan
        .clone()
        .transform_down(|node| {
            let LogicalPlan::Sort(sort) = &node else {
                return Ok(Transformed::no(node));
            };
            let Some(site) = site(sort) else {
                return Ok(Transformed::no(node));
            };
            let Some(r) = next.next().flatten() else {
                return Ok(Transformed::no(node));
            };
            let windowed = LogicalPlanBuilder::from(site.input.as_ref().clone())
                .filter(dwithin(ctx, &site, r)?)?
                .build()?;
            let input = match sort.input.as_ref() {
                LogicalPlan::Projection(p) if site.through_projection => LogicalPlan::Projection(
                    Projection::try_new(p.expr.clone(), Arc::new(windowed))?,
                ),
                _ => windowed,
            };
            Ok(Transformed::yes(LogicalPlan::Sort(Sort {
                expr: sort.expr.clone(),
                input: Arc::new(input),
                fetch: sort.fetch,
            })))
        })?
        .data;
    Ok(Some(rewritten))
}

/// The sort's nearest-k shape, if it has one.
fn site(sort: &Sort) -> Option<Site> {
    let k = sort.fetch?;
    let first = sort.expr.first()?;
    if !first.asc || first.nulls_first {
        return None;
    }
    let (call, input, through_projection) = match (&first.expr, sort.input.as_ref()) {
        (Expr::Column(c), LogicalPlan::Projection(p)) => {
            let i = p.schema.index_of_column(c).ok()?;
            (p.expr.get(i)?.clone().unalias(), p.input.clone(), true)
        }
        (e, _) => (e.clone().unalias(), sort.input.clone(), false),
    };
    let Expr::ScalarFunction(f) = &call else {
        return None;
    };
    if f.func.name() != "st_distance" || f.args.len() != 2 {
        return None;
    }
    let is_constant = |e: &Expr| {
        matches!(
            e,
            Expr::Literal(
                ScalarValue::Binary(Some(_)) | ScalarValue::BinaryView(Some(_)),
                _
            )
        )
    };
    let (geometry, constant) = match (&f.args[0], &f.args[1]) {
        (g, c) if is_constant(c) && !is_constant(g) => (g.clone(), c.clone()),
        (c, g) if is_constant(c) && !is_constant(g) => (g.clone(), c.clone()),
        _ => return None,
    };
    // Only the geometry column itself has bbox statistics to prune with; a computed geometry would make
    // every window a full read.
    if !matches!(&geometry, Expr::Column(c) if c.name == GEOMETRY) {
        return None;
    }
    Some(Site {
        geometry,
        constant,
        k,
        input,
        through_projection,
    })
}

/// `ST_DWithin(geometry, constant, r)` with a hair of slack, so that no row at exactly the k-th distance is
/// lost to rounding between the two functions (extra rows only give the sort more to choose from).
fn dwithin(ctx: &SessionContext, site: &Site, r: f64) -> Result<Expr> {
    let slack = r.abs().max(1.0) * 1e-9;
    Ok(Expr::ScalarFunction(ScalarFunction::new_udf(
        ctx.udf("st_dwithin")?,
        vec![site.geometry.clone(), site.constant.clone(), lit(r + slack)],
    )))
}

/// The dataset scan under `input`, through single-input nodes.
fn scan_of(input: &LogicalPlan) -> Option<&deltalake::datafusion::logical_expr::TableScan> {
    match input {
        LogicalPlan::TableScan(scan) => Some(scan),
        LogicalPlan::Projection(_)
        | LogicalPlan::Filter(_)
        | LogicalPlan::SubqueryAlias(_)
        | LogicalPlan::Sort(_) => match input.inputs().as_slice() {
            [one] => scan_of(one),
            _ => None,
        },
        _ => None,
    }
}

/// Row count (from the Delta log) and 2D extent (a min/max over the bbox columns, which reads only those) of
/// the dataset a scan reads.
async fn extent(
    ctx: &SessionContext,
    scan: &deltalake::datafusion::logical_expr::TableScan,
) -> Result<Option<(usize, [f64; 4])>> {
    let provider = source_as_provider(&scan.source)?;
    let schema = provider.schema();
    if BBOX[..4].iter().any(|name| schema.index_of(name).is_err()) {
        return Ok(None);
    }
    let plan = provider.scan(&ctx.state(), None, &[], None).await?;
    let stats = StatisticsContext::new().compute(plan.as_ref(), &StatisticsArgs::new())?;
    let Some(&rows) = stats.num_rows.get_value() else {
        return Ok(None);
    };
    if rows <= MIN_ROWS {
        return Ok(None);
    }
    let bounds = LogicalPlanBuilder::scan(scan.table_name.clone(), scan.source.clone(), None)?
        .aggregate(
            Vec::<Expr>::new(),
            vec![
                min(col(BBOX[0])),
                min(col(BBOX[1])),
                max(col(BBOX[2])),
                max(col(BBOX[3])),
            ],
        )?
        .build()?;
    let batches = ctx.execute_logical_plan(bounds).await?.collect().await?;
    let mut e = [f64::NAN; 4];
    if let Some(b) = batches.first() {
        for (i, v) in e.iter_mut().enumerate() {
            if let Some(a) = b.column(i).as_any().downcast_ref::<Float64Array>()
                && a.len() == 1
                && a.is_valid(0)
            {
                *v = a.value(0);
            }
        }
    }
    Ok(e.iter().all(|v| v.is_finite()).then_some((rows, e)))
}

/// The distance within which the site's k nearest rows lie, found by growing windows; `None` when the index
/// does not help (small or unknown table, or no window short of everything holds k rows).
async fn radius(ctx: &SessionContext, site: &Site) -> Result<Option<f64>> {
    let input = site.input.as_ref();
    let Some(scan) = scan_of(input) else {
        return Ok(None);
    };
    let Some((rows, e)) = extent(ctx, scan).await? else {
        return Ok(None);
    };
    if site.k == 0 || site.k >= rows {
        return Ok(None);
    }
    // The radius holding about 4k rows if they were spread evenly; clustered data needs fewer rounds, sparse
    // surroundings more.
    let area = ((e[2] - e[0]) * (e[3] - e[1])).max(f64::MIN_POSITIVE);
    let diagonal = (e[2] - e[0]).hypot(e[3] - e[1]);
    let mut r = (4.0 * site.k as f64 * area / (std::f64::consts::PI * rows as f64)).sqrt();
    if !(r > 0.0 && r.is_finite()) {
        r = diagonal.max(1e-9) / 1000.0;
    }
    let distance = Expr::ScalarFunction(ScalarFunction::new_udf(
        ctx.udf("st_distance")?,
        vec![site.geometry.clone(), site.constant.clone()],
    ));
    for _ in 0..64 {
        let window = LogicalPlanBuilder::from(input.clone())
            .filter(dwithin(ctx, site, r)?)?
            .project(vec![distance.clone().alias("d")])?
            .sort_with_limit(vec![col("d").sort(true, false)], Some(site.k))?
            .build()?;
        let batches = ctx.execute_logical_plan(window).await?.collect().await?;
        let mut found = 0;
        let mut kth = f64::NEG_INFINITY;
        for b in &batches {
            let Some(d) = b.column(0).as_any().downcast_ref::<Float64Array>() else {
                return Ok(None);
            };
            for v in d.iter().flatten() {
                found += 1;
                kth = kth.max(v);
            }
        }
        if found >= site.k {
            return Ok(Some(kth));
        }
        // A window as large as the data's extent plus the way to it already reads everything.
        if r > 2.0 * diagonal + far_from(&e, &site.constant) {
            return Ok(None);
        }
        r *= 2.0;
    }
    Ok(None)
}

/// How far the constant geometry's envelope lies from the extent (0 when they meet; infinite if unreadable).
fn far_from(e: &[f64; 4], constant: &Expr) -> f64 {
    let Expr::Literal(ScalarValue::Binary(Some(wkb)) | ScalarValue::BinaryView(Some(wkb)), _) =
        constant
    else {
        return f64::INFINITY;
    };
    let Some(b) = tvilling_core::wkb::normalize(wkb, None)
        .ok()
        .and_then(|n| n.bbox)
    else {
        return f64::INFINITY;
    };
    let dx = (e[0] - b.xmax).max(b.xmin - e[2]).max(0.0);
    let dy = (e[1] - b.ymax).max(b.ymin - e[3]).max(0.0);
    dx.hypot(dy)
}
