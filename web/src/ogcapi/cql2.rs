//! CQL2 (OGC 21-065) parsed into one AST from either encoding: `cql2-text` ([`parse_text`]) and `cql2-json`
//! ([`parse_json`]). The subset is Basic CQL2 (comparisons, AND/OR/NOT, IS NULL), the advanced comparison
//! operators (LIKE, BETWEEN, IN), the spatial functions (`S_INTERSECTS`, `S_WITHIN`, `S_CONTAINS`,
//! `S_DISJOINT`, `S_EQUALS`, `S_TOUCHES`, `S_OVERLAPS`, `S_CROSSES`) on WKT / GeoJSON / BBOX literals, and the
//! temporal functions `T_INTERSECTS`, `T_BEFORE`, `T_AFTER`, `T_EQUALS`, `T_DURING` on dates and timestamps.
//!
//! The parser only builds the tree; [`super::query`] checks property names and writes SQL from it. Geometry
//! literals are parsed down to numbers here, so nothing of the caller's text reaches SQL unparsed.
//!
//! The file is longer than most (STYLE rule 3) because it keeps both encodings' readers next to the one AST
//! they must agree on, with the table tests that check they do.

use serde_json::Value;

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

// ---------------------------------------------------------------------------------------------------------
// cql2-text

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// An unquoted word: keyword, function or property name.
    Word(String),
    /// `"a property"`
    Quoted(String),
    /// `'text'`
    Str(String),
    Num(f64),
    /// `( ) , = <> < <= > >=`
    Sym(&'static str),
}

fn lex(text: &str) -> Result<Vec<(usize, Tok)>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '\'' || c == '"' {
            // Quotes inside are doubled, as in SQL.
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(format!(
                            "the {} starting at character {start} is not closed",
                            if c == '\'' { "string" } else { "quoted name" }
                        ));
                    }
                    Some(&q) if q == c => {
                        if chars.get(i + 1) == Some(&c) {
                            s.push(c);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&other) => {
                        s.push(other);
                        i += 1;
                    }
                }
            }
            out.push((
                start,
                if c == '\'' {
                    Tok::Str(s)
                } else {
                    Tok::Quoted(s)
                },
            ));
            continue;
        }
        let next = chars.get(i + 1).copied();
        if c.is_ascii_digit()
            || ((c == '-' || c == '+' || c == '.')
                && next.is_some_and(|n| n.is_ascii_digit() || n == '.'))
        {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_ascii_digit()
                    || chars[j] == '.'
                    || chars[j] == 'e'
                    || chars[j] == 'E'
                    || ((chars[j] == '-' || chars[j] == '+') && matches!(chars[j - 1], 'e' | 'E')))
            {
                j += 1;
            }
            let s: String = chars[i..j].iter().collect();
            let n: f64 = s
                .parse()
                .map_err(|_| format!("'{s}' at character {start} is not a number"))?;
            out.push((start, Tok::Num(n)));
            i = j;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let mut j = i + 1;
            while j < chars.len()
                && (chars[j].is_alphanumeric() || matches!(chars[j], '_' | '.' | ':'))
            {
                j += 1;
            }
            out.push((start, Tok::Word(chars[i..j].iter().collect())));
            i = j;
            continue;
        }
        let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
        let sym = match two.as_str() {
            "<>" => Some("<>"),
            "<=" => Some("<="),
            ">=" => Some(">="),
            "!=" => Some("<>"),
            _ => None,
        };
        if let Some(s) = sym {
            out.push((start, Tok::Sym(s)));
            i += 2;
            continue;
        }
        let sym = match c {
            '(' => "(",
            ')' => ")",
            ',' => ",",
            '=' => "=",
            '<' => "<",
            '>' => ">",
            _ => return Err(format!("unexpected '{c}' at character {start}")),
        };
        out.push((start, Tok::Sym(sym)));
        i += 1;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    pos: usize,
    end: usize,
}

