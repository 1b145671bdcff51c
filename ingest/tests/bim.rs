//! The IFC reader against IfcOpenShell on the real samples (`../shared/data/ifc`), georeferencing, and
//! bad input.
//!
//! Reference values: `ingest/tests/expected/ifc.json`, written by `tools/ifc-reference/reference.py`
//! (IfcOpenShell's geometry with world coordinates, openings subtracted). Compared per element by GlobalId:
//! class, storey, and the bounding box of the body in model coordinates within [`BBOX_TOLERANCE`].

// Tests assert by panicking and say on stdout what they skipped or measured.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use tvilling_core::arrow::array::{Array, AsArray};
use tvilling_core::arrow::datatypes::Float64Type;
use tvilling_core::crs::{Crs, Transformer};
use tvilling_core::progress::NoProgress;
use tvilling_ingest::bim::{BimReader, Place, model};
use tvilling_ingest::{Batches, ReadOptions, ReadOutput, SourceReader};

/// Metres. Openings cut through an element's edge (a door at the foot of a wall, a window at a slab's
/// rim) shrink IfcOpenShell's box, and tvilling does not subtract openings; circles are 32-gons in both.
const BBOX_TOLERANCE: f64 = 0.05;
/// Relative, for closed bodies without openings; circles are 32-gons in tvilling.
const VOLUME_TOLERANCE: f64 = 0.01;
/// Relative, for closed bodies with openings: an opening that is not a convex solid, or that does not cut
/// cleanly, stays in (+4.4 % at worst on the samples), and openings that overlap each other are cut
/// twice (-6.2 %).
const OPENING_VOLUME_TOLERANCE: f64 = 0.10;

fn samples() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/ifc");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: ../shared/data/ifc is not there");
        None
    }
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/ifc.json"),
    )
    .expect("expected values are checked in");
    serde_json::from_str(&text).expect("expected values are JSON")
}

fn read(path: &Path, place: Option<&str>) -> Result<ReadOutput, tvilling_ingest::Error> {
    let opts = ReadOptions {
        place: place.map(|p| p.parse::<Place>().expect("test place parses")),
        ..ReadOptions::default()
    };
    let mut out = BimReader.read(path, &opts, &NoProgress)?;
    assert_eq!(out.len(), 1);
    Ok(out.remove(0))
}

fn batch(out: &ReadOutput) -> &tvilling_core::arrow::record_batch::RecordBatch {
    match &out.batches {
        Batches::InMemory(b) => &b[0],
        Batches::Streamed { .. } => panic!("the IFC reader keeps rows in memory"),
    }
}

fn strings(b: &tvilling_core::arrow::record_batch::RecordBatch, col: &str) -> Vec<Option<String>> {
    let c = b
        .column_by_name(col)
        .unwrap_or_else(|| panic!("no column {col}"));
    let s = c.as_string::<i32>();
    (0..s.len())
        .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
        .collect()
}

