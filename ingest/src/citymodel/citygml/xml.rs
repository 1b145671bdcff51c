//! The streaming XML layer under the CityGML reader: a `quick_xml::NsReader` over a buffered file that
//! hands out namespace-resolved events, skips whole subtrees without keeping them, and buffers one
//! subtree (one building) into a small [`Node`] tree. Files can be gigabytes, so nothing bigger than one
//! city object is ever held in memory.
//!
//! Every XML failure becomes [`Error::BadInput`] naming the file, the byte offset and line, and what to
//! do about it.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use quick_xml::NsReader;
use quick_xml::errors::{IllFormedError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{NamespaceResolver, QName, ResolveResult};

use super::ns::Ns;
use crate::{Error, Result};

/// How deep one buffered subtree may nest. Real CityGML buildings nest about 20 levels (building →
/// boundedBy → surface → opening → … → posList); the limit keeps a hostile file from exhausting the
/// stack of the recursive geometry walk.
const MAX_DEPTH: usize = 256;

/// One attribute, namespace-resolved.
#[derive(Debug, Clone)]
pub(super) struct Attr {
    pub ns: Ns,
    pub local: String,
    pub value: String,
}

/// One start tag, namespace-resolved and owned.
#[derive(Debug, Clone)]
pub(super) struct Elem {
    pub ns: Ns,
    pub local: String,
    /// The namespace URI as written, kept for messages and the root's version check.
    pub uri: String,
    /// The qualified name as written, needed to skip to the matching end tag.
    qname: Vec<u8>,
    pub attrs: Vec<Attr>,
    /// `xmlns` declarations on this tag: (prefix, URI), prefix empty for the default namespace.
    pub xmlns: Vec<(String, String)>,
    /// Byte offset of the tag in the file.
    pub offset: u64,
}

/// One buffered element with its children: the small tree a building is read into.
#[derive(Debug, Clone, Default)]
pub(super) struct Node {
    pub ns: Option<Ns>,
    pub local: String,
    pub attrs: Vec<Attr>,
    pub children: Vec<Node>,
    /// The text directly inside this element (not its children's), entities resolved.
    pub text: String,
}

impl Node {
    fn from_elem(e: Elem) -> Node {
        Node {
            ns: Some(e.ns),
            local: e.local,
            attrs: e.attrs,
            children: vec![],
            text: String::new(),
        }
    }

    /// The namespace (never `None` for a node built from a tag; the `Option` only lets `Default` work).
    pub(super) fn ns(&self) -> Ns {
        self.ns.unwrap_or(Ns::None)
    }

    /// Whether this is element `local` in namespace `ns`.
    pub(super) fn is(&self, ns: Ns, local: &str) -> bool {
        self.ns() == ns && self.local == local
    }

    /// The value of attribute `local` in namespace `ns`.
    pub(super) fn attr(&self, ns: Ns, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns == ns && a.local == local)
            .map(|a| a.value.as_str())
    }

    /// `gml:id`.
    pub(super) fn gml_id(&self) -> Option<&str> {
        self.attr(Ns::Gml, "id")
    }

    /// The target of `xlink:href="#id"` without the `#`.
    pub(super) fn href(&self) -> Option<&str> {
        self.attr(Ns::Xlink, "href")
            .map(|h| h.trim().trim_start_matches('#'))
    }

    /// The first child `local` in namespace `ns`.
    pub(super) fn child(&self, ns: Ns, local: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.is(ns, local))
    }

    /// The text content, trimmed.
    pub(super) fn trimmed(&self) -> &str {
        self.text.trim()
    }
}

/// What [`XmlSource::next`] hands out.
#[derive(Debug)]
pub(super) enum Ev {
    /// A start tag; its content and end tag follow.
    Start(Elem),
    /// A self-closing tag.
    Empty(Elem),
    /// An end tag.
    End,
    /// Text, CDATA or an entity reference, resolved.
    Text(String),
    /// The end of the file.
    Eof,
}

/// A namespace-aware pull parser over one file.
pub(super) struct XmlSource {
    reader: NsReader<BufReader<File>>,
    buf: Vec<u8>,
    path: PathBuf,
    /// Open elements right now, to tell a truncated file from a complete one.
    depth: usize,
}

