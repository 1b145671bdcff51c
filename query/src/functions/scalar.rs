//! The frame every tvilling `ST_` scalar function shares: argument checking with messages that name the
//! function and the argument, the CRS rule (mixed CRS is an error, not silent garbage), PostGIS' strictness
//! (a NULL argument gives NULL) and the row loop. Each function is a table entry in `catalog.rs` with a
//! plain per-row `eval`.

use std::cell::OnceCell;
use std::sync::Arc;

use deltalake::arrow::array::{Array, ArrayRef, Float64Array, Int64Array, StringArray};
use deltalake::arrow::compute::cast;
use deltalake::arrow::datatypes::{DataType, Field, FieldRef};
use deltalake::datafusion::common::{DataFusionError, Result, ScalarValue, plan_err};
use deltalake::datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use tvilling_core::crs::{Crs, Transformer};

use crate::geom::{common_crs, crs_from_scalar, crs_of, is_geometry, wkb_array, wkb_field};

/// What an argument is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A geometry (WKB, WKT text or a GeoArrow array).
    Geom,
    /// A number, read as `f64`.
    Float,
    /// An integer, read as `i64`.
    Int,
    /// Text.
    Text,
    /// A CRS: an EPSG code (`3006`) or text (`'EPSG:3006'`); must be a constant when it sets the result CRS.
    Srid,
    /// An integer or text option (PostGIS' `ST_Buffer(g, r, 4)` and `ST_Buffer(g, r, 'quad_segs=4')`).
    Style,
}

/// Where a geometry result's CRS comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CrsRule {
    /// The (common) CRS of the geometry arguments.
    Inputs,
    /// The constant SRID argument at this index; unknown when the argument is left out.
    Arg(usize),
    /// The `crs` member of a constant GeoJSON argument (PostGIS reads it), else EPSG:4326 (RFC 7946).
    GeoJson,
}

/// The result type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Out {
    /// A WKB geometry.
    Geom(CrsRule),
    /// A boolean.
    Bool,
    /// A `Float64`.
    Float,
    /// An `Int32` (PostGIS' SRIDs, counts).
    Int,
    /// Text.
    Text,
}

/// One argument value of a row.
#[derive(Debug, Clone, Copy)]
pub enum Val<'a> {
    /// WKB bytes.
    Geom(&'a [u8]),
    /// A number.
    Float(f64),
    /// An integer.
    Int(i64),
    /// Text (also a CRS given as text).
    Text(&'a str),
}

impl<'a> Val<'a> {
    /// The WKB of a geometry argument.
    pub fn geom(&self) -> Result<&'a [u8]> {
        match self {
            Val::Geom(g) => Ok(g),
            other => Err(DataFusionError::Internal(format!(
                "expected a geometry, got {other:?}"
            ))),
        }
    }
    /// A numeric argument.
    pub fn float(&self) -> Result<f64> {
        match self {
            Val::Float(v) => Ok(*v),
            Val::Int(v) => Ok(*v as f64),
            other => Err(DataFusionError::Internal(format!(
                "expected a number, got {other:?}"
            ))),
        }
    }
    /// An integer argument.
    pub fn int(&self) -> Result<i64> {
        match self {
            Val::Int(v) => Ok(*v),
            other => Err(DataFusionError::Internal(format!(
                "expected an integer, got {other:?}"
            ))),
        }
    }
    /// A text argument.
    pub fn text(&self) -> Result<&'a str> {
        match self {
            Val::Text(v) => Ok(v),
            other => Err(DataFusionError::Internal(format!(
                "expected text, got {other:?}"
            ))),
        }
    }
}

/// A row's result.
#[derive(Debug, Clone, PartialEq)]
pub enum Res {
    /// SQL NULL.
    Null,
    /// WKB bytes.
    Geom(Vec<u8>),
    /// A boolean.
    Bool(bool),
    /// A number.
    Float(f64),
    /// An integer.
    Int(i32),
    /// Text.
    Text(String),
}