/// Deepest nesting of parentheses and NOTs accepted, so that a hostile filter cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.1)
    }
    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |t| t.0)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.1.clone());
        self.pos += 1;
        t
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x.eq_ignore_ascii_case(w))
    }
    fn eat_word(&mut self, w: &str) -> bool {
        let yes = self.is_word(w);
        if yes {
            self.pos += 1;
        }
        yes
    }
    fn eat_sym(&mut self, s: &str) -> bool {
        let yes = matches!(self.peek(), Some(Tok::Sym(x)) if *x == s);
        if yes {
            self.pos += 1;
        }
        yes
    }
    fn expect_sym(&mut self, s: &str) -> Result<(), String> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(format!("expected '{s}' at character {}", self.at()))
        }
    }

    fn or(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > MAX_DEPTH {
            return Err(format!("the filter nests deeper than {MAX_DEPTH} levels"));
        }
        let mut items = vec![self.and(depth)?];
        while self.eat_word("OR") {
            items.push(self.and(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Expr, String> {
        let mut items = vec![self.not(depth)?];
        while self.eat_word("AND") {
            items.push(self.not(depth)?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }

    fn not(&mut self, depth: usize) -> Result<Expr, String> {
        if self.eat_word("NOT") {
            if depth > MAX_DEPTH {
                return Err(format!("the filter nests deeper than {MAX_DEPTH} levels"));
            }
            return Ok(Expr::Not(Box::new(self.not(depth + 1)?)));
        }
        self.predicate(depth)
    }

    fn predicate(&mut self, depth: usize) -> Result<Expr, String> {
        if self.eat_sym("(") {
            let e = self.or(depth + 1)?;
            self.expect_sym(")")?;
            return Ok(e);
        }
        if let Some(Tok::Word(w)) = self.peek().cloned() {
            if let Some(op) = SpatialOp::from_name(&w) {
                self.pos += 1;
                let (a, b) = self.two_args()?;
                return Ok(Expr::Spatial(op, a, b));
            }
            if let Some(op) = TemporalOp::from_name(&w) {
                self.pos += 1;
                let (a, b) = self.two_args()?;
                return Ok(Expr::Temporal(op, a, b));
            }
            let is_bool = w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false");
            if is_bool && !self.followed_by_operator() {
                self.pos += 1;
                return Ok(Expr::Bool(w.eq_ignore_ascii_case("true")));
            }
        }
        let left = self.operand()?;
        if let Some(Tok::Sym(s)) = self.peek().cloned()
            && let Some(op) = CmpOp::from_symbol(s)
        {
            self.pos += 1;
            return Ok(Expr::Compare(op, left, self.operand()?));
        }
        if self.eat_word("IS") {
            let negated = self.eat_word("NOT");
            if !self.eat_word("NULL") {
                return Err(format!("expected NULL after IS at character {}", self.at()));
            }
            return Ok(Expr::IsNull(left, negated));
        }
        let negated = self.eat_word("NOT");
        if self.eat_word("LIKE") {
            return Ok(Expr::Like(left, self.operand()?, negated));
        }
        if self.eat_word("BETWEEN") {
            let low = self.operand()?;
            if !self.eat_word("AND") {
                return Err(format!(
                    "expected AND in BETWEEN at character {}",
                    self.at()
                ));
            }
            return Ok(Expr::Between(left, low, self.operand()?, negated));
        }
        if self.eat_word("IN") {
            self.expect_sym("(")?;
            let mut list = vec![self.operand()?];
            while self.eat_sym(",") {
                list.push(self.operand()?);
            }
            self.expect_sym(")")?;
            return Ok(Expr::In(left, list, negated));
        }
        Err(format!(
            "expected a comparison (=, <>, <, <=, >, >=, LIKE, BETWEEN, IN, IS NULL) at character {}",
            self.at()
        ))
    }

    fn followed_by_operator(&self) -> bool {
        match self.toks.get(self.pos + 1).map(|t| &t.1) {
            Some(Tok::Sym(s)) => CmpOp::from_symbol(s).is_some(),
            Some(Tok::Word(w)) => ["is", "like", "between", "in", "not"]
                .iter()
                .any(|k| w.eq_ignore_ascii_case(k)),
            _ => false,
        }
    }

    fn two_args(&mut self) -> Result<(Operand, Operand), String> {
        self.expect_sym("(")?;
        let a = self.operand()?;
        self.expect_sym(",")?;
        let b = self.operand()?;
        self.expect_sym(")")?;
        Ok((a, b))
    }

    fn text_arg(&mut self, what: &str) -> Result<String, String> {
        self.expect_sym("(")?;
        let Some(Tok::Str(s)) = self.next() else {
            return Err(format!(
                "{what}(…) takes a quoted string, e.g. {what}('2020-01-01')"
            ));
        };
        self.expect_sym(")")?;
        Ok(s)
    }

    fn operand(&mut self) -> Result<Operand, String> {
        let at = self.at();
        match self.next() {
            Some(Tok::Str(s)) => Ok(Operand::Str(s)),
            Some(Tok::Num(n)) => Ok(Operand::Num(n)),
            Some(Tok::Quoted(s)) => Ok(Operand::Property(s)),
            Some(Tok::Word(w)) => {
                let upper = w.to_ascii_uppercase();
                match upper.as_str() {
                    "TRUE" | "FALSE" => Ok(Operand::Bool(upper == "TRUE")),
                    "DATE" => date(&self.text_arg("DATE")?),
                    "TIMESTAMP" => timestamp(&self.text_arg("TIMESTAMP")?),
                    "INTERVAL" => {
                        self.expect_sym("(")?;
                        let a = self.interval_end()?;
                        self.expect_sym(",")?;
                        let b = self.interval_end()?;
                        self.expect_sym(")")?;
                        Ok(Operand::Interval(a, b))
                    }
                    "BBOX" => {
                        self.expect_sym("(")?;
                        let mut nums = vec![self.number()?];
                        while self.eat_sym(",") {
                            nums.push(self.number()?);
                        }
                        self.expect_sym(")")?;
                        Ok(Operand::Geometry(Geometry::from_bbox(&nums)?))
                    }
                    k if GEOMETRY_KINDS.contains(&k) => {
                        let mut kind = k.to_string();
                        if self.eat_word("Z") {
                            kind.push_str(" Z");
                        }
                        Ok(Operand::Geometry(Geometry {
                            kind,
                            coords: self.coords(0)?,
                        }))
                    }
                    "GEOMETRYCOLLECTION" => Err(
                        "GEOMETRYCOLLECTION literals are not supported; use a MULTI… geometry"
                            .into(),
                    ),
                    _ if self.eat_sym("(") => Err(format!(
                        "unknown function '{w}' at character {at}; the filter language has S_INTERSECTS, \
                         S_WITHIN, S_CONTAINS, S_DISJOINT, S_EQUALS, S_TOUCHES, S_OVERLAPS, S_CROSSES, \
                         T_INTERSECTS, T_BEFORE, T_AFTER, T_EQUALS, T_DURING, DATE, TIMESTAMP, INTERVAL, BBOX"
                    )),
                    _ => Ok(Operand::Property(w)),
                }
            }
            Some(Tok::Sym(s)) => Err(format!("unexpected '{s}' at character {at}")),
            None => Err("the filter ends too early".into()),
        }
    }

    fn interval_end(&mut self) -> Result<Option<Box<Operand>>, String> {
        match self.peek() {
            Some(Tok::Str(s)) if s == ".." => {
                self.pos += 1;
                Ok(None)
            }
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.pos += 1;
                instant(&s).map(|o| Some(Box::new(o)))
            }
            _ => self.operand().map(|o| Some(Box::new(o))),
        }
    }

    fn number(&mut self) -> Result<f64, String> {
        match self.next() {
            Some(Tok::Num(n)) if n.is_finite() => Ok(n),
            _ => Err(format!("expected a number at character {}", self.at())),
        }
    }

    /// `( item, item )` where an item is a position (numbers separated by spaces) or a nested list.
    fn coords(&mut self, depth: usize) -> Result<Coords, String> {
        if depth > 4 {
            return Err("a geometry literal nests too deep".into());
        }
        if self.is_word("EMPTY") {
            return Err("EMPTY geometries cannot be used in a filter".into());
        }
        self.expect_sym("(")?;
        let mut items = Vec::new();
        loop {
            if matches!(self.peek(), Some(Tok::Sym("("))) {
                items.push(self.coords(depth + 1)?);
            } else {
                let mut p = vec![self.number()?];
                while let Some(Tok::Num(_)) = self.peek() {
                    p.push(self.number()?);
                }
                if p.len() < 2 || p.len() > 4 {
                    return Err(format!(
                        "a position has 2 or 3 numbers, not {} (character {})",
                        p.len(),
                        self.at()
                    ));
                }
                items.push(Coords::Position(p));
            }
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_sym(")")?;
        Ok(Coords::List(items))
    }
}

fn date(s: &str) -> Result<Operand, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Operand::Date)
        .map_err(|_| format!("'{s}' is not a date like 2020-01-31"))
}

fn timestamp(s: &str) -> Result<Operand, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| Operand::Timestamp(t.with_timezone(&chrono::Utc)))
        .map_err(|_| format!("'{s}' is not an RFC 3339 timestamp like 2020-01-31T12:00:00Z"))
}

/// A date or a timestamp, whichever `s` is.
pub fn instant(s: &str) -> Result<Operand, String> {
    if s.len() == 10 { date(s) } else { timestamp(s) }
}

/// Parses a `cql2-text` filter.
///
/// ```
/// use tvilling_web::ogcapi::cql2::{parse_text, Expr, CmpOp, Operand};
/// let e = parse_text("vaningar >= 3").unwrap();
/// assert_eq!(e, Expr::Compare(CmpOp::Ge, Operand::Property("vaningar".into()), Operand::Num(3.0)));
/// ```
pub fn parse_text(text: &str) -> Result<Expr, String> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        end: text.chars().count(),
    };
    let e = p.or(0)?;
    if p.pos < p.toks.len() {
        return Err(format!("unexpected text at character {}", p.at()));
    }
    Ok(e)
}

