//! ISO 10303-21 ("STEP physical file") reading: one pass over the bytes indexes every entity instance by
//! its `#id` (type name, where its attribute list starts and ends, its line), and attribute lists are
//! parsed into [`Value`]s only when the reader asks for an entity. IFC models are a graph whose geometry is
//! reached by following references in any direction, so the index is what has to be in memory; the
//! attribute values of the ~80% of instances that are points, loops and faces are parsed when a product's
//! geometry needs them, and never kept.
//!
//! Handled: comments, strings with `''` and the `\X\`, `\X2\…\X0\`, `\X4\…\X0\`, `\S\` and `\P…\`
//! escapes, enumerations (`.T.`), binaries, typed values (`IFCLABEL('x')`), `$` and `*`, nested lists.
//! Complex (multi-type) instances `#1=(A()B());` are indexed with the type `(COMPLEX)` and read by no
//! geometry path.
//!
//! The file is long (about 700 lines before its tests) because the first pass and the value parser share
//! STEP's lexical rules (strings, comments, keywords); kept together so that the two never disagree.

use std::collections::HashMap;

use super::error::{Location, StepError, StepResult};

/// One attribute value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `$`: not given.
    Null,
    /// `*`: derived by a subtype.
    Derived,
    /// An integer.
    Int(i64),
    /// A real number.
    Real(f64),
    /// A decoded string.
    Str(String),
    /// An enumeration (or boolean/logical) without the dots: `T`, `ELEMENT`.
    Enum(String),
    /// A binary, as written (hex digits after the unused-bits digit).
    Binary(String),
    /// A reference to an entity instance.
    Ref(u64),
    /// A list, set or bag.
    List(Vec<Value>),
    /// A typed value such as `IFCLABEL('x')` (type name in upper case).
    Typed(String, Box<Value>),
}

impl Value {
    /// The number, when this is one (integers too, and typed numbers such as `IFCLENGTHMEASURE(2.)`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Real(r) => Some(*r),
            Value::Int(i) => Some(*i as f64),
            Value::Typed(_, v) => v.as_f64(),
            _ => None,
        }
    }
    /// The string, when this is one (typed strings too).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            Value::Typed(_, v) => v.as_str(),
            _ => None,
        }
    }
    /// The referenced id, when this is a reference.
    pub fn as_ref_id(&self) -> Option<u64> {
        match self {
            Value::Ref(r) => Some(*r),
            _ => None,
        }
    }
    /// The list items, when this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }
    /// The enumeration item, when this is one.
    pub fn as_enum(&self) -> Option<&str> {
        match self {
            Value::Enum(e) => Some(e),
            Value::Typed(_, v) => v.as_enum(),
            _ => None,
        }
    }
}

/// Where an entity instance sits in the file.
#[derive(Debug, Clone, Copy)]
struct Record {
    /// Byte range of the type name.
    ty: (usize, usize),
    /// Byte range of the attribute list, parentheses included.
    args: (usize, usize),
    line: u32,
}

/// A STEP file, indexed.
pub struct StepFile {
    data: Vec<u8>,
    /// Upper-case schema identifiers from `FILE_SCHEMA` (`IFC4`, `IFC2X3`, `IFC4X3_ADD2`).
    pub schemas: Vec<String>,
    index: HashMap<u64, Record>,
    /// Instance ids in file order, per type name (upper case).
    by_type: HashMap<String, Vec<u64>>,
}

/// One parsed entity instance.
#[derive(Debug, Clone)]
pub struct Entity<'a> {
    /// Its `#id`.
    pub id: u64,
    /// Its type name, upper case (`IFCWALL`).
    pub ty: &'a str,
    /// Its attributes in schema order.
    pub args: Vec<Value>,
}

