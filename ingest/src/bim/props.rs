//! What the relationships say about a product: its storey (through spatial containment and
//! aggregation), its type, its materials (and their style colour), and its property and quantity sets
//! (its own and its type's; the occurrence wins).

use std::collections::HashMap;

use super::shape::style_colour;
use super::step::{StepFile, Value};

/// A property value, typed as the file types it.
#[derive(Debug, Clone, PartialEq)]
pub enum PValue {
    /// `IfcBoolean` / `IfcLogical` (`.U.` is left out).
    Bool(bool),
    /// Integers (`IfcInteger`, `IfcCountMeasure` written as an integer).
    Int(i64),
    /// Reals (measures, ratios), in the file's units.
    Real(f64),
    /// Labels, identifiers, texts, enumerations; lists joined with ", ".
    Text(String),
}

/// Relationship indexes over the whole file.
#[derive(Default)]
pub struct Relations {
    /// Element → the spatial structure containing it or the whole it is part of.
    parent: HashMap<u64, u64>,
    /// Storey id → (name, elevation in file units).
    pub storeys: HashMap<u64, (String, Option<f64>)>,
    /// Object → its type object.
    types: HashMap<u64, u64>,
    /// Object (occurrence or type) → property definitions.
    psets: HashMap<u64, Vec<u64>>,
    /// Object → material select.
    materials: HashMap<u64, u64>,
    /// Material → colour of its styled representation.
    material_colours: HashMap<u64, [u8; 4]>,
    /// Element → the openings voiding it.
    voids: HashMap<u64, Vec<u64>>,
}

fn each<'a>(v: &'a Value) -> impl Iterator<Item = u64> + 'a {
    let single = v.as_ref_id();
    v.as_list()
        .unwrap_or(&[])
        .iter()
        .filter_map(Value::as_ref_id)
        .chain(single)
}

