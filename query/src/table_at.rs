//! `table_at('dataset', 3)` and `table_at('dataset', '2026-05-01T00:00:00Z')`: a dataset as it was at a
//! version or an instant, in any query (`SELECT … FROM table_at('byggnader', 3) b JOIN …`).

use std::sync::Arc;

use deltalake::datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use deltalake::datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use deltalake::datafusion::logical_expr::Expr;
use tvilling_core::{DatasetName, Store};

use crate::table::{DatasetTable, at_from_scalar};

/// The `table_at` table function over a store.
#[derive(Debug)]
pub struct TableAt {
    store: Store,
}

impl TableAt {
    /// `table_at` reading from `store`.
    pub fn new(store: Store) -> Self {
        TableAt { store }
    }
}

const USAGE: &str = "use table_at('dataset', 3) or table_at('dataset', '2026-05-01T00:00:00Z')";

fn literal(e: &Expr) -> Option<&ScalarValue> {
    match e {
        Expr::Literal(v, _) => Some(v),
        _ => None,
    }
}

impl TableFunctionImpl for TableAt {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let exprs = args.exprs();
        let [name, at] = exprs else {
            return plan_err!("table_at takes two arguments, got {}; {USAGE}", exprs.len());
        };
        let name = match literal(name) {
            Some(ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s))) => s.clone(),
            _ => {
                return plan_err!(
                    "table_at: the first argument must be a dataset name in quotes; {USAGE}"
                );
            }
        };
        let at = literal(at).and_then(at_from_scalar).ok_or_else(|| {
            DataFusionError::Plan(format!(
                "table_at('{name}', {at}): the second argument must be a version number (see `tvilling log {name}`) \
                 or an RFC 3339 time like '2026-05-01T00:00:00Z'"
            ))
        })?;
        let dataset: DatasetName = name
            .parse()
            .map_err(|e| DataFusionError::Plan(format!("table_at: {e}")))?;
        // Table functions are planned synchronously; load the Delta log on a helper thread with its own runtime
        // so this works whatever runtime (if any) the caller runs on.
        let store = self.store.clone();
        let loaded = std::thread::scope(|s| {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                rt.block_on(DatasetTable::load(&store, &dataset, at))
                    .map_err(|e| std::io::Error::other(e.to_string()))
            })
            .join()
        });
        match loaded {
            Ok(Ok(table)) => Ok(Arc::new(table)),
            Ok(Err(e)) => plan_err!("table_at('{name}', …): {e}"),
            Err(_) => plan_err!("table_at('{name}', …): loading the dataset failed"),
        }
    }
}