/// What `eval` may know besides the row: the CRS of each argument and of the result, and this thread's
/// PROJ transformer between them ([`Transformer::cached`]).
pub struct Ctx {
    /// CRS of each argument (geometry arguments only).
    pub crs: Vec<Option<String>>,
    /// CRS of the result, when it is a geometry.
    pub out_crs: Option<String>,
    transformer: OnceCell<std::rc::Rc<Transformer>>,
}

impl Ctx {
    /// A context for arguments in `crs`, producing `out_crs`.
    pub fn new(crs: Vec<Option<String>>, out_crs: Option<String>) -> Self {
        Ctx {
            crs,
            out_crs,
            transformer: OnceCell::new(),
        }
    }

    /// The transformer from the first argument's CRS to the result CRS.
    pub fn transformer(&self, function: &str) -> Result<&Transformer> {
        if let Some(t) = self.transformer.get() {
            return Ok(t);
        }
        let parse = |c: &Option<String>, what: &str| -> Result<Crs> {
            let c = c.as_deref().ok_or_else(|| {
                DataFusionError::Execution(format!(
                    "{function}: the {what} CRS is unknown; give the geometry one with ST_SetSRID(geom, 3006)"
                ))
            })?;
            c.parse::<Crs>()
                .map_err(|e| DataFusionError::Execution(format!("{function}: {e}")))
        };
        let from = parse(self.crs.first().unwrap_or(&None), "source")?;
        let to = parse(&self.out_crs, "target")?;
        let t = Transformer::cached(from, to)
            .map_err(|e| DataFusionError::Execution(format!("{function}: {e}")))?;
        Ok(self.transformer.get_or_init(|| t))
    }
}

/// Per-row evaluation.
pub type Eval = fn(&Ctx, &[Val<'_>]) -> Result<Res>;

/// A PostGIS-named scalar function. Functions are identified by name (function pointers do not compare
/// meaningfully).
#[derive(Debug)]
pub struct StFunction {
    name: &'static str,
    params: &'static [(&'static str, Kind)],
    required: usize,
    out: Out,
    eval: Eval,
    doc: &'static str,
    strict: bool,
    signature: Signature,
}

impl PartialEq for StFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}
impl Eq for StFunction {}
impl std::hash::Hash for StFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl StFunction {
    /// A function `name(params…)` of which the first `required` parameters must be given.
    pub fn new(
        name: &'static str,
        params: &'static [(&'static str, Kind)],
        required: usize,
        out: Out,
        eval: Eval,
        doc: &'static str,
    ) -> Self {
        let arities = (required.max(1)..=params.len())
            .map(TypeSignature::Any)
            .collect();
        StFunction {
            name,
            params,
            required,
            out,
            eval,
            doc,
            strict: true,
            signature: Signature::one_of(arities, Volatility::Immutable),
        }
    }

    /// NULL arguments are left out instead of making the result NULL (PostGIS' `ST_Collect(g, NULL)` is `g`);
    /// `eval` then sees only the non-NULL arguments, and all-NULL still gives NULL.
    pub fn skipping_nulls(mut self) -> Self {
        self.strict = false;
        self
    }

    /// The one-line description for `docs/sql.md` and `\functions`.
    pub fn doc(&self) -> &'static str {
        self.doc
    }

    fn pretty(&self) -> String {
        pretty_name(self.name)
    }

    /// Checks argument kinds and CRS at planning time; returns the result CRS.
    fn check(
        &self,
        fields: &[FieldRef],
        scalars: &[Option<&ScalarValue>],
    ) -> Result<Option<String>> {
        let name = self.pretty();
        if fields.len() < self.required || fields.len() > self.params.len() {
            return plan_err!(
                "{name} takes {} arguments, got {}",
                arity_text(self.required, self.params.len()),
                fields.len()
            );
        }
        for (i, (field, (pname, kind))) in fields.iter().zip(self.params).enumerate() {
            let t = field.data_type();
            let ok = match kind {
                _ if t.is_null() => true,
                Kind::Geom => is_geometry(field) || geometry_like(t),
                Kind::Float | Kind::Int => t.is_numeric(),
                Kind::Text => {
                    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
                }
                Kind::Srid | Kind::Style => {
                    t.is_integer()
                        || matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
                }
            };
            if !ok {
                return plan_err!(
                    "{name}: argument {} ({pname}) must be {}, got {t}",
                    i + 1,
                    kind_text(*kind)
                );
            }
        }
        let geometries = fields
            .iter()
            .zip(self.params)
            .enumerate()
            .filter(|(_, (_, (_, k)))| *k == Kind::Geom);
        let common = common_crs(&name, geometries.map(|(i, (f, _))| (i, f.as_ref())))?;
        Ok(match self.out {
            Out::Geom(CrsRule::Inputs) => common,
            Out::Geom(CrsRule::GeoJson) => Some(
                scalars
                    .first()
                    .copied()
                    .flatten()
                    .and_then(|v| match v {
                        ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
                            crate::text::geojson_crs(s)
                        }
                        _ => None,
                    })
                    .unwrap_or_else(|| "EPSG:4326".to_string()),
            ),
            Out::Geom(CrsRule::Arg(i)) => {
                match (fields.get(i), scalars.get(i).copied().flatten()) {
                    (None, _) => None,
                    (Some(_), Some(v)) => crs_from_scalar(v, &name)?,
                    (Some(_), None) => {
                        return plan_err!(
                            "{name}: argument {} ({}) must be a constant SRID, like 3006",
                            i + 1,
                            self.params[i].0
                        );
                    }
                }
            }
            _ => None,
        })
    }
}

