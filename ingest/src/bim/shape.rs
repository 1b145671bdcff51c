//! A product's body: the `Body` shape representation (else `Facetation`, else another 3D one), its items
//! turned into polygons — extrusions, B-reps, shells, tessellations, CSG, mapped items and boolean
//! results — and the colour of its surface style.
//!
//! Booleans: a difference with a half space is clipped exactly (plane, or plane inside a convex
//! polygonal prism); a difference with a solid, and an intersection, keep the first operand (recorded
//! as an approximation); a union keeps both. Openings (`IfcRelVoidsElement`) are cut by the model
//! reader, which knows the relationships (see `model`).

use std::collections::HashMap;

use super::clip::{Plane, clip, clip_bounded};
use super::error::{StepError, StepResult};
use super::math::{Mat, scale};
use super::placement::{axis_placement, transformation_operator};
use super::profile::{Face, curve};
use super::solid::{extrusion, face_set, primitive, shell, transform};
use super::step::{Entity, StepFile, Value};

/// Mapped items nested deeper than this are refused (a cycle through representation maps).
const MAX_NESTING: usize = 32;

/// What a product looks like, in file length units, world (engineering) coordinates.
#[derive(Debug, Default)]
pub struct Body {
    /// Outward-facing polygons (rings without the closing vertex).
    pub faces: Vec<Face>,
    /// The colour of the first styled item (sRGB 0–255 and alpha, from transparency).
    pub colour: Option<[u8; 4]>,
    /// What was approximated, with entity ids.
    pub approximations: Vec<String>,
    /// The representation read (`Body`, `Facetation`, …).
    pub representation: String,
    /// Whether every item is a closed solid (extrusions, B-reps, CSG, closed face sets): only then does
    /// the body have a volume.
    pub closed: bool,
    /// The faces of each representation item, in order (an opening made of two boxes is cut box by
    /// box).
    pub parts: Vec<std::ops::Range<usize>>,
}

/// Turns representation items into polygons.
pub struct Shapes<'a> {
    f: &'a StepFile,
    angle_unit: f64,
    /// Colour per styled representation item.
    styles: HashMap<u64, [u8; 4]>,
}