impl Entity<'_> {
    fn err(&self, what: impl Into<String>) -> StepError {
        StepError::Attribute {
            id: self.id,
            ty: self.ty.to_string(),
            what: what.into(),
        }
    }
    /// Attribute `i`, which may be `$`.
    pub fn get(&self, i: usize) -> &Value {
        self.args.get(i).unwrap_or(&Value::Null)
    }
    /// Attribute `i` as a number.
    pub fn f64(&self, i: usize) -> StepResult<f64> {
        self.get(i)
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| self.err(format!("attribute {} is not a number", i + 1)))
    }
    /// Attribute `i` as a number, `None` when `$`.
    pub fn opt_f64(&self, i: usize) -> StepResult<Option<f64>> {
        match self.get(i) {
            Value::Null | Value::Derived => Ok(None),
            _ => self.f64(i).map(Some),
        }
    }
    /// Attribute `i` as a reference.
    pub fn reference(&self, i: usize) -> StepResult<u64> {
        self.get(i)
            .as_ref_id()
            .ok_or_else(|| self.err(format!("attribute {} is not a reference", i + 1)))
    }
    /// Attribute `i` as a reference, `None` when `$`.
    pub fn opt_ref(&self, i: usize) -> StepResult<Option<u64>> {
        match self.get(i) {
            Value::Null | Value::Derived => Ok(None),
            _ => self.reference(i).map(Some),
        }
    }
    /// Attribute `i` as a list of references (`$` is an empty list).
    pub fn refs(&self, i: usize) -> StepResult<Vec<u64>> {
        match self.get(i) {
            Value::Null => Ok(vec![]),
            Value::List(l) => l
                .iter()
                .map(|v| {
                    v.as_ref_id().ok_or_else(|| {
                        self.err(format!("attribute {} holds a non-reference", i + 1))
                    })
                })
                .collect(),
            _ => Err(self.err(format!("attribute {} is not a list", i + 1))),
        }
    }
    /// Attribute `i` as a list of numbers.
    pub fn numbers(&self, i: usize) -> StepResult<Vec<f64>> {
        numbers(self.get(i))
            .ok_or_else(|| self.err(format!("attribute {} is not a list of numbers", i + 1)))
    }
    /// Attribute `i` as a string, `None` when `$`.
    pub fn opt_str(&self, i: usize) -> Option<&str> {
        self.get(i).as_str()
    }
    /// Attribute `i` as a boolean/logical enumeration (`T` is true; `U` is `None`).
    pub fn opt_bool(&self, i: usize) -> Option<bool> {
        match self.get(i).as_enum() {
            Some("T") => Some(true),
            Some("F") => Some(false),
            _ => None,
        }
    }
}

/// A list of finite numbers.
pub fn numbers(v: &Value) -> Option<Vec<f64>> {
    v.as_list()?
        .iter()
        .map(|x| x.as_f64().filter(|f| f.is_finite()))
        .collect()
}

impl StepFile {
    /// Indexes `data`, the whole file.
    ///
    /// # Errors
    /// An empty file, a file that is not STEP, a syntax error or a truncated file, with the line, byte
    /// offset and entity id where it happened.
    pub fn parse(data: Vec<u8>) -> StepResult<StepFile> {
        if data.is_empty() {
            return Err(StepError::Empty);
        }
        let mut s = Scanner {
            data: &data,
            pos: 0,
            line: 1,
        };
        s.skip_space()?;
        if !data[s.pos..].starts_with(b"ISO-10303-21") {
            return Err(StepError::NotStep);
        }
        let mut index: HashMap<u64, Record> = HashMap::new();
        let mut by_type: HashMap<String, Vec<u64>> = HashMap::new();
        let mut schemas = vec![];
        let mut in_data = false;
        let mut ended = false;
        let mut last_entity: Option<u64> = None;
        loop {
            s.skip_space()?;
            if s.pos >= data.len() {
                break;
            }
            let start = s.loc(None);
            if data[s.pos] == b'#' {
                if !in_data {
                    return Err(StepError::Syntax {
                        at: start,
                        what: "entity instance outside the DATA section".into(),
                    });
                }
                s.pos += 1;
                let id = s.integer().ok_or_else(|| StepError::Syntax {
                    at: start,
                    what: "'#' without an instance number".into(),
                })?;
                let at = s.loc(Some(id));
                s.skip_space()?;
                s.expect(b'=', Some(id))?;
                s.skip_space()?;
                let line = s.line;
                let (ty, args) = if s.peek() == Some(b'(') {
                    // A complex instance: its parts are kept as one attribute list.
                    let a = s.skip_group(Some(id))?;
                    ((0, 0), a)
                } else {
                    let ty = s.keyword().ok_or_else(|| StepError::Syntax {
                        at: s.loc(Some(id)),
                        what: "expected an entity type name".into(),
                    })?;
                    s.skip_space()?;
                    (ty, s.skip_group(Some(id))?)
                };
                s.skip_space()?;
                s.expect(b';', Some(id))?;
                if index.insert(id, Record { ty, args, line }).is_some() {
                    return Err(StepError::Syntax {
                        at,
                        what: format!("instance #{id} is defined twice"),
                    });
                }
                let name = if ty.1 > ty.0 {
                    String::from_utf8_lossy(&data[ty.0..ty.1]).to_ascii_uppercase()
                } else {
                    "(COMPLEX)".to_string()
                };
                by_type.entry(name).or_default().push(id);
                last_entity = Some(id);
                continue;
            }
            let kw = s.keyword().ok_or_else(|| StepError::Syntax {
                at: start,
                what: format!("unexpected character '{}'", char::from(data[s.pos])),
            })?;
            let kw = String::from_utf8_lossy(&data[kw.0..kw.1]).to_ascii_uppercase();
            s.skip_space()?;
            if s.peek() == Some(b'(') {
                let args = s.skip_group(None)?;
                if kw == "FILE_SCHEMA" {
                    let v = parse_value_at(&data, args, None, start.line)?;
                    collect_strings(&v, &mut schemas);
                }
            }
            s.skip_space()?;
            match s.peek() {
                Some(b';') => s.pos += 1,
                None => {
                    return Err(StepError::Truncated {
                        at: s.loc(None),
                        inside: format!("after '{kw}' without its ';'"),
                    });
                }
                Some(c) => {
                    return Err(StepError::Syntax {
                        at: s.loc(None),
                        what: format!("expected ';' after '{kw}', found '{}'", char::from(c)),
                    });
                }
            }
            match kw.as_str() {
                "DATA" => in_data = true,
                "ENDSEC" => in_data = false,
                "END-ISO-10303-21" => {
                    ended = true;
                    break;
                }
                _ => {}
            }
        }
        if !ended {
            let inside = match last_entity {
                Some(id) => format!("after entity #{id}, without ENDSEC; and END-ISO-10303-21;"),
                None => "before END-ISO-10303-21;".to_string(),
            };
            return Err(StepError::Truncated {
                at: s.loc(None),
                inside,
            });
        }
        schemas.iter_mut().for_each(|s| *s = s.to_ascii_uppercase());
        Ok(StepFile {
            data,
            schemas,
            index,
            by_type,
        })
    }