/// `st_asgeojson` → `ST_AsGeoJSON`, for messages.
pub fn pretty_name(name: &str) -> String {
    crate::functions::catalog::display_name(name)
}

fn arity_text(required: usize, max: usize) -> String {
    if required == max {
        format!("{max}")
    } else {
        format!("{required} to {max}")
    }
}

fn kind_text(k: Kind) -> &'static str {
    match k {
        Kind::Geom => "a geometry",
        Kind::Float => "a number",
        Kind::Int => "an integer",
        Kind::Text => "text",
        Kind::Srid => "an SRID (3006) or CRS text ('EPSG:3006')",
        Kind::Style => "an integer or a style text ('quad_segs=8')",
    }
}

/// Types that read as a geometry without metadata: WKB binaries, WKT text and GeoArrow's native layouts.
fn geometry_like(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::Utf8
            | DataType::Utf8View
            | DataType::LargeUtf8
            | DataType::Struct(_)
            | DataType::FixedSizeList(_, _)
            | DataType::List(_)
            | DataType::Union(_, _)
    )
}

enum Column {
    Geom(deltalake::arrow::array::BinaryArray),
    Float(Float64Array),
    Int(Int64Array),
    Text(StringArray),
}

impl Column {
    fn get(&self, row: usize) -> Option<Val<'_>> {
        match self {
            Column::Geom(a) => a.is_valid(row).then(|| Val::Geom(a.value(row))),
            Column::Float(a) => a.is_valid(row).then(|| Val::Float(a.value(row))),
            Column::Int(a) => a.is_valid(row).then(|| Val::Int(a.value(row))),
            Column::Text(a) => a.is_valid(row).then(|| Val::Text(a.value(row))),
        }
    }
}