#[test]
fn all_samples_match_ifcopenshell_classes_storeys_and_bounding_boxes() {
    let Some(dir) = samples() else { return };
    let expected = expected();
    for (file, want) in expected.as_object().expect("an object per file") {
        let path = dir.join(file);
        let data = std::fs::read(&path).expect("sample readable");
        let m = model::read(data).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(m.schema, want["schema"].as_str().unwrap(), "{file}");
        assert!(m.rejected.is_empty(), "{file}: {:?}", m.rejected);

        let mut storeys: Vec<String> = m.storeys.iter().map(|s| s.0.clone()).collect();
        storeys.sort();
        let want_storeys: Vec<String> = serde_json::from_value(want["storeys"].clone()).unwrap();
        assert_eq!(storeys, want_storeys, "{file}: storeys");

        let mut classes: BTreeMap<String, u64> = BTreeMap::new();
        for e in &m.elements {
            *classes.entry(e.class.clone()).or_default() += 1;
        }
        let failed = want["failed"].as_object().unwrap();
        let elements = want["elements"].as_object().unwrap();
        // Products IfcOpenShell could not tessellate are tvilling's extra rows.
        for e in &m.elements {
            if failed.contains_key(&e.global_id) {
                *classes.get_mut(&e.class).unwrap() -= 1;
            }
        }
        classes.retain(|_, n| *n > 0);
        let want_classes: BTreeMap<String, u64> =
            serde_json::from_value(want["classes"].clone()).unwrap();
        assert_eq!(classes, want_classes, "{file}: products per class");

        let mut worst = (0.0f64, String::new());
        let mut volumes = 0;
        for e in &m.elements {
            let Some(w) = elements.get(&e.global_id) else {
                assert!(
                    failed.contains_key(&e.global_id),
                    "{file}: {} not in the reference",
                    e.global_id
                );
                continue;
            };
            assert_eq!(
                e.class,
                w["class"].as_str().unwrap(),
                "{file} {}",
                e.global_id
            );
            assert_eq!(
                e.storey.as_deref(),
                w["storey"].as_str(),
                "{file} {} storey",
                e.global_id
            );
            let mut lo = [f64::INFINITY; 3];
            let mut hi = [f64::NEG_INFINITY; 3];
            for p in e.faces.iter().flatten().flatten() {
                for k in 0..3 {
                    lo[k] = lo[k].min(p[k]);
                    hi[k] = hi[k].max(p[k]);
                }
            }
            // Volumes of closed bodies agree; openings are cut when they are convex solids.
            if let Some(v) = w["volume"].as_f64().filter(|_| e.closed) {
                let tolerance = if e.openings == 0 {
                    VOLUME_TOLERANCE
                } else {
                    OPENING_VOLUME_TOLERANCE
                };
                let mine = tvilling_ingest::bim::solid::volume(&e.faces).abs();
                assert!(
                    (mine - v).abs() <= tolerance * v + 1e-6,
                    "{file} {} {}: volume {mine} vs IfcOpenShell {v} ({} openings, {:?})",
                    e.class,
                    e.global_id,
                    e.openings,
                    e.approximations
                );
                volumes += 1;
            }
            let wb: Vec<f64> = serde_json::from_value(w["bbox"].clone()).unwrap();
            let got = [lo[0], lo[1], lo[2], hi[0], hi[1], hi[2]];
            let dev = got
                .iter()
                .zip(&wb)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            if dev > worst.0 {
                worst = (
                    dev,
                    format!("{} {} {:?} vs {:?}", e.class, e.global_id, got, wb),
                );
            }
        }
        assert!(
            worst.0 <= BBOX_TOLERANCE,
            "{file}: worst bbox deviation {} m: {}",
            worst.0,
            worst.1
        );
        println!(
            "{file}: {} elements, worst bbox deviation {:.4} m, {volumes} volumes compared",
            m.elements.len(),
            worst.0
        );
    }
}

#[test]
fn fzk_haus_lands_in_karlsruhe_from_its_site_reference_point() {
    let Some(dir) = samples() else { return };
    let out = read(&dir.join("AC20-FZK-Haus.ifc"), None).expect("FZK-Haus reads");
    assert_eq!(out.crs, Crs::epsg(32632, None));
    assert_eq!(
        out.quality.positional.crs_source,
        "IfcSite RefLatitude/RefLongitude"
    );
    let e = out.quality.positional.extent.expect("an extent");
    let mut c = [(e[0] + e[2]) / 2.0, (e[1] + e[3]) / 2.0, 0.0];
    Transformer::new(out.crs, Crs::epsg(4326, None))
        .unwrap()
        .apply(&mut c)
        .unwrap();
    assert!(
        (c[1] - 49.1004).abs() < 0.0005 && (c[0] - 8.4366).abs() < 0.0005,
        "{c:?}"
    );
    let z = out.quality.positional.z_range.expect("heights");
    assert!(
        z[0] > 100.0 && z[1] < 130.0,
        "about 110 m above sea level: {z:?}"
    );

    let b = batch(&out);
    let storeys = strings(b, "storey");
    assert!(storeys.iter().any(|s| s.as_deref() == Some("Erdgeschoss")));
    assert!(storeys.iter().any(|s| s.as_deref() == Some("Dachgeschoss")));
    let classes = strings(b, "ifc_class");
    let u_value = b
        .column_by_name("Pset_WallCommon.ThermalTransmittance")
        .expect("wall properties are columns")
        .as_primitive::<Float64Type>()
        .clone();
    let walls: Vec<usize> = (0..b.num_rows())
        .filter(|i| classes[*i].as_deref() == Some("IfcWallStandardCase"))
        .collect();
    assert_eq!(walls.len(), 13);
    assert!(
        walls
            .iter()
            .all(|i| u_value.is_valid(*i) && u_value.value(*i) > 0.0)
    );
    // ArchiCAD writes umlauts as \X2\00FC\X0\: the quantity set "AC_Equantity_Eingangstür".
    let schema = b.schema();
    assert!(
        schema
            .fields()
            .iter()
            .any(|f| f.name().starts_with("AC_Equantity_Eingangstür.")),
        "decoded set names"
    );
    let volume = b
        .column_by_name("volume")
        .unwrap()
        .as_primitive::<Float64Type>()
        .clone();
    assert!(
        walls.iter().all(|i| volume.value(*i) > 0.1),
        "walls are closed solids"
    );
    let colours = strings(b, "colour");
    assert!(
        colours
            .iter()
            .flatten()
            .any(|c| c.len() == 9 && c.starts_with('#'))
    );
}

