//! The CityJSON reader: CityJSON 1.0, 1.1 and 2.0 documents (`.json`, `.city.json`) and CityJSONSeq
//! (`.jsonl`, `.city.jsonl`: a `CityJSON` header line, then one `CityJSONFeature` per line with its own
//! vertices and the header's `transform`).
//!
//! It keeps `Building` and `BuildingPart` objects (attributes flattened in source order, the 2.0
//! `address` member, the first parent) with their MultiSurface, CompositeSurface, Solid, MultiSolid,
//! CompositeSolid and GeometryInstance geometries flattened to surfaces per LOD, semantic surface types
//! included, and counts every object type. Broken objects, geometries, surfaces and rings become
//! [`Issue`](tvilling_core::provenance::Issue)s; only a file that is not readable CityJSON at all is an
//! error.
//!
//! Memory: a document is parsed in one streaming pass into compact types ([`raw`]); only small members
//! (metadata, transform, semantic surface lists, attribute values) become `serde_json::Value`, objects of
//! types not kept drop their geometry as soon as they are parsed, and a CityJSONSeq file is read one line
//! at a time.
//!
//! - [`raw`]: the serde layer (lenient, order-preserving, compact vertex indices).
//! - [`geometry`]: boundaries and semantics to [`Surface`](super::model::Surface)s.
//! - [`convert`]: objects, transform, CRS, issues and metadata into the [`CityModel`].

mod convert;
mod geometry;
mod raw;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use serde_json::Value;
use serde_json::error::Category;
use tvilling_core::progress::Progress;

use self::convert::{Builder, Header, Transform};
use self::raw::{Document, Lenient, Templates};
use super::model::CityModel;
use crate::{Error, Result};

/// The CityJSON versions this reader understands (major.minor; patch versions such as `2.0.1` are the
/// same format).
const SUPPORTED_VERSIONS: &[&str] = &["1.0", "1.1", "2.0"];

/// Read buffer: large enough that a file of hundreds of MB is not read in tiny pieces.
const BUFFER: usize = 1 << 20;

/// Reads a CityJSON 1.0/1.1/2.0 file, or a CityJSONSeq file when the name ends in `.jsonl`.
///
/// Coordinates come out in the file's CRS with `transform` applied. Problems with single objects are
/// issues in the model; a file that is not CityJSON, malformed JSON, an unsupported version or a bad
/// CityJSONSeq line are [`Error::BadInput`] naming the place and the fix.
pub fn read_cityjson(path: &Path, progress: &dyn Progress) -> Result<CityModel> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len == 0 {
        return Err(Error::BadInput(format!(
            "{}: the file is empty (0 bytes); a CityJSON file holds one JSON object with \"type\": \
             \"CityJSON\". Check that the download or export finished",
            path.display()
        )));
    }
    let reader = BufReader::with_capacity(BUFFER, file);
    if is_sequence(path) {
        read_sequence(path, reader, len, progress)
    } else {
        read_document(path, reader, progress)
    }
}

/// CityJSONSeq files are told apart by name (`.jsonl`, `.city.jsonl`), as the CityJSONSeq spec names
/// them: the first line alone looks like an (empty) CityJSON document.
fn is_sequence(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.to_ascii_lowercase().ends_with(".jsonl"))
}

/// A whole CityJSON document.
fn read_document(
    path: &Path,
    reader: BufReader<File>,
    progress: &dyn Progress,
) -> Result<CityModel> {
    progress.set_message("parsing CityJSON");
    let doc: Document = serde_json::from_reader(reader).map_err(|e| json_error(path, None, e))?;
    check_type(path, None, &doc.kind, "CityJSON")?;
    let version = check_version(path, None, &doc.version)?;
    let transform = transform(path, None, &doc.transform)?;
    let Document {
        metadata,
        transform: transform_written,
        city_objects,
        mut vertices,
        templates,
        ..
    } = doc;
    convert::apply_transform(&mut vertices.0, transform.as_ref());

    progress.set_length(u64::try_from(city_objects.0.len()).unwrap_or(u64::MAX));
    progress.set_message("reading city objects");
    let mut builder = Builder::default();
    builder.add(city_objects, &vertices.0, templates.0.as_ref(), &|| {
        progress.inc(1)
    });
    Ok(builder.finish(Header {
        version,
        metadata,
        transform: transform_written,
        sequence: false,
    }))
}

/// What the CityJSONSeq header line gives every later line.
struct SeqHeader {
    version: String,
    metadata: Value,
    transform_written: Value,
    transform: Option<Transform>,
    templates: Lenient<Templates>,
}

