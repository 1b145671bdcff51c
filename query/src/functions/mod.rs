//! The `ST_` functions of tvilling's SQL: geodatafusion 0.6's, wrapped by [`checked::Checked`], plus
//! tvilling's own from [`catalog`] (which replace geodatafusion's where names overlap) and the aggregates.

pub mod aggregate;
pub mod catalog;
pub mod checked;
pub mod measure;
pub mod scalar;

use deltalake::datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use deltalake::datafusion::prelude::SessionContext;

/// Registers every spatial function on `ctx`.
pub fn register(ctx: &SessionContext) {
    geodatafusion::register(ctx);
    let state = ctx.state();
    let theirs: Vec<ScalarUDF> = state
        .scalar_functions()
        .values()
        .filter(|f| f.name().starts_with("st_"))
        .map(|f| f.as_ref().clone())
        .collect();
    for f in theirs {
        ctx.register_udf(ScalarUDF::new_from_impl(checked::Checked::new(f)));
    }
    for f in catalog::functions().into_iter().chain(measure::functions()) {
        ctx.register_udf(ScalarUDF::new_from_impl(f));
    }
    for which in [
        aggregate::Which::Union,
        aggregate::Which::Collect,
        aggregate::Which::Extent,
    ] {
        ctx.register_udaf(AggregateUDF::new_from_impl(aggregate::GeoAggregate::new(
            which,
        )));
    }
}
