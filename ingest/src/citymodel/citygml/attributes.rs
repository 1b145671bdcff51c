//! The attributes of one city object, in document order: `gml:name` and `gml:description`, simple
//! core and building properties by local name, generic attributes (CityGML 1.0/2.0 `gen:*Attribute`
//! and 3.0 `genericAttribute`) with their types, the xAL 2.0 / xAL 3 address flattened to
//! `address.<Name>`, and the simple-text properties of any Application Domain Extension (the Swedish
//! 3CIM ADE: `objektUUID`, `status`, `validFrom`, …) by local name, so ADE attributes survive without
//! their schema.
//!
//! A property that occurs more than once (two `function`s, two names) becomes a JSON array in order.

use std::collections::BTreeMap;

use serde_json::Value;

use super::ns::Ns;
use super::xml::Node;

/// Core and building properties that are integers by the CityGML schemas.
const INTEGER_PROPERTIES: &[&str] = &[
    "yearOfConstruction",
    "yearOfDemolition",
    "storeysAboveGround",
    "storeysBelowGround",
];

/// What attribute reading learns about the file beyond the attributes themselves.
#[derive(Debug, Default)]
pub(super) struct AttrNotes {
    /// Unit of measure per attribute name (`measuredHeight` → `#m`), first one seen.
    pub(super) uom: BTreeMap<String, String>,
}

/// The attributes of `object` (a `Building` or `BuildingPart` node) in document order.
pub(super) fn collect(object: &Node, notes: &mut AttrNotes) -> Vec<(String, Value)> {
    let mut out = vec![];
    for c in &object.children {
        match c.ns() {
            Ns::Gml if matches!(c.local.as_str(), "name" | "description") => {
                push_text(&mut out, c.local.clone(), c);
            }
            Ns::Gen => generic_v2(c, "", &mut out, notes),
            Ns::Ade => ade(c, &mut out),
            ns if ns.is_feature_ns() => property(c, &mut out, notes),
            _ => {}
        }
    }
    out
}

/// A core, building or construction property.
fn property(c: &Node, out: &mut Vec<(String, Value)>, notes: &mut AttrNotes) {
    match c.local.as_str() {
        "genericAttribute" => {
            for g in &c.children {
                generic_v3(g, "", out, notes);
            }
        }
        "address" => address(c, out),
        // Time series and sensor links describe how values change, not the values; counted by
        // `building`, not read.
        "dynamizer" => {}
        "height" => height(c, out, notes),
        "externalReference" => leaves(c, "externalReference.", out),
        // CityGML 3.0 hangs ADE properties below `adeOf<Class>` hook elements.
        l if l.starts_with("adeOf") => {
            for a in &c.children {
                ade(a, out);
            }
        }
        // Complex properties (geometry, thematic surfaces, parts, rooms) are not attributes, and a bare
        // reference carries no value.
        _ if !c.children.is_empty() || c.trimmed().is_empty() => {}
        local => {
            let text = c.trimmed();
            let value = if let Some(uom) = c.attr(Ns::None, "uom") {
                notes
                    .uom
                    .entry(local.to_string())
                    .or_insert_with(|| uom.to_string());
                measure(text)
            } else if INTEGER_PROPERTIES.contains(&local) {
                typed(Kind::Int, text)
            } else {
                // Code-list values keep the code; the codeSpace names the list, not the value.
                Value::String(text.to_string())
            };
            push(out, local.to_string(), value);
        }
    }
}

/// The value types of generic attributes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    String,
    Int,
    Double,
    Date,
}

/// Converts `text` to `kind`; text that does not parse stays a string so no value is lost.
fn typed(kind: Kind, text: &str) -> Value {
    let t = text.trim();
    match kind {
        Kind::Int => t
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| t.into()),
        Kind::Double => t
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or_else(|| t.into(), Value::Number),
        // `xs:date` may carry a zone (`2017-01-23Z`); the model stores `YYYY-MM-DD`.
        Kind::Date => t
            .get(..10)
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .map_or_else(|| t.into(), |d| d.format("%Y-%m-%d").to_string().into()),
        Kind::String => t.into(),
    }
}

