//! The SQL session over a store: every dataset is a table, the `ST_` functions and `table_at` are
//! registered, the spatial join rule is installed, and every statement is checked to be read-only before it
//! is planned.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use deltalake::arrow::datatypes::SchemaRef;
use deltalake::arrow::record_batch::RecordBatch;
use deltalake::datafusion::common::DataFusionError;
use deltalake::datafusion::common::tree_node::TreeNode;
use deltalake::datafusion::execution::SendableRecordBatchStream;
use deltalake::datafusion::execution::runtime_env::RuntimeEnvBuilder;
use deltalake::datafusion::execution::session_state::SessionStateBuilder;
use deltalake::datafusion::logical_expr::LogicalPlan;
use deltalake::datafusion::physical_plan::{ExecutionPlan, collect};
use deltalake::datafusion::prelude::{SessionConfig, SessionContext};
use deltalake::datafusion::sql::parser::Statement as DfStatement;
use deltalake::datafusion::sql::sqlparser::ast::{
    self, Expr as SqlExpr, FunctionArguments, Ident, ObjectName,
};
use tvilling_core::{At, Store};

use crate::error::{Error, Result};
use crate::table::DatasetTable;
use crate::table_at::TableAt;

/// How a session runs queries.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// Cancel a statement after this long.
    pub timeout: Option<Duration>,
    /// Cap on memory for sorts, joins and aggregates (DataFusion's memory pool), in bytes.
    pub memory_limit: Option<usize>,
    /// Use the spatial index: spatial joins as R-tree index joins, nearest-k sorts through bbox windows (on
    /// by default; off only to compare answers and plans).
    pub spatial_join: bool,
    /// Parallelism; defaults to the number of cores.
    pub target_partitions: Option<usize>,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            timeout: None,
            memory_limit: None,
            spatial_join: true,
            target_partitions: None,
        }
    }
}

/// A query's result.
#[derive(Debug)]
pub struct QueryOutput {
    /// The result schema (geometry columns carry GeoArrow metadata).
    pub schema: SchemaRef,
    /// The rows.
    pub batches: Vec<RecordBatch>,
}

/// A DataFusion session over a store.
pub struct Session {
    ctx: SessionContext,
    options: QueryOptions,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session with every dataset of `store` registered at its newest version.
    pub async fn open(store: &Store, options: QueryOptions) -> Result<Session> {
        let names = store.datasets().await?;
        Session::open_datasets(store, options, &names).await
    }

    /// A session with only `names` as tables: a service that knows what it will query (SensorThings
    /// over one IoT collection) does not pay for opening every dataset of the store.
    pub async fn open_datasets(
        store: &Store,
        options: QueryOptions,
        names: &[tvilling_core::DatasetName],
    ) -> Result<Session> {
        let mut config = SessionConfig::new().with_information_schema(true);
        if let Some(n) = options.target_partitions {
            config = config.with_target_partitions(n.max(1));
        }
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(bytes) = options.memory_limit {
            runtime = runtime.with_memory_limit(bytes, 1.0);
        }
        let mut builder = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime.build_arc()?)
            .with_default_features();
        if options.spatial_join {
            builder = builder.with_physical_optimizer_rule(Arc::new(crate::join::SpatialJoinRule));
        }
        let ctx = SessionContext::new_with_state(builder.build());
        crate::functions::register(&ctx);
        ctx.register_udtf("table_at", Arc::new(TableAt::new(store.clone())));
        ctx.register_udtf("st_knn", Arc::new(crate::knn::StKnn::new(store.clone())));
        for name in names {
            let table = DatasetTable::load(store, name, At::Latest).await?;
            ctx.register_table(name.as_str(), Arc::new(table))?;
        }
        Ok(Session { ctx, options })
    }

    /// The DataFusion context, for embedding (tests register extra tables here).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Plans one read-only statement.
    pub async fn plan(&self, sql: &str) -> Result<LogicalPlan> {
        let state = self.ctx.state();
        let dialect = state.config().options().sql_parser.dialect;
        let mut statement = state.sql_to_statement(sql, &dialect)?;
        ensure_read_only(&statement)?;
        rewrite_aggregates(&mut statement);
        let plan = state
            .statement_to_plan(statement)
            .await
            .map_err(explain_values_metadata)?;
        // Defence in depth: DataFusion's own check agrees the plan neither writes nor changes settings.
        deltalake::datafusion::execution::context::SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| Error::ReadOnly(e.to_string()))?;
        Ok(plan)
    }

    /// The physical plan of a statement (what `EXPLAIN` shows).
    pub async fn physical_plan(&self, sql: &str) -> Result<Arc<dyn ExecutionPlan>> {
        let plan = self.plan(sql).await?;
        let plan = if self.options.spatial_join {
            self.nearest_through_index(plan).await?
        } else {
            plan
        };
        Ok(self.ctx.state().create_physical_plan(&plan).await?)
    }

    /// Lets nearest-k sorts read only a window of their dataset ([`crate::nearest`]), also under `EXPLAIN`.
    async fn nearest_through_index(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        if let LogicalPlan::Explain(explain) = &plan {
            let inner = Box::pin(self.nearest_through_index(explain.plan.as_ref().clone())).await?;
            let mut explain = explain.clone();
            explain.plan = Arc::new(inner);
            return Ok(LogicalPlan::Explain(explain));
        }
        if let LogicalPlan::Analyze(analyze) = &plan {
            let inner =
                Box::pin(self.nearest_through_index(analyze.input.as_ref().clone())).await?;
            let mut analyze = analyze.clone();
            analyze.input = Arc::new(inner);
            return Ok(LogicalPlan::Analyze(analyze));
        }
        // Only plans that sort and compute a distance are optimized ahead (the rewrite needs constants
        // folded); the sort key may be an alias of the distance.
        let sorts = plan.exists(|node| Ok(matches!(node, LogicalPlan::Sort(_))))?;
        if !sorts || !plan.display_indent().to_string().contains("st_distance") {
            return Ok(plan);
        }
        let optimized = self.ctx.state().optimize(&plan)?;
        Ok(crate::nearest::rewrite(&self.ctx, &optimized)
            .await?
            .unwrap_or(plan))
    }

    /// Runs a statement to completion within the session's time limit.
    pub async fn query(&self, sql: &str) -> Result<QueryOutput> {
        let run = async {
            let physical = self.physical_plan(sql).await?;
            let schema = physical.schema();
            let batches = collect(physical, self.ctx.task_ctx()).await?;
            Ok::<_, Error>(QueryOutput { schema, batches })
        };
        self.with_timeout(run).await
    }

    /// Runs a statement and returns its batches.
    pub async fn sql(&self, sql: &str) -> Result<Vec<RecordBatch>> {
        Ok(self.query(sql).await?.batches)
    }

    /// Streams a statement's rows (the time limit covers planning only; the caller owns the stream).
    pub async fn stream(&self, sql: &str) -> Result<SendableRecordBatchStream> {
        let physical = self.with_timeout(self.physical_plan(sql)).await?;
        Ok(deltalake::datafusion::physical_plan::execute_stream(
            physical,
            self.ctx.task_ctx(),
        )?)
    }

    async fn with_timeout<T>(&self, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        match self.options.timeout {
            Some(limit) => tokio::time::timeout(limit, f)
                .await
                .map_err(|_| Error::Timeout(limit))?,
            None => f.await,
        }
    }
}