#[test]
fn map_conversion_places_the_proxy_in_utm_32() {
    let Some(dir) = samples() else { return };
    let out = read(&dir.join("geographic-referencing.ifc"), None).expect("reads");
    assert_eq!(out.crs.horizontal_code(), 25832);
    assert!(
        out.quality
            .positional
            .crs_source
            .starts_with("IfcMapConversion")
    );
    let e = out.quality.positional.extent.expect("an extent");
    // A cone of radius 150 mm and a cylinder of radius 50 mm around the map conversion's origin.
    assert!((e[0] - (458658.78 - 0.15)).abs() < 0.01, "{e:?}");
    assert!((e[3] - (5438232.79 + 0.15)).abs() < 0.01, "{e:?}");
    let z = out.quality.positional.z_range.unwrap();
    assert!(
        (z[0] - 113.7).abs() < 1e-6 && (z[1] - 114.7).abs() < 1e-6,
        "{z:?}"
    );
}

#[test]
fn to_crs_and_crs_apply_to_the_map_conversion() {
    let Some(dir) = samples() else { return };
    let path = dir.join("geographic-referencing.ifc");
    // ETRS89 / UTM 32N to WGS 84 / UTM 32N: the same grid within a metre.
    let opts = ReadOptions {
        to_crs: Some(Crs::epsg(32632, None)),
        ..ReadOptions::default()
    };
    let out = BimReader.read(&path, &opts, &NoProgress).unwrap().remove(0);
    assert_eq!(out.crs.horizontal_code(), 32632);
    let e = out.quality.positional.extent.unwrap();
    assert!((e[0] - (458658.78 - 0.15)).abs() < 2.0, "{e:?}");
    // --crs names the map conversion's CRS; without a map conversion it is refused.
    let opts = ReadOptions {
        crs: Some(Crs::epsg(25833, None)),
        ..ReadOptions::default()
    };
    let out = BimReader.read(&path, &opts, &NoProgress).unwrap().remove(0);
    assert_eq!(out.crs.horizontal_code(), 25833);
    let err = BimReader
        .read(&dir.join("AC20-FZK-Haus.ifc"), &opts, &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains("--place"), "{err}");
}

#[test]
fn a_model_without_georeference_is_refused_naming_place_and_placed_with_it() {
    let Some(dir) = samples() else { return };
    let path = dir.join("IfcOpenHouse_IFC4.ifc");
    let err = read(&path, None).expect_err("no georeference").to_string();
    assert!(
        err.contains("--place") && err.contains("IfcOpenHouse_IFC4.ifc"),
        "{err}"
    );
    let out = read(&path, Some("18.0686,59.3293,12,30")).expect("placed");
    assert_eq!(out.crs, Crs::epsg(32634, None));
    let e = out.quality.positional.extent.unwrap();
    let mut c = [(e[0] + e[2]) / 2.0, (e[1] + e[3]) / 2.0, 0.0];
    Transformer::new(out.crs, Crs::epsg(4326, None))
        .unwrap()
        .apply(&mut c)
        .unwrap();
    assert!(
        (c[1] - 59.3293).abs() < 0.0005 && (c[0] - 18.0686).abs() < 0.0005,
        "{c:?}"
    );
    // The model's z runs from -8.13 m (the site's terrain) to 5.78 m (the roof), IfcOpenShell says.
    let z = out.quality.positional.z_range.unwrap();
    assert!(
        (z[0] - (12.0 - 8.13)).abs() < 0.01 && (z[1] - (12.0 + 5.78)).abs() < 0.01,
        "{z:?}"
    );
}

#[test]
fn place_beats_the_files_own_site() {
    let Some(dir) = samples() else { return };
    let out = read(&dir.join("duplex.ifc"), Some("11.97,57.70,5,0")).expect("placed");
    assert_eq!(out.crs, Crs::epsg(32632, None));
    // The Revit export's wall properties, typed.
    let external = batch(&out)
        .column_by_name("Pset_WallCommon.IsExternal")
        .expect("a Boolean column")
        .as_boolean()
        .clone();
    assert!((0..external.len()).any(|i| external.is_valid(i) && external.value(i)));
    assert!((0..external.len()).any(|i| external.is_valid(i) && !external.value(i)));
    assert!(
        out.quality
            .positional
            .notes
            .iter()
            .any(|n| n.contains("instead of the file's own"))
    );
}

