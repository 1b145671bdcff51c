//! The spatial join: a physical optimizer rule that replaces DataFusion's nested-loop join on a spatial
//! predicate with an R-tree index join ([`exec::SpatialJoinExec`]).
//!
//! Recognised join conditions (as a conjunct of the ON/WHERE condition of an inner join):
//! `ST_Intersects(a, b)`, `ST_Contains(a, b)`, `ST_Within(a, b)`, `ST_DWithin(a, b, d)` and
//! `ST_Distance(a, b) < d` (or `<=`, or `d > ST_Distance(a, b)`), where `a` and `b` are geometry expressions
//! over one side each and `d` a constant. The other conjuncts stay as a filter on the joined pairs. Without
//! the rule DataFusion evaluates the same functions for every pair and returns the same rows, only slower.

pub mod exec;
mod index;
pub mod predicate;

use std::sync::Arc;

use deltalake::arrow::datatypes::DataType;
use deltalake::datafusion::common::config::ConfigOptions;
use deltalake::datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use deltalake::datafusion::common::{JoinSide, JoinType, Result, ScalarValue};
use deltalake::datafusion::logical_expr::Operator;
use deltalake::datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
use deltalake::datafusion::physical_expr::utils::{collect_columns, split_conjunction};
use deltalake::datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use deltalake::datafusion::physical_optimizer::PhysicalOptimizerRule;
use deltalake::datafusion::physical_plan::ExecutionPlan;
use deltalake::datafusion::physical_plan::joins::NestedLoopJoinExec;
use deltalake::datafusion::physical_plan::joins::utils::JoinFilter;

use exec::{SpatialCondition, SpatialJoinExec};
use predicate::Predicate;

/// Plans spatial joins as R-tree index joins.
#[derive(Debug, Default)]
pub struct SpatialJoinRule;

impl PhysicalOptimizerRule for SpatialJoinRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|p| {
            if let Some(nlj) = p.downcast_ref::<NestedLoopJoinExec>()
                && let Some(join) = rewrite(nlj)?
            {
                return Ok(Transformed::yes(join));
            }
            Ok(Transformed::no(p))
        })
        .data()
    }

    fn name(&self) -> &str {
        "spatial_join"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn rewrite(nlj: &NestedLoopJoinExec) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let (JoinType::Inner, Some(filter)) = (nlj.join_type(), nlj.filter()) else {
        return Ok(None);
    };
    let conjuncts = split_conjunction(filter.expression());
    let Some((k, condition)) = conjuncts
        .iter()
        .enumerate()
        .find_map(|(k, c)| spatial_condition(c, filter, nlj).map(|cond| (k, cond)))
    else {
        return Ok(None);
    };
    let rest: Vec<Arc<dyn PhysicalExpr>> = conjuncts
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != k)
        .map(|(_, c)| Arc::clone(c))
        .collect();
    let residual = rest
        .into_iter()
        .reduce(|a, b| Arc::new(BinaryExpr::new(a, Operator::And, b)) as _)
        .map(|e| JoinFilter::new(e, filter.column_indices().to_vec(), filter.schema().clone()));
    Ok(Some(Arc::new(SpatialJoinExec::new(
        nlj.left().clone(),
        nlj.right().clone(),
        condition,
        residual,
        nlj.projection().as_ref().map(|p| p.to_vec()),
        nlj.schema(),
    ))))
}

fn constant(e: &Arc<dyn PhysicalExpr>) -> Option<f64> {
    let lit = e.downcast_ref::<Literal>()?;
    match lit.value().cast_to(&DataType::Float64).ok()? {
        ScalarValue::Float64(Some(v)) if v.is_finite() => Some(v),
        _ => None,
    }
}

fn spatial_condition(
    e: &Arc<dyn PhysicalExpr>,
    filter: &JoinFilter,
    nlj: &NestedLoopJoinExec,
) -> Option<SpatialCondition> {
    let (function, predicate) = if let Some(f) = e.downcast_ref::<ScalarFunctionExpr>() {
        let p = match f.name() {
            "st_intersects" => Predicate::Intersects,
            "st_contains" => Predicate::Contains,
            "st_within" => Predicate::Within,
            "st_dwithin" if f.args().len() == 3 => Predicate::DWithin(constant(&f.args()[2])?),
            _ => return None,
        };
        (f, p)
    } else if let Some(b) = e.downcast_ref::<BinaryExpr>() {
        fn distance_call(x: &Arc<dyn PhysicalExpr>) -> Option<&ScalarFunctionExpr> {
            x.downcast_ref::<ScalarFunctionExpr>()
                .filter(|f| f.name() == "st_distance" && f.args().len() == 2)
        }
        match b.op() {
            Operator::Lt | Operator::LtEq => (
                distance_call(b.left())?,
                Predicate::DistanceBelow(constant(b.right())?, *b.op() == Operator::LtEq),
            ),
            Operator::Gt | Operator::GtEq => (
                distance_call(b.right())?,
                Predicate::DistanceBelow(constant(b.left())?, *b.op() == Operator::GtEq),
            ),
            _ => return None,
        }
    } else {
        return None;
    };
    let (side_a, a) = one_side(&function.args()[0], filter, nlj)?;
    let (side_b, b) = one_side(&function.args()[1], filter, nlj)?;
    let (build_is_a, build_geom, probe_geom) = match (side_a, side_b) {
        (JoinSide::Left, JoinSide::Right) => (true, a, b),
        (JoinSide::Right, JoinSide::Left) => (false, b, a),
        _ => return None,
    };
    Some(SpatialCondition {
        predicate,
        build_is_a,
        build_geom,
        probe_geom,
        display: e.to_string(),
    })
}

/// Rewrites an expression over the join filter's columns onto one input's columns, if it reads only one.
fn one_side(
    e: &Arc<dyn PhysicalExpr>,
    filter: &JoinFilter,
    nlj: &NestedLoopJoinExec,
) -> Option<(JoinSide, Arc<dyn PhysicalExpr>)> {
    let indices = filter.column_indices();
    let sides: Vec<JoinSide> = collect_columns(e)
        .iter()
        .filter_map(|c| indices.get(c.index()).map(|i| i.side))
        .collect();
    let side = *sides.first()?;
    if sides.iter().any(|s| *s != side) || !matches!(side, JoinSide::Left | JoinSide::Right) {
        return None;
    }
    let input = if side == JoinSide::Left {
        nlj.left().schema()
    } else {
        nlj.right().schema()
    };
    let moved = Arc::clone(e)
        .transform_up(|x| {
            if let Some(c) = x.downcast_ref::<Column>()
                && let Some(ci) = indices.get(c.index())
            {
                let name = input.field(ci.index).name().clone();
                return Ok(Transformed::yes(
                    Arc::new(Column::new(&name, ci.index)) as Arc<dyn PhysicalExpr>
                ));
            }
            Ok(Transformed::no(x))
        })
        .data()
        .ok()?;
    Some((side, moved))
}