const ALLOWED: &str =
    "tvilling's SQL is read-only: it answers SELECT, WITH, VALUES, EXPLAIN, DESCRIBE and SHOW";

/// Refuses anything but queries before planning, so no statement can write, read files or change settings.
fn ensure_read_only(statement: &DfStatement) -> Result<()> {
    let refuse = |what: &str| Err(Error::ReadOnly(format!("{what} is not allowed; {ALLOWED}")));
    match statement {
        DfStatement::Statement(s) => match s.as_ref() {
            ast::Statement::Query(_)
            | ast::Statement::ExplainTable { .. }
            | ast::Statement::ShowTables { .. }
            | ast::Statement::ShowColumns { .. } => Ok(()),
            ast::Statement::Explain { statement, .. } => {
                ensure_read_only(&DfStatement::Statement(statement.clone()))
            }
            other => {
                let text = other.to_string();
                let verb: String = text
                    .split_whitespace()
                    .take(2)
                    .collect::<Vec<_>>()
                    .join(" ");
                refuse(&verb)
            }
        },
        DfStatement::Explain(e) => ensure_read_only(&e.statement),
        DfStatement::CreateExternalTable(_) => refuse("CREATE EXTERNAL TABLE"),
        DfStatement::CopyTo(_) => refuse("COPY"),
        DfStatement::Reset(_) => refuse("RESET"),
    }
}

/// `ST_Union(geom)` and `ST_Collect(geom)` with one argument are the PostGIS aggregates; DataFusion resolves a
/// name to the scalar function first, so the one-argument calls are renamed to the aggregates before planning.
fn rewrite_aggregates(statement: &mut DfStatement) {
    let DfStatement::Statement(s) = statement else {
        return;
    };
    let _ = ast::visit_expressions_mut(s.as_mut(), |e| {
        if let SqlExpr::Function(f) = e {
            let one_arg = matches!(&f.args, FunctionArguments::List(l) if l.args.len() == 1);
            let name = f.name.to_string().to_ascii_lowercase();
            if one_arg && (name == "st_union" || name == "st_collect") {
                f.name = ObjectName::from(vec![Ident::new(format!("{name}_agg"))]);
            }
        }
        ControlFlow::<()>::Continue(())
    });
}

/// DataFusion insists that every row of a VALUES column has the same field metadata, which for geometries is
/// the CRS. Say so in the words a GIS analyst uses.
fn explain_values_metadata(e: DataFusionError) -> DataFusionError {
    let text = e.to_string();
    if !(text.contains("Inconsistent metadata across values list") && text.contains("geoarrow")) {
        return e;
    }
    let crs_count = text.matches("\\\"crs\\\"").count();
    DataFusionError::Plan(if crs_count >= 2 {
        "a VALUES column mixes geometries in different CRS; ST_Transform them to one CRS first"
            .to_string()
    } else {
        "a VALUES column mixes geometries with plain values: write a NULL geometry as ST_GeomFromText(NULL) \
         (with the same SRID as the other rows, e.g. ST_GeomFromText(NULL, 3006)) so the column has one CRS"
            .to_string()
    })
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        Error::DataFusion(Box::new(e))
    }
}
