//! The IFC model as the rows need it: every product with a body, in metres, in the model's own world
//! (engineering) coordinates, with its relationships resolved; plus what the file says about where it is
//! (site reference point, true north, map conversion).

use std::collections::BTreeMap;

use tvilling_core::provenance::Issue;

use super::error::{StepError, StepResult};
use super::math::{Mat, V3};
use super::names::class_name;
use super::placement::{Placements, direction};
use super::profile::Face;
use super::props::{PValue, Relations};
use super::shape::{Body, Shapes};
use super::step::{StepFile, Value};
use super::units::{self, Units};

/// Classes that are read but do not become rows: voids are not things, annotations are drawings.
pub const NOT_ROWS: [&str; 3] = [
    "IFCOPENINGELEMENT",
    "IFCOPENINGSTANDARDCASE",
    "IFCANNOTATION",
];

/// One product with a body.
#[derive(Debug, Clone)]
pub struct Element {
    /// The `#id` in the file.
    pub step_id: u64,
    /// `GlobalId`.
    pub global_id: String,
    /// The class in schema spelling (`IfcWallStandardCase`).
    pub class: String,
    /// `Name`.
    pub name: Option<String>,
    /// The storey's name.
    pub storey: Option<String>,
    /// The type object's name.
    pub type_name: Option<String>,
    /// Material names.
    pub material: Option<String>,
    /// The surface colour (style of the body, else of the material), sRGB + alpha.
    pub colour: Option<[u8; 4]>,
    /// Properties and quantities, `Set.Name`, typed; values in the file's units.
    pub properties: Vec<(String, PValue)>,
    /// Outward polygons in metres, model world coordinates.
    pub faces: Vec<Face>,
    /// The representation read.
    pub representation: String,
    /// Approximations made for this element.
    pub approximations: Vec<String>,
    /// Whether the body is closed (has a volume).
    pub closed: bool,
    /// How many openings void it (`IfcRelVoidsElement`); convex ones are cut out of `faces`.
    pub openings: usize,
}

/// `IfcSite` reference point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SiteRef {
    /// Degrees north.
    pub lat: f64,
    /// Degrees east.
    pub lon: f64,
    /// Metres above sea level of the site's origin (0 when not given).
    pub elevation: f64,
    /// The site placement's origin in model world coordinates (metres).
    pub origin: V3,
}

/// `IfcMapConversion` with its `IfcProjectedCRS`.
#[derive(Debug, Clone, PartialEq)]
pub struct MapConversion {
    /// The conversion's entity id.
    pub id: u64,
    /// `IfcProjectedCRS.Name`, e.g. `EPSG:25832`.
    pub crs_name: String,
    /// `IfcProjectedCRS.VerticalDatum`, when given.
    pub vertical: Option<String>,
    /// Eastings, northings, orthogonal height (map units).
    pub origin: V3,
    /// X axis abscissa and ordinate (direction of the model's x axis in the map).
    pub x_axis: [f64; 2],
    /// `Scale` (1 when not given).
    pub scale: f64,
    /// Metres per map unit (`IfcProjectedCRS.MapUnit`, metres when not given).
    pub map_unit: f64,
}

/// Everything read from one IFC file.
#[derive(Debug, Default)]
pub struct Model {
    /// `FILE_SCHEMA` (`IFC4`).
    pub schema: String,
    /// The file's units.
    pub units: Units,
    /// Products with a body, in file order.
    pub elements: Vec<Element>,
    /// Storeys: name and elevation (metres).
    pub storeys: Vec<(String, Option<f64>)>,
    /// Site reference point, when the site has one.
    pub site: Option<SiteRef>,
    /// True north in model coordinates (x, y), from the 3D model context.
    pub true_north: Option<[f64; 2]>,
    /// The map conversion, when the file has one.
    pub map: Option<MapConversion>,
    /// Products per class (all of them, with or without body).
    pub classes: BTreeMap<String, u64>,
    /// Products whose body could not be read (no row), with entity ids and reasons.
    pub rejected: Vec<Issue>,
    /// Other problems (dangling references, unusable site or map data), with entity ids.
    pub issues: Vec<Issue>,
    /// Observations for the quality report.
    pub notes: Vec<String>,
    /// Entity instances in the file.
    pub entities: usize,
}