// ---------------------------------------------------------------------------------------------------------
// cql2-json

/// Parses a `cql2-json` filter.
pub fn parse_json(v: &Value) -> Result<Expr, String> {
    json_expr(v, 0)
}

fn json_expr(v: &Value, depth: usize) -> Result<Expr, String> {
    if depth > MAX_DEPTH {
        return Err(format!("the filter nests deeper than {MAX_DEPTH} levels"));
    }
    if let Value::Bool(b) = v {
        return Ok(Expr::Bool(*b));
    }
    let op = v
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("expected an object with \"op\" and \"args\", got {v}"))?;
    let args = v
        .get("args")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("\"{op}\" needs an \"args\" array"))?;
    let n = |want: usize| {
        if args.len() == want {
            Ok(())
        } else {
            Err(format!(
                "\"{op}\" takes {want} arguments, not {}",
                args.len()
            ))
        }
    };
    let lower = op.to_ascii_lowercase();
    match lower.as_str() {
        "and" | "or" => {
            if args.len() < 2 {
                return Err(format!("\"{op}\" takes at least 2 arguments"));
            }
            let items = args
                .iter()
                .map(|a| json_expr(a, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if lower == "and" {
                Expr::And(items)
            } else {
                Expr::Or(items)
            })
        }
        "not" => {
            n(1)?;
            Ok(Expr::Not(Box::new(json_expr(&args[0], depth + 1)?)))
        }
        "=" | "<>" | "<" | "<=" | ">" | ">=" => {
            n(2)?;
            let cmp = CmpOp::from_symbol(op).ok_or_else(|| format!("unknown operator {op}"))?;
            Ok(Expr::Compare(
                cmp,
                json_operand(&args[0])?,
                json_operand(&args[1])?,
            ))
        }
        "like" => {
            n(2)?;
            Ok(Expr::Like(
                json_operand(&args[0])?,
                json_operand(&args[1])?,
                false,
            ))
        }
        "between" => {
            n(3)?;
            Ok(Expr::Between(
                json_operand(&args[0])?,
                json_operand(&args[1])?,
                json_operand(&args[2])?,
                false,
            ))
        }
        "in" => {
            n(2)?;
            let list = args[1]
                .as_array()
                .ok_or_else(|| "the second argument of \"in\" is an array".to_string())?
                .iter()
                .map(json_operand)
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Expr::In(json_operand(&args[0])?, list, false))
        }
        "isnull" => {
            n(1)?;
            Ok(Expr::IsNull(json_operand(&args[0])?, false))
        }
        _ => {
            if let Some(s) = SpatialOp::from_name(op) {
                n(2)?;
                return Ok(Expr::Spatial(
                    s,
                    json_operand(&args[0])?,
                    json_operand(&args[1])?,
                ));
            }
            if let Some(t) = TemporalOp::from_name(op) {
                n(2)?;
                return Ok(Expr::Temporal(
                    t,
                    json_operand(&args[0])?,
                    json_operand(&args[1])?,
                ));
            }
            Err(format!("unknown or unsupported operator \"{op}\""))
        }
    }
}