/// A small IFC4 model: a project in millimetres, a site, a storey and one wall (a 4 m × 0.3 m × 3 m
/// extrusion), with parts replaceable by the bad-input cases.
fn mini(units: &str, wall_placement: &str, item: &str, extra: &str) -> String {
    format!(
        "ISO-10303-21;
HEADER;
FILE_DESCRIPTION((''),'2;1');
FILE_NAME('mini.ifc','',(''),(''),'','','');
FILE_SCHEMA(('IFC4'));
ENDSEC;
DATA;
#1=IFCSIUNIT(*,.LENGTHUNIT.,{units},.METRE.);
#2=IFCUNITASSIGNMENT((#1));
#3=IFCCARTESIANPOINT((0.,0.,0.));
#4=IFCAXIS2PLACEMENT3D(#3,$,$);
#5=IFCGEOMETRICREPRESENTATIONCONTEXT($,'Model',3,1.E-5,#4,$);
#6=IFCPROJECT('0YvctVUKr0kugbFTf53O9L',$,'mini',$,$,$,$,(#5),#2);
#10=IFCLOCALPLACEMENT($,#4);
#11=IFCSITE('1YvctVUKr0kugbFTf53O9L',$,'site',$,$,#10,$,$,.ELEMENT.,(59,19,45,0),(18,4,7,0),10.,$,$);
#12=IFCLOCALPLACEMENT(#10,#4);
#13=IFCBUILDINGSTOREY('2YvctVUKr0kugbFTf53O9L',$,'Plan 1',$,$,#12,$,$,.ELEMENT.,0.);
#20=IFCLOCALPLACEMENT({wall_placement},#4);
#21=IFCCARTESIANPOINT((0.,0.));
#22=IFCAXIS2PLACEMENT2D(#21,$);
#23=IFCRECTANGLEPROFILEDEF(.AREA.,$,#22,4000.,300.);
#24=IFCDIRECTION((0.,0.,1.));
#25={item};
#26=IFCSHAPEREPRESENTATION(#5,'Body','SweptSolid',(#25));
#27=IFCPRODUCTDEFINITIONSHAPE($,$,(#26));
#28=IFCWALL('3YvctVUKr0kugbFTf53O9L',$,'wall',$,$,#20,#27,$,.NOTDEFINED.);
#30=IFCRELCONTAINEDINSPATIALSTRUCTURE('4YvctVUKr0kugbFTf53O9L',$,$,$,(#28),#13);
{extra}
ENDSEC;
END-ISO-10303-21;
"
    )
}

const EXTRUSION: &str = "IFCEXTRUDEDAREASOLID(#23,#4,#24,3000.)";

#[test]
fn reads_a_minimal_model_in_millimetres() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("mini.ifc");
    std::fs::write(&path, mini(".MILLI.", "#12", EXTRUSION, "")).unwrap();
    let out = read(&path, None).expect("reads");
    let b = batch(&out);
    assert_eq!(b.num_rows(), 1);
    assert_eq!(strings(b, "storey")[0].as_deref(), Some("Plan 1"));
    assert_eq!(strings(b, "ifc_class")[0].as_deref(), Some("IfcWall"));
    let v = b
        .column_by_name("volume")
        .unwrap()
        .as_primitive::<Float64Type>()
        .value(0);
    assert!((v - 3.6).abs() < 1e-9, "4 × 0.3 × 3 m = 3.6 m³, got {v}");
    let h = b
        .column_by_name("height")
        .unwrap()
        .as_primitive::<Float64Type>()
        .value(0);
    assert!((h - 3.0).abs() < 1e-9);
}