/// IFC4's compound plane angle: degrees, minutes, seconds, millionths of a second (all with one sign).
fn compound_angle(v: &Value) -> Option<f64> {
    let parts = v.as_list()?;
    let num = |i: usize| parts.get(i).and_then(Value::as_f64);
    let (d, m) = (num(0)?, num(1).unwrap_or(0.0));
    let (s, u) = (num(2).unwrap_or(0.0), num(3).unwrap_or(0.0));
    let a = d + m / 60.0 + (s + u / 1e6) / 3600.0;
    a.is_finite().then_some(a)
}

/// Reads a whole IFC file's bytes.
///
/// # Errors
/// What [`StepFile::parse`] refuses, and unusable units. Problems with single products become issues.
pub fn read(data: Vec<u8>) -> StepResult<Model> {
    let f = StepFile::parse(data)?;
    let mut model = Model {
        schema: f.schemas.first().cloned().unwrap_or_default(),
        entities: f.len(),
        ..Model::default()
    };
    if !model.schema.starts_with("IFC") {
        return Err(StepError::Syntax {
            at: Default::default(),
            what: format!(
                "FILE_SCHEMA is '{}', not an IFC schema (IFC2X3, IFC4, IFC4X3)",
                model.schema
            ),
        });
    }
    model.units = match units::read(&f)? {
        Some(u) => u,
        None => {
            model.notes.push(
                "no IfcProject unit assignment: lengths read as metres and angles as radians"
                    .into(),
            );
            Units::default()
        }
    };
    let u = model.units.length;
    for (from, to) in f.dangling().into_iter().take(1000) {
        model.issues.push(Issue {
            feature: None,
            id: Some(format!("#{from}")),
            reason: format!(
                "entity #{from} ({}) refers to #{to}, which is not in the file",
                f.type_of(from).unwrap_or("?")
            ),
        });
    }
    let rel = Relations::new(&f);
    let mut storeys: Vec<(u64, String, Option<f64>)> = rel
        .storeys
        .iter()
        .map(|(id, (n, e))| (*id, n.clone(), e.map(|e| e * u)))
        .collect();
    storeys.sort_by_key(|s| s.0);
    model.storeys = storeys.into_iter().map(|(_, n, e)| (n, e)).collect();

    let mut placements = Placements::default();
    let shapes = Shapes::new(&f, model.units.angle);
    site_and_north(&f, &mut placements, &mut model);
    map_conversion(&f, &mut model);

    // Products: rooted entities (a GlobalId first) whose 7th attribute is a product definition shape.
    let mut candidates: Vec<(&str, &[u64])> = f
        .types()
        .filter(|(_, ids)| {
            ids.first()
                .and_then(|id| f.entity(*id, None).ok())
                .is_some_and(|e| {
                    e.get(0).as_str().is_some_and(|g| g.len() == 22) && e.args.len() >= 7
                })
        })
        .collect();
    candidates.sort_by_key(|(_, ids)| ids.first().copied());
    let mut ordered: Vec<(u64, &str)> = candidates
        .iter()
        .flat_map(|(ty, ids)| ids.iter().map(move |id| (*id, *ty)))
        .collect();
    ordered.sort_unstable();
    for (id, ty) in ordered {
        let e = match f.entity(id, None) {
            Ok(e) => e,
            Err(err) => {
                model.rejected.push(issue(id, &err.to_string()));
                continue;
            }
        };
        let is_product = e
            .get(6)
            .as_ref_id()
            .and_then(|r| f.type_of(r))
            .is_some_and(|t| t == "IFCPRODUCTDEFINITIONSHAPE")
            || (e.get(6) == &Value::Null
                && e.get(5)
                    .as_ref_id()
                    .and_then(|r| f.type_of(r))
                    .is_some_and(|t| t.ends_with("PLACEMENT")));
        if !is_product {
            continue;
        }
        *model.classes.entry(class_name(ty)).or_default() += 1;
        if NOT_ROWS.contains(&ty) {
            continue;
        }
        let placement = match e.opt_ref(5) {
            Ok(Some(p)) => match placements.world(&f, p, (id, ty)) {
                Ok(m) => m,
                Err(err) => {
                    model.rejected.push(issue(
                        id,
                        &format!("{} {}: {err}", class_name(ty), global(&e)),
                    ));
                    continue;
                }
            },
            Ok(None) => Mat::IDENTITY,
            Err(err) => {
                model.rejected.push(issue(id, &err.to_string()));
                continue;
            }
        };
        let mut body = match shapes.body(&e, placement) {
            Ok(Some(b)) if !b.faces.is_empty() => b,
            Ok(_) => continue,
            Err(err) => {
                model.rejected.push(issue(
                    id,
                    &format!("{} {}: {err}", class_name(ty), global(&e)),
                ));
                continue;
            }
        };
        let openings = rel.openings(id);
        for &o in openings {
            subtract_opening(&f, &shapes, &mut placements, o, &mut body);
        }
        let (material, material_colour) = rel.material(&f, id);
        let faces = body
            .faces
            .into_iter()
            .map(|face| {
                face.into_iter()
                    .map(|r| {
                        r.into_iter()
                            .map(|p| [p[0] * u, p[1] * u, p[2] * u])
                            .collect()
                    })
                    .collect()
            })
            .collect();
        model.elements.push(Element {
            step_id: id,
            global_id: global(&e),
            class: class_name(ty),
            name: e.opt_str(2).map(str::to_string),
            storey: rel
                .storey(id)
                .and_then(|s| rel.storeys.get(&s))
                .map(|s| s.0.clone())
                .filter(|n| !n.is_empty()),
            type_name: rel.type_name(&f, id),
            material,
            colour: body.colour.or(material_colour),
            properties: rel.properties(&f, id),
            faces,
            representation: body.representation,
            approximations: body.approximations,
            closed: body.closed,
            openings: openings.len(),
        });
    }
    Ok(model)
}

