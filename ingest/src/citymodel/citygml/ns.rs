//! XML namespaces a CityGML reader has to tell apart. Files bind them to any prefix they like (`bldg:`,
//! `core:`, none at all), so the reader matches elements on namespace URI plus local name, never on
//! the prefix.

/// The namespace an element or attribute is in, reduced to what the reader needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ns {
    /// No namespace (an unprefixed attribute, or a document without a default namespace).
    None,
    /// CityGML core: `http://www.opengis.net/citygml/{1.0,2.0,3.0}`.
    Core,
    /// The building module: `…/citygml/building/{1.0,2.0,3.0}`.
    Bldg,
    /// The CityGML 3.0 construction module (`WallSurface`, `RoofSurface`, `opening`, … live here in 3.0).
    Con,
    /// The generics module: `…/citygml/generics/{1.0,2.0,3.0}`.
    Gen,
    /// The dynamizer module of CityGML 3.0 (time series, sensor links).
    Dyn,
    /// Any other CityGML module (appearance, relief, transportation, …).
    CityGmlOther,
    /// GML 3.1.1 (`http://www.opengis.net/gml`) or GML 3.2.
    Gml,
    /// OASIS xAL 2.0 (CityGML 1.0/2.0 addresses) or xAL 3 and its common types (CityGML 3.0).
    Xal,
    /// `http://www.w3.org/1999/xlink`.
    Xlink,
    /// XML Schema instance, XML itself and other W3C plumbing.
    W3c,
    /// Anything else: an Application Domain Extension such as the Swedish 3CIM ADE.
    Ade,
}

impl Ns {
    /// Classifies a namespace URI.
    pub(super) fn classify(uri: &[u8]) -> Ns {
        let Ok(uri) = std::str::from_utf8(uri) else {
            return Ns::Ade;
        };
        if let Some(rest) = uri.strip_prefix("http://www.opengis.net/citygml/") {
            return match rest.split('/').next().unwrap_or(rest) {
                "1.0" | "2.0" | "3.0" => Ns::Core,
                "building" => Ns::Bldg,
                "construction" => Ns::Con,
                "generics" => Ns::Gen,
                "dynamizer" => Ns::Dyn,
                _ => Ns::CityGmlOther,
            };
        }
        match uri {
            "http://www.opengis.net/gml" | "http://www.opengis.net/gml/3.2" => Ns::Gml,
            "http://www.w3.org/1999/xlink" => Ns::Xlink,
            _ if uri.starts_with("urn:oasis:names:tc:ciq:") => Ns::Xal,
            _ if uri.starts_with("http://www.w3.org/") => Ns::W3c,
            _ => Ns::Ade,
        }
    }

    /// Whether elements in this namespace carry CityGML feature properties (core, building or
    /// construction module): `lod2Solid`, `boundedBy`, `function`, …
    pub(super) fn is_feature_ns(self) -> bool {
        matches!(self, Ns::Core | Ns::Bldg | Ns::Con)
    }
}

/// The CityGML version a root namespace URI names: `"1.0"`, `"2.0"` or `"3.0"`.
pub(super) fn citygml_version(uri: &[u8]) -> Option<&'static str> {
    match uri {
        b"http://www.opengis.net/citygml/1.0" => Some("1.0"),
        b"http://www.opengis.net/citygml/2.0" => Some("2.0"),
        b"http://www.opengis.net/citygml/3.0" => Some("3.0"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_namespaces_of_all_three_versions_and_ades() {
        let cases: &[(&str, Ns)] = &[
            ("http://www.opengis.net/citygml/1.0", Ns::Core),
            ("http://www.opengis.net/citygml/3.0", Ns::Core),
            ("http://www.opengis.net/citygml/building/2.0", Ns::Bldg),
            ("http://www.opengis.net/citygml/construction/3.0", Ns::Con),
            ("http://www.opengis.net/citygml/generics/1.0", Ns::Gen),
            ("http://www.opengis.net/citygml/dynamizer/3.0", Ns::Dyn),
            (
                "http://www.opengis.net/citygml/appearance/2.0",
                Ns::CityGmlOther,
            ),
            ("http://www.opengis.net/gml", Ns::Gml),
            ("http://www.opengis.net/gml/3.2", Ns::Gml),
            ("urn:oasis:names:tc:ciq:xsdschema:xAL:2.0", Ns::Xal),
            ("urn:oasis:names:tc:ciq:xal:3", Ns::Xal),
            ("http://www.w3.org/1999/xlink", Ns::Xlink),
            ("http://www.w3.org/2001/XMLSchema-instance", Ns::W3c),
            ("https://www.3cim.se/ade/1.0", Ns::Ade),
        ];
        for (uri, want) in cases {
            assert_eq!(Ns::classify(uri.as_bytes()), *want, "{uri}");
        }
        assert_eq!(
            citygml_version(b"http://www.opengis.net/citygml/2.0"),
            Some("2.0")
        );
        assert_eq!(
            citygml_version(b"http://www.opengis.net/citygml/building/2.0"),
            None
        );
    }
}
