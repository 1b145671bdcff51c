//! The top level of a CityGML file: checks that the root is a `CityModel` of CityGML 1.0, 2.0 or 3.0,
//! takes the CRS from the model's envelope, and streams through the `cityObjectMember`s. Buildings
//! are buffered one at a time and handed to [`building`](super::building); every other city object is
//! counted by type and skipped without being kept in memory.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value, json};
use tvilling_core::crs::Crs;
use tvilling_core::progress::Progress;

use super::building::{FileState, read_building};
use super::ns::{Ns, citygml_version};
use super::xml::{Elem, Ev, XmlSource};
use crate::citymodel::model::CityModel;
use crate::{Error, Result};

/// Reads `path` (see [`read_citygml`](super::read_citygml)).
pub(super) fn read(path: &Path, progress: &dyn Progress) -> Result<CityModel> {
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if size == 0 {
        return Err(Error::BadInput(format!(
            "{}: the file is empty (0 bytes); a CityGML file holds a <CityModel> element: export or \
             download it again",
            path.display()
        )));
    }
    progress.set_length(size);
    let mut src = XmlSource::open(path)?;
    let (root, empty_root) = root_element(&mut src, path)?;
    let version = version_of(&root, path)?;

    let mut state = FileState {
        stem: path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        default_dim: 3,
        ..FileState::default()
    };
    let mut envelope_srs = None;
    let mut name = None;
    let mut done = src.position();
    let mut open = !empty_root;
    while open {
        match src.next()? {
            Ev::Start(e) => match (e.ns, e.local.as_str()) {
                (Ns::Gml, "boundedBy") => {
                    let node = src.read_node(e, false)?;
                    if let Some(env) = node.child(Ns::Gml, "Envelope") {
                        envelope_srs = env.attr(Ns::None, "srsName").map(str::to_string);
                        if let Some(d) = env
                            .attr(Ns::None, "srsDimension")
                            .and_then(|d| d.trim().parse().ok())
                        {
                            state.default_dim = d;
                        }
                    }
                }
                (Ns::Gml, "name") => name = Some(src.read_node(e, false)?.trimmed().to_string()),
                (Ns::Core, "cityObjectMember") | (Ns::Gml, "featureMember" | "featureMembers") => {
                    members(&mut src, &mut state)?;
                    let now = src.position();
                    progress.inc(now.saturating_sub(done));
                    done = now;
                }
                _ => src.skip(&e)?,
            },
            Ev::Empty(_) | Ev::Text(_) => {}
            Ev::End => open = false,
            Ev::Eof => return Err(src.truncated("CityModel")),
        }
    }
    // Anything after the root's end tag must be whitespace or comments.
    loop {
        match src.next()? {
            Ev::Eof => break,
            Ev::Text(t) if t.trim().is_empty() => {}
            _ => {
                return Err(src.bad_at(
                    src.position(),
                    "content after the end of </CityModel>; the file holds more than one document or was \
                     concatenated: split it",
                ));
            }
        }
    }
    progress.inc(size.saturating_sub(done));

    let crs_declared = envelope_srs.or_else(|| state.first_srs.clone());
    let crs = crs_declared.as_deref().and_then(Crs::from_declaration);
    let metadata = metadata(version, &root, name, &state);
    Ok(CityModel {
        objects: state.objects,
        crs,
        crs_declared,
        object_types: state.object_types,
        issues: state.issues,
        rejected: 0,
        metadata,
    })
}

/// The first element of the file, and whether it is self-closing.
fn root_element(src: &mut XmlSource, path: &Path) -> Result<(Elem, bool)> {
    loop {
        match src.next()? {
            Ev::Start(e) => return Ok((e, false)),
            Ev::Empty(e) => return Ok((e, true)),
            Ev::Text(t) if t.trim().is_empty() => {}
            Ev::Eof => {
                return Err(Error::BadInput(format!(
                    "{}: no XML element in the file; a CityGML file holds a <CityModel> element: check that \
                     this is the right file",
                    path.display()
                )));
            }
            _ => {
                return Err(src.bad_at(
                    src.position(),
                    "text before the first element: this is not an XML file (CityJSON files end in .json)",
                ));
            }
        }
    }
}

/// The CityGML version the root `CityModel` declares, or why the file is not CityGML.
fn version_of(root: &Elem, path: &Path) -> Result<&'static str> {
    let version = citygml_version(root.uri.as_bytes()).filter(|_| root.local == "CityModel");
    version.ok_or_else(|| {
        let ns = if root.uri.is_empty() { "no namespace".to_string() } else { format!("namespace {}", root.uri) };
        Error::BadInput(format!(
            "{}: not a CityGML file: the root element is <{}> in {ns}; CityGML starts with <CityModel> in \
             http://www.opengis.net/citygml/1.0, /2.0 or /3.0 (check the file, or its xmlns declaration)",
            path.display(),
            root.local
        ))
    })
}

/// The content of one `cityObjectMember` (one object) or `gml:featureMembers` (several); the start
/// tag has been read.
fn members(src: &mut XmlSource, state: &mut FileState) -> Result<()> {
    loop {
        match src.next()? {
            Ev::Start(e) => {
                count(state, &e);
                if e.ns == Ns::Bldg && e.local == "Building" {
                    let node = src.read_node(e, false)?;
                    read_building(&node, state);
                } else {
                    src.skip(&e)?;
                }
            }
            // An empty member (`xlink:href` to an object elsewhere) or an empty object holds nothing.
            Ev::Empty(e) => count(state, &e),
            Ev::Text(_) => {}
            Ev::End => return Ok(()),
            Ev::Eof => return Err(src.truncated("cityObjectMember")),
        }
    }
}

fn count(state: &mut FileState, e: &Elem) {
    *state.object_types.entry(e.local.clone()).or_default() += 1;
}

/// `{"format","version","namespaces","lods","object_types", …}`: what the file says about itself.
fn metadata(version: &str, root: &Elem, name: Option<String>, state: &FileState) -> Value {
    let namespaces: Map<String, Value> = root
        .xmlns
        .iter()
        .map(|(p, uri)| (p.clone(), Value::String(uri.clone())))
        .collect();
    let lods: BTreeSet<&String> = state.objects.iter().flat_map(|o| o.lods.keys()).collect();
    let mut m = json!({
        "format": "CityGML",
        "version": version,
        "namespaces": namespaces,
        "lods": lods,
        "object_types": state.object_types,
    });
    if let Some(obj) = m.as_object_mut() {
        if let Some(name) = name {
            obj.insert("name".into(), name.into());
        }
        if state.two_d {
            // 2D rings were read with z = 0; the flag tells the tiler the heights are not real.
            obj.insert("2d".into(), true.into());
        }
        if !state.notes.uom.is_empty() {
            obj.insert("uom".into(), json!(state.notes.uom));
        }
        if state.dynamizers > 0 {
            obj.insert("dynamizers_skipped".into(), state.dynamizers.into());
        }
        if state.lod4_skipped > 0 {
            obj.insert("lod4_geometries_skipped".into(), state.lod4_skipped.into());
        }
    }
    m
}