impl Relations {
    /// Indexes the relationships of `f`. Broken relationship entities are skipped (they only lose the
    /// attribute they would have given).
    pub fn new(f: &StepFile) -> Relations {
        let mut r = Relations::default();
        let all = |ty: &str| {
            f.of_type(ty)
                .iter()
                .filter_map(|id| f.entity(*id, None).ok())
        };
        for e in all("IFCRELCONTAINEDINSPATIALSTRUCTURE") {
            if let Some(s) = e.get(5).as_ref_id() {
                for el in each(e.get(4)) {
                    r.parent.insert(el, s);
                }
            }
        }
        for ty in ["IFCRELAGGREGATES", "IFCRELNESTS"] {
            for e in all(ty) {
                if let Some(whole) = e.get(4).as_ref_id() {
                    for part in each(e.get(5)) {
                        r.parent.entry(part).or_insert(whole);
                    }
                }
            }
        }
        for e in all("IFCBUILDINGSTOREY") {
            r.storeys.insert(
                e.id,
                (e.opt_str(2).unwrap_or("").to_string(), e.get(9).as_f64()),
            );
        }
        for e in all("IFCRELDEFINESBYTYPE") {
            if let Some(t) = e.get(5).as_ref_id() {
                for o in each(e.get(4)) {
                    r.types.insert(o, t);
                }
            }
        }
        for e in all("IFCRELDEFINESBYPROPERTIES") {
            let defs: Vec<u64> = each(e.get(5)).collect();
            for o in each(e.get(4)) {
                r.psets.entry(o).or_default().extend(&defs);
            }
        }
        for e in all("IFCRELASSOCIATESMATERIAL") {
            if let Some(m) = e.get(5).as_ref_id() {
                for o in each(e.get(4)) {
                    r.materials.insert(o, m);
                }
            }
        }
        for e in all("IFCRELVOIDSELEMENT") {
            if let (Some(el), Some(o)) = (e.get(4).as_ref_id(), e.get(5).as_ref_id()) {
                r.voids.entry(el).or_default().push(o);
            }
        }
        for e in all("IFCMATERIALDEFINITIONREPRESENTATION") {
            let Some(m) = e.get(3).as_ref_id() else {
                continue;
            };
            'reps: for rep in each(e.get(2)) {
                let Ok(rep) = f.entity(rep, None) else {
                    continue;
                };
                for item in each(rep.get(3)) {
                    let Ok(item) = f.entity(item, None) else {
                        continue;
                    };
                    if let Some(c) = style_colour(f, item.get(1), 0) {
                        r.material_colours.insert(m, c);
                        break 'reps;
                    }
                }
            }
        }
        r
    }

    /// The storey a product is on: the first `IfcBuildingStorey` up its containment/aggregation chain.
    pub fn storey(&self, id: u64) -> Option<u64> {
        let mut cur = id;
        for _ in 0..64 {
            cur = *self.parent.get(&cur)?;
            if self.storeys.contains_key(&cur) {
                return Some(cur);
            }
        }
        None
    }

    /// The openings (`IfcOpeningElement`s) that void `id`.
    pub fn openings(&self, id: u64) -> &[u64] {
        self.voids.get(&id).map_or(&[], Vec::as_slice)
    }

    /// The type object's name.
    pub fn type_name(&self, f: &StepFile, id: u64) -> Option<String> {
        let t = f.entity(*self.types.get(&id)?, None).ok()?;
        t.opt_str(2).map(str::to_string)
    }

    /// The material select of the product, else of its type.
    fn material_of(&self, id: u64) -> Option<u64> {
        self.materials
            .get(&id)
            .or_else(|| self.types.get(&id).and_then(|t| self.materials.get(t)))
            .copied()
    }

    /// Material names (layers, constituents, profiles, lists), unique, in order, joined with ", ";
    /// with the colour of the first material that has a style.
    pub fn material(&self, f: &StepFile, id: u64) -> (Option<String>, Option<[u8; 4]>) {
        let Some(m) = self.material_of(id) else {
            return (None, None);
        };
        let mut ids = vec![];
        self.materials_in(f, m, &mut ids, 0);
        let mut names: Vec<String> = vec![];
        let mut colour = None;
        for mid in ids {
            if colour.is_none() {
                colour = self.material_colours.get(&mid).copied();
            }
            if let Ok(e) = f.entity(mid, None)
                && let Some(n) = e.opt_str(0)
                && !names.iter().any(|x| x == n)
            {
                names.push(n.to_string());
            }
        }
        ((!names.is_empty()).then(|| names.join(", ")), colour)
    }

    fn materials_in(&self, f: &StepFile, id: u64, out: &mut Vec<u64>, depth: usize) {
        if depth > 8 {
            return;
        }
        let Ok(e) = f.entity(id, None) else { return };
        let mut down = |v: &Value| {
            for c in each(v) {
                self.materials_in(f, c, out, depth + 1);
            }
        };
        match e.ty {
            "IFCMATERIAL" => out.push(id),
            "IFCMATERIALLAYERSETUSAGE"
            | "IFCMATERIALPROFILESETUSAGE"
            | "IFCMATERIALLAYER"
            | "IFCMATERIALLIST" => down(e.get(0)),
            "IFCMATERIALLAYERSET" => down(e.get(0)),
            "IFCMATERIALPROFILESET" | "IFCMATERIALCONSTITUENTSET" => down(e.get(2)),
            "IFCMATERIALPROFILE" | "IFCMATERIALCONSTITUENT" => down(e.get(2)),
            _ => {}
        }
    }

    /// Every property and quantity of a product as `(Set.Name, value)`: the type's sets first, then the
    /// occurrence's, which win.
    pub fn properties(&self, f: &StepFile, id: u64) -> Vec<(String, PValue)> {
        let mut defs: Vec<u64> = vec![];
        if let Some(t) = self.types.get(&id)
            && let Ok(te) = f.entity(*t, None)
        {
            defs.extend(each(te.get(5)));
            defs.extend(self.psets.get(t).into_iter().flatten());
        }
        defs.extend(self.psets.get(&id).into_iter().flatten());
        let mut out: Vec<(String, PValue)> = vec![];
        for d in defs {
            let Ok(set) = f.entity(d, None) else { continue };
            let set_name = set.opt_str(2).unwrap_or("").to_string();
            let (members, quantities) = match set.ty {
                "IFCPROPERTYSET" => (set.get(4), false),
                "IFCELEMENTQUANTITY" => (set.get(5), true),
                _ => continue,
            };
            for m in each(members) {
                let Ok(p) = f.entity(m, None) else { continue };
                let Some(name) = p.opt_str(0) else { continue };
                let value = if quantities {
                    match p.ty {
                        "IFCQUANTITYCOUNT" => match p.get(3) {
                            Value::Int(i) => Some(PValue::Int(*i)),
                            v => v.as_f64().map(PValue::Real),
                        },
                        t if t.starts_with("IFCQUANTITY") => p.get(3).as_f64().map(PValue::Real),
                        _ => None,
                    }
                } else {
                    match p.ty {
                        "IFCPROPERTYSINGLEVALUE" => value(p.get(2)),
                        "IFCPROPERTYENUMERATEDVALUE" | "IFCPROPERTYLISTVALUE" => {
                            let items: Vec<String> = p
                                .get(2)
                                .as_list()
                                .unwrap_or(&[])
                                .iter()
                                .filter_map(value)
                                .map(|v| match v {
                                    PValue::Text(s) => s,
                                    PValue::Bool(b) => b.to_string(),
                                    PValue::Int(i) => i.to_string(),
                                    PValue::Real(r) => r.to_string(),
                                })
                                .collect();
                            (!items.is_empty()).then(|| PValue::Text(items.join(", ")))
                        }
                        _ => None,
                    }
                };
                let Some(value) = value else { continue };
                let key = format!("{set_name}.{name}");
                match out.iter_mut().find(|(k, _)| *k == key) {
                    Some(slot) => slot.1 = value,
                    None => out.push((key, value)),
                }
            }
        }
        out
    }
}

/// A property's nominal value.
fn value(v: &Value) -> Option<PValue> {
    match v {
        Value::Typed(_, inner) => value(inner),
        Value::Enum(e) => match e.as_str() {
            "T" => Some(PValue::Bool(true)),
            "F" => Some(PValue::Bool(false)),
            "U" => None,
            other => Some(PValue::Text(other.to_string())),
        },
        Value::Int(i) => Some(PValue::Int(*i)),
        Value::Real(r) => r.is_finite().then_some(PValue::Real(*r)),
        Value::Str(s) => Some(PValue::Text(s.clone())),
        _ => None,
    }
}
