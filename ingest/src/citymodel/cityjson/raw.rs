//! The serde layer: the parts of a CityJSON document (or CityJSONSeq line) the reader uses, read straight
//! from the byte stream into compact, lenient types.
//!
//! Why not `serde_json::Value` for everything: serde_json is built without `preserve_order` here, so a
//! `Value` object forgets the order of city objects and attributes, which the model promises to keep; and a
//! `Value` costs 32 bytes per vertex index, where [`Tokens`] costs 4. Why lenient: a single city object
//! with a wrong-typed member must become an issue on that object, not a failed file, so every type below
//! accepts any JSON and notes what it could not use instead of returning a serde error. Only structural
//! problems of the document itself (malformed JSON, `CityObjects` not an object, a duplicated member)
//! fail the parse.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The city object types that become [`CityObject`](super::super::model::CityObject)s; every other type is
/// only counted.
pub(super) const KEPT_TYPES: &[&str] = &["Building", "BuildingPart"];

/// A CityJSON document, a CityJSONSeq header line or a `CityJSONFeature` line. Members the reader does not
/// use (`appearance`, `extensions`, …) are skipped without being stored.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Document {
    /// `CityJSON` or `CityJSONFeature`.
    #[serde(rename = "type")]
    pub kind: Value,
    /// `"1.0"`, `"1.1"`, `"2.0"`.
    pub version: Value,
    /// The metadata block as written (small: extent, reference system, dates).
    pub metadata: Value,
    /// `{"scale": [..3], "translate": [..3]}` when vertices are integers.
    pub transform: Value,
    /// The city objects in source order.
    #[serde(rename = "CityObjects")]
    pub city_objects: CityObjects,
    /// The vertices as written (transform not yet applied).
    pub vertices: Vertices,
    /// Geometry templates for `GeometryInstance`s.
    #[serde(rename = "geometry-templates")]
    pub templates: Lenient<Templates>,
}

/// `geometry-templates`: template geometries and their own vertices (real coordinates, never transformed).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Templates {
    /// The templates, by index.
    pub templates: Geometries,
    /// Their vertices.
    #[serde(rename = "vertices-templates")]
    pub vertices: Vertices,
}

/// One city object. Objects of types not in [`KEPT_TYPES`] are read with geometry, attributes and address
/// dropped as soon as they are parsed, so a file full of terrain or vegetation does not hold that in memory.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawObject {
    /// `Building`, `Road`, …
    #[serde(rename = "type")]
    pub kind: Value,
    /// Ids of the objects this one belongs to.
    pub parents: Value,
    /// Ids of this object's parts.
    pub children: Value,
    /// Attributes, flattened.
    pub attributes: Attributes,
    /// Geometries.
    pub geometry: Geometries,
    /// CityJSON 2.0 `address` (an array of address objects).
    pub address: Value,
}

impl RawObject {
    /// The object's type when it is a string.
    pub fn kind(&self) -> Option<&str> {
        self.kind.as_str()
    }

    /// Whether the object becomes a row.
    pub fn is_kept(&self) -> bool {
        self.kind().is_some_and(|k| KEPT_TYPES.contains(&k))
    }
}

/// One geometry object; every member is read leniently and checked when the geometry is flattened.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawGeometry {
    /// `MultiSurface`, `Solid`, `GeometryInstance`, …
    #[serde(rename = "type")]
    pub kind: Value,
    /// A string in 1.1/2.0, a number in 1.0; absent on a `GeometryInstance`.
    pub lod: Value,
    /// Nested arrays of vertex indices.
    pub boundaries: Tokens,
    /// Semantic surfaces and the per-surface indices into them.
    pub semantics: Lenient<RawSemantics>,
    /// The template index of a `GeometryInstance`.
    pub template: Value,
    /// The 4x4 row-major matrix of a `GeometryInstance`.
    #[serde(rename = "transformationMatrix")]
    pub matrix: Value,
}

/// `semantics` of a geometry.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RawSemantics {
    /// Semantic surface objects (`{"type": "RoofSurface", …}`).
    pub surfaces: Value,
    /// Indices into `surfaces`, nested like the boundaries without the ring levels; `null` allowed.
    pub values: Tokens,
}

/// Generates the `visit_*` methods for JSON scalars that a lenient visitor does not want, returning
/// `$value` for each (and `$null` for `null`, `$value` when not given).
macro_rules! accept_scalars {
    ($value:expr) => {
        accept_scalars!($value, $value);
    };
    ($value:expr, $null:expr) => {
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($null)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok($null)
        }
    };
}