impl XmlSource {
    /// Opens `path`.
    pub(super) fn open(path: &Path) -> Result<XmlSource> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = NsReader::from_reader(BufReader::with_capacity(1 << 16, file));
        // Mismatched end tags are malformed XML; quick-xml checks them by default, said here on purpose.
        reader.config_mut().check_end_names = true;
        Ok(XmlSource {
            reader,
            buf: Vec::with_capacity(1 << 12),
            path: path.to_path_buf(),
            depth: 0,
        })
    }

    /// Bytes consumed so far.
    pub(super) fn position(&self) -> u64 {
        self.reader.buffer_position()
    }

    /// The next event that matters (comments, processing instructions and the declaration are skipped).
    pub(super) fn next(&mut self) -> Result<Ev> {
        loop {
            let offset = self.reader.buffer_position();
            self.buf.clear();
            let (res, event) = match self.reader.read_resolved_event_into(&mut self.buf) {
                Ok(x) => x,
                Err(e) => return Err(self.xml_error(&e)),
            };
            let uri = match res {
                ResolveResult::Bound(ns) => Some(ns.into_inner().to_vec()),
                ResolveResult::Unbound => None,
                ResolveResult::Unknown(prefix) => {
                    let prefix = String::from_utf8_lossy(&prefix).into_owned();
                    return Err(self.bad_at(
                        offset,
                        &format!(
                            "the prefix '{prefix}:' is used but never declared with xmlns:{prefix}=\"…\"; \
                             add the declaration to the root element"
                        ),
                    ));
                }
            };
            let text = match event {
                Event::Start(s) => {
                    let elem = elem(self.reader.resolver(), &s, uri, offset)
                        .map_err(|m| self.bad_at(offset, &m))?;
                    self.depth += 1;
                    return Ok(Ev::Start(elem));
                }
                Event::Empty(s) => {
                    let elem = elem(self.reader.resolver(), &s, uri, offset)
                        .map_err(|m| self.bad_at(offset, &m))?;
                    return Ok(Ev::Empty(elem));
                }
                Event::End(_) => {
                    self.depth = self.depth.saturating_sub(1);
                    return Ok(Ev::End);
                }
                Event::Eof => return Ok(Ev::Eof),
                Event::Text(t) => t
                    .decode()
                    .map(|c| c.into_owned())
                    .map_err(|e| e.to_string()),
                Event::CData(t) => t
                    .decode()
                    .map(|c| c.into_owned())
                    .map_err(|e| e.to_string()),
                Event::GeneralRef(r) => match r.resolve_char_ref() {
                    Ok(Some(c)) => Ok(c.to_string()),
                    Ok(None) => {
                        let name = r.decode().map(|c| c.into_owned()).unwrap_or_default();
                        match quick_xml::escape::resolve_predefined_entity(&name) {
                            Some(s) => Ok(s.to_string()),
                            // A DTD-declared entity: keep it visible rather than losing the text.
                            None => Ok(format!("&{name};")),
                        }
                    }
                    Err(e) => Err(e.to_string()),
                },
                Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => continue,
            };
            return match text {
                Ok(t) => Ok(Ev::Text(t)),
                Err(e) => Err(self.bad_at(
                    offset,
                    &format!("text is not valid UTF-8 or has a bad reference ({e})"),
                )),
            };
        }
    }

    /// Skips the content and end tag of `start`, which [`next`](Self::next) just returned as `Start`.
    pub(super) fn skip(&mut self, start: &Elem) -> Result<()> {
        self.buf.clear();
        match self
            .reader
            .read_to_end_into(QName(&start.qname), &mut self.buf)
        {
            Ok(_) => {
                self.depth = self.depth.saturating_sub(1);
                Ok(())
            }
            Err(quick_xml::Error::IllFormed(quick_xml::errors::IllFormedError::MissingEndTag(
                _,
            ))) => Err(self.truncated(&start.local)),
            Err(e) => Err(self.xml_error(&e)),
        }
    }

    /// Reads the content and end tag of `start` (just returned as `Start`, or as `Empty` when `empty`)
    /// into a tree.
    pub(super) fn read_node(&mut self, start: Elem, empty: bool) -> Result<Node> {
        let root_name = start.local.clone();
        let mut stack = vec![Node::from_elem(start)];
        if empty {
            return Ok(stack.pop().unwrap_or_default());
        }
        loop {
            match self.next()? {
                Ev::Start(e) => {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.bad_at(
                            e.offset,
                            &format!(
                                "<{root_name}> nests deeper than {MAX_DEPTH} levels; this is not a \
                                 CityGML object tvilling can read (check how the file was produced)"
                            ),
                        ));
                    }
                    stack.push(Node::from_elem(e));
                }
                Ev::Empty(e) => {
                    if let Some(top) = stack.last_mut() {
                        top.children.push(Node::from_elem(e));
                    }
                }
                Ev::Text(t) => {
                    if let Some(top) = stack.last_mut() {
                        top.text.push_str(&t);
                    }
                }
                Ev::End => {
                    let done = stack.pop().unwrap_or_default();
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(done),
                        None => return Ok(done),
                    }
                }
                Ev::Eof => return Err(self.truncated(&root_name)),
            }
        }
    }

    /// The error for a file that ends while `inside` is open.
    pub(super) fn truncated(&self, inside: &str) -> Error {
        let pos = self.reader.buffer_position();
        Error::BadInput(format!(
            "{}: the file ends at byte {pos}{} inside <{inside}> with {} element(s) still open; it looks \
             truncated: download or export it again",
            self.path.display(),
            self.line_suffix(pos),
            self.depth.max(1),
        ))
    }

    /// A `BadInput` naming the file, byte offset and line of a problem at `offset`.
    pub(super) fn bad_at(&self, offset: u64, what: &str) -> Error {
        Error::BadInput(format!(
            "{}: {what} (at byte {offset}{})",
            self.path.display(),
            self.line_suffix(offset)
        ))
    }

    fn xml_error(&self, e: &quick_xml::Error) -> Error {
        let pos = self.reader.error_position();
        let at = format!("byte {pos}{}", self.line_suffix(pos));
        let path = self.path.display();
        match e {
            // Every syntax error but the bad `<!` one means the input ended inside markup.
            quick_xml::Error::IllFormed(IllFormedError::MissingEndTag(name)) => {
                self.truncated(name)
            }
            quick_xml::Error::Syntax(s) if !matches!(s, SyntaxError::InvalidBangMarkup) => {
                Error::BadInput(format!(
                    "{path}: the file ends inside markup started at {at} ({e}); it looks truncated: download or \
                 export it again"
                ))
            }
            _ => Error::BadInput(format!(
                "{path}: malformed XML at {at}: {e}; fix the file (`xmllint --noout` names the problem) or \
                 export it again"
            )),
        }
    }

    fn line_suffix(&self, offset: u64) -> String {
        line_at(&self.path, offset)
            .map(|l| format!(", line {l}"))
            .unwrap_or_default()
    }
}