fn json_operand(v: &Value) -> Result<Operand, String> {
    match v {
        Value::String(s) => Ok(Operand::Str(s.clone())),
        Value::Bool(b) => Ok(Operand::Bool(*b)),
        Value::Number(n) => n
            .as_f64()
            .map(Operand::Num)
            .ok_or_else(|| format!("{n} is not a usable number")),
        Value::Object(o) => {
            if let Some(p) = o.get("property").and_then(Value::as_str) {
                return Ok(Operand::Property(p.to_string()));
            }
            if let Some(d) = o.get("date").and_then(Value::as_str) {
                return date(d);
            }
            if let Some(t) = o.get("timestamp").and_then(Value::as_str) {
                return timestamp(t);
            }
            if let Some(i) = o.get("interval").and_then(Value::as_array) {
                let end = |e: &Value| -> Result<Option<Box<Operand>>, String> {
                    match e {
                        Value::String(s) if s == ".." => Ok(None),
                        Value::String(s) => instant(s).map(|o| Some(Box::new(o))),
                        other => json_operand(other).map(|o| Some(Box::new(o))),
                    }
                };
                let [a, b] = i.as_slice() else {
                    return Err("an interval has two ends".into());
                };
                return Ok(Operand::Interval(end(a)?, end(b)?));
            }
            if let Some(b) = o.get("bbox").and_then(Value::as_array) {
                let nums = b
                    .iter()
                    .map(|x| x.as_f64().filter(|f| f.is_finite()))
                    .collect::<Option<Vec<f64>>>()
                    .ok_or_else(|| "a bbox holds numbers".to_string())?;
                return Ok(Operand::Geometry(Geometry::from_bbox(&nums)?));
            }
            if o.contains_key("coordinates") {
                return geojson(v).map(Operand::Geometry);
            }
            Err(format!(
                "cannot read {v} as a value, property, time or geometry"
            ))
        }
        Value::Null | Value::Array(_) => Err(format!("cannot read {v} as a value")),
    }
}