    /// How many entity instances the file has.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the file has no entity instances.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The ids of every instance of `ty` (upper case, exact type: STEP files do not record supertypes).
    pub fn of_type(&self, ty: &str) -> &[u64] {
        self.by_type.get(ty).map_or(&[], Vec::as_slice)
    }

    /// Every type name in the file with its instance ids.
    pub fn types(&self) -> impl Iterator<Item = (&str, &[u64])> {
        self.by_type.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The type name of `id` (upper case), `None` when the file has no such instance.
    pub fn type_of(&self, id: u64) -> Option<&str> {
        let r = self.index.get(&id)?;
        if r.ty.1 == r.ty.0 {
            return Some("(COMPLEX)");
        }
        std::str::from_utf8(&self.data[r.ty.0..r.ty.1]).ok()
    }

    /// The line instance `id` starts on.
    pub fn line_of(&self, id: u64) -> Option<u32> {
        self.index.get(&id).map(|r| r.line)
    }

    /// Parses instance `id`; `from` names the referring entity for the dangling-reference error.
    pub fn entity(&self, id: u64, from: Option<(u64, &str)>) -> StepResult<Entity<'_>> {
        let Some(r) = self.index.get(&id) else {
            let (from, ty) = from.unwrap_or((id, "?"));
            return Err(StepError::Dangling {
                from,
                ty: ty.to_string(),
                to: id,
            });
        };
        let ty = self.type_of(id).unwrap_or("(COMPLEX)");
        let v = parse_value_at(&self.data, r.args, Some(id), r.line)?;
        let args = match v {
            Value::List(l) => l,
            other => vec![other],
        };
        Ok(Entity { id, ty, args })
    }

