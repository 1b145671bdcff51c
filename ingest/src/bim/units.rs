//! Project units from `IfcProject.UnitsInContext` (`IfcUnitAssignment`): the length unit (SI with a
//! prefix such as `.MILLI.`, or a conversion-based unit such as FOOT) as metres per file unit, and the
//! plane angle unit as radians per file unit.

use super::error::{StepError, StepResult};
use super::step::{StepFile, Value};

/// The units the file's numbers are in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Units {
    /// Metres per length unit (0.001 for millimetres).
    pub length: f64,
    /// Radians per plane angle unit (π/180 for degrees).
    pub angle: f64,
    /// The length unit's name for provenance (`MILLI METRE`, `FOOT`).
    pub length_name: &'static str,
}

impl Default for Units {
    fn default() -> Self {
        Units {
            length: 1.0,
            angle: 1.0,
            length_name: "METRE",
        }
    }
}

/// Metres per length unit that are plausible for a building model: a micrometre to a kilometre.
const PLAUSIBLE_LENGTH: (f64, f64) = (1e-6, 1e3);

fn prefix(p: &str) -> Option<f64> {
    Some(match p {
        "EXA" => 1e18,
        "PETA" => 1e15,
        "TERA" => 1e12,
        "GIGA" => 1e9,
        "MEGA" => 1e6,
        "KILO" => 1e3,
        "HECTO" => 1e2,
        "DECA" => 1e1,
        "DECI" => 1e-1,
        "CENTI" => 1e-2,
        "MILLI" => 1e-3,
        "MICRO" => 1e-6,
        "NANO" => 1e-9,
        "PICO" => 1e-12,
        "FEMTO" => 1e-15,
        "ATTO" => 1e-18,
        _ => return None,
    })
}

fn name_of(prefix: Option<&str>) -> &'static str {
    match prefix {
        Some("MILLI") => "MILLI METRE",
        Some("CENTI") => "CENTI METRE",
        Some("DECI") => "DECI METRE",
        Some("KILO") => "KILO METRE",
        Some(_) => "METRE (prefixed)",
        None => "METRE",
    }
}

/// Reads the units of the first `IfcProject`; a file without a project or unit assignment is read in
/// metres and radians (the IFC defaults), which the caller notes.
///
/// # Errors
/// A length unit outside a micrometre to a kilometre per unit (an absurd `.EXA.` prefix, a zero
/// conversion factor), naming the unit's entity.
pub fn read(f: &StepFile) -> StepResult<Option<Units>> {
    let Some(&project) = f.of_type("IFCPROJECT").first() else {
        return Ok(None);
    };
    let p = f.entity(project, None)?;
    let Some(ua) = p.opt_ref(8)? else {
        return Ok(None);
    };
    let ua = f.entity(ua, Some((p.id, p.ty)))?;
    let mut units = Units::default();
    for u in ua.refs(0)? {
        let e = f.entity(u, Some((ua.id, ua.ty)))?;
        let (kind, factor, name) = match e.ty {
            "IFCSIUNIT" => {
                let kind = e.get(1).as_enum().unwrap_or("").to_string();
                let pre = e.get(2).as_enum();
                let factor = match pre {
                    Some(p) => prefix(p).ok_or_else(|| StepError::Attribute {
                        id: e.id,
                        ty: e.ty.to_string(),
                        what: format!("unknown SI prefix .{p}."),
                    })?,
                    None => 1.0,
                };
                (kind, factor, name_of(pre))
            }
            "IFCCONVERSIONBASEDUNIT" | "IFCCONVERSIONBASEDUNITWITHOFFSET" => {
                let kind = e.get(1).as_enum().unwrap_or("").to_string();
                let m = f.entity(e.reference(3)?, Some((e.id, e.ty)))?;
                let value = m.f64(0)?;
                // The unit component is an SI unit, possibly prefixed itself.
                let base = match m.opt_ref(1)? {
                    Some(b) => {
                        let b = f.entity(b, Some((m.id, m.ty)))?;
                        match b.get(2) {
                            Value::Enum(p) => prefix(p).unwrap_or(1.0),
                            _ => 1.0,
                        }
                    }
                    None => 1.0,
                };
                let name = match e.opt_str(2).map(str::to_ascii_uppercase).as_deref() {
                    Some("FOOT") => "FOOT",
                    Some("INCH") => "INCH",
                    _ => "conversion-based",
                };
                (kind, value * base, name)
            }
            _ => continue,
        };
        match kind.as_str() {
            "LENGTHUNIT" => {
                if !(PLAUSIBLE_LENGTH.0..=PLAUSIBLE_LENGTH.1).contains(&factor) {
                    return Err(StepError::Attribute {
                        id: e.id,
                        ty: e.ty.to_string(),
                        what: format!(
                            "the length unit is {factor:e} m, which no building model uses (expected a \
                             micrometre to a kilometre); fix the project's IfcUnitAssignment"
                        ),
                    });
                }
                units.length = factor;
                units.length_name = name;
            }
            "PLANEANGLEUNIT" => {
                if !(factor.is_finite() && factor > 0.0 && factor < 10.0) {
                    return Err(StepError::Attribute {
                        id: e.id,
                        ty: e.ty.to_string(),
                        what: format!(
                            "the plane angle unit is {factor} rad, which is not an angle unit"
                        ),
                    });
                }
                units.angle = factor;
            }
            _ => {}
        }
    }
    Ok(Some(units))
}
