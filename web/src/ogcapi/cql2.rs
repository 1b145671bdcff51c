//! CQL2 (OGC 21-065) parsed into one AST from either encoding: `cql2-text` ([`parse_text`]) and `cql2-json`
//! ([`parse_json`]). The subset is Basic CQL2 (comparisons, AND/OR/NOT, IS NULL), the advanced comparison
//! operators (LIKE, BETWEEN, IN), the spatial functions (`S_INTERSECTS`, `S_WITHIN`, `S_CONTAINS`,
//! `S_DISJOINT`, `S_EQUALS`, `S_TOUCHES`, `S_OVERLAPS`, `S_CROSSES`) on WKT / GeoJSON / BBOX literals, and the
//! temporal functions `T_INTERSECTS`, `T_BEFORE`, `T_AFTER`, `T_EQUALS`, `T_DURING` on dates and timestamps.
//!
//! The parser only builds the tree; [`super::query`] checks property names and writes SQL from it. Geometry
//! literals are parsed down to numbers here, so nothing of the caller's text reaches SQL unparsed.
//!
//! The two readers are the `text` and `json` submodules; both build the one AST defined here, and `tests`
//! checks that they agree.

mod json;
#[cfg(test)]
mod tests;
mod text;

pub use json::parse_json;
pub use text::{instant, parse_text};

/// A CQL2 boolean expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// All of these.
    And(Vec<Expr>),
    /// Any of these.
    Or(Vec<Expr>),
    /// Not this.
    Not(Box<Expr>),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// `a = b`, `a < b`, …
    Compare(CmpOp, Operand, Operand),
    /// `a [NOT] LIKE 'pattern'` (`%` and `_` wildcards, as in SQL).
    Like(Operand, Operand, bool),
    /// `a [NOT] BETWEEN low AND high`.
    Between(Operand, Operand, Operand, bool),
    /// `a [NOT] IN (b, c)`.
    In(Operand, Vec<Operand>, bool),
    /// `a IS [NOT] NULL`.
    IsNull(Operand, bool),
    /// `S_INTERSECTS(a, b)` and the other spatial functions.
    Spatial(SpatialOp, Operand, Operand),
    /// `T_BEFORE(a, b)` and the other temporal functions.
    Temporal(TemporalOp, Operand, Operand),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The SQL (and CQL2 text) spelling.
    pub fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    fn from_symbol(s: &str) -> Option<CmpOp> {
        Some(match s {
            "=" => CmpOp::Eq,
            "<>" => CmpOp::Ne,
            "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            ">" => CmpOp::Gt,
            ">=" => CmpOp::Ge,
            _ => return None,
        })
    }
}

/// The spatial functions, each the PostGIS-named `ST_` function of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpatialOp {
    /// S_INTERSECTS
    Intersects,
    /// S_WITHIN
    Within,
    /// S_CONTAINS
    Contains,
    /// S_DISJOINT
    Disjoint,
    /// S_EQUALS
    Equals,
    /// S_TOUCHES
    Touches,
    /// S_OVERLAPS
    Overlaps,
    /// S_CROSSES
    Crosses,
}

impl SpatialOp {
    const ALL: [(&'static str, SpatialOp); 8] = [
        ("s_intersects", SpatialOp::Intersects),
        ("s_within", SpatialOp::Within),
        ("s_contains", SpatialOp::Contains),
        ("s_disjoint", SpatialOp::Disjoint),
        ("s_equals", SpatialOp::Equals),
        ("s_touches", SpatialOp::Touches),
        ("s_overlaps", SpatialOp::Overlaps),
        ("s_crosses", SpatialOp::Crosses),
    ];

    fn from_name(name: &str) -> Option<SpatialOp> {
        let n = name.to_ascii_lowercase();
        SpatialOp::ALL
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, o)| *o)
    }

    /// The SQL function that tests it.
    pub fn sql(self) -> &'static str {
        match self {
            SpatialOp::Intersects => "ST_Intersects",
            SpatialOp::Within => "ST_Within",
            SpatialOp::Contains => "ST_Contains",
            SpatialOp::Disjoint => "ST_Disjoint",
            SpatialOp::Equals => "ST_Equals",
            SpatialOp::Touches => "ST_Touches",
            SpatialOp::Overlaps => "ST_Overlaps",
            SpatialOp::Crosses => "ST_Crosses",
        }
    }
}

