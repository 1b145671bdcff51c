//! SensorThings `$filter` and `$orderby` (the OData 4 expression subset of SensorThings 1.1 §9.3.3.5),
//! translated to SQL for DataFusion. Property paths are checked against the entity set's properties and
//! quoted; strings become SQL literals with quotes doubled, so nothing from the URL reaches SQL unquoted.
//!
//! Supported: `eq ne gt ge lt le`, `and or not`, `add sub mul div mod`, parentheses, numbers, strings,
//! `true false null`, ISO 8601 date-times; functions `substringof contains startswith endswith length
//! indexof substring tolower toupper trim concat year month day hour minute second date round floor
//! ceiling now`.

/// One token of a filter expression.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Time(String),
    LParen,
    RParen,
    Comma,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = vec![];
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            '\'' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("a string literal is not closed with '".into()),
                        Some('\'') if chars.get(i + 1) == Some(&'\'') => {
                            v.push('\'');
                            i += 2;
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            v.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            c if c.is_ascii_digit()
                || (c == '-' && chars.get(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while chars.get(i).is_some_and(|d| {
                    d.is_ascii_alphanumeric() || matches!(d, '.' | ':' | '-' | '+')
                }) {
                    i += 1;
                }
                let text: String = chars.get(start..i).unwrap_or_default().iter().collect();
                // 2018-05-02 or 2018-05-02T00:00:00Z: a date-time, else a number.
                if text.len() >= 10 && text.get(4..5) == Some("-") && text.get(7..8) == Some("-") {
                    out.push(Tok::Time(text));
                } else if text.parse::<f64>().is_ok() {
                    out.push(Tok::Num(text));
                } else {
                    return Err(format!(
                        "'{text}' is neither a number nor an ISO 8601 date-time"
                    ));
                }
            }
            c if c.is_alphabetic() || c == '@' || c == '_' || c == '$' => {
                let start = i;
                while chars.get(i).is_some_and(|d| {
                    d.is_alphanumeric() || matches!(d, '_' | '@' | '.' | '/' | '$')
                }) {
                    i += 1;
                }
                out.push(Tok::Ident(
                    chars.get(start..i).unwrap_or_default().iter().collect(),
                ));
            }
            other => return Err(format!("unexpected character '{other}' in $filter")),
        }
    }
    Ok(out)
}

/// Resolves a property path (`result`, `unitOfMeasurement/symbol`, `Datastream/@iot.id`) to a quoted
/// SQL column, or says which properties exist.
pub trait Columns {
    /// The SQL expression of `path`, or an error listing the properties.
    fn column(&self, path: &str) -> Result<String, String>;
}