/// An owned [`Elem`] from a start tag; `Err` is the message for [`XmlSource::bad_at`].
fn elem(
    resolver: &NamespaceResolver,
    s: &BytesStart<'_>,
    uri: Option<Vec<u8>>,
    offset: u64,
) -> std::result::Result<Elem, String> {
    let ns = uri.as_deref().map_or(Ns::None, Ns::classify);
    let local = String::from_utf8_lossy(s.local_name().into_inner()).into_owned();
    let mut attrs = vec![];
    let mut xmlns = vec![];
    for a in s.attributes() {
        let a = a.map_err(|e| format!("bad attribute in <{local}>: {e}"))?;
        let value = a
            .unescape_value()
            .map_err(|e| format!("bad attribute value in <{local}>: {e}"))?
            .into_owned();
        let key = a.key.into_inner();
        if key == b"xmlns" || key.starts_with(b"xmlns:") {
            let prefix = key.get(6..).unwrap_or_default();
            xmlns.push((String::from_utf8_lossy(prefix).into_owned(), value));
            continue;
        }
        let (res, name) = resolver.resolve_attribute(a.key);
        let ans = match res {
            ResolveResult::Bound(n) => Ns::classify(n.into_inner()),
            _ => Ns::None,
        };
        attrs.push(Attr {
            ns: ans,
            local: String::from_utf8_lossy(name.into_inner()).into_owned(),
            value,
        });
    }
    Ok(Elem {
        ns,
        local,
        uri: uri
            .map(|u| String::from_utf8_lossy(&u).into_owned())
            .unwrap_or_default(),
        qname: s.name().into_inner().to_vec(),
        attrs,
        xmlns,
        offset,
    })
}

/// The 1-based line of byte `offset` in `path`, read again only when an error is reported.
fn line_at(path: &Path, offset: u64) -> Option<u64> {
    let file = File::open(path).ok()?;
    let mut reader = BufReader::new(file).take(offset);
    let mut chunk = [0u8; 1 << 16];
    let mut lines = 1u64;
    loop {
        let n = reader.read(&mut chunk).ok()?;
        if n == 0 {
            return Some(lines);
        }
        lines += chunk.get(..n)?.iter().filter(|b| **b == b'\n').count() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(xml: &str) -> (tempfile::TempDir, XmlSource) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.gml");
        std::fs::write(&path, xml).unwrap();
        let src = XmlSource::open(&path).unwrap();
        (dir, src)
    }

    #[test]
    fn buffers_a_subtree_with_resolved_namespaces_and_entities() {
        let (_dir, mut src) = source(
            r#"<a xmlns="http://www.opengis.net/citygml/2.0" xmlns:g="http://www.opengis.net/gml">
                 <g:name g:id="x">A &amp; B&#33;</g:name><b/></a>"#,
        );
        let Ev::Start(root) = src.next().unwrap() else {
            panic!("no start")
        };
        assert_eq!(root.ns, Ns::Core);
        assert_eq!(root.xmlns.len(), 2);
        let node = src.read_node(root, false).unwrap();
        let name = node.child(Ns::Gml, "name").unwrap();
        assert_eq!(name.trimmed(), "A & B!");
        assert_eq!(name.gml_id(), Some("x"));
        assert!(node.child(Ns::Core, "b").is_some());
    }

    #[test]
    fn reports_truncation_and_mismatched_tags_with_position() {
        let (_dir, mut src) = source("<a>\n<b>text");
        let Ev::Start(root) = src.next().unwrap() else {
            panic!("no start")
        };
        let err = src.read_node(root, false).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");

        let (_dir, mut src) = source("<a>\n<b></c></a>");
        let Ev::Start(root) = src.next().unwrap() else {
            panic!("no start")
        };
        let err = src.read_node(root, false).unwrap_err().to_string();
        assert!(
            err.contains("malformed XML") && err.contains("line 2"),
            "{err}"
        );
    }
}
