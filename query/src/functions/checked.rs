//! geodatafusion's functions, wrapped so they behave like the rest of tvilling's SQL: two geometries in
//! different CRS are a planning error, a NULL geometry gives NULL (geodatafusion 0.6 panics on a NULL
//! scalar), and a panic inside the library becomes an error naming the function instead of ending the
//! process.

use std::panic::{AssertUnwindSafe, catch_unwind};

use deltalake::arrow::datatypes::{DataType, FieldRef};
use deltalake::datafusion::common::{DataFusionError, Result, ScalarValue};
use deltalake::datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature,
};

use super::scalar::pretty_name;
use crate::geom::{common_crs, is_geometry};

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
        let geometries = args
            .arg_fields
            .iter()
            .enumerate()
            .filter(|(_, f)| is_geometry(f));
        common_crs(
            &pretty_name(self.name()),
            geometries.map(|(i, f)| (i, f.as_ref())),
        )?;
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