/// A measure: one number, or a list of numbers (`storeyHeightsAboveGround` is a list type).
fn measure(text: &str) -> Value {
    let parts: Vec<&str> = text.split_ascii_whitespace().collect();
    if parts.len() > 1 {
        let nums: Vec<Value> = parts.iter().map(|p| typed(Kind::Double, p)).collect();
        if nums.iter().all(Value::is_number) {
            return Value::Array(nums);
        }
        return text.into();
    }
    typed(Kind::Double, text)
}

/// CityGML 1.0/2.0 generic attributes: `<gen:intAttribute name="n"><gen:value>…</gen:value>`, and sets
/// flattened as `set.name`.
fn generic_v2(c: &Node, prefix: &str, out: &mut Vec<(String, Value)>, notes: &mut AttrNotes) {
    let name = c
        .attr(Ns::None, "name")
        .map(str::to_string)
        .or_else(|| c.child(Ns::Gen, "name").map(|n| n.trimmed().to_string()))
        .unwrap_or_else(|| c.local.clone());
    let key = format!("{prefix}{name}");
    let kind = match c.local.as_str() {
        "stringAttribute" | "uriAttribute" => Kind::String,
        "intAttribute" => Kind::Int,
        "doubleAttribute" | "measureAttribute" => Kind::Double,
        "dateAttribute" => Kind::Date,
        "genericAttributeSet" => {
            let prefix = format!("{key}.");
            for m in c.children.iter().filter(|m| m.ns() == Ns::Gen) {
                generic_v2(m, &prefix, out, notes);
            }
            return;
        }
        _ => return,
    };
    push_generic(c, key, kind, out, notes);
}

/// CityGML 3.0 generic attributes: `<gen:IntAttribute><gen:name>n</gen:name><gen:value>…`, and
/// `GenericAttributeSet`s flattened as `set.name`.
fn generic_v3(g: &Node, prefix: &str, out: &mut Vec<(String, Value)>, notes: &mut AttrNotes) {
    let name = g.child(Ns::Gen, "name").map(|n| n.trimmed().to_string());
    let key = format!("{prefix}{}", name.as_deref().unwrap_or(&g.local));
    let kind = match g.local.as_str() {
        "StringAttribute" | "UriAttribute" | "CodeAttribute" => Kind::String,
        "IntAttribute" => Kind::Int,
        "DoubleAttribute" | "MeasureAttribute" => Kind::Double,
        "DateAttribute" => Kind::Date,
        "GenericAttributeSet" => {
            let prefix = format!("{key}.");
            // Members sit in `gen:value` (or `genericAttribute`) property elements.
            for member in g
                .children
                .iter()
                .filter(|m| m.local != "name" && m.local != "codeSpace")
            {
                for attr in &member.children {
                    generic_v3(attr, &prefix, out, notes);
                }
            }
            return;
        }
        _ => return,
    };
    push_generic(g, key, kind, out, notes);
}

/// The `gen:value` of a generic attribute (both versions), typed, with its unit of measure noted.
fn push_generic(
    attribute: &Node,
    key: String,
    kind: Kind,
    out: &mut Vec<(String, Value)>,
    notes: &mut AttrNotes,
) {
    let Some(value) = attribute.child(Ns::Gen, "value") else {
        return;
    };
    if let Some(uom) = value.attr(Ns::None, "uom") {
        notes
            .uom
            .entry(key.clone())
            .or_insert_with(|| uom.to_string());
    }
    push(out, key, typed(kind, value.trimmed()));
}

/// CityGML 3.0 `con:height/con:Height`: the value (a measure) as `height`, its unit noted.
fn height(c: &Node, out: &mut Vec<(String, Value)>, notes: &mut AttrNotes) {
    for h in &c.children {
        if let Some(v) = h.children.iter().find(|v| v.local == "value") {
            if let Some(uom) = v.attr(Ns::None, "uom") {
                notes
                    .uom
                    .entry("height".into())
                    .or_insert_with(|| uom.to_string());
            }
            push(out, "height".into(), measure(v.trimmed()));
        }
    }
}

