//! CityGML reader: CityGML 1.0, 2.0 and 3.0 files (with xAL addresses, generic attributes and the
//! simple-text properties of ADEs such as the Swedish 3CIM ADE) → [`CityModel`], one [`CityObject`]
//! per `Building` and `BuildingPart`.
//!
//! The file is streamed with quick-xml: only one building at a time is held, as a small tree, so files
//! of several gigabytes read in constant memory. Elements are matched on namespace URI and local name,
//! never on prefixes.
//!
//! - [`xml`]: the streaming layer, and the byte/line positions in error messages.
//! - [`ns`]: which namespace is which (CityGML modules of all versions, GML, xAL, ADEs).
//! - [`reader`]: the `CityModel` root, the envelope's CRS and the stream of `cityObjectMember`s.
//! - [`building`]: one building subtree → objects for the building and its parts.
//! - [`geometry`]: GML surfaces per LOD, `xlink:href` resolution, checks on rings.
//! - [`attributes`]: names, properties, generic attributes, addresses, ADE properties.
//!
//! [`CityObject`]: super::model::CityObject

use std::path::Path;

use tvilling_core::progress::Progress;

use super::model::CityModel;
use crate::Result;

mod attributes;
mod building;
mod geometry;
mod ns;
mod reader;
mod xml;