/// Cuts opening `o` out of `body` when its body is a convex solid (a box or prism, as openings for
/// windows and doors are); otherwise notes that it stays.
fn subtract_opening(
    f: &StepFile,
    shapes: &Shapes<'_>,
    placements: &mut Placements,
    o: u64,
    body: &mut Body,
) {
    let cutter = f.entity(o, None).and_then(|oe| {
        let m = match oe.opt_ref(5)? {
            Some(p) => placements.world(f, p, (o, oe.ty))?,
            None => Mat::IDENTITY,
        };
        shapes.body(&oe, m)
    });
    match cutter {
        Ok(Some(c)) => {
            let parts: Vec<&[Face]> = c
                .parts
                .iter()
                .filter_map(|r| c.faces.get(r.clone()))
                .collect();
            let cutter = match parts.as_slice() {
                [one] => Some(one.to_vec()),
                _ => super::clip::merged_convex(&parts),
            };
            let before = super::solid::volume(&body.faces).abs();
            let result = cutter
                .as_deref()
                .and_then(|k| super::clip::subtract_convex(&body.faces, k).map(|r| (r, k)));
            match result {
                // A cut can only remove what the cutter holds: anything else means the faces did not
                // close (a surface model, a cutter that only grazes the element), and the element is
                // better shown whole.
                Some((faces, k))
                    if !body.closed || {
                        let after = super::solid::volume(&faces).abs();
                        after <= before * (1.0 + 1e-4) + 1e-9
                            && after + super::solid::volume(k).abs() * (1.0 + 1e-4) + 1e-9 >= before
                    } =>
                {
                    body.faces = faces
                }
                _ => body.approximations.push(format!(
                    "opening #{o} is not a convex solid or does not cut cleanly: not subtracted"
                )),
            }
        }
        Ok(None) => {}
        Err(e) => body
            .approximations
            .push(format!("opening #{o} not subtracted: {e}")),
    }
}