/// The xAL leaves of an address, flattened to `address.<Name>`. xAL 2.0 names its leaves
/// (`ThoroughfareName`, `PostalCodeNumber`); xAL 3 uses generic `NameElement`/`Number`/`Identifier`
/// leaves, which are named after their parent so both versions give the same keys
/// (`Thoroughfare/NameElement` → `ThoroughfareName`, `PostCode/Identifier` → `PostalCodeNumber`).
fn address(c: &Node, out: &mut Vec<(String, Value)>) {
    let mut stack: Vec<(&Node, &str)> = vec![(c, "")];
    let mut found = vec![];
    while let Some((node, parent)) = stack.pop() {
        // The address position (`multiPoint`) is geometry, not an attribute.
        if node.ns() == Ns::Gml {
            continue;
        }
        if node.children.is_empty() {
            if node.ns() == Ns::Xal && !node.trimmed().is_empty() {
                found.push((xal_key(node, parent), node.trimmed().to_string()));
            }
            continue;
        }
        // Pushed in reverse so they pop in document order.
        for child in node.children.iter().rev() {
            stack.push((child, node.local.as_str()));
        }
    }
    for (key, value) in found {
        push(out, format!("address.{key}"), Value::String(value));
    }
}

fn xal_key(leaf: &Node, parent: &str) -> String {
    match leaf.local.as_str() {
        "NameElement" => {
            let name_type = leaf
                .attr(Ns::Xal, "NameType")
                .or_else(|| leaf.attr(Ns::None, "NameType"));
            match name_type {
                None | Some("Name" | "NameOnly" | "NameAndType") => format!("{parent}Name"),
                // `ReferenceLocation` and the like are another name of the same thing, kept apart.
                Some(t) => format!("{parent}Name.{t}"),
            }
        }
        "Identifier" if parent == "PostCode" => "PostalCodeNumber".into(),
        "Number" | "Identifier" => format!("{parent}{}", leaf.local),
        other => other.to_string(),
    }
}

/// An ADE property: simple text becomes an attribute by local name; complex content is searched for
/// such leaves, skipping GML geometry.
fn ade(c: &Node, out: &mut Vec<(String, Value)>) {
    if c.ns() == Ns::Gml {
        return;
    }
    if c.children.is_empty() {
        if !c.trimmed().is_empty() {
            push_text(out, c.local.clone(), c);
        }
        return;
    }
    for child in &c.children {
        ade(child, out);
    }
}

/// Every text leaf below `c` as `<prefix><LocalName>`.
fn leaves(c: &Node, prefix: &str, out: &mut Vec<(String, Value)>) {
    for child in &c.children {
        if child.children.is_empty() {
            if !child.trimmed().is_empty() {
                push_text(out, format!("{prefix}{}", child.local), child);
            }
        } else {
            leaves(child, prefix, out);
        }
    }
}

fn push_text(out: &mut Vec<(String, Value)>, key: String, node: &Node) {
    push(out, key, Value::String(node.trimmed().to_string()));
}

/// Adds `key`; a repeated key turns into an array of its values in order.
fn push(out: &mut Vec<(String, Value)>, key: String, value: Value) {
    match out.iter_mut().find(|(k, _)| *k == key) {
        Some((_, Value::Array(values))) if !value.is_array() => values.push(value),
        Some((_, existing)) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => out.push((key, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_generic_values_and_keeps_unparseable_text() {
        let cases = [
            (Kind::Int, "42", json!(42)),
            (Kind::Int, "4.2", json!("4.2")),
            (Kind::Double, " 6.52 ", json!(6.52)),
            (Kind::Double, "NaN", json!("NaN")),
            (Kind::Date, "2017-01-23", json!("2017-01-23")),
            (Kind::Date, "2017-01-23T00:00:00", json!("2017-01-23")),
            (Kind::Date, "yesterday", json!("yesterday")),
            (Kind::String, "1000", json!("1000")),
        ];
        for (kind, text, want) in cases {
            assert_eq!(typed(kind, text), want, "{kind:?} {text}");
        }
        assert_eq!(measure("3.0 2.5"), json!([3.0, 2.5]));
    }

    #[test]
    fn repeated_properties_become_arrays() {
        let mut out = vec![];
        push(&mut out, "function".into(), json!("1000"));
        push(&mut out, "function".into(), json!("2000"));
        push(&mut out, "function".into(), json!("3000"));
        assert_eq!(
            out,
            vec![("function".to_string(), json!(["1000", "2000", "3000"]))]
        );
    }
}