/// Reads a CityGML 1.0/2.0/3.0 file.
///
/// Buildings and building parts become objects (parts carry `parent_id`); every city object type in the
/// file is counted in `object_types`. The CRS comes from the model envelope's `srsName`, else from the
/// first geometry's; `crs_declared` keeps the text even when tvilling cannot read it (`crs` is then
/// `None` and the caller asks for `--crs`). Coordinates stay in that CRS; 2D rings get z = 0 and the
/// metadata says `"2d": true`.
///
/// Broken polygons (odd-length `posList`, fewer than three distinct vertices, non-finite or absurd
/// coordinates, references to nothing) are dropped with an issue naming the object and polygon.
///
/// # Errors
///
/// [`Error::BadInput`](crate::Error::BadInput), naming the file, byte offset and line, for malformed
/// XML, a truncated or empty file and a file whose root is not a CityGML `CityModel`; I/O errors when the
/// file cannot be read.
pub fn read_citygml(path: &Path, progress: &dyn Progress) -> Result<CityModel> {
    reader::read(path, progress)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::PathBuf;

    use serde_json::{Value, json};
    use tvilling_core::progress::NoProgress;

    use super::*;
    use crate::citymodel::model::{CityObject, SurfaceType};

    fn sample(test: &str, name: &str) -> Option<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/citygml");
        let path = dir.join(name);
        if path.exists() {
            Some(path)
        } else {
            eprintln!("skipped {test}: ../shared/data not present");
            None
        }
    }

    fn read_str(xml: &str) -> (tempfile::TempDir, Result<CityModel>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snippet.gml");
        std::fs::write(&path, xml).unwrap();
        let model = read_citygml(&path, &NoProgress);
        (dir, model)
    }

    fn attr<'a>(o: &'a CityObject, key: &str) -> Option<&'a Value> {
        o.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Polygons per semantic type over all objects and LODs.
    fn semantic_counts(m: &CityModel) -> BTreeMap<Option<SurfaceType>, usize> {
        let mut counts = BTreeMap::new();
        for s in m.objects.iter().flat_map(|o| o.lods.values().flatten()) {
            *counts.entry(s.semantic).or_default() += 1;
        }
        counts
    }

    fn crs(m: &CityModel) -> Option<String> {
        m.crs.as_ref().map(ToString::to_string)
    }

    const SNIPPET_HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<core:CityModel xmlns:core="http://www.opengis.net/citygml/2.0"
  xmlns:bldg="http://www.opengis.net/citygml/building/2.0" xmlns:gml="http://www.opengis.net/gml"
  xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:cim="https://www.3cim.se/ade/1.0">
 <gml:boundedBy><gml:Envelope srsName="EPSG:3006" srsDimension="3"/></gml:boundedBy>"#;

    #[test]
    fn reads_berlin_citygml1_buildings_with_semantic_surfaces() {
        let Some(path) = sample(
            "reads_berlin_citygml1_buildings_with_semantic_surfaces",
            "berlin_open_data_sample_data.citygml",
        ) else {
            return;
        };
        let m = read_citygml(&path, &NoProgress).unwrap();
        assert_eq!(m.objects.len(), 61);
        assert!(
            m.objects
                .iter()
                .all(|o| o.object_type == "Building" && o.parent_id.is_none())
        );
        assert_eq!(m.object_types.get("Building"), Some(&61));
        assert_eq!(crs(&m).as_deref(), Some("EPSG:25833"));
        assert_eq!(m.crs_declared.as_deref(), Some("EPSG:25833"));
        assert_eq!(m.metadata["version"], "1.0");
        assert_eq!(m.metadata["lods"], json!(["2"]));
        let counts = semantic_counts(&m);
        assert_eq!(counts.get(&Some(SurfaceType::Ground)), Some(&83));
        assert_eq!(counts.get(&Some(SurfaceType::Wall)), Some(&793));
        assert_eq!(counts.get(&Some(SurfaceType::Roof)), Some(&249));
        assert_eq!(counts.get(&None), None);
        assert_eq!(attr(&m.objects[0], "roofType"), Some(&json!("1130")));
        assert!(m.issues.is_empty(), "{:?}", m.issues);
    }

    #[test]
    fn citygml2_and_citygml3_give_the_same_lod2_building() {
        let t = "citygml2_and_citygml3_give_the_same_lod2_building";
        let (Some(p2), Some(p3)) = (
            sample(t, "Building_LOD2-EPSG25832_citygml2.gml"),
            sample(t, "Building_LOD2-EPSG25832_citygml3.gml"),
        ) else {
            return;
        };
        let m2 = read_citygml(&p2, &NoProgress).unwrap();
        let m3 = read_citygml(&p3, &NoProgress).unwrap();
        for m in [&m2, &m3] {
            assert_eq!(m.objects.len(), 1);
            assert_eq!(crs(m).as_deref(), Some("EPSG:25832+5783"));
            assert_eq!(m.object_types.get("ReliefFeature"), Some(&1));
            assert!(m.issues.is_empty(), "{:?}", m.issues);
        }
        assert_eq!(m2.metadata["version"], "2.0");
        assert_eq!(m3.metadata["version"], "3.0");
        let counts = semantic_counts(&m2);
        assert_eq!(counts, semantic_counts(&m3));
        assert_eq!(counts.get(&Some(SurfaceType::Wall)), Some(&4));
        assert_eq!(counts.get(&Some(SurfaceType::Roof)), Some(&2));
        assert_eq!(counts.get(&Some(SurfaceType::Ground)), Some(&1));
        assert_eq!(
            counts.get(&None),
            None,
            "the solid's references add no second copy"
        );
        let vertices = |m: &CityModel| -> BTreeSet<[u64; 3]> {
            let o = &m.objects[0];
            o.lods
                .values()
                .flatten()
                .flat_map(|s| s.rings.iter().flatten())
                .map(|p| p.map(f64::to_bits))
                .collect()
        };
        assert_eq!(vertices(&m2), vertices(&m3));

        let b = &m2.objects[0];
        assert_eq!(b.id, "GML_7b1a5a6f-ddad-4c3d-a507-3eb9ee0a8e68");
        assert_eq!(attr(b, "yearOfConstruction"), Some(&json!(1985)));
        assert_eq!(attr(b, "measuredHeight"), Some(&json!(5.0)));
        assert_eq!(attr(b, "function"), Some(&json!("1000")));
        assert_eq!(m2.metadata["uom"]["measuredHeight"], "#m");
    }

    #[test]
    fn reads_lod3_windows_and_doors_without_double_counting_the_solid() {
        let Some(path) = sample(
            "reads_lod3_windows_and_doors_without_double_counting_the_solid",
            "Building_LOD3-EPSG25832_citygml2.gml",
        ) else {
            return;
        };
        let m = read_citygml(&path, &NoProgress).unwrap();
        assert_eq!(m.objects.len(), 1);
        let counts = semantic_counts(&m);
        assert_eq!(counts.get(&Some(SurfaceType::Window)), Some(&2));
        assert_eq!(counts.get(&Some(SurfaceType::Door)), Some(&1));
        assert_eq!(counts.get(&Some(SurfaceType::Wall)), Some(&16));
        assert_eq!(counts.get(&Some(SurfaceType::Roof)), Some(&4));
        assert_eq!(counts.get(&None), None);
        assert_eq!(m.metadata["lods"], json!(["3"]));
        let b = &m.objects[0];
        assert_eq!(
            attr(b, "address.ThoroughfareName"),
            Some(&json!("Hermann-von-Helmholtz-Platz"))
        );
        assert_eq!(attr(b, "address.CountryName"), Some(&json!("Germany")));
    }

    #[test]
    fn reads_fzk_haus_lod0_footprint_and_roof_edge_with_adv_crs() {
        let Some(path) = sample(
            "reads_fzk_haus_lod0_footprint_and_roof_edge_with_adv_crs",
            "FZK-Haus-LoD0-KIT-IAI-KHH-B36-V1.gml",
        ) else {
            return;
        };
        let m = read_citygml(&path, &NoProgress).unwrap();
        assert_eq!(m.objects.len(), 1);
        assert_eq!(
            m.crs_declared.as_deref(),
            Some("urn:adv:crs:ETRS89_UTM32*DE_DHHN92_NH")
        );
        assert_eq!(crs(&m).as_deref(), Some("EPSG:25832+5783"));
        let b = &m.objects[0];
        let lod0 = &b.lods["0"];
        assert_eq!(lod0.len(), 2, "footprint and roof edge");
        assert!(
            lod0.iter()
                .all(|s| s.rings[0].iter().all(|p| p[2] == 111.8))
        );
        assert_eq!(m.metadata.get("2d"), None);
        assert_eq!(attr(b, "GrossPlannedArea"), Some(&json!(120.0)));
        assert_eq!(attr(b, "ConstructionMethod"), Some(&json!("New Building")));
        assert_eq!(attr(b, "storeysAboveGround"), Some(&json!(2)));
        assert_eq!(attr(b, "measuredHeight"), Some(&json!(6.52)));
        assert_eq!(attr(b, "creationDate"), Some(&json!("2017-01-23")));
        assert_eq!(
            attr(b, "address.ThoroughfareName"),
            Some(&json!("Spöcker Straße"))
        );
        assert_eq!(
            attr(b, "address.LocalityName"),
            Some(&json!("Eggenstein-Leopoldshafen"))
        );
        assert_eq!(attr(b, "address.PostalCodeNumber"), Some(&json!("76344")));
        assert_eq!(m.metadata["uom"]["GrossPlannedArea"], "m2");
        // Document order: description and name come before the properties.
        assert_eq!(b.attributes[0].0, "description");
    }

    #[test]
    fn reads_lyon_opera_citygml3_with_xal3_address() {
        let Some(path) = sample(
            "reads_lyon_opera_citygml3_with_xal3_address",
            "Opera-Lyon_CityGML3.0_LOD2_with_xAL3_FullyStructured.gml",
        ) else {
            return;
        };
        let m = read_citygml(&path, &NoProgress).unwrap();
        assert_eq!(m.objects.len(), 1);
        assert_eq!(crs(&m).as_deref(), Some("EPSG:3946"));
        let b = &m.objects[0];
        assert_eq!(b.id, "OPERA_LYON_45");
        assert_eq!(attr(b, "address.CountryName"), Some(&json!("France")));
        assert_eq!(attr(b, "address.LocalityName"), Some(&json!("Lyon")));
        assert_eq!(
            attr(b, "address.ThoroughfareName"),
            Some(&json!("Place de la Comédie"))
        );
        assert_eq!(
            attr(b, "address.ThoroughfareName.ReferenceLocation"),
            Some(&json!("Opéra National de Lyon"))
        );
        assert_eq!(attr(b, "address.ThoroughfareNumber"), Some(&json!("1")));
        assert_eq!(attr(b, "address.PostalCodeNumber"), Some(&json!("69001")));
        let counts = semantic_counts(&m);
        assert_eq!(counts.get(&Some(SurfaceType::Roof)), Some(&63));
        assert_eq!(counts.get(&Some(SurfaceType::Ground)), Some(&162));
        assert_eq!(counts.get(&Some(SurfaceType::Wall)), Some(&2052));
        // Two polygons with degenerate exteriors are dropped, each with an issue naming it.
        let dropped: Vec<_> = m
            .issues
            .iter()
            .filter(|i| i.reason.contains("dropped: exterior"))
            .collect();
        assert_eq!(dropped.len(), 2, "{:?}", m.issues);
        assert!(dropped.iter().all(
            |i| i.id.as_deref() == Some("OPERA_LYON_45") && i.reason.contains("Polygon UUID_")
        ));
    }

    #[test]
    fn reads_citygml3_dynamizer_samples_and_skips_the_time_series() {
        let t = "reads_citygml3_dynamizer_samples_and_skips_the_time_series";
        for name in [
            "Building_CityGML3.0_with_Dynamizer_and_inline_Timeseries.gml",
            "Building_CityGML3.0_with_Dynamizer_and_SensorConnection_V1.gml",
        ] {
            let Some(path) = sample(t, name) else { return };
            let m = read_citygml(&path, &NoProgress).unwrap();
            assert_eq!(m.objects.len(), 1, "{name}");
            assert_eq!(crs(&m).as_deref(), Some("EPSG:31468+5783"), "{name}");
            assert_eq!(m.metadata["dynamizers_skipped"], 1, "{name}");
            let b = &m.objects[0];
            assert_eq!(
                attr(b, "address.LocalityName"),
                Some(&json!("Moosach")),
                "{name}"
            );
            assert_eq!(attr(b, "function"), Some(&json!("31001_9998")), "{name}");
            // The roof surface's and room's generic attributes are theirs, not the building's.
            assert_eq!(attr(b, "diffuse_irradiation"), None, "{name}");
            assert_eq!(attr(b, "temperature"), None, "{name}");
            assert!(
                b.lods["2"]
                    .iter()
                    .any(|s| s.semantic == Some(SurfaceType::Roof)),
                "{name}"
            );
        }
    }

    #[test]
    fn keeps_3cim_ade_attributes_without_a_schema() {
        let xml = format!(
            r#"{SNIPPET_HEAD}
 <core:cityObjectMember>
  <bldg:Building gml:id="b1">
   <gml:name>Stadshuset</gml:name>
   <cim:objektUUID>4f0c4a4e-1111-2222-3333-444455556666</cim:objektUUID>
   <cim:status codeSpace="https://www.3cim.se/codelist/status">befintlig</cim:status>
   <cim:validFrom>2021-05-01T00:00:00</cim:validFrom>
   <cim:klassning><cim:Klassning><cim:coClassKod>B11</cim:coClassKod></cim:Klassning></cim:klassning>
   <bldg:function>bostad</bldg:function>
  </bldg:Building>
 </core:cityObjectMember>
</core:CityModel>"#
        );
        let (_dir, m) = read_str(&xml);
        let m = m.unwrap();
        let b = &m.objects[0];
        let keys: Vec<&str> = b.attributes.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "name",
                "objektUUID",
                "status",
                "validFrom",
                "coClassKod",
                "function"
            ]
        );
        assert_eq!(attr(b, "status"), Some(&json!("befintlig")));
        assert_eq!(attr(b, "validFrom"), Some(&json!("2021-05-01T00:00:00")));
        assert_eq!(crs(&m).as_deref(), Some("EPSG:3006"));
    }

    #[test]
    fn building_parts_get_their_parent_and_missing_ids_are_generated() {
        let xml = format!(
            r#"{SNIPPET_HEAD}
 <core:cityObjectMember>
  <bldg:Building>
   <bldg:consistsOfBuildingPart>
    <bldg:BuildingPart gml:id="p1">
     <bldg:lod1Solid><gml:Solid><gml:exterior><gml:CompositeSurface><gml:surfaceMember>
      <gml:Polygon><gml:exterior><gml:LinearRing><gml:posList>0 0 0 1 0 0 1 1 0 0 0 0</gml:posList>
      </gml:LinearRing></gml:exterior></gml:Polygon>
     </gml:surfaceMember></gml:CompositeSurface></gml:exterior></gml:Solid></bldg:lod1Solid>
    </bldg:BuildingPart>
   </bldg:consistsOfBuildingPart>
  </bldg:Building>
 </core:cityObjectMember>
 <core:cityObjectMember><frn:CityFurniture xmlns:frn="http://www.opengis.net/citygml/cityfurniture/2.0"/></core:cityObjectMember>
</core:CityModel>"#
        );
        let (_dir, m) = read_str(&xml);
        let m = m.unwrap();
        assert_eq!(m.objects.len(), 2);
        let (b, p) = (&m.objects[0], &m.objects[1]);
        assert_eq!(b.id, "snippet-1");
        assert!(b.lods.is_empty(), "the part's solid is the part's");
        assert_eq!(
            (p.id.as_str(), p.object_type.as_str()),
            ("p1", "BuildingPart")
        );
        assert_eq!(p.parent_id.as_deref(), Some("snippet-1"));
        assert_eq!(p.lods["1"].len(), 1);
        assert_eq!(m.issues.len(), 1);
        assert!(m.issues[0].reason.contains("no gml:id"));
        let types: Vec<_> = m
            .object_types
            .iter()
            .map(|(k, v)| (k.as_str(), *v))
            .collect();
        assert_eq!(
            types,
            [("Building", 1), ("BuildingPart", 1), ("CityFurniture", 1)]
        );
    }

    #[test]
    fn keeps_an_unreadable_srs_name_and_flags_2d_rings() {
        let xml = r#"<CityModel xmlns="http://www.opengis.net/citygml/3.0" xmlns:gml="http://www.opengis.net/gml/3.2"
            xmlns:bldg="http://www.opengis.net/citygml/building/3.0">
          <cityObjectMember><bldg:Building gml:id="b"><lod0MultiSurface>
            <gml:MultiSurface srsName="local grid" srsDimension="2"><gml:surfaceMember><gml:Polygon>
              <gml:exterior><gml:LinearRing><gml:posList>0 0 4 0 4 4 0 0</gml:posList></gml:LinearRing></gml:exterior>
            </gml:Polygon></gml:surfaceMember></gml:MultiSurface>
          </lod0MultiSurface></bldg:Building></cityObjectMember></CityModel>"#;
        let (_dir, m) = read_str(xml);
        let m = m.unwrap();
        assert_eq!(m.crs, None);
        assert_eq!(m.crs_declared.as_deref(), Some("local grid"));
        assert_eq!(m.metadata["2d"], true);
        assert_eq!(m.objects[0].lods["0"][0].rings[0][1], [4.0, 0.0, 0.0]);
    }

    #[test]
    fn rejects_bad_files_with_a_clear_message_and_never_panics() {
        let odd = format!(
            r#"{SNIPPET_HEAD}<core:cityObjectMember><bldg:Building gml:id="b1"><bldg:lod2MultiSurface>
            <gml:MultiSurface><gml:surfaceMember><gml:Polygon gml:id="odd"><gml:exterior><gml:LinearRing>
            <gml:posList>0 0 0 1 0 0 1 1</gml:posList></gml:LinearRing></gml:exterior></gml:Polygon>
            </gml:surfaceMember></gml:MultiSurface></bldg:lod2MultiSurface></bldg:Building></core:cityObjectMember>
            </core:CityModel>"#
        );
        let truncated = format!(
            "{SNIPPET_HEAD}<core:cityObjectMember><bldg:Building gml:id=\"b1\"><gml:name>x"
        );
        let cases: &[(&str, &str, &str)] = &[
            ("empty file", "", "empty (0 bytes)"),
            (
                "malformed",
                "<CityModel xmlns=\"http://www.opengis.net/citygml/2.0\"><a></b></CityModel>",
                "malformed XML at byte",
            ),
            ("truncated", &truncated, "truncated"),
            (
                "truncated in a tag",
                "<CityModel xmlns=\"http://www.opengis.net/citygml/2.0\"><cityObjectMember",
                "truncated",
            ),
            (
                "not CityGML",
                "<FeatureCollection xmlns=\"http://www.opengis.net/wfs\"/>",
                "not a CityGML file",
            ),
            (
                "wrong version",
                "<CityModel xmlns=\"http://www.opengis.net/citygml/0.4\"/>",
                "not a CityGML file",
            ),
            ("JSON", "{\"type\": \"CityJSON\"}", "not an XML file"),
            (
                "undeclared prefix",
                "<CityModel xmlns=\"http://www.opengis.net/citygml/2.0\"><x:a/></CityModel>",
                "never declared",
            ),
            (
                "two roots",
                "<CityModel xmlns=\"http://www.opengis.net/citygml/2.0\"/><CityModel/>",
                "after the end",
            ),
            ("only a comment", "<!-- nothing -->", "no XML element"),
        ];
        for (what, xml, want) in cases {
            let (_dir, m) = read_str(xml);
            let err = m.expect_err(what).to_string();
            assert!(
                err.contains("snippet.gml") && err.contains(want),
                "{what}: {err}"
            );
        }
        let (_dir, m) = read_str(&odd);
        let m = m.unwrap();
        assert!(m.objects[0].lods.is_empty());
        assert_eq!(m.issues.len(), 1);
        assert!(m.issues[0].reason.contains("b1") && m.issues[0].reason.contains("Polygon odd"));
    }
}
