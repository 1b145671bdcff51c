//! A dataset as a SQL table: the Delta table provider at some version, with the geometry column labelled
//! with the dataset CRS (GeoArrow metadata) and spatial filters turned into `bbox_*` predicates, so Delta's
//! file statistics skip files that cannot match.
//!
//! `WHERE ST_Intersects(geometry, ST_MakeEnvelope(…))` is kept as it is (the exact test) and, in addition,
//! `bbox_xmax >= xmin AND bbox_xmin <= xmax AND …` is pushed into the Delta scan.

use std::sync::Arc;

use async_trait::async_trait;
use deltalake::arrow::datatypes::{Schema, SchemaRef};
use deltalake::datafusion::catalog::{Session, TableProvider};
use deltalake::datafusion::common::{Result, ScalarValue};
use deltalake::datafusion::logical_expr::{Expr, TableProviderFilterPushDown, TableType, col, lit};
use deltalake::datafusion::physical_plan::ExecutionPlan;
use tvilling_core::schema::{BBOX, GEOMETRY, geometry_metadata};
use tvilling_core::store::At;
use tvilling_core::{DatasetName, Store};

/// Spatial predicates that imply the two geometries' envelopes intersect.
const ENVELOPE_PREDICATES: &[&str] = &[
    "st_intersects",
    "st_contains",
    "st_within",
    "st_covers",
    "st_coveredby",
    "st_equals",
    "st_touches",
    "st_overlaps",
    "st_crosses",
    "st_dwithin",
];

/// A dataset version as a DataFusion table.
#[derive(Debug)]
pub struct DatasetTable {
    inner: Arc<dyn TableProvider>,
    schema: SchemaRef,
    has_bbox: bool,
}

impl DatasetTable {
    /// Opens `name` at `at` in `store`.
    pub async fn load(store: &Store, name: &DatasetName, at: At) -> tvilling_core::Result<Self> {
        let table = store.table(name, at).await?;
        let props = tvilling_core::DatasetProperties::from_configuration(
            table.snapshot()?.metadata().configuration(),
        )?;
        let inner = table.table_provider().await?;
        let crs = props.crs;
        let inner_schema = inner.schema();
        let fields = inner_schema
            .fields()
            .iter()
            .map(|f| {
                if f.name() == GEOMETRY {
                    Arc::new(f.as_ref().clone().with_metadata(geometry_metadata(&crs)))
                } else {
                    f.clone()
                }
            })
            .collect::<Vec<_>>();
        let has_bbox = BBOX[..4]
            .iter()
            .all(|b| inner_schema.field_with_name(b).is_ok());
        Ok(DatasetTable {
            inner,
            schema: Arc::new(Schema::new_with_metadata(
                fields,
                inner_schema.metadata().clone(),
            )),
            has_bbox,
        })
    }
}

/// The envelope a filter restricts `geometry` to, if it is a spatial predicate between the column and a
/// constant WKB geometry.
fn filter_envelope(expr: &Expr) -> Option<[f64; 4]> {
    let Expr::ScalarFunction(f) = expr else {
        return None;
    };
    let name = f.func.name();
    if !ENVELOPE_PREDICATES.contains(&name) || f.args.len() < 2 {
        return None;
    }
    let constant = match (&f.args[0], &f.args[1]) {
        (Expr::Column(c), other) | (other, Expr::Column(c)) if c.name == GEOMETRY => other,
        _ => return None,
    };
    let Expr::Literal(ScalarValue::Binary(Some(wkb)) | ScalarValue::BinaryView(Some(wkb)), _) =
        constant
    else {
        return None;
    };
    let b = tvilling_core::wkb::normalize(wkb, None).ok()?.bbox?;
    let grow = if name == "st_dwithin" {
        match f.args.get(2)? {
            Expr::Literal(v, _) => v
                .cast_to(&deltalake::arrow::datatypes::DataType::Float64)
                .ok()
                .and_then(|v| match v {
                    ScalarValue::Float64(Some(d)) if d >= 0.0 => Some(d),
                    _ => None,
                })?,
            _ => return None,
        }
    } else {
        0.0
    };
    Some([b.xmin - grow, b.ymin - grow, b.xmax + grow, b.ymax + grow])
}

fn bbox_filter(e: [f64; 4]) -> Expr {
    col(BBOX[2])
        .gt_eq(lit(e[0]))
        .and(col(BBOX[3]).gt_eq(lit(e[1])))
        .and(col(BBOX[0]).lt_eq(lit(e[2])))
        .and(col(BBOX[1]).lt_eq(lit(e[3])))
}

#[async_trait]
impl TableProvider for DatasetTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        let mut support = self.inner.supports_filters_pushdown(filters)?;
        for (s, f) in support.iter_mut().zip(filters) {
            if self.has_bbox && filter_envelope(f).is_some() {
                *s = TableProviderFilterPushDown::Inexact;
            }
        }
        Ok(support)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut pushed = Vec::with_capacity(filters.len());
        for f in filters {
            match filter_envelope(f) {
                Some(e) if self.has_bbox => pushed.push(bbox_filter(e)),
                _ => pushed.push(f.clone()),
            }
        }
        self.inner.scan(state, projection, &pushed, limit).await
    }
}

/// The version a `table_at` argument names: a version number or an RFC 3339 instant.
pub(crate) fn at_from_scalar(v: &ScalarValue) -> Option<At> {
    match v {
        ScalarValue::Int64(Some(n)) if *n >= 0 => Some(At::Version(*n as u64)),
        ScalarValue::Int32(Some(n)) if *n >= 0 => Some(At::Version(*n as u64)),
        ScalarValue::Utf8(Some(s))
        | ScalarValue::Utf8View(Some(s))
        | ScalarValue::LargeUtf8(Some(s)) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| At::Timestamp(t.with_timezone(&chrono::Utc))),
        _ => None,
    }
}
