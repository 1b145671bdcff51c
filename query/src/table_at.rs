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
        let loaded = block_on_store(DatasetTable::load(&self.store, &dataset, at));
        match loaded {
            Ok(table) => Ok(Arc::new(table)),
            Err(e) => plan_err!("table_at('{name}', …): {e}"),
        }
    }
}

/// Runs `load` to completion on a helper thread with its own runtime. Table functions are planned
/// synchronously, often inside the caller's tokio runtime, where blocking on a future is not allowed.
pub(crate) fn block_on_store<T: Send>(
    load: impl std::future::Future<Output = tvilling_core::Result<T>> + Send,
) -> std::result::Result<T, String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a runtime: {e}"))?;
            rt.block_on(load).map_err(|e| e.to_string())
        })
        .join()
        .unwrap_or_else(|_| Err("loading the dataset failed".to_string()))
    })
}
