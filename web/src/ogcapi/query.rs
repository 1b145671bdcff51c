//! From an OGC API request to SQL for the query engine: the queryables of a collection (its columns), and a
//! `WHERE` clause built from a CQL2 tree, `bbox`, `datetime` and `?property=value` filters.
//!
//! Safety rests on three rules: every property name must be a column of the dataset (checked against the
//! queryables, then quoted as an identifier), every text value is written as a SQL string literal with its
//! quotes doubled (the session's dialect has no backslash escapes), and numbers, dates and geometries are
//! re-printed from parsed values. Nothing the caller wrote reaches the SQL text any other way.

use serde_json::{Value, json};
use tvilling_core::arrow::datatypes::{DataType, Schema};

use super::cql2::{CmpOp, Expr, Geometry, Operand, TemporalOp};
use super::crs::Crs;

/// The geometry column of every dataset.
pub const GEOMETRY: &str = "geometry";
/// The feature id column of every dataset.
pub const ID: &str = "id";

/// What kind of values a column holds, as far as filters care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Text.
    Text,
    /// Whole numbers.
    Integer,
    /// Other numbers.
    Number,
    /// true / false.
    Boolean,
    /// Calendar dates.
    Date,
    /// Instants.
    Timestamp,
    /// The geometry.
    Geometry,
    /// Anything else (lists, binary).
    Other,
}

impl ColumnKind {
    fn of(name: &str, t: &DataType) -> ColumnKind {
        if name == GEOMETRY {
            return ColumnKind::Geometry;
        }
        match t {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ColumnKind::Text,
            t if t.is_integer() => ColumnKind::Integer,
            t if t.is_floating() || matches!(t, DataType::Decimal128(_, _)) => ColumnKind::Number,
            DataType::Boolean => ColumnKind::Boolean,
            DataType::Date32 | DataType::Date64 => ColumnKind::Date,
            DataType::Timestamp(_, _) => ColumnKind::Timestamp,
            _ => ColumnKind::Other,
        }
    }

    fn temporal(self) -> bool {
        matches!(self, ColumnKind::Date | ColumnKind::Timestamp)
    }
}

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: ColumnKind,
}

/// The columns of a collection that filters may name.
#[derive(Debug, Clone)]
pub struct Queryables {
    /// Every column but the `bbox_*` helpers, in table order.
    pub columns: Vec<Column>,
    /// The dataset's CRS.
    pub storage: Option<Crs>,
}

impl Queryables {
    /// The queryables of a table with this schema, stored in `crs` (`EPSG:N`).
    pub fn new(schema: &Schema, crs: &str) -> Queryables {
        let columns = schema
            .fields()
            .iter()
            .filter(|f| !f.name().starts_with("bbox_"))
            .map(|f| Column {
                name: f.name().clone(),
                kind: ColumnKind::of(f.name(), f.data_type()),
            })
            .collect();
        Queryables {
            columns,
            storage: Crs::from_dataset(crs),
        }
    }