    /// Every reference that points at no instance: `(from, to)`, in no particular order. A byte scan of
    /// the attribute lists (strings skipped), so it costs about as much as indexing.
    pub fn dangling(&self) -> Vec<(u64, u64)> {
        let mut out = vec![];
        for (id, r) in &self.index {
            let bytes = &self.data[r.args.0..r.args.1];
            let mut i = 0;
            while i < bytes.len() {
                match bytes[i] {
                    b'\'' => {
                        i += 1;
                        while i < bytes.len() {
                            if bytes[i] == b'\'' {
                                if bytes.get(i + 1) == Some(&b'\'') {
                                    i += 2;
                                    continue;
                                }
                                break;
                            }
                            i += 1;
                        }
                        i += 1;
                    }
                    b'#' => {
                        let mut j = i + 1;
                        let mut n: u64 = 0;
                        while j < bytes.len() && bytes[j].is_ascii_digit() {
                            n = n
                                .saturating_mul(10)
                                .saturating_add(u64::from(bytes[j] - b'0'));
                            j += 1;
                        }
                        if j > i + 1 && !self.index.contains_key(&n) {
                            out.push((*id, n));
                        }
                        i = j;
                    }
                    _ => i += 1,
                }
            }
        }
        out
    }
}

fn collect_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Str(s) => out.push(s.clone()),
        Value::List(l) => l.iter().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// The first pass: statements, with strings and comments skipped correctly.
struct Scanner<'a> {
    data: &'a [u8],
    pos: usize,
    line: u32,
}