/// Reads the rest of an unwanted array so the parser can go on.
fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Reads the rest of an unwanted object so the parser can go on.
fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A JSON object read as `T`; anything else (array, string, null, …) reads as `None`.
pub(super) struct Lenient<T>(pub Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for V<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            accept_scalars!(Lenient(None));
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq)?;
                Ok(Lenient(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| Lenient(Some(t)))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// `CityObjects` as `(id, object)` pairs in source order. An object that is not a JSON object reads as
/// `None` (the converter rejects it with an issue).
#[derive(Default)]
pub(super) struct CityObjects(pub Vec<(String, Option<RawObject>)>);

impl<'de> Deserialize<'de> for CityObjects {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CityObjects;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object of city objects keyed by id")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(CityObjects::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(id) = map.next_key::<String>()? {
                    let Lenient(mut obj) = map.next_value::<Lenient<RawObject>>()?;
                    // Drop what will never be used right away: peak memory is the point.
                    if let Some(o) = obj.as_mut().filter(|o| !o.is_kept()) {
                        o.geometry = Geometries::default();
                        o.attributes = Attributes::default();
                        o.address = Value::Null;
                    }
                    out.push((id, obj));
                }
                Ok(CityObjects(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// `attributes`, flattened: nested objects become `parent.child` keys, in source order.
#[derive(Default)]
pub(super) struct Attributes {
    /// The flattened pairs.
    pub pairs: Vec<(String, Value)>,
    /// The member was there but not a JSON object (it is then left out with an issue).
    pub invalid: bool,
}

impl<'de> Deserialize<'de> for Attributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Attributes;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object of attributes")
            }
            accept_scalars!(
                Attributes {
                    pairs: vec![],
                    invalid: true
                },
                Attributes::default()
            );
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq)?;
                Ok(Attributes {
                    pairs: vec![],
                    invalid: true,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = vec![];
                flatten_map(map, "", &mut pairs)?;
                Ok(Attributes {
                    pairs,
                    invalid: false,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads the entries of one (possibly nested) attribute object into `out` with `prefix.` before each key.
fn flatten_map<'de, A: MapAccess<'de>>(
    mut map: A,
    prefix: &str,
    out: &mut Vec<(String, Value)>,
) -> Result<(), A::Error> {
    while let Some(key) = map.next_key::<String>()? {
        let name = if prefix.is_empty() {
            key
        } else {
            format!("{prefix}.{key}")
        };
        map.next_value_seed(Flatten {
            name,
            out: &mut *out,
        })?;
    }
    Ok(())
}

/// One attribute value: objects recurse into [`flatten_map`], everything else is pushed as a `Value`.
struct Flatten<'a> {
    name: String,
    out: &'a mut Vec<(String, Value)>,
}

impl Flatten<'_> {
    fn push(self, v: Value) {
        self.out.push((self.name, v));
    }
}

impl<'de> DeserializeSeed<'de> for Flatten<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Flatten<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an attribute value")
    }
    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<(), E> {
        self.push(Value::Bool(v));
        Ok(())
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        self.push(Value::from(v));
        Ok(())
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        self.push(Value::from(v));
        Ok(())
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<(), E> {
        self.push(Value::from(v));
        Ok(())
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<(), E> {
        self.push(Value::from(v));
        Ok(())
    }
    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<(), E> {
        self.push(Value::String(v));
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.push(Value::Null);
        Ok(())
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.push(Value::Null);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        // Arrays stay JSON arrays (objects inside them keep serde_json's key order, not the source's).
        let v = Value::deserialize(SeqAccessDeserializer::new(seq))?;
        self.push(v);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let before = self.out.len();
        flatten_map(map, &self.name, self.out)?;
        // An empty object flattens to nothing; keep it as `{}` so the attribute is not lost silently.
        if self.out.len() == before {
            self.out
                .push((self.name, Value::Object(serde_json::Map::new())));
        }
        Ok(())
    }
}

/// `geometry`: an array of geometry objects; entries that are not objects read as `None`.
#[derive(Default)]
pub(super) struct Geometries {
    /// The geometries in source order.
    pub items: Vec<Option<RawGeometry>>,
    /// The member was there but not an array.
    pub invalid: bool,
}

impl<'de> Deserialize<'de> for Geometries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Geometries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of geometry objects")
            }
            accept_scalars!(
                Geometries {
                    items: vec![],
                    invalid: true
                },
                Geometries::default()
            );
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map)?;
                Ok(Geometries {
                    items: vec![],
                    invalid: true,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = vec![];
                while let Some(Lenient(g)) = seq.next_element::<Lenient<RawGeometry>>()? {
                    items.push(g);
                }
                Ok(Geometries {
                    items,
                    invalid: false,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// Nested arrays of small non-negative integers (vertex indices, semantic indices) as a flat token stream:
/// [`Tokens::OPEN`] and [`Tokens::CLOSE`] bracket each array, [`Tokens::NULL`] stands for `null`,
/// [`Tokens::BAD`] for anything that is not an index; every other value is the index itself. Four bytes a
/// vertex index is what lets a file of hundreds of MB fit in memory; [`super::geometry`] turns one
/// geometry's tokens into a tree when it flattens it.
#[derive(Default, Debug, PartialEq)]
pub(super) struct Tokens(pub Vec<u32>);

impl Tokens {
    /// Opens an array.
    pub const OPEN: u32 = u32::MAX;
    /// Closes an array.
    pub const CLOSE: u32 = u32::MAX - 1;
    /// `null`.
    pub const NULL: u32 = u32::MAX - 2;
    /// A value that is no index (negative, fractional, text, object, or too large).
    pub const BAD: u32 = u32::MAX - 3;
}

impl<'de> Deserialize<'de> for Tokens {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = vec![];
        d.deserialize_any(TokenSeed(&mut out))?;
        // A member that is absent or not an array is treated as missing.
        if out.first() != Some(&Tokens::OPEN) {
            out.clear();
        }
        Ok(Tokens(out))
    }
}

/// Appends one JSON value to a token stream (arrays recurse; serde_json's recursion limit of 128 bounds
/// the depth).
struct TokenSeed<'a>(&'a mut Vec<u32>);

impl<'de> DeserializeSeed<'de> for TokenSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TokenSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("nested arrays of indices")
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<(), E> {
        let t = u32::try_from(v)
            .ok()
            .filter(|t| *t < Tokens::BAD)
            .unwrap_or(Tokens::BAD);
        self.0.push(t);
        Ok(())
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<(), E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => {
                self.0.push(Tokens::BAD);
                Ok(())
            }
        }
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.0.push(Tokens::BAD);
        Ok(())
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.0.push(Tokens::BAD);
        Ok(())
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        self.0.push(Tokens::BAD);
        Ok(())
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.0.push(Tokens::NULL);
        Ok(())
    }
    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.0.push(Tokens::NULL);
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        drain_map(map)?;
        self.0.push(Tokens::BAD);
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.push(Tokens::OPEN);
        while seq.next_element_seed(TokenSeed(&mut *self.0))?.is_some() {}
        self.0.push(Tokens::CLOSE);
        Ok(())
    }
}

