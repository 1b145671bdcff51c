//! The `cql2-text` reader: a lexer, then a recursive-descent parser over its tokens.

use super::{
    CmpOp, Coords, Expr, GEOMETRY_KINDS, Geometry, MAX_DEPTH, Operand, SpatialOp, TemporalOp,
};

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

pub(super) fn date(s: &str) -> Result<Operand, String> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Operand::Date)
        .map_err(|_| format!("'{s}' is not a date like 2020-01-31"))
}

pub(super) fn timestamp(s: &str) -> Result<Operand, String> {
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
