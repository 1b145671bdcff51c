//! The byte-level lexing shared by the first pass over the file and the on-demand value parser.

use super::Value;
use super::strings::decode_string;
use crate::bim::error::{Location, StepError, StepResult};

/// The first pass: statements, with strings and comments skipped correctly.
pub(super) struct Scanner<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    pub(super) line: u32,
}

impl Scanner<'_> {
    pub(super) fn loc(&self, entity: Option<u64>) -> Location {
        Location {
            line: self.line,
            byte: self.pos,
            entity,
        }
    }
    pub(super) fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }
    pub(super) fn skip_space(&mut self) -> StepResult<()> {
        while let Some(c) = self.peek() {
            if c == b'\n' {
                self.line += 1;
                self.pos += 1;
            } else if c.is_ascii_whitespace() {
                self.pos += 1;
            } else if c == b'/' && self.data.get(self.pos + 1) == Some(&b'*') {
                let at = self.loc(None);
                self.pos += 2;
                loop {
                    match self.peek() {
                        None => {
                            return Err(StepError::Truncated {
                                at,
                                inside: "inside a comment that never ends".into(),
                            });
                        }
                        Some(b'*') if self.data.get(self.pos + 1) == Some(&b'/') => {
                            self.pos += 2;
                            break;
                        }
                        Some(b'\n') => {
                            self.line += 1;
                            self.pos += 1;
                        }
                        Some(_) => self.pos += 1,
                    }
                }
            } else {
                break;
            }
        }
        Ok(())
    }
    pub(super) fn expect(&mut self, c: u8, entity: Option<u64>) -> StepResult<()> {
        match self.peek() {
            Some(x) if x == c => {
                self.pos += 1;
                Ok(())
            }
            None => Err(StepError::Truncated {
                at: self.loc(entity),
                inside: format!("where '{}' should follow", char::from(c)),
            }),
            Some(x) => Err(StepError::Syntax {
                at: self.loc(entity),
                what: format!("expected '{}', found '{}'", char::from(c), char::from(x)),
            }),
        }
    }
    pub(super) fn integer(&mut self) -> Option<u64> {
        let start = self.pos;
        let mut n: u64 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.pos += 1;
        }
        (self.pos > start).then_some(n)
    }
    /// A keyword (`IFCWALL`, `END-ISO-10303-21`): letters, digits, `_` and `-`, starting with a letter.
    pub(super) fn keyword(&mut self) -> Option<(usize, usize)> {
        let start = self.pos;
        if !self
            .peek()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == b'!')
        {
            return None;
        }
        while let Some(c) = self.peek() {
            if c.is_ascii_alphanumeric() || c == b'_' || c == b'-' || c == b'!' {
                self.pos += 1;
            } else {
                break;
            }
        }
        Some((start, self.pos))
    }
    /// Skips a parenthesised group, strings and comments inside included; returns its byte range.
    pub(super) fn skip_group(&mut self, entity: Option<u64>) -> StepResult<(usize, usize)> {
        let start = self.pos;
        self.expect(b'(', entity)?;
        let mut depth = 1usize;
        while depth > 0 {
            let Some(c) = self.peek() else {
                return Err(StepError::Truncated {
                    at: self.loc(entity),
                    inside: match entity {
                        Some(id) => format!("inside the attribute list of entity #{id}"),
                        None => "inside a header attribute list".to_string(),
                    },
                });
            };
            match c {
                b'(' => depth += 1,
                b')' => depth -= 1,
                b'\n' => self.line += 1,
                b'\'' => {
                    let at = self.loc(entity);
                    self.pos += 1;
                    loop {
                        match self.peek() {
                            None => {
                                return Err(StepError::Truncated {
                                    at,
                                    inside: match entity {
                                        Some(id) => format!("inside a string of entity #{id}"),
                                        None => "inside a string".to_string(),
                                    },
                                });
                            }
                            Some(b'\'') if self.data.get(self.pos + 1) == Some(&b'\'') => {
                                self.pos += 2
                            }
                            Some(b'\'') => break,
                            Some(b'\n') => {
                                self.line += 1;
                                self.pos += 1
                            }
                            Some(_) => self.pos += 1,
                        }
                    }
                }
                b'/' if self.data.get(self.pos + 1) == Some(&b'*') => {
                    self.skip_space()?;
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        }
        Ok((start, self.pos))
    }
}

/// Parses the value in `data[range]` (an attribute list, parentheses included).
pub(super) fn parse_value_at(
    data: &[u8],
    range: (usize, usize),
    entity: Option<u64>,
    line: u32,
) -> StepResult<Value> {
    let mut p = ValueParser {
        data: &data[..range.1],
        pos: range.0,
        entity,
        line,
    };
    let v = p.value()?;
    Ok(v)
}

struct ValueParser<'a> {
    data: &'a [u8],
    pos: usize,
    entity: Option<u64>,
    line: u32,
}