/// A GeoJSON geometry object as a geometry literal.
fn geojson(v: &Value) -> Result<Geometry, String> {
    let kind = v
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| "a GeoJSON geometry needs a \"type\"".to_string())?;
    let upper = kind.to_ascii_uppercase();
    if !GEOMETRY_KINDS.contains(&upper.as_str()) {
        return Err(format!(
            "GeoJSON type \"{kind}\" is not supported in filters"
        ));
    }
    fn coords(v: &Value, depth: usize) -> Result<Coords, String> {
        let a = v
            .as_array()
            .ok_or_else(|| "GeoJSON coordinates are arrays".to_string())?;
        if depth > 4 {
            return Err("GeoJSON coordinates nest too deep".into());
        }
        if a.first().is_some_and(Value::is_number) {
            let p = a
                .iter()
                .map(|x| x.as_f64().filter(|f| f.is_finite()))
                .collect::<Option<Vec<f64>>>()
                .ok_or_else(|| "a GeoJSON position holds numbers".to_string())?;
            if p.len() < 2 || p.len() > 3 {
                return Err("a GeoJSON position has 2 or 3 numbers".into());
            }
            return Ok(Coords::Position(p));
        }
        if a.is_empty() {
            return Err("empty GeoJSON coordinates cannot be used in a filter".into());
        }
        a.iter()
            .map(|x| coords(x, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Coords::List)
    }
    let c = coords(
        v.get("coordinates")
            .ok_or_else(|| "a GeoJSON geometry needs \"coordinates\"".to_string())?,
        0,
    )?;
    // WKT writes a point's position inside parentheses.
    let c = match c {
        p @ Coords::Position(_) => Coords::List(vec![p]),
        other => other,
    };
    Ok(Geometry {
        kind: upper,
        coords: c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prop(p: &str) -> Operand {
        Operand::Property(p.into())
    }

    #[test]
    fn parses_text_filters() {
        let cases: &[(&str, Expr)] = &[
            (
                "a = 'x'",
                Expr::Compare(CmpOp::Eq, prop("a"), Operand::Str("x".into())),
            ),
            (
                "\"my prop\" <> 'it''s'",
                Expr::Compare(CmpOp::Ne, prop("my prop"), Operand::Str("it's".into())),
            ),
            (
                "a < 1 AND (b > 2 OR NOT c IS NULL)",
                Expr::And(vec![
                    Expr::Compare(CmpOp::Lt, prop("a"), Operand::Num(1.0)),
                    Expr::Or(vec![
                        Expr::Compare(CmpOp::Gt, prop("b"), Operand::Num(2.0)),
                        Expr::Not(Box::new(Expr::IsNull(prop("c"), false))),
                    ]),
                ]),
            ),
            (
                "a NOT LIKE 'Bo%'",
                Expr::Like(prop("a"), Operand::Str("Bo%".into()), true),
            ),
            (
                "a between -1.5 and 2e3",
                Expr::Between(prop("a"), Operand::Num(-1.5), Operand::Num(2000.0), false),
            ),
            (
                "a IN ('x', 'y')",
                Expr::In(
                    prop("a"),
                    vec![Operand::Str("x".into()), Operand::Str("y".into())],
                    false,
                ),
            ),
            ("a IS NOT NULL", Expr::IsNull(prop("a"), true)),
            ("TRUE", Expr::Bool(true)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_text(text).as_ref(), Ok(want), "{text}");
        }
    }

    #[test]
    fn parses_geometry_and_time_literals() {
        let e = parse_text("S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 0)))").unwrap();
        let Expr::Spatial(SpatialOp::Intersects, _, Operand::Geometry(g)) = e else {
            panic!("{e:?}")
        };
        assert_eq!(g.wkt(false), "POLYGON((0 0,1 0,1 1,0 0))");
        assert_eq!(g.wkt(true), "POLYGON((0 0,0 1,1 1,0 0))");
        let e = parse_text("s_within(geometry, BBOX(1,2,3,4))").unwrap();
        let Expr::Spatial(SpatialOp::Within, _, Operand::Geometry(g)) = e else {
            panic!("{e:?}")
        };
        assert_eq!(g.wkt(false), "POLYGON((1 2,3 2,3 4,1 4,1 2))");
        let e = parse_text("T_AFTER(d, DATE('2020-01-02'))").unwrap();
        assert!(matches!(
            e,
            Expr::Temporal(TemporalOp::After, _, Operand::Date(_))
        ));
        let e = parse_text("T_INTERSECTS(d, INTERVAL('2020-01-01', '..'))").unwrap();
        assert!(matches!(
            e,
            Expr::Temporal(_, _, Operand::Interval(Some(_), None))
        ));
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "a =",
            "a = 'open",
            "(a = 1",
            "a = 1 b",
            "a ! 1",
            "DATE('2020-13-01') = d",
            "S_INTERSECTS(geometry, POINT(1))",
            "S_INTERSECTS(geometry, POINT EMPTY)",
            "DROP(x)",
            "a = 1; DROP TABLE x",
        ] {
            assert!(parse_text(bad).is_err(), "{bad}");
        }
        let deep = format!("{}a = 1{}", "(".repeat(200), ")".repeat(200));
        assert!(parse_text(&deep).is_err());
        let nots = format!("{}a = 1", "NOT ".repeat(200));
        assert!(parse_text(&nots).is_err());
    }

    #[test]
    fn json_and_text_give_the_same_tree() {
        let pairs = [
            (
                json!({"op": "and", "args": [
                    {"op": ">=", "args": [{"property": "a"}, 3]},
                    {"op": "like", "args": [{"property": "b"}, "Bo%"]}]}),
                "a >= 3 AND b LIKE 'Bo%'",
            ),
            (
                json!({"op": "s_intersects", "args": [{"property": "geometry"},
                    {"type": "Point", "coordinates": [15.1, 59.2]}]}),
                "S_INTERSECTS(geometry, POINT(15.1 59.2))",
            ),
            (
                json!({"op": "in", "args": [{"property": "a"}, ["x", "y"]]}),
                "a IN ('x','y')",
            ),
            (
                json!({"op": "not", "args": [{"op": "isNull", "args": [{"property": "a"}]}]}),
                "NOT a IS NULL",
            ),
            (
                json!({"op": "t_before", "args": [{"property": "d"}, {"date": "2020-01-01"}]}),
                "T_BEFORE(d, DATE('2020-01-01'))",
            ),
            (
                json!({"op": "s_within", "args": [{"property": "geometry"}, {"bbox": [1, 2, 3, 4]}]}),
                "S_WITHIN(geometry, BBOX(1, 2, 3, 4))",
            ),
        ];
        for (j, t) in pairs {
            assert_eq!(parse_json(&j), parse_text(t), "{t}");
        }
        for bad in [
            json!({"op": "drop", "args": []}),
            json!({"op": "=", "args": [1]}),
            json!({"args": []}),
            json!({"op": "s_intersects", "args": [{"property": "g"}, {"type": "Point", "coordinates": []}]}),
        ] {
            assert!(parse_json(&bad).is_err(), "{bad}");
        }
    }
}
