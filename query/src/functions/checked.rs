//! geodatafusion's functions, wrapped so they behave like the rest of tvilling's SQL: two geometries in
//! different CRS are a planning error, a NULL geometry gives NULL (geodatafusion 0.6 panics on a NULL
//! scalar), and a panic inside the library becomes an error naming the function instead of ending the
//! process.

use std::panic::{AssertUnwindSafe, catch_unwind};

use deltalake::arrow::datatypes::{DataType, FieldRef};
use deltalake::datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use deltalake::datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};

use super::scalar::pretty_name;
use crate::geom::{crs_of, is_geometry};

/// A geodatafusion function behind tvilling's CRS and NULL rules.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Checked {
    inner: ScalarUDF,
}

impl Checked {
    /// Wraps `inner`.
    pub fn new(inner: ScalarUDF) -> Self {
        Checked { inner }
    }
}

impl ScalarUDFImpl for Checked {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let mut first: Option<(String, usize)> = None;
        for (i, f) in args.arg_fields.iter().enumerate() {
            if !is_geometry(f) {
                continue;
            }
            if let Some(crs) = crs_of(f) {
                match &first {
                    Some((c, j)) if *c != crs => {
                        let code = c.strip_prefix("EPSG:").unwrap_or(c);
                        return plan_err!(
                            "{}: geometries are in different CRS ({c} in argument {}, {crs} in argument {}); \
                             transform one first, e.g. ST_Transform(geom, {code})",
                            pretty_name(self.name()),
                            j + 1,
                            i + 1
                        );
                    }
                    Some(_) => {}
                    None => first = Some((crs, i)),
                }
            }
        }
        self.inner.return_field_from_args(args)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        if args
            .args
            .iter()
            .any(|a| matches!(a, ColumnarValue::Scalar(s) if s.is_null()))
        {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from(
                args.return_field.data_type(),
            )?));
        }
        let name = pretty_name(self.name());
        catch_unwind(AssertUnwindSafe(|| self.inner.invoke_with_args(args))).unwrap_or_else(
            |panic| {
                let why = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("unknown cause");
                Err(DataFusionError::Execution(format!(
                    "{name} failed inside geodatafusion: {why}"
                )))
            },
        )
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}