struct Parser<'a, C: Columns> {
    toks: Vec<Tok>,
    pos: usize,
    cols: &'a C,
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl<C: Columns> Parser<'_, C> {
    fn peek_word(&self) -> Option<String> {
        match self.toks.get(self.pos) {
            Some(Tok::Ident(w)) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn eat(&mut self, t: &Tok) -> bool {
        if self.toks.get(self.pos) == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<String, String> {
        let mut left = self.and()?;
        while self.peek_word().as_deref() == Some("or") {
            self.pos += 1;
            left = format!("({left} OR {})", self.and()?);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<String, String> {
        let mut left = self.not()?;
        while self.peek_word().as_deref() == Some("and") {
            self.pos += 1;
            left = format!("({left} AND {})", self.not()?);
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<String, String> {
        if self.peek_word().as_deref() == Some("not") {
            self.pos += 1;
            return Ok(format!("(NOT {})", self.not()?));
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<String, String> {
        let left = self.add()?;
        let op = match self.peek_word().as_deref() {
            Some("eq") => "=",
            Some("ne") => "<>",
            Some("gt") => ">",
            Some("ge") => ">=",
            Some("lt") => "<",
            Some("le") => "<=",
            _ => return Ok(left),
        };
        self.pos += 1;
        let right = self.add()?;
        Ok(match (op, right.as_str(), left.as_str()) {
            ("=", "NULL", _) => format!("({left} IS NULL)"),
            ("<>", "NULL", _) => format!("({left} IS NOT NULL)"),
            ("=", _, "NULL") => format!("({right} IS NULL)"),
            ("<>", _, "NULL") => format!("({right} IS NOT NULL)"),
            _ => format!("({left} {op} {right})"),
        })
    }

    fn add(&mut self) -> Result<String, String> {
        let mut left = self.mul()?;
        loop {
            let op = match self.peek_word().as_deref() {
                Some("add") => "+",
                Some("sub") => "-",
                _ => return Ok(left),
            };
            self.pos += 1;
            left = format!("({left} {op} {})", self.mul()?);
        }
    }

    fn mul(&mut self) -> Result<String, String> {
        let mut left = self.primary()?;
        loop {
            let op = match self.peek_word().as_deref() {
                Some("mul") => "*",
                Some("div") => "/",
                Some("mod") => "%",
                _ => return Ok(left),
            };
            self.pos += 1;
            left = format!("({left} {op} {})", self.primary()?);
        }
    }

    fn args(&mut self) -> Result<Vec<String>, String> {
        let mut args = vec![];
        if self.eat(&Tok::RParen) {
            return Ok(args);
        }
        loop {
            args.push(self.or()?);
            if self.eat(&Tok::Comma) {
                continue;
            }
            if self.eat(&Tok::RParen) {
                return Ok(args);
            }
            return Err("expected ',' or ')' in a function call".into());
        }
    }

    fn function(&mut self, name: &str) -> Result<String, String> {
        let a = self.args()?;
        let n = |k: usize| -> Result<(), String> {
            if a.len() == k {
                Ok(())
            } else {
                Err(format!("{name}() takes {k} argument(s), got {}", a.len()))
            }
        };
        let arg = |k: usize| a.get(k).cloned().unwrap_or_default();
        Ok(match name {
            "substringof" => {
                n(2)?;
                format!("(strpos({}, {}) > 0)", arg(1), arg(0))
            }
            "contains" => {
                n(2)?;
                format!("(strpos({}, {}) > 0)", arg(0), arg(1))
            }
            "startswith" => {
                n(2)?;
                format!("starts_with({}, {})", arg(0), arg(1))
            }
            "endswith" => {
                n(2)?;
                format!("ends_with({}, {})", arg(0), arg(1))
            }
            "length" => {
                n(1)?;
                format!("character_length({})", arg(0))
            }
            "indexof" => {
                n(2)?;
                format!("(strpos({}, {}) - 1)", arg(0), arg(1))
            }
            "substring" if a.len() == 2 => format!("substr({}, {} + 1)", arg(0), arg(1)),
            "substring" => {
                n(3)?;
                format!("substr({}, {} + 1, {})", arg(0), arg(1), arg(2))
            }
            "tolower" => {
                n(1)?;
                format!("lower({})", arg(0))
            }
            "toupper" => {
                n(1)?;
                format!("upper({})", arg(0))
            }
            "trim" => {
                n(1)?;
                format!("trim({})", arg(0))
            }
            "concat" => {
                n(2)?;
                format!("concat({}, {})", arg(0), arg(1))
            }
            "year" | "month" | "day" | "hour" | "minute" | "second" => {
                n(1)?;
                format!("CAST(date_part('{name}', {}) AS BIGINT)", arg(0))
            }
            "date" => {
                n(1)?;
                format!("CAST({} AS DATE)", arg(0))
            }
            "round" | "floor" => {
                n(1)?;
                format!("{name}({})", arg(0))
            }
            "ceiling" => {
                n(1)?;
                format!("ceil({})", arg(0))
            }
            "now" => {
                n(0)?;
                "now()".into()
            }
            other => {
                return Err(format!(
                    "unknown function '{other}'; supported: substringof, contains, startswith, endswith, length, \
                     indexof, substring, tolower, toupper, trim, concat, year, month, day, hour, minute, second, \
                     date, round, floor, ceiling, now"
                ));
            }
        })
    }

    fn primary(&mut self) -> Result<String, String> {
        let tok = self
            .toks
            .get(self.pos)
            .cloned()
            .ok_or("the expression ends too early")?;
        self.pos += 1;
        match tok {
            Tok::LParen => {
                let e = self.or()?;
                if !self.eat(&Tok::RParen) {
                    return Err("a '(' is not closed".into());
                }
                Ok(e)
            }
            Tok::Str(s) => Ok(quote(&s)),
            Tok::Num(n) => Ok(n),
            Tok::Time(t) => {
                let parsed = chrono::DateTime::parse_from_rfc3339(&t)
                    .map(|d| d.with_timezone(&chrono::Utc).to_rfc3339())
                    .or_else(|_| {
                        chrono::NaiveDate::parse_from_str(&t, "%Y-%m-%d")
                            .map(|d| format!("{d}T00:00:00+00:00"))
                    })
                    .map_err(|_| {
                        format!("'{t}' is not an ISO 8601 date-time like 2018-05-02T00:00:00Z")
                    })?;
                Ok(format!("CAST({} AS TIMESTAMP)", quote(&parsed)))
            }
            Tok::Ident(w) => {
                let lower = w.to_ascii_lowercase();
                match lower.as_str() {
                    "true" | "false" => return Ok(lower.to_uppercase()),
                    "null" => return Ok("NULL".into()),
                    _ => {}
                }
                if self.eat(&Tok::LParen) {
                    return self.function(&lower);
                }
                self.cols.column(&w)
            }
            Tok::RParen | Tok::Comma => Err("unexpected ')' or ','".into()),
        }
    }
}

/// Translates a `$filter` expression to a SQL boolean expression.
pub fn filter_sql(text: &str, cols: &impl Columns) -> Result<String, String> {
    let toks = tokenize(text)?;
    let mut p = Parser { toks, pos: 0, cols };
    let sql = p.or()?;
    if p.pos < p.toks.len() {
        return Err(format!(
            "unexpected text after position {} of $filter (missing 'and'/'or'?)",
            p.pos
        ));
    }
    Ok(sql)
}

/// Translates `$orderby` (`phenomenonTime desc, result`) to a SQL ORDER BY list.
pub fn orderby_sql(text: &str, cols: &impl Columns) -> Result<String, String> {
    let mut parts = vec![];
    for item in text.split(',') {
        let mut words = item.split_whitespace();
        let path = words.next().ok_or("$orderby has an empty item")?;
        let dir = match words.next().map(|d| d.to_ascii_lowercase()).as_deref() {
            None | Some("asc") => "ASC",
            Some("desc") => "DESC",
            Some(other) => return Err(format!("$orderby direction '{other}' is not asc or desc")),
        };
        parts.push(format!("{} {dir}", cols.column(path)?));
    }
    Ok(parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Cols;
    impl Columns for Cols {
        fn column(&self, path: &str) -> Result<String, String> {
            match path {
                "result" | "phenomenonTime" | "name" | "unitOfMeasurement/symbol" => {
                    Ok(format!("\"{path}\""))
                }
                _ => Err(format!("no property '{path}'")),
            }
        }
    }

    #[test]
    fn translates_filters_to_sql() {
        for (input, want) in [
            ("result gt 10", "(\"result\" > 10)"),
            (
                "result ge 1.5 and not (result eq 3)",
                "((\"result\" >= 1.5) AND (NOT (\"result\" = 3)))",
            ),
            (
                "phenomenonTime ge 2018-05-02T00:00:00Z",
                "(\"phenomenonTime\" >= CAST('2018-05-02T00:00:00+00:00' AS TIMESTAMP))",
            ),
            ("name eq 'O''Brien'", "(\"name\" = 'O''Brien')"),
            ("name eq null", "(\"name\" IS NULL)"),
            (
                "substringof('PM', name) or startswith(name, 'T')",
                "((strpos(\"name\", 'PM') > 0) OR starts_with(\"name\", 'T'))",
            ),
            ("result add 1 gt 2 mul 3", "((\"result\" + 1) > (2 * 3))"),
            (
                "unitOfMeasurement/symbol eq '°C'",
                "(\"unitOfMeasurement/symbol\" = '°C')",
            ),
            (
                "hour(phenomenonTime) eq 12",
                "(CAST(date_part('hour', \"phenomenonTime\") AS BIGINT) = 12)",
            ),
        ] {
            assert_eq!(filter_sql(input, &Cols).unwrap(), want, "{input}");
        }
    }

    #[test]
    fn rejects_bad_filters_with_reasons() {
        for (input, why) in [
            ("nosuch eq 1", "no property"),
            ("result gt", "ends too early"),
            ("name eq 'open", "not closed"),
            ("result gt 1 result", "unexpected text"),
            ("frobnicate(result)", "unknown function"),
            ("result gt 1; DROP TABLE x", "unexpected character"),
        ] {
            let e = filter_sql(input, &Cols).unwrap_err();
            assert!(e.contains(why), "{input}: {e}");
        }
    }

    #[test]
    fn translates_orderby() {
        assert_eq!(
            orderby_sql("phenomenonTime desc, result", &Cols).unwrap(),
            "\"phenomenonTime\" DESC, \"result\" ASC"
        );
        assert!(orderby_sql("result sideways", &Cols).is_err());
    }
}