#[test]
fn reads_ifc4x3_and_ifc4_triangulated_face_sets() {
    // A tetrahedron with 1 m legs (volume 1/6 m³), outward triangles. IFC4X3 moved `Closed` before
    // `Normals`; IFC4 has it after.
    let points =
        "#40=IFCCARTESIANPOINTLIST3D(((0.,0.,0.),(1000.,0.,0.),(0.,1000.,0.),(0.,0.,1000.)),$);";
    let triangles = "((1,3,2),(1,2,4),(2,3,4),(1,4,3))";
    let tmp = tempfile::tempdir().unwrap();
    for (schema, item) in [
        (
            "IFC4X3_ADD2",
            format!("IFCTRIANGULATEDFACESET(#40,.T.,$,{triangles},$)"),
        ),
        (
            "IFC4",
            format!("IFCTRIANGULATEDFACESET(#40,$,.T.,{triangles},$)"),
        ),
    ] {
        let text =
            mini(".MILLI.", "#12", &item, points).replace("('IFC4')", &format!("('{schema}')"));
        let path = tmp.path().join(format!("{schema}.ifc"));
        std::fs::write(&path, text).unwrap();
        let m = model::read(std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(m.schema, schema);
        assert_eq!(m.elements.len(), 1, "{schema}: {:?}", m.rejected);
        let e = &m.elements[0];
        assert!(e.closed, "{schema}");
        let v = tvilling_ingest::bim::solid::volume(&e.faces);
        assert!((v - 1.0 / 6.0).abs() < 1e-9, "{schema}: {v}");
    }
}

#[test]
fn bad_input_gets_a_clear_error_or_a_quality_entry_naming_the_entity() {
    let tmp = tempfile::tempdir().unwrap();
    let good = mini(".MILLI.", "#12", EXTRUSION, "");
    let truncated = good[..good.len() / 2].to_string();
    // (case, file contents, Err(text) or Ok(text in the rejected list))
    let cases: Vec<(&str, String, Result<&str, &str>)> = vec![
        ("empty", String::new(), Err("empty (0 bytes)")),
        ("truncated", truncated, Err("truncated")),
        (
            "not step",
            "PK\u{3}\u{4} zip".into(),
            Err("not an IFC STEP file"),
        ),
        (
            "dangling",
            mini(".MILLI.", "#99", EXTRUSION, ""),
            Ok("#20 (IFCLOCALPLACEMENT) refers to #99"),
        ),
        (
            "unknown item",
            mini(".MILLI.", "#12", "IFCFOOBARSOLID(#23,3000.)", ""),
            Ok("#25 (IFCFOOBARSOLID) is not supported"),
        ),
        (
            "cyclic placement",
            mini(
                ".MILLI.",
                "#31",
                EXTRUSION,
                "#31=IFCLOCALPLACEMENT(#20,#4);",
            ),
            Ok("cycle"),
        ),
        (
            "absurd units",
            mini(".EXA.", "#12", EXTRUSION, ""),
            Err("entity #1"),
        ),
        (
            "syntax",
            mini(".MILLI.", "#12", "IFCEXTRUDEDAREASOLID(#23,,#24,3000.)", ""),
            Ok("entity #25"),
        ),
        (
            "negative depth",
            mini(".MILLI.", "#12", "IFCEXTRUDEDAREASOLID(#23,#4,#24,-3.)", ""),
            Ok("#25"),
        ),
    ];
    for (name, text, want) in cases {
        let path = tmp.path().join(format!("{}.ifc", name.replace(' ', "_")));
        std::fs::write(&path, &text).unwrap();
        match (read(&path, None), want) {
            (Err(e), Err(w)) => {
                let e = e.to_string();
                assert!(e.contains(w), "{name}: '{e}' should say '{w}'");
                assert!(
                    e.contains(path.file_name().unwrap().to_str().unwrap()),
                    "{name}: {e}"
                );
            }
            (Ok(out), Ok(w)) => {
                let reasons: Vec<&str> = out
                    .quality
                    .rejected
                    .iter()
                    .map(|i| i.reason.as_str())
                    .collect();
                assert!(
                    reasons.iter().any(|r| r.contains(w)),
                    "{name}: {reasons:?} should say '{w}'"
                );
                assert_eq!(out.quality.completeness.rejected, 1, "{name}");
            }
            (Err(e), Ok(w)) => panic!("{name}: expected a quality entry '{w}', got error {e}"),
            (Ok(_), Err(w)) => panic!("{name}: expected an error '{w}', got rows"),
        }
    }
}

#[test]
fn never_panics_on_truncated_or_mutated_files() {
    let Some(dir) = samples() else { return };
    let data = std::fs::read(dir.join("IfcOpenHouse_IFC4.ifc")).unwrap();
    // Every cut point class (inside strings, lists, numbers, between entities) and random damage with the
    // characters that matter to STEP; each input must give rows or an error, never a panic.
    let mut inputs: Vec<Vec<u8>> = (0..data.len())
        .step_by(data.len() / 200 + 1)
        .map(|cut| data[..cut].to_vec())
        .collect();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let specials = b"#()',.$*=;\\0123456789EXe-+/";
    for _ in 0..200 {
        let mut d = data.clone();
        for _ in 0..1 + next() % 4 {
            let pos = (next() as usize) % d.len();
            d[pos] = specials[(next() as usize) % specials.len()];
        }
        inputs.push(d);
    }
    for (i, d) in inputs.into_iter().enumerate() {
        let r = std::panic::catch_unwind(move || model::read(d).map(|m| m.elements.len()));
        assert!(r.is_ok(), "input {i} panicked");
    }
}