fn global(e: &super::step::Entity<'_>) -> String {
    e.opt_str(0).unwrap_or("").to_string()
}

fn issue(id: u64, reason: &str) -> Issue {
    Issue {
        feature: None,
        id: Some(format!("#{id}")),
        reason: reason.to_string(),
    }
}

/// The first site's reference point, and true north of the 3D model context.
fn site_and_north(f: &StepFile, placements: &mut Placements, model: &mut Model) {
    let u = model.units.length;
    for &id in f.of_type("IFCSITE") {
        let Ok(e) = f.entity(id, None) else { continue };
        let (Some(lat), Some(lon)) = (compound_angle(e.get(9)), compound_angle(e.get(10))) else {
            continue;
        };
        let origin = e
            .opt_ref(5)
            .ok()
            .flatten()
            .and_then(|p| placements.world(f, p, (id, "IFCSITE")).ok())
            .map_or([0.0; 3], |m| m.t);
        let valid = lat.abs() <= 90.0 && lon.abs() <= 180.0;
        if !valid {
            model.issues.push(issue(
                id,
                &format!("IfcSite reference point {lat}, {lon} is not a latitude/longitude"),
            ));
            continue;
        }
        model.site = Some(SiteRef {
            lat,
            lon,
            elevation: e.get(11).as_f64().unwrap_or(0.0) * u,
            origin: [origin[0] * u, origin[1] * u, origin[2] * u],
        });
        break;
    }
    for &id in f.of_type("IFCGEOMETRICREPRESENTATIONCONTEXT") {
        let Ok(e) = f.entity(id, None) else { continue };
        if e.opt_str(1).is_some_and(|t| t != "Model") {
            continue;
        }
        if let Ok(Some(d)) = e.opt_ref(5)
            && let Ok(v) = direction(f, d, &e)
            && (v[0] != 0.0 || v[1] != 0.0)
        {
            model.true_north = Some([v[0], v[1]]);
            break;
        }
    }
}

fn map_conversion(f: &StepFile, model: &mut Model) {
    let Some(&id) = f.of_type("IFCMAPCONVERSION").first() else {
        return;
    };
    let read = || -> StepResult<MapConversion> {
        let e = f.entity(id, None)?;
        let crs = f.entity(e.reference(1)?, Some((e.id, e.ty)))?;
        let map_unit = match crs.opt_ref(6)? {
            Some(uid) => {
                let ue = f.entity(uid, Some((crs.id, crs.ty)))?;
                match ue.get(2).as_enum() {
                    Some("MILLI") => 1e-3,
                    Some("CENTI") => 1e-2,
                    Some("KILO") => 1e3,
                    _ => 1.0,
                }
            }
            None => 1.0,
        };
        Ok(MapConversion {
            id,
            crs_name: crs.opt_str(0).unwrap_or("").to_string(),
            vertical: crs.opt_str(3).map(str::to_string),
            origin: [e.f64(2)?, e.f64(3)?, e.f64(4)?],
            x_axis: [e.opt_f64(5)?.unwrap_or(1.0), e.opt_f64(6)?.unwrap_or(0.0)],
            scale: e.opt_f64(7)?.unwrap_or(1.0),
            map_unit,
        })
    };
    match read() {
        Ok(m) => model.map = Some(m),
        Err(err) => model
            .issues
            .push(issue(id, &format!("IfcMapConversion ignored: {err}"))),
    }
}