/// The temporal functions supported (a subset of CQL2's; see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalOp {
    /// T_INTERSECTS
    Intersects,
    /// T_BEFORE
    Before,
    /// T_AFTER
    After,
    /// T_EQUALS
    Equals,
    /// T_DURING
    During,
}

impl TemporalOp {
    const ALL: [(&'static str, TemporalOp); 5] = [
        ("t_intersects", TemporalOp::Intersects),
        ("t_before", TemporalOp::Before),
        ("t_after", TemporalOp::After),
        ("t_equals", TemporalOp::Equals),
        ("t_during", TemporalOp::During),
    ];

    fn from_name(name: &str) -> Option<TemporalOp> {
        let n = name.to_ascii_lowercase();
        TemporalOp::ALL
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, o)| *o)
    }
}

/// Coordinates of a geometry literal: a position (2 or 3 numbers) or a list of coordinates.
#[derive(Debug, Clone, PartialEq)]
pub enum Coords {
    /// x y [z] in the order written.
    Position(Vec<f64>),
    /// `( … , … )`
    List(Vec<Coords>),
}

/// A geometry literal (WKT, GeoJSON or BBOX), in the filter CRS.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    /// The WKT type keyword, upper case (`POINT`, `POLYGON`, …).
    pub kind: String,
    /// Its coordinates; for a point a one-position list, as in WKT `POINT(1 2)`.
    pub coords: Coords,
}

impl Geometry {
    /// WKT with coordinates re-printed from numbers, the first two axes swapped when `swap` (for CRSs whose
    /// first axis is latitude or northing).
    pub fn wkt(&self, swap: bool) -> String {
        fn write(c: &Coords, swap: bool, out: &mut String) {
            match c {
                Coords::Position(p) => {
                    let mut p = p.clone();
                    if swap && p.len() >= 2 {
                        p.swap(0, 1);
                    }
                    let s: Vec<String> = p.iter().map(|v| format!("{v}")).collect();
                    out.push_str(&s.join(" "));
                }
                Coords::List(items) => {
                    out.push('(');
                    for (i, item) in items.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        write(item, swap, out);
                    }
                    out.push(')');
                }
            }
        }
        let mut out = self.kind.clone();
        write(&self.coords, swap, &mut out);
        out
    }

    /// The polygon of a bounding box (2D: 4 numbers; 3D: 6, of which z is ignored).
    fn from_bbox(b: &[f64]) -> Result<Geometry, String> {
        let (x0, y0, x1, y1) = match b {
            [x0, y0, x1, y1] | [x0, y0, _, x1, y1, _] => (*x0, *y0, *x1, *y1),
            _ => return Err(format!("a BBOX has 4 or 6 numbers, not {}", b.len())),
        };
        let p = |x: f64, y: f64| Coords::Position(vec![x, y]);
        Ok(Geometry {
            kind: "POLYGON".into(),
            coords: Coords::List(vec![Coords::List(vec![
                p(x0, y0),
                p(x1, y0),
                p(x1, y1),
                p(x0, y1),
                p(x0, y0),
            ])]),
        })
    }
}

const GEOMETRY_KINDS: [&str; 6] = [
    "POINT",
    "LINESTRING",
    "POLYGON",
    "MULTIPOINT",
    "MULTILINESTRING",
    "MULTIPOLYGON",
];

/// One side of a predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A queryable, by name.
    Property(String),
    /// `'text'`
    Str(String),
    /// A number.
    Num(f64),
    /// `TRUE` / `FALSE` as a value.
    Bool(bool),
    /// `DATE('2020-01-01')`, checked to be a calendar date.
    Date(chrono::NaiveDate),
    /// `TIMESTAMP('2020-01-01T00:00:00Z')`, checked to be RFC 3339.
    Timestamp(chrono::DateTime<chrono::Utc>),
    /// `INTERVAL(a, b)`; `None` for an open end (`'..'`).
    Interval(Option<Box<Operand>>, Option<Box<Operand>>),
    /// A geometry literal.
    Geometry(Geometry),
}

/// Deepest nesting of parentheses and NOTs accepted, so that a hostile filter cannot exhaust the stack.
const MAX_DEPTH: usize = 64;