/// A CityJSONSeq file, one line at a time (progress counts bytes, as the number of objects is not known
/// until the end).
fn read_sequence(
    path: &Path,
    mut reader: BufReader<File>,
    len: u64,
    progress: &dyn Progress,
) -> Result<CityModel> {
    progress.set_length(len);
    progress.set_message("reading CityJSONSeq features");
    let mut builder = Builder::default();
    let mut header: Option<SeqHeader> = None;
    let mut text = String::new();
    let mut line = 0usize;
    loop {
        text.clear();
        let read = reader.read_line(&mut text).map_err(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData {
                Error::BadInput(format!(
                    "{} line {}: the text is not UTF-8, which JSON requires; re-export the file as UTF-8",
                    path.display(),
                    line + 1
                ))
            } else {
                Error::io(path, e)
            }
        })?;
        if read == 0 {
            break;
        }
        line += 1;
        progress.inc(u64::try_from(read).unwrap_or(0));
        if text.trim().is_empty() {
            continue;
        }
        let doc: Document =
            serde_json::from_str(&text).map_err(|e| json_error(path, Some(line), e))?;
        let Document {
            kind,
            version,
            metadata,
            transform: transform_written,
            city_objects,
            mut vertices,
            templates,
        } = doc;
        match &header {
            None => {
                check_type(path, Some(line), &kind, "CityJSON")?;
                let h = SeqHeader {
                    version: check_version(path, Some(line), &version)?,
                    transform: transform(path, Some(line), &transform_written)?,
                    metadata,
                    transform_written,
                    templates,
                };
                // The header should have no objects, but if it has some they are read like a feature's.
                convert::apply_transform(&mut vertices.0, h.transform.as_ref());
                builder.add(city_objects, &vertices.0, h.templates.0.as_ref(), &|| {});
                header = Some(h);
            }
            Some(h) => {
                check_type(path, Some(line), &kind, "CityJSONFeature")?;
                convert::apply_transform(&mut vertices.0, h.transform.as_ref());
                builder.add(city_objects, &vertices.0, h.templates.0.as_ref(), &|| {});
            }
        }
    }
    let Some(h) = header else {
        return Err(Error::BadInput(format!(
            "{}: the file holds only blank lines; a CityJSONSeq file starts with a CityJSON header line",
            path.display()
        )));
    };
    Ok(builder.finish(Header {
        version: h.version,
        metadata: h.metadata,
        transform: h.transform_written,
        sequence: true,
    }))
}

/// Where in the file: `path` or `path line N`.
fn place(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(n) => format!("{} line {n}", path.display()),
        None => path.display().to_string(),
    }
}

/// A serde error as an actionable message. serde's own text ends in "at line L column C"; that is
/// replaced by our position, since inside a CityJSONSeq line serde only ever sees line 1.
fn json_error(path: &Path, line: Option<usize>, e: serde_json::Error) -> Error {
    let text = e.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(w, _)| w);
    let at = match line {
        Some(n) => format!("{} line {n} column {}", path.display(), e.column()),
        None => format!("{} line {} column {}", path.display(), e.line(), e.column()),
    };
    match e.classify() {
        Category::Io => Error::io(path, e.into()),
        Category::Eof => Error::BadInput(format!(
            "{at}: the JSON ends early ({what}); the file is probably truncated: download or export it \
             again"
        )),
        Category::Syntax => {
            let hint = if line.is_none() && what.contains("trailing characters") {
                "; one JSON object per line is CityJSONSeq: name the file .city.jsonl"
            } else {
                ""
            };
            Error::BadInput(format!(
                "{at}: malformed JSON ({what}); fix the file at that position{hint}"
            ))
        }
        Category::Data => Error::BadInput(format!(
            "{at}: not a CityJSON document ({what}); CityJSON is one JSON object with \"type\", \
             \"version\", \"CityObjects\" (an object keyed by id) and \"vertices\""
        )),
    }
}

/// Checks `type`, with a message that says what the file seems to be instead.
fn check_type(path: &Path, line: Option<usize>, kind: &Value, expected: &str) -> Result<()> {
    if kind.as_str() == Some(expected) {
        return Ok(());
    }
    let at = place(path, line);
    let found = if kind.is_null() {
        "no \"type\"".to_owned()
    } else {
        format!("\"type\" {kind}")
    };
    Err(Error::BadInput(match (line, kind.as_str()) {
        (None, Some("CityJSONFeature")) => format!(
            "{at}: this is a single CityJSONFeature, not a CityJSON document; put it after a CityJSON \
             header line in a CityJSONSeq file (.city.jsonl)"
        ),
        (None, _) => format!(
            "{at}: not a CityJSON file: it has {found} where \"CityJSON\" was expected; export the model \
             as CityJSON (cjio, citygml-tools) or use the reader for the file's format"
        ),
        (Some(_), _) if expected == "CityJSON" => format!(
            "{at}: a CityJSONSeq file must start with the CityJSON header object (\"type\": \"CityJSON\", \
             with \"version\" and \"transform\"), but its first non-blank line has {found}"
        ),
        (Some(_), Some("CityJSON")) => format!(
            "{at}: a second CityJSON header; every line after the first must be one CityJSONFeature \
             object"
        ),
        (Some(_), _) => format!(
            "{at}: expected a CityJSONFeature, found {found}; every line after the header must be one \
             CityJSONFeature object"
        ),
    }))
}

/// Checks `version` against [`SUPPORTED_VERSIONS`] and returns it as written.
fn check_version(path: &Path, line: Option<usize>, version: &Value) -> Result<String> {
    let at = place(path, line);
    let text = match version {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Null => {
            return Err(Error::BadInput(format!(
                "{at}: the CityJSON object has no \"version\"; add the version the file follows, such as \
                 \"version\": \"2.0\""
            )));
        }
        other => other.to_string(),
    };
    let major_minor = text.split('.').take(2).collect::<Vec<_>>().join(".");
    if SUPPORTED_VERSIONS.contains(&major_minor.as_str()) {
        Ok(text)
    } else {
        Err(Error::BadInput(format!(
            "{at}: CityJSON version {text} is not supported; tvilling reads {}. Convert the file, for \
             example with `cjio <file> upgrade save <out.city.json>`",
            SUPPORTED_VERSIONS.join(", ")
        )))
    }
}

/// Reads `transform` or fails with where and why.
fn transform(path: &Path, line: Option<usize>, v: &Value) -> Result<Option<Transform>> {
    convert::parse_transform(v)
        .map_err(|why| Error::BadInput(format!("{}: {why}", place(path, line))))
}

#[cfg(test)]
mod tests;
