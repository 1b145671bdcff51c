//! Placements: points, directions, `IfcAxis2Placement2D/3D`, `IfcCartesianTransformationOperator3D`
//! (mapped items, possibly scaled) and `IfcLocalPlacement` chains up to the world, with cycle detection.
//!
//! Every length stays in the file's length unit; the reader scales to metres once, at the end.

use std::collections::HashMap;

use super::error::{StepError, StepResult};
use super::math::{Mat, V3, cross, scale, unit};
use super::step::{Entity, StepFile};

/// The deepest placement chain accepted; real models nest a handful of levels.
const MAX_DEPTH: usize = 256;

/// `IfcCartesianPoint` (2D points get z = 0).
pub fn point(f: &StepFile, id: u64, from: &Entity<'_>) -> StepResult<V3> {
    let e = f.entity(id, Some((from.id, from.ty)))?;
    if e.ty != "IFCCARTESIANPOINT" {
        return Err(StepError::Attribute {
            id,
            ty: e.ty.to_string(),
            what: "expected an IfcCartesianPoint".into(),
        });
    }
    coords(&e.numbers(0)?, &e)
}

fn coords(c: &[f64], e: &Entity<'_>) -> StepResult<V3> {
    match c {
        [x, y] => Ok([*x, *y, 0.0]),
        [x, y, z] => Ok([*x, *y, *z]),
        [x] => Ok([*x, 0.0, 0.0]),
        _ => Err(StepError::Attribute {
            id: e.id,
            ty: e.ty.to_string(),
            what: format!("a point needs 1 to 3 coordinates, it has {}", c.len()),
        }),
    }
}

/// `IfcDirection`, not normalised.
pub fn direction(f: &StepFile, id: u64, from: &Entity<'_>) -> StepResult<V3> {
    let e = f.entity(id, Some((from.id, from.ty)))?;
    if e.ty != "IFCDIRECTION" {
        return Err(StepError::Attribute {
            id,
            ty: e.ty.to_string(),
            what: "expected an IfcDirection".into(),
        });
    }
    coords(&e.numbers(0)?, &e)
}

fn opt_direction(f: &StepFile, e: &Entity<'_>, i: usize) -> StepResult<Option<V3>> {
    e.opt_ref(i)?.map(|d| direction(f, d, e)).transpose()
}

/// `IfcAxis2Placement3D` / `IfcAxis2Placement2D` / `IfcAxis1Placement` as a frame.
pub fn axis_placement(f: &StepFile, id: u64, from: &Entity<'_>) -> StepResult<Mat> {
    let e = f.entity(id, Some((from.id, from.ty)))?;
    let origin = point(f, e.reference(0)?, &e)?;
    match e.ty {
        "IFCAXIS2PLACEMENT3D" => Ok(Mat::frame(
            origin,
            opt_direction(f, &e, 1)?,
            opt_direction(f, &e, 2)?,
        )),
        "IFCAXIS2PLACEMENT2D" => Ok(Mat::frame(origin, None, opt_direction(f, &e, 1)?)),
        "IFCAXIS1PLACEMENT" => Ok(Mat::frame(origin, opt_direction(f, &e, 1)?, None)),
        other => Err(StepError::Unsupported {
            id,
            ty: other.to_string(),
            what: "expected an IfcAxis2Placement3D or 2D".into(),
        }),
    }
}

