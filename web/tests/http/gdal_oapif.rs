//! GDAL's OGC API Features driver (OAPIF), the client behind `ogr2ogr`, `ogrinfo` and the GDAL-based
//! loaders of QGIS and other desktop GIS, reads a served collection: its layer, every feature through the
//! `next` links, the attributes and the geometries, matching what the same server answers over SQL.

use std::collections::BTreeMap;

use gdal::vector::LayerAccess;

use crate::util::{json, serve};

#[tokio::test(flavor = "multi_thread")]
async fn gdal_reads_every_feature_of_a_collection_through_oapif() {
    let s = serve().await;
    let expected: BTreeMap<String, i64> = json(
        s.sql("SELECT id, vaningar FROM byggnader", "json")
            .send()
            .await
            .unwrap(),
    )
    .await
    .as_array()
    .unwrap()
    .iter()
    .map(|r| {
        (
            r["id"].as_str().unwrap().to_string(),
            r["vaningar"].as_i64().unwrap(),
        )
    })
    .collect();
    let url = format!("OAPIF:{}/ogcapi", s.base);
    // GDAL blocks while it pages; the server runs on this runtime's other threads.
    let (layers, read, bbox) = tokio::task::spawn_blocking(move || {
        let ds = gdal::Dataset::open(&url).expect("GDAL opens the landing page with OAPIF");
        let layers: Vec<String> = ds.layers().map(|l| l.name()).collect();
        let mut layer = ds.layer_by_name("byggnader").unwrap();
        let mut read = BTreeMap::new();
        let mut bbox = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for f in layer.features() {
            let id = f
                .field_as_string(f.field_index("id").unwrap())
                .unwrap()
                .unwrap();
            let floors = f
                .field_as_integer64(f.field_index("vaningar").unwrap())
                .unwrap()
                .unwrap();
            let e = f.geometry().unwrap().envelope();
            bbox = (
                bbox.0.min(e.MinX),
                bbox.1.min(e.MinY),
                bbox.2.max(e.MaxX),
                bbox.3.max(e.MaxY),
            );
            read.insert(id, floors);
        }
        (layers, read, bbox)
    })
    .await
    .unwrap();
    assert_eq!(layers, ["byggnader"], "anonymous: the open collection only");
    assert_eq!(read, expected, "every feature once, with its attributes");
    // CRS84 longitudes and latitudes of the generated town (Örebro).
    assert!(
        bbox.0 > 15.0 && bbox.2 < 15.5 && bbox.1 > 59.0 && bbox.3 < 59.5,
        "{bbox:?}"
    );
}