/// `vertices` as written. A vertex that is not three numbers reads as NaN so that rings using it are
/// dropped with an issue, and the indices of all later vertices stay right.
#[derive(Default)]
pub(super) struct Vertices(pub Vec<[f64; 3]>);

/// The placeholder for a vertex that is not three numbers.
pub(super) const BAD_VERTEX: [f64; 3] = [f64::NAN; 3];

impl<'de> Deserialize<'de> for Vertices {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vertices;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of vertices")
            }
            accept_scalars!(Vertices::default());
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map)?;
                Ok(Vertices::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(Vertex(v)) = seq.next_element::<Vertex>()? {
                    out.push(v);
                }
                Ok(Vertices(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// One vertex: three numbers, or [`BAD_VERTEX`].
struct Vertex([f64; 3]);

impl<'de> Deserialize<'de> for Vertex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vertex;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a vertex [x, y, z]")
            }
            accept_scalars!(Vertex(BAD_VERTEX));
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map)?;
                Ok(Vertex(BAD_VERTEX))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut p = [f64::NAN; 3];
                let mut n = 0usize;
                while let Some(c) = seq.next_element::<Value>()? {
                    if let Some(slot) = p.get_mut(n) {
                        *slot = c.as_f64().unwrap_or(f64::NAN);
                    }
                    n += 1;
                }
                Ok(Vertex(if n == 3 { p } else { BAD_VERTEX }))
            }
        }
        d.deserialize_any(V)
    }
}