/// `IfcCartesianTransformationOperator3D` (and its non-uniform subtype; 2D operators too): the base axes
/// of ISO 10303-42 (`Axis3` is z, `Axis1` made perpendicular is x, y = z × x), scaled.
pub fn transformation_operator(f: &StepFile, id: u64, from: &Entity<'_>) -> StepResult<Mat> {
    let e = f.entity(id, Some((from.id, from.ty)))?;
    let a1 = opt_direction(f, &e, 0)?;
    let a2 = opt_direction(f, &e, 1)?;
    let origin = point(f, e.reference(2)?, &e)?;
    let s = e.opt_f64(3)?.unwrap_or(1.0);
    let (a3, s2, s3) = match e.ty {
        "IFCCARTESIANTRANSFORMATIONOPERATOR3D" => (opt_direction(f, &e, 4)?, s, s),
        "IFCCARTESIANTRANSFORMATIONOPERATOR3DNONUNIFORM" => (
            opt_direction(f, &e, 4)?,
            e.opt_f64(5)?.unwrap_or(s),
            e.opt_f64(6)?.unwrap_or(s),
        ),
        "IFCCARTESIANTRANSFORMATIONOPERATOR2D" => (None, s, s),
        "IFCCARTESIANTRANSFORMATIONOPERATOR2DNONUNIFORM" => (None, e.opt_f64(4)?.unwrap_or(s), s),
        other => {
            return Err(StepError::Unsupported {
                id,
                ty: other.to_string(),
                what: "expected an IfcCartesianTransformationOperator".into(),
            });
        }
    };
    if !(s.is_finite() && s2.is_finite() && s3.is_finite()) || s * s2 * s3 == 0.0 {
        return Err(StepError::Attribute {
            id,
            ty: e.ty.to_string(),
            what: format!("scale {s} × {s2} × {s3} collapses the geometry"),
        });
    }
    let mut m = Mat::frame(origin, a3, a1);
    // A given Axis2 that points against z × x makes a left-handed (mirrored) frame.
    if let Some(y) = a2.and_then(unit)
        && super::math::dot(y, cross(m.z, m.x)) < 0.0
    {
        m.y = scale(m.y, -1.0);
    }
    m.x = scale(m.x, s);
    m.y = scale(m.y, s2);
    m.z = scale(m.z, s3);
    Ok(m)
}

/// Resolves `IfcLocalPlacement` chains to world transforms, caching each placement.
#[derive(Default)]
pub struct Placements {
    cache: HashMap<u64, Mat>,
}

impl Placements {
    /// The world transform of placement `id`, the placement of `owner` (id and type, for messages).
    ///
    /// # Errors
    /// A cycle (`#5` placed relative to `#9` placed relative to `#5`), a chain deeper than 256, a dangling
    /// reference, or a placement type tvilling does not read (grid and linear placements).
    pub fn world(&mut self, f: &StepFile, id: u64, owner: (u64, &str)) -> StepResult<Mat> {
        if let Some(m) = self.cache.get(&id) {
            return Ok(*m);
        }
        // Walk up to the first cached or top placement, then compose down.
        let mut chain: Vec<(u64, Mat)> = vec![];
        let mut next = Some(id);
        let mut base = Mat::IDENTITY;
        while let Some(cur) = next {
            if let Some(m) = self.cache.get(&cur) {
                base = *m;
                break;
            }
            if chain.iter().any(|(c, _)| *c == cur) {
                let ids: Vec<String> = chain.iter().map(|(c, _)| format!("#{c}")).collect();
                return Err(StepError::Attribute {
                    id: cur,
                    ty: "IFCLOCALPLACEMENT".into(),
                    what: format!(
                        "placements form a cycle ({} -> #{cur}); fix PlacementRelTo in the authoring tool",
                        ids.join(" -> ")
                    ),
                });
            }
            if chain.len() > MAX_DEPTH {
                return Err(StepError::Attribute {
                    id,
                    ty: "IFCLOCALPLACEMENT".into(),
                    what: format!("placement chain deeper than {MAX_DEPTH}"),
                });
            }
            let from = chain
                .last()
                .map_or(owner, |(c, _)| (*c, "IFCLOCALPLACEMENT"));
            let e = f.entity(cur, Some(from))?;
            if e.ty != "IFCLOCALPLACEMENT" {
                return Err(StepError::Unsupported {
                    id: cur,
                    ty: e.ty.to_string(),
                    what: "only IfcLocalPlacement is read (grid and linear placements are not)"
                        .into(),
                });
            }
            let rel = axis_placement(f, e.reference(1)?, &e)?;
            chain.push((cur, rel));
            next = e.opt_ref(0)?;
        }
        let mut m = base;
        for (cur, rel) in chain.into_iter().rev() {
            m = m.then_after(&rel);
            self.cache.insert(cur, m);
        }
        Ok(m)
    }
}
