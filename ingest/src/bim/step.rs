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
//! The first pass (`parse::Scanner`) and the value parser (`parse::ValueParser`) share STEP's lexical
//! rules (strings, comments, keywords); they live together in `parse` so that the two never disagree.
//! String escapes are decoded in `strings`.

mod parse;
mod strings;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use super::error::{StepError, StepResult};
use parse::{Scanner, parse_value_at};
pub use strings::decode_string;

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