/// A colour from a list of presentation styles (IFC2X3 style assignments, IFC4 surface styles).
pub fn style_colour(f: &StepFile, styles: &Value, depth: usize) -> Option<[u8; 4]> {
    if depth > 8 {
        return None;
    }
    for s in styles.as_list().unwrap_or(&[]) {
        let Some(id) = s.as_ref_id() else { continue };
        let Ok(e) = f.entity(id, None) else { continue };
        let found = match e.ty {
            "IFCPRESENTATIONSTYLEASSIGNMENT" => style_colour(f, e.get(0), depth + 1),
            "IFCSURFACESTYLE" => style_colour(f, e.get(2), depth + 1),
            "IFCSURFACESTYLERENDERING" | "IFCSURFACESTYLESHADING" => {
                let rgb = e
                    .opt_ref(0)
                    .ok()
                    .flatten()
                    .and_then(|c| f.entity(c, None).ok())
                    .filter(|c| c.ty == "IFCCOLOURRGB")
                    .and_then(|c| {
                        Some([c.get(1).as_f64()?, c.get(2).as_f64()?, c.get(3).as_f64()?])
                    });
                rgb.map(|[r, g, b]| {
                    let t = e.get(1).as_f64().unwrap_or(0.0).clamp(0.0, 1.0);
                    let c = |v: f64| (v.clamp(0.0, 1.0) * 255.0).round() as u8;
                    [c(r), c(g), c(b), c(1.0 - t)]
                })
            }
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

impl<'a> Shapes<'a> {
    /// Reads the styled items of `f`.
    pub fn new(f: &'a StepFile, angle_unit: f64) -> Shapes<'a> {
        let mut styles = HashMap::new();
        for &id in f.of_type("IFCSTYLEDITEM") {
            let Ok(e) = f.entity(id, None) else { continue };
            let Some(item) = e.get(0).as_ref_id() else {
                continue;
            };
            if let Some(c) = style_colour(f, e.get(1), 0) {
                styles.entry(item).or_insert(c);
            }
        }
        Shapes {
            f,
            angle_unit,
            styles,
        }
    }

    /// The body of `product` in world coordinates, `None` when it has no 3D representation.
    pub fn body(&self, product: &Entity<'_>, placement: Mat) -> StepResult<Option<Body>> {
        let Some(pds) = product.opt_ref(6)? else {
            return Ok(None);
        };
        let pds = self.f.entity(pds, Some((product.id, product.ty)))?;
        let mut best: Option<(u8, Entity<'_>, String)> = None;
        for r in pds.refs(2)? {
            let rep = self.f.entity(r, Some((pds.id, pds.ty)))?;
            if rep.ty != "IFCSHAPEREPRESENTATION" {
                continue;
            }
            let ident = rep.opt_str(1).unwrap_or("").to_string();
            let kind = rep.opt_str(2).unwrap_or("");
            let rank = match ident.as_str() {
                "Body" => 0,
                "Facetation" => 1,
                "Axis" | "FootPrint" | "Box" | "Annotation" | "Profile" | "Reference"
                | "Clearance" | "CoG" | "Lighting" | "Survey" => continue,
                _ if matches!(
                    kind,
                    "SweptSolid"
                        | "Brep"
                        | "CSG"
                        | "Clipping"
                        | "MappedRepresentation"
                        | "SurfaceModel"
                        | "Tessellation"
                        | "SolidModel"
                        | "AdvancedSweptSolid"
                ) =>
                {
                    2
                }
                _ => continue,
            };
            if best.as_ref().is_none_or(|(b, _, _)| rank < *b) {
                best = Some((rank, rep, ident));
            }
        }
        let Some((_, rep, ident)) = best else {
            return Ok(None);
        };
        let mut body = Body {
            representation: ident,
            closed: true,
            ..Body::default()
        };
        for item in rep.refs(3)? {
            let faces = self.item(item, &rep, &mut body, 0)?;
            let start = body.faces.len();
            body.faces.extend(faces);
            body.parts.push(start..body.faces.len());
        }
        body.faces = transform(
            std::mem::take(&mut body.faces),
            &placement,
            placement.det() < 0.0,
        );
        Ok(Some(body))
    }

    fn item(
        &self,
        id: u64,
        from: &Entity<'_>,
        body: &mut Body,
        depth: usize,
    ) -> StepResult<Vec<Face>> {
        let f = self.f;
        if depth > MAX_NESTING {
            return Err(StepError::Attribute {
                id,
                ty: f.type_of(id).unwrap_or("?").to_string(),
                what: format!(
                    "representation items nest deeper than {MAX_NESTING} (a cycle of mapped items?)"
                ),
            });
        }
        if body.colour.is_none() {
            body.colour = self.styles.get(&id).copied();
        }
        let e = f.entity(id, Some((from.id, from.ty)))?;
        let faces = match e.ty {
            "IFCEXTRUDEDAREASOLID" | "IFCEXTRUDEDAREASOLIDTAPERED" => {
                if e.ty == "IFCEXTRUDEDAREASOLIDTAPERED" {
                    body.approximations
                        .push(format!("#{id}: tapered extrusion read untapered"));
                }
                extrusion(f, &e, self.angle_unit)?
            }
            "IFCFACETEDBREP" | "IFCFACETEDBREPWITHVOIDS" => {
                let mut faces = shell(f, e.reference(0)?, &e)?;
                for v in e.refs(1).unwrap_or_default() {
                    faces.extend(shell(f, v, &e)?);
                }
                faces
            }
            "IFCSHELLBASEDSURFACEMODEL" | "IFCFACEBASEDSURFACEMODEL" => {
                body.closed = false;
                let mut faces = vec![];
                for s in e.refs(0)? {
                    faces.extend(shell(f, s, &e)?);
                }
                faces
            }
            "IFCCLOSEDSHELL" | "IFCOPENSHELL" | "IFCCONNECTEDFACESET" => {
                body.closed &= e.ty == "IFCCLOSEDSHELL";
                shell(f, id, from)?
            }
            "IFCTRIANGULATEDFACESET"
            | "IFCPOLYGONALFACESET"
            | "IFCTRIANGULATEDIRREGULARNETWORK" => {
                // `Closed` is the second attribute in IFC4X3 and of polygonal face sets, the third of
                // IFC4 triangulated face sets.
                let ifc4x3 = f.schemas.iter().any(|s| s.starts_with("IFC4X3"));
                let idx = if e.ty == "IFCPOLYGONALFACESET" || ifc4x3 {
                    1
                } else {
                    2
                };
                body.closed &= e.opt_bool(idx) == Some(true);
                face_set(f, &e)?
            }
            "IFCCSGSOLID" => self.item(e.reference(0)?, &e, body, depth + 1)?,
            "IFCBLOCK"
            | "IFCRIGHTCIRCULARCYLINDER"
            | "IFCRIGHTCIRCULARCONE"
            | "IFCSPHERE"
            | "IFCRECTANGULARPYRAMID" => primitive(f, &e)?,
            "IFCBOOLEANRESULT" | "IFCBOOLEANCLIPPINGRESULT" => self.boolean(&e, body, depth)?,
            "IFCMAPPEDITEM" => {
                let source = f.entity(e.reference(0)?, Some((e.id, e.ty)))?;
                let origin_id = source.reference(0)?;
                let origin = match f.type_of(origin_id) {
                    Some(t) if t.starts_with("IFCCARTESIANTRANSFORMATIONOPERATOR") => {
                        transformation_operator(f, origin_id, &source)?
                    }
                    _ => axis_placement(f, origin_id, &source)?,
                };
                let target = transformation_operator(f, e.reference(1)?, &e)?;
                let m = target.then_after(&origin);
                let rep = f.entity(source.reference(1)?, Some((source.id, source.ty)))?;
                let mut faces = vec![];
                for item in rep.refs(3)? {
                    faces.extend(self.item(item, &rep, body, depth + 1)?);
                }
                transform(faces, &m, m.det() < 0.0)
            }
            // Curves, text, bounding boxes and other 2D items have no surface.
            "IFCGEOMETRICCURVESET"
            | "IFCGEOMETRICSET"
            | "IFCPOLYLINE"
            | "IFCCOMPOSITECURVE"
            | "IFCTRIMMEDCURVE"
            | "IFCINDEXEDPOLYCURVE"
            | "IFCBOUNDINGBOX"
            | "IFCTEXTLITERAL"
            | "IFCTEXTLITERALWITHEXTENT"
            | "IFCANNOTATIONFILLAREA"
            | "IFCCARTESIANPOINT"
            | "IFCCIRCLE"
            | "IFCLINE" => vec![],
            other => {
                return Err(StepError::Unsupported {
                    id,
                    ty: other.to_string(),
                    what:
                        "this representation item is not read (revolved and swept solids, advanced \
                           B-reps and NURBS surfaces are not supported yet)"
                            .into(),
                });
            }
        };
        Ok(faces)
    }

    fn boolean(&self, e: &Entity<'_>, body: &mut Body, depth: usize) -> StepResult<Vec<Face>> {
        let f = self.f;
        let op = e.get(0).as_enum().unwrap_or("").to_string();
        let first = self.item(e.reference(1)?, e, body, depth + 1)?;
        let second_id = e.reference(2)?;
        let second = f.entity(second_id, Some((e.id, e.ty)))?;
        match op.as_str() {
            "DIFFERENCE" => {}
            "UNION" => {
                let mut all = first;
                all.extend(self.item(second_id, e, body, depth + 1)?);
                return Ok(all);
            }
            _ => {
                body.approximations.push(format!(
                    "#{}: {op} of two solids drawn as its first operand",
                    e.id
                ));
                return Ok(first);
            }
        }
        let half_space = matches!(
            second.ty,
            "IFCHALFSPACESOLID" | "IFCPOLYGONALBOUNDEDHALFSPACE" | "IFCBOXEDHALFSPACE"
        );
        if !half_space {
            body.approximations.push(format!(
                "#{}: difference with #{second_id} ({}) not subtracted",
                e.id, second.ty
            ));
            return Ok(first);
        }
        let surface = f.entity(second.reference(0)?, Some((second.id, second.ty)))?;
        if surface.ty != "IFCPLANE" {
            return Err(StepError::Unsupported {
                id: surface.id,
                ty: surface.ty.to_string(),
                what: "half spaces are read on planes".into(),
            });
        }
        let pos = axis_placement(f, surface.reference(0)?, &surface)?;
        // AgreementFlag .T.: the plane normal points away from the half space's material, so what stays
        // after the difference is the normal's side.
        let agree = second.opt_bool(1).unwrap_or(true);
        let keep = Plane {
            p: pos.t,
            n: if agree { pos.z } else { scale(pos.z, -1.0) },
        };
        if second.ty == "IFCPOLYGONALBOUNDEDHALFSPACE" {
            let frame = axis_placement(f, second.reference(2)?, &second)?;
            let mut boundary: Vec<_> = curve(f, second.reference(3)?, &second, self.angle_unit)?
                .into_iter()
                .map(|p| frame.apply(p))
                .collect();
            if boundary.len() > 1
                && super::math::norm(super::math::sub(boundary[0], boundary[boundary.len() - 1]))
                    < 1e-9
            {
                boundary.pop();
            }
            if let Some(faces) = clip_bounded(&first, &keep, &boundary, frame.z) {
                return Ok(faces);
            }
            body.approximations.push(format!(
                "#{}: non-convex polygonal boundary of #{second_id} read as an unbounded half space",
                e.id
            ));
        }
        Ok(clip(&first, &keep))
    }
}