impl ValueParser<'_> {
    fn err(&self, what: impl Into<String>) -> StepError {
        StepError::Syntax {
            at: Location {
                line: self.line,
                byte: self.pos,
                entity: self.entity,
            },
            what: what.into(),
        }
    }
    fn space(&mut self) {
        while let Some(&c) = self.data.get(self.pos) {
            if c.is_ascii_whitespace() {
                self.pos += 1;
            } else if c == b'/' && self.data.get(self.pos + 1) == Some(&b'*') {
                self.pos += 2;
                while self.pos < self.data.len()
                    && !(self.data[self.pos] == b'*' && self.data.get(self.pos + 1) == Some(&b'/'))
                {
                    self.pos += 1;
                }
                self.pos += 2;
            } else {
                break;
            }
        }
    }
    fn value(&mut self) -> StepResult<Value> {
        self.space();
        let Some(&c) = self.data.get(self.pos) else {
            return Err(self.err("attribute list ends early"));
        };
        match c {
            b'$' => {
                self.pos += 1;
                Ok(Value::Null)
            }
            b'*' => {
                self.pos += 1;
                Ok(Value::Derived)
            }
            b'#' => {
                self.pos += 1;
                let start = self.pos;
                let mut n: u64 = 0;
                while let Some(d) = self.data.get(self.pos).filter(|d| d.is_ascii_digit()) {
                    n = n
                        .checked_mul(10)
                        .and_then(|n| n.checked_add(u64::from(d - b'0')))
                        .ok_or_else(|| self.err("instance number too large"))?;
                    self.pos += 1;
                }
                if self.pos == start {
                    return Err(self.err("'#' without an instance number"));
                }
                Ok(Value::Ref(n))
            }
            b'\'' => self.string(),
            b'"' => {
                self.pos += 1;
                let start = self.pos;
                while self.data.get(self.pos).is_some_and(|c| *c != b'"') {
                    self.pos += 1;
                }
                let s = String::from_utf8_lossy(&self.data[start..self.pos]).into_owned();
                self.pos += 1;
                Ok(Value::Binary(s))
            }
            b'.' => {
                self.pos += 1;
                let start = self.pos;
                while self
                    .data
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    self.pos += 1;
                }
                if self.data.get(self.pos) != Some(&b'.') {
                    return Err(self.err("enumeration without its closing '.'"));
                }
                let e = String::from_utf8_lossy(&self.data[start..self.pos]).to_ascii_uppercase();
                self.pos += 1;
                Ok(Value::Enum(e))
            }
            b'(' => {
                self.pos += 1;
                let mut items = vec![];
                self.space();
                if self.data.get(self.pos) == Some(&b')') {
                    self.pos += 1;
                    return Ok(Value::List(items));
                }
                loop {
                    items.push(self.value()?);
                    self.space();
                    match self.data.get(self.pos) {
                        Some(b',') => self.pos += 1,
                        Some(b')') => {
                            self.pos += 1;
                            return Ok(Value::List(items));
                        }
                        Some(&c) => {
                            return Err(self.err(format!(
                                "expected ',' or ')' in a list, found '{}'",
                                char::from(c)
                            )));
                        }
                        None => return Err(self.err("list without its closing ')'")),
                    }
                }
            }
            b'+' | b'-' | b'0'..=b'9' => self.number(),
            c if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self
                    .data
                    .get(self.pos)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
                {
                    self.pos += 1;
                }
                let name =
                    String::from_utf8_lossy(&self.data[start..self.pos]).to_ascii_uppercase();
                self.space();
                if self.data.get(self.pos) != Some(&b'(') {
                    return Err(self.err(format!("'{name}' is not followed by '('")));
                }
                self.pos += 1;
                let v = self.value()?;
                self.space();
                if self.data.get(self.pos) != Some(&b')') {
                    return Err(self.err(format!("typed value {name}(…) without its ')'")));
                }
                self.pos += 1;
                Ok(Value::Typed(name, Box::new(v)))
            }
            c => Err(self.err(format!("unexpected '{}'", char::from(c)))),
        }
    }
    fn number(&mut self) -> StepResult<Value> {
        let start = self.pos;
        let mut real = false;
        while let Some(&c) = self.data.get(self.pos) {
            match c {
                b'0'..=b'9' | b'+' | b'-' => {}
                b'.' | b'E' | b'e' => real = true,
                _ => break,
            }
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.data[start..self.pos]).unwrap_or("");
        if real {
            // STEP allows "1." and "1.E-5", which Rust's parser reads too.
            text.parse::<f64>()
                .map(Value::Real)
                .map_err(|_| self.err(format!("'{text}' is not a number")))
        } else {
            match text.parse::<i64>() {
                Ok(i) => Ok(Value::Int(i)),
                Err(_) => text
                    .parse::<f64>()
                    .map(Value::Real)
                    .map_err(|_| self.err(format!("'{text}' is not a number"))),
            }
        }
    }
    fn string(&mut self) -> StepResult<Value> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.data.get(self.pos) {
                None => return Err(self.err("string without its closing quote")),
                Some(b'\'') if self.data.get(self.pos + 1) == Some(&b'\'') => self.pos += 2,
                Some(b'\'') => break,
                Some(_) => self.pos += 1,
            }
        }
        let raw = &self.data[start..self.pos];
        self.pos += 1;
        Ok(Value::Str(decode_string(raw)))
    }
}