impl Scanner<'_> {
    fn loc(&self, entity: Option<u64>) -> Location {
        Location {
            line: self.line,
            byte: self.pos,
            entity,
        }
    }
    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }
    fn skip_space(&mut self) -> StepResult<()> {
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
    fn expect(&mut self, c: u8, entity: Option<u64>) -> StepResult<()> {
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
    fn integer(&mut self) -> Option<u64> {
        let start = self.pos;
        let mut n: u64 = 0;
        while let Some(c) = self.peek().filter(u8::is_ascii_digit) {
            n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
            self.pos += 1;
        }
        (self.pos > start).then_some(n)
    }
    /// A keyword (`IFCWALL`, `END-ISO-10303-21`): letters, digits, `_` and `-`, starting with a letter.
    fn keyword(&mut self) -> Option<(usize, usize)> {
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
    fn skip_group(&mut self, entity: Option<u64>) -> StepResult<(usize, usize)> {
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
fn parse_value_at(
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

/// Decodes the contents of a STEP string (between the quotes): `''`, `\\`, `\X\hh` (ISO 8859-1),
/// `\X2\…\X0\` (UTF-16 code units as 4 hex digits), `\X4\…\X0\` (code points as 8 hex digits), `\S\c`
/// (c + 128) and `\P…\` code-page switches (ignored). Unknown escapes are kept as written; bytes outside
/// ASCII (not allowed, but written by some tools) are read as UTF-8 where valid.
pub fn decode_string(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut plain: Vec<u8> = vec![];
    let flush = |plain: &mut Vec<u8>, out: &mut String| {
        if !plain.is_empty() {
            out.push_str(&String::from_utf8_lossy(plain));
            plain.clear();
        }
    };
    let hex = |b: &[u8]| -> Option<u32> {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| u32::from_str_radix(s, 16).ok())
    };
    let mut i = 0;
    while i < raw.len() {
        let rest = &raw[i..];
        if rest.starts_with(b"''") {
            plain.push(b'\'');
            i += 2;
        } else if rest.starts_with(b"\\\\") {
            plain.push(b'\\');
            i += 2;
        } else if rest.starts_with(b"\\X2\\") || rest.starts_with(b"\\X4\\") {
            flush(&mut plain, &mut out);
            let width = if rest[2] == b'2' { 4 } else { 8 };
            let body_start = i + 4;
            let end = raw[body_start..]
                .windows(4)
                .position(|w| w == b"\\X0\\")
                .map(|p| body_start + p);
            let Some(end) = end else {
                plain.extend_from_slice(rest);
                break;
            };
            let units: Vec<u32> = raw[body_start..end].chunks(width).filter_map(hex).collect();
            if width == 4 {
                let u16s: Vec<u16> = units.iter().map(|u| *u as u16).collect();
                out.push_str(&String::from_utf16_lossy(&u16s));
            } else {
                out.extend(
                    units
                        .iter()
                        .map(|u| char::from_u32(*u).unwrap_or('\u{fffd}')),
                );
            }
            i = end + 4;
        } else if rest.starts_with(b"\\X\\") && rest.len() >= 5 {
            flush(&mut plain, &mut out);
            match hex(&rest[3..5]).and_then(char::from_u32) {
                Some(c) => out.push(c),
                None => out.push('\u{fffd}'),
            }
            i += 5;
        } else if rest.starts_with(b"\\S\\") && rest.len() >= 4 {
            flush(&mut plain, &mut out);
            out.push(char::from_u32(u32::from(rest[3]) + 128).unwrap_or('\u{fffd}'));
            i += 4;
        } else if rest.starts_with(b"\\P") && rest.len() >= 4 && rest[3] == b'\\' {
            i += 4;
        } else {
            plain.push(raw[i]);
            i += 1;
        }
    }
    flush(&mut plain, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(data: &str) -> String {
        format!(
            "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION((''),'2;1');\nFILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n{data}\nENDSEC;\nEND-ISO-10303-21;\n"
        )
    }

    #[test]
    fn decodes_string_escapes() {
        for (raw, want) in [
            ("plain", "plain"),
            ("it''s", "it's"),
            ("back\\\\slash", "back\\slash"),
            ("\\X2\\00E4\\X0\\ngen", "ängen"),
            ("Gr\\X2\\00FC00DF\\X0\\e", "Grüße"),
            ("\\X4\\0001F600\\X0\\", "😀"),
            ("\\X\\E5", "å"),
            ("\\S\\e", "å"),
            ("\\PA\\x", "x"),
            ("Åre", "Åre"),
        ] {
            assert_eq!(decode_string(raw.as_bytes()), want, "{raw}");
        }
    }

    #[test]
    fn parses_every_value_kind() {
        let f = StepFile::parse(
            file("#1=IFCX($,*,12,-3.5E-1,'a''b',.ELEMENT.,#7,(1,(2.,3.)),IFCLABEL('x'),\"0AF\",1.);\n#7=IFCY();")
                .into_bytes(),
        )
        .unwrap();
        assert_eq!(f.schemas, vec!["IFC4".to_string()]);
        let e = f.entity(1, None).unwrap();
        assert_eq!(e.ty, "IFCX");
        assert_eq!(
            e.args,
            vec![
                Value::Null,
                Value::Derived,
                Value::Int(12),
                Value::Real(-0.35),
                Value::Str("a'b".into()),
                Value::Enum("ELEMENT".into()),
                Value::Ref(7),
                Value::List(vec![
                    Value::Int(1),
                    Value::List(vec![Value::Real(2.0), Value::Real(3.0)])
                ]),
                Value::Typed("IFCLABEL".into(), Box::new(Value::Str("x".into()))),
                Value::Binary("0AF".into()),
                Value::Real(1.0),
            ]
        );
        assert_eq!(f.entity(7, None).unwrap().args, vec![]);
        assert_eq!(f.of_type("IFCX"), &[1]);
    }

    #[test]
    fn skips_comments_and_reads_strings_with_parentheses_and_semicolons() {
        let f = StepFile::parse(
            file("/* a comment; with (parens */\n#1= IFCX('a;b)(', /* inside */ 2);").into_bytes(),
        )
        .unwrap();
        let e = f.entity(1, None).unwrap();
        assert_eq!(e.args, vec![Value::Str("a;b)(".into()), Value::Int(2)]);
    }

    #[test]
    fn rejects_bad_files_with_their_location() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "empty (0 bytes)"),
            (b"hello".to_vec(), "not an IFC STEP file"),
            (
                file("#1=IFCX(1,2);\n#2=IFCY('abc").into_bytes(),
                "truncated",
            ),
            (
                "ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\n#1=IFCX(1);\n#2=IFCX(2);\n"
                    .as_bytes()
                    .to_vec(),
                "after entity #2",
            ),
            (
                "ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\n#1=IFCX(1,(2,3);\n"
                    .as_bytes()
                    .to_vec(),
                "entity #1",
            ),
            (
                file("#1=IFCX(1);\n#1=IFCX(2);").into_bytes(),
                "#1 is defined twice",
            ),
            (file("#1 IFCX(1);").into_bytes(), "expected '='"),
        ];
        for (bytes, want) in cases {
            let err = StepFile::parse(bytes).err().expect("refused").to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
    }

    #[test]
    fn names_the_entity_of_a_bad_value_and_finds_dangling_references() {
        let f = StepFile::parse(file("#1=IFCX(1,,2);\n#2=IFCY(#99,'#98');").into_bytes()).unwrap();
        let err = f.entity(1, None).unwrap_err().to_string();
        assert!(err.contains("entity #1"), "{err}");
        assert_eq!(f.dangling(), vec![(2, 99)]);
        let err = f.entity(99, Some((2, "IFCY"))).unwrap_err().to_string();
        assert!(err.contains("#2 (IFCY) refers to #99"), "{err}");
    }
}