fn column(name: &str, array: &ArrayRef, field: &Field, kind: Kind, index: usize) -> Result<Column> {
    let cast_to = |t: &DataType| {
        cast(array, t)
            .map_err(|e| DataFusionError::Execution(format!("{name}: argument {}: {e}", index + 1)))
    };
    let downcast_err = || {
        DataFusionError::Internal(format!(
            "{name}: argument {} has an unexpected type",
            index + 1
        ))
    };
    Ok(match kind {
        Kind::Geom => Column::Geom(wkb_array(array, field)?),
        Kind::Float => Column::Float(
            cast_to(&DataType::Float64)?
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or_else(downcast_err)?
                .clone(),
        ),
        Kind::Int => Column::Int(
            cast_to(&DataType::Int64)?
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(downcast_err)?
                .clone(),
        ),
        Kind::Srid | Kind::Style if array.data_type().is_integer() => Column::Int(
            cast_to(&DataType::Int64)?
                .as_any()
                .downcast_ref::<Int64Array>()
                .ok_or_else(downcast_err)?
                .clone(),
        ),
        Kind::Text | Kind::Srid | Kind::Style => Column::Text(
            cast_to(&DataType::Utf8)?
                .as_any()
                .downcast_ref::<StringArray>()
                .ok_or_else(downcast_err)?
                .clone(),
        ),
    })
}

fn out_type(out: Out) -> DataType {
    match out {
        Out::Geom(_) => DataType::Binary,
        Out::Bool => DataType::Boolean,
        Out::Float => DataType::Float64,
        Out::Int => DataType::Int32,
        Out::Text => DataType::Utf8,
    }
}

fn build(out: Out, results: Vec<Res>) -> Result<ArrayRef> {
    let null = ScalarValue::try_from(out_type(out))?;
    let scalars = results.into_iter().map(|r| match (r, out) {
        (Res::Null, _) => Ok(null.clone()),
        (Res::Geom(g), Out::Geom(_)) => Ok(ScalarValue::Binary(Some(g))),
        (Res::Bool(v), Out::Bool) => Ok(ScalarValue::Boolean(Some(v))),
        (Res::Float(v), Out::Float) => Ok(ScalarValue::Float64(Some(v))),
        (Res::Int(v), Out::Int) => Ok(ScalarValue::Int32(Some(v))),
        (Res::Text(v), Out::Text) => Ok(ScalarValue::Utf8(Some(v))),
        (r, _) => Err(DataFusionError::Internal(format!(
            "result {r:?} does not match {out:?}"
        ))),
    });
    let scalars = scalars.collect::<Result<Vec<_>>>()?;
    if scalars.is_empty() {
        return Ok(deltalake::arrow::array::new_empty_array(&out_type(out)));
    }
    ScalarValue::iter_to_array(scalars)
}

impl ScalarUDFImpl for StFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(out_type(self.out))
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let crs = self.check(args.arg_fields, args.scalar_arguments)?;
        Ok(Arc::new(match self.out {
            Out::Geom(_) => wkb_field(self.name, crs.as_deref(), true),
            other => Field::new(self.name, out_type(other), true),
        }))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = self.pretty();
        let all_scalar = args
            .args
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { args.number_rows };
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let columns = arrays
            .iter()
            .zip(&args.arg_fields)
            .zip(self.params)
            .enumerate()
            .map(|(i, ((a, f), (_, kind)))| column(&name, a, f, *kind, i))
            .collect::<Result<Vec<_>>>()?;
        let ctx = Ctx::new(
            args.arg_fields.iter().map(|f| crs_of(f)).collect(),
            crs_of(&args.return_field),
        );
        let mut vals = Vec::with_capacity(columns.len());
        let mut results = Vec::with_capacity(rows);
        for row in 0..rows {
            vals.clear();
            // PostGIS functions are STRICT (any NULL argument gives NULL) unless built `skipping_nulls`.
            let mut null = false;
            for c in &columns {
                match c.get(row) {
                    Some(v) => vals.push(v),
                    None => null = true,
                }
            }
            let skip = !self.strict && !vals.is_empty();
            results.push(if null && !skip {
                Res::Null
            } else {
                (self.eval)(&ctx, &vals)?
            });
        }
        let array = build(self.out, results)?;
        Ok(if all_scalar {
            ColumnarValue::Scalar(ScalarValue::try_from_array(&array, 0)?)
        } else {
            ColumnarValue::Array(array)
        })
    }
}