    /// The column `name`, or an error that lists the queryables.
    pub fn get(&self, name: &str) -> Result<&Column, String> {
        self.columns.iter().find(|c| c.name == name).ok_or_else(|| {
            format!(
                "unknown property '{name}'; the queryables are: {}",
                self.columns
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    }

    /// Whether the table has a geometry column.
    pub fn has_geometry(&self) -> bool {
        self.columns.iter().any(|c| c.kind == ColumnKind::Geometry)
    }

    /// The feature properties: every column but the id and the geometry.
    pub fn properties(&self) -> impl Iterator<Item = &Column> {
        self.columns
            .iter()
            .filter(|c| c.name != ID && c.kind != ColumnKind::Geometry)
    }

    /// The order pages are cut in: by id; a table without one (sensor observations, point rows) by
    /// every sortable column in table order, so that paging through it still visits each row once.
    pub fn page_order(&self) -> String {
        if self.columns.iter().any(|c| c.name == ID) {
            return ident(ID);
        }
        let keys: Vec<String> = self
            .columns
            .iter()
            .filter(|c| !matches!(c.kind, ColumnKind::Geometry | ColumnKind::Other))
            .map(|c| ident(&c.name))
            .collect();
        if keys.is_empty() {
            "1".into()
        } else {
            keys.join(", ")
        }
    }

    /// The column `datetime` filters on: the first date or timestamp column in table order.
    pub fn temporal(&self) -> Option<&Column> {
        self.columns.iter().find(|c| c.kind.temporal())
    }

    /// The queryables as a JSON Schema (OGC API Features Part 3, clause 6.2).
    pub fn json_schema(&self, id: &str, title: &str) -> Value {
        let mut props = serde_json::Map::new();
        for c in &self.columns {
            let s = match c.kind {
                ColumnKind::Text => json!({ "type": "string" }),
                ColumnKind::Integer => json!({ "type": "integer" }),
                ColumnKind::Number => json!({ "type": "number" }),
                ColumnKind::Boolean => json!({ "type": "boolean" }),
                ColumnKind::Date => json!({ "type": "string", "format": "date" }),
                ColumnKind::Timestamp => json!({ "type": "string", "format": "date-time" }),
                ColumnKind::Geometry => json!({ "format": "geometry-any",
                    "$ref": "https://geojson.org/schema/Geometry.json" }),
                ColumnKind::Other => continue,
            };
            let mut s = s;
            if let Some(o) = s.as_object_mut() {
                o.insert("title".into(), Value::String(c.name.clone()));
            }
            props.insert(c.name.clone(), s);
        }
        json!({
            "$schema": "https://json-schema.org/draft/2019-09/schema",
            "$id": id,
            "type": "object",
            "title": title,
            "properties": props,
            "additionalProperties": false
        })
    }
}

/// `name` as a SQL identifier: in double quotes, inner double quotes doubled.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `s` as a SQL string literal: in single quotes, inner single quotes doubled.
pub fn string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn number(v: f64) -> Result<String, String> {
    if !v.is_finite() {
        return Err(format!("{v} is not a usable number"));
    }
    if v.fract() == 0.0 && v.abs() < 1e15 {
        Ok(format!("{v:.0}"))
    } else {
        Ok(format!("{v}"))
    }
}

/// Writes SQL for CQL2 trees over one collection; geometry literals are in `literal_crs`.
pub struct Sql<'a> {
    /// The collection's columns.
    pub queryables: &'a Queryables,
    /// The CRS of geometry literals (`filter-crs`, `bbox-crs`).
    pub literal_crs: Crs,
}

/// An interval of SQL expressions; `None` for an open end.
type Span = (Option<String>, Option<String>);

impl Sql<'_> {
    /// The SQL of a boolean expression.
    pub fn expr(&self, e: &Expr) -> Result<String, String> {
        Ok(match e {
            Expr::And(items) | Expr::Or(items) => {
                let sep = if matches!(e, Expr::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let parts = items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<Result<Vec<_>, _>>()?;
                format!("({})", parts.join(sep))
            }
            Expr::Not(inner) => format!("(NOT {})", self.expr(inner)?),
            Expr::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Expr::Compare(op, a, b) => {
                format!("({} {} {})", self.scalar(a)?, op.sql(), self.scalar(b)?)
            }
            Expr::Like(a, p, neg) => format!(
                "({} {}LIKE {})",
                self.scalar(a)?,
                if *neg { "NOT " } else { "" },
                self.scalar(p)?
            ),
            Expr::Between(a, lo, hi, neg) => format!(
                "({} {}BETWEEN {} AND {})",
                self.scalar(a)?,
                if *neg { "NOT " } else { "" },
                self.scalar(lo)?,
                self.scalar(hi)?
            ),
            Expr::In(a, list, neg) => {
                let items = list
                    .iter()
                    .map(|i| self.scalar(i))
                    .collect::<Result<Vec<_>, _>>()?;
                format!(
                    "({} {}IN ({}))",
                    self.scalar(a)?,
                    if *neg { "NOT " } else { "" },
                    items.join(", ")
                )
            }
            Expr::IsNull(a, neg) => format!(
                "({} IS {}NULL)",
                self.scalar(a)?,
                if *neg { "NOT " } else { "" }
            ),
            Expr::Spatial(op, a, b) => {
                format!("{}({}, {})", op.sql(), self.geometry(a)?, self.geometry(b)?)
            }
            Expr::Temporal(op, a, b) => self.temporal(*op, a, b)?,
        })
    }

    /// A non-geometry value.
    fn scalar(&self, o: &Operand) -> Result<String, String> {
        match o {
            Operand::Property(p) => {
                let c = self.queryables.get(p)?;
                if c.kind == ColumnKind::Geometry {
                    return Err(format!(
                        "'{p}' is the geometry; compare it with S_INTERSECTS, S_WITHIN, … instead"
                    ));
                }
                Ok(ident(&c.name))
            }
            Operand::Str(s) => Ok(string(s)),
            Operand::Num(n) => number(*n),
            Operand::Bool(b) => Ok(if *b { "TRUE" } else { "FALSE" }.into()),
            Operand::Date(d) => Ok(format!("CAST({} AS DATE)", string(&d.to_string()))),
            Operand::Timestamp(t) => Ok(format!(
                "CAST({} AS TIMESTAMP)",
                string(&t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string())
            )),
            Operand::Interval(..) => Err("an INTERVAL can only be used in T_ functions".into()),
            Operand::Geometry(_) => Err("a geometry can only be used in S_ functions".into()),
        }
    }

    /// A geometry in the dataset's CRS: the geometry column, or a literal transformed to it.
    fn geometry(&self, o: &Operand) -> Result<String, String> {
        match o {
            Operand::Property(p) => {
                let c = self.queryables.get(p)?;
                if c.kind != ColumnKind::Geometry {
                    return Err(format!(
                        "'{p}' is not a geometry; S_ functions compare the geometry ('{GEOMETRY}')"
                    ));
                }
                Ok(ident(&c.name))
            }
            Operand::Geometry(g) => Ok(self.literal(g)),
            other => Err(format!("S_ functions compare geometries, not {other:?}")),
        }
    }

    /// A geometry literal, in the dataset's CRS via ST_Transform (PROJ).
    pub fn literal(&self, g: &Geometry) -> String {
        let c = self.literal_crs;
        let wkt = g.wkt(c.north_first());
        let from = format!(
            "ST_GeomFromText({}, {})",
            string(&wkt),
            string(&c.sql_name())
        );
        match self.queryables.storage {
            Some(s) if s.sql_name() != c.sql_name() => {
                format!("ST_Transform({from}, {})", string(&s.sql_name()))
            }
            _ => from,
        }
    }

    /// An operand of a temporal function as a span.
    fn span(&self, o: &Operand) -> Result<Span, String> {
        Ok(match o {
            Operand::Property(p) => {
                let c = self.queryables.get(p)?;
                if !c.kind.temporal() {
                    return Err(format!(
                        "'{p}' is not a date or timestamp; T_ functions compare those"
                    ));
                }
                let s = ident(&c.name);
                (Some(s.clone()), Some(s))
            }
            Operand::Date(_) | Operand::Timestamp(_) => {
                let s = self.scalar(o)?;
                (Some(s.clone()), Some(s))
            }
            Operand::Interval(a, b) => (
                a.as_deref().map(|x| self.scalar(x)).transpose()?,
                b.as_deref().map(|x| self.scalar(x)).transpose()?,
            ),
            other => {
                return Err(format!(
                    "T_ functions compare dates, timestamps and intervals, not {other:?}"
                ));
            }
        })
    }

    fn temporal(&self, op: TemporalOp, a: &Operand, b: &Operand) -> Result<String, String> {
        let (a0, a1) = self.span(a)?;
        let (b0, b1) = self.span(b)?;
        // An open end is unbounded: a condition on it holds (≤/≥ infinity) or fails (strictly before -∞).
        let cond = |x: &Option<String>, op: &str, y: &Option<String>, open: bool| match (x, y) {
            (Some(x), Some(y)) => format!("{x} {op} {y}"),
            _ => if open { "TRUE" } else { "FALSE" }.to_string(),
        };
        let parts = match op {
            TemporalOp::Intersects => vec![cond(&a0, "<=", &b1, true), cond(&a1, ">=", &b0, true)],
            TemporalOp::Before => vec![cond(&a1, "<", &b0, false)],
            TemporalOp::After => vec![cond(&a0, ">", &b1, false)],
            TemporalOp::Equals => vec![cond(&a0, "=", &b0, false), cond(&a1, "=", &b1, false)],
            TemporalOp::During => vec![cond(&a0, ">", &b0, true), cond(&a1, "<", &b1, true)],
        };
        Ok(format!("({})", parts.join(" AND ")))
    }
}

/// The `datetime` parameter (an instant, `start/end`, `../end`, `start/..`) as a T_INTERSECTS on the
/// collection's temporal column.
pub fn datetime(q: &Queryables, value: &str) -> Result<Expr, String> {
    let column = q.temporal().ok_or_else(|| {
        "this collection has no date or timestamp column, so datetime cannot be used".to_string()
    })?;
    let end = |s: &str| -> Result<Option<Box<Operand>>, String> {
        if s.is_empty() || s == ".." {
            Ok(None)
        } else {
            super::cql2::instant(s).map(|o| Some(Box::new(o)))
        }
    };
    let value = value.trim();
    let right = match value.split_once('/') {
        Some((a, b)) => {
            let (a, b) = (end(a)?, end(b)?);
            if a.is_none() && b.is_none() {
                return Err("datetime '../..' has no end; give at least one".into());
            }
            Operand::Interval(a, b)
        }
        None => super::cql2::instant(value)?,
    };
    Ok(Expr::Temporal(
        TemporalOp::Intersects,
        Operand::Property(column.name.clone()),
        right,
    ))
}

/// The `bbox` parameter (4 or 6 numbers) as an S_INTERSECTS on the geometry.
pub fn bbox(value: &str) -> Result<Expr, String> {
    let nums = value
        .split(',')
        .map(|s| s.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect::<Option<Vec<f64>>>()
        .ok_or_else(|| format!("bbox '{value}' must be 4 or 6 comma-separated numbers"))?;
    let text = match nums.as_slice() {
        [x0, y0, x1, y1] | [x0, y0, _, x1, y1, _] => format!("BBOX({x0},{y0},{x1},{y1})"),
        _ => return Err(format!("bbox has 4 or 6 numbers, not {}", nums.len())),
    };
    let e = super::cql2::parse_text(&format!("S_INTERSECTS({GEOMETRY}, {text})"))?;
    Ok(e)
}

/// `?name=value`: equality on a queryable, the value read as the column's kind.
pub fn property_filter(q: &Queryables, name: &str, value: &str) -> Result<Expr, String> {
    let c = q.get(name)?;
    let v = match c.kind {
        ColumnKind::Integer | ColumnKind::Number => value
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Operand::Num)
            .ok_or_else(|| format!("{name} holds numbers; '{value}' is not one"))?,
        ColumnKind::Boolean => match value {
            "true" => Operand::Bool(true),
            "false" => Operand::Bool(false),
            _ => return Err(format!("{name} holds true or false, not '{value}'")),
        },
        ColumnKind::Date | ColumnKind::Timestamp => super::cql2::instant(value)?,
        ColumnKind::Geometry | ColumnKind::Other => {
            return Err(format!(
                "'{name}' cannot be filtered with ?{name}=…; use filter"
            ));
        }
        ColumnKind::Text => Operand::Str(value.to_string()),
    };
    Ok(Expr::Compare(
        CmpOp::Eq,
        Operand::Property(c.name.clone()),
        v,
    ))
}

/// `sortby=+a,-b,c` (OGC API Features Part 8 draft, as OGC API Records): the `ORDER BY` list. Each
/// property must be a queryable other than the geometry; `+` (or nothing) sorts ascending, `-`
/// descending. The feature id always ends the list, so pages stay stable when values repeat.
pub fn sortby(q: &Queryables, value: &str) -> Result<String, String> {
    let mut keys = Vec::new();
    let mut has_id = false;
    for raw in value.split(',') {
        let raw = raw.trim();
        let (name, descending) = match raw.strip_prefix('-') {
            Some(n) => (n, true),
            None => (raw.strip_prefix('+').unwrap_or(raw), false),
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!(
                "sortby={value}: an empty sort key; write properties separated by commas, each optionally \
                 prefixed with + (ascending) or - (descending), e.g. sortby=-byggar,id"
            ));
        }
        let column = q.get(name).map_err(|e| format!("sortby: {e}"))?;
        if matches!(column.kind, ColumnKind::Geometry | ColumnKind::Other) {
            return Err(format!(
                "sortby: '{name}' cannot be sorted (a geometry or list); sort by a text, number, boolean or date property"
            ));
        }
        has_id |= name == ID;
        keys.push(format!(
            "{} {}",
            ident(name),
            if descending { "DESC" } else { "ASC" }
        ));
    }
    if !has_id && q.columns.iter().any(|c| c.name == ID) {
        keys.push(format!("{} ASC", ident(ID)));
    }
    Ok(keys.join(", "))
}

/// `properties=a,b` (OGC API Features Part 6 draft, property selection): the properties to return, in
/// the order given. The id and the geometry are always returned; an empty value returns no other
/// property. Unknown names are an error listing the properties.
pub fn property_selection(q: &Queryables, value: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if name == ID || name == GEOMETRY {
            continue;
        }
        if !q.properties().any(|c| c.name == name) {
            return Err(format!(
                "properties: unknown property '{name}'; the properties are: {}",
                q.properties()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// A date or timestamp as the query engine prints it (`2020-05-01`, `2020-05-01T12:00:00`,
/// `2020-05-01 12:00:00.5`, with or without an offset) in RFC 3339 UTC, for temporal extents.
pub fn rfc3339(value: &str) -> Option<String> {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
    let v = value.trim();
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Some(format!("{}T00:00:00Z", d.format("%Y-%m-%d")));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(&v.replacen(' ', "T", 1)) {
        return Some(
            t.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::AutoSi, true),
        );
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, f) {
            return Some(t.and_utc().to_rfc3339_opts(SecondsFormat::AutoSi, true));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ogcapi::cql2::parse_text;
    use tvilling_core::arrow::datatypes::Field;

    fn queryables() -> Queryables {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("bbox_xmin", DataType::Float64, true),
            Field::new("geometry", DataType::Binary, true),
            Field::new("andamal", DataType::Utf8, true),
            Field::new("vaningar", DataType::Int32, true),
            Field::new("registrerad", DataType::Date32, true),
        ]);
        Queryables::new(&schema, "EPSG:3006")
    }

    fn sql(text: &str) -> Result<String, String> {
        let q = queryables();
        let s = Sql {
            queryables: &q,
            literal_crs: Crs::Crs84,
        };
        s.expr(&parse_text(text)?)
    }

    #[test]
    fn writes_sql_for_filters() {
        let cases = [
            ("vaningar >= 3", "(\"vaningar\" >= 3)"),
            ("andamal LIKE 'Bo%'", "(\"andamal\" LIKE 'Bo%')"),
            (
                "andamal IN ('a', 'b') AND NOT vaningar IS NULL",
                "((\"andamal\" IN ('a', 'b')) AND (NOT (\"vaningar\" IS NULL)))",
            ),
            (
                "T_BEFORE(registrerad, DATE('2000-01-01'))",
                "(\"registrerad\" < CAST('2000-01-01' AS DATE))",
            ),
            (
                "S_INTERSECTS(geometry, POINT(15 59))",
                "ST_Intersects(\"geometry\", ST_Transform(ST_GeomFromText('POINT(15 59)', 'EPSG:4326'), 'EPSG:3006'))",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(sql(text).as_deref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn injection_attempts_stay_inside_literals_and_identifiers() {
        assert_eq!(
            sql("andamal = 'x''; DROP TABLE byggnader; --'").as_deref(),
            Ok("(\"andamal\" = 'x''; DROP TABLE byggnader; --')")
        );
        // A quoted property name with a quote in it is not a column: refused before any SQL is written.
        let e = sql("\"andamal\"\") OR 1=1 --\" = 'x'").unwrap_err();
        assert!(
            e.contains("unknown property") && e.contains("queryables"),
            "{e}"
        );
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(string("it's"), "'it''s'");
        let f = property_filter(&queryables(), "andamal", "'; DROP TABLE x; --").unwrap();
        let q = queryables();
        let s = Sql {
            queryables: &q,
            literal_crs: Crs::Crs84,
        };
        assert_eq!(
            s.expr(&f).unwrap(),
            "(\"andamal\" = '''; DROP TABLE x; --')"
        );
    }

    #[test]
    fn refuses_unknown_properties_and_misused_columns() {
        for (text, needle) in [
            ("hojd > 3", "unknown property 'hojd'"),
            ("geometry = 'x'", "S_INTERSECTS"),
            ("S_INTERSECTS(andamal, POINT(1 2))", "not a geometry"),
            ("T_AFTER(andamal, DATE('2020-01-01'))", "not a date"),
        ] {
            let e = sql(text).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn reads_datetime_and_bbox_parameters() {
        let q = queryables();
        let s = Sql {
            queryables: &q,
            literal_crs: Crs::Crs84,
        };
        let e = datetime(&q, "2000-01-01/..").unwrap();
        assert_eq!(
            s.expr(&e).unwrap(),
            "(TRUE AND \"registrerad\" >= CAST('2000-01-01' AS DATE))"
        );
        let e = datetime(&q, "2000-01-01").unwrap();
        assert_eq!(
            s.expr(&e).unwrap(),
            "(\"registrerad\" <= CAST('2000-01-01' AS DATE) AND \"registrerad\" >= CAST('2000-01-01' AS DATE))"
        );
        assert!(datetime(&q, "../..").is_err());
        assert!(datetime(&q, "yesterday").is_err());
        assert!(bbox("1,2,3").is_err());
        assert!(bbox("1,2,3,x").is_err());
        assert!(bbox("1,2,0,3,4,0").is_ok());
        let mut no_time = queryables();
        no_time.columns.retain(|c| c.kind != ColumnKind::Date);
        assert!(
            datetime(&no_time, "2000-01-01")
                .unwrap_err()
                .contains("no date")
        );
    }
    #[test]
    fn sortby_orders_by_queryables_and_ends_with_the_id() {
        let q = queryables();
        assert_eq!(
            sortby(&q, "-vaningar,+andamal").unwrap(),
            "\"vaningar\" DESC, \"andamal\" ASC, \"id\" ASC"
        );
        assert_eq!(
            sortby(&q, "registrerad").unwrap(),
            "\"registrerad\" ASC, \"id\" ASC"
        );
        assert_eq!(sortby(&q, "-id").unwrap(), "\"id\" DESC");
        let e = sortby(&q, "hojd").unwrap_err();
        assert!(
            e.contains("unknown property 'hojd'") && e.contains("andamal"),
            "{e}"
        );
        assert!(
            sortby(&q, "geometry")
                .unwrap_err()
                .contains("cannot be sorted")
        );
        assert!(
            sortby(&q, "andamal,,id")
                .unwrap_err()
                .contains("empty sort key")
        );
        // Quotes cannot leave the identifier: the name must be a column first.
        assert!(sortby(&q, "andamal\" DESC; DROP").is_err());
    }

    #[test]
    fn property_selection_keeps_known_properties_in_order() {
        let q = queryables();
        assert_eq!(
            property_selection(&q, "vaningar,andamal,vaningar,id,geometry").unwrap(),
            ["vaningar", "andamal"]
        );
        assert!(property_selection(&q, "").unwrap().is_empty());
        let e = property_selection(&q, "andamal,hojd").unwrap_err();
        assert!(e.contains("'hojd'") && e.contains("registrerad"), "{e}");
    }

    #[test]
    fn temporal_extent_values_become_rfc3339_utc() {
        assert_eq!(
            rfc3339("1962-05-01").as_deref(),
            Some("1962-05-01T00:00:00Z")
        );
        assert_eq!(
            rfc3339("2020-05-01T12:00:00").as_deref(),
            Some("2020-05-01T12:00:00Z")
        );
        assert_eq!(
            rfc3339("2020-05-01 12:00:00.250").as_deref(),
            Some("2020-05-01T12:00:00.250Z")
        );
        assert_eq!(
            rfc3339("2020-05-01T12:00:00+02:00").as_deref(),
            Some("2020-05-01T10:00:00Z")
        );
        assert_eq!(rfc3339("not a date"), None);
    }
}
