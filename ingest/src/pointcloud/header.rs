//! The LAS header: sanity checks before reading any point, and the metadata that goes into provenance and
//! the quality report.

use std::path::Path;

use las::Header;
use tvilling_core::wkb::Bbox;

use crate::{Error, Result};

/// Refuses headers whose numbers cannot describe real coordinates: a scale of 0, a negative, NaN or
/// enormous scale, or a non-finite offset would turn every point into garbage (or NaN) without any error
/// later on.
pub fn check(path: &Path, header: &Header) -> Result<()> {
    let t = header.transforms();
    for (axis, tr) in [("x", t.x), ("y", t.y), ("z", t.z)] {
        // 1e-9 (nanometres) to 1e3 covers every real survey; beyond that the file is broken.
        if !(tr.scale.is_finite() && tr.scale > 1e-12 && tr.scale <= 1e3) {
            return Err(Error::BadInput(format!(
                "{}: the header's {axis} scale factor is {}; a LAS scale is a small positive number such as \
                 0.01 or 0.001. The file is damaged or was written wrongly; rewrite it (e.g. `las2las` or \
                 `pdal translate`) and try again",
                path.display(),
                tr.scale
            )));
        }
        if !tr.offset.is_finite() || tr.offset.abs() > 1e12 {
            return Err(Error::BadInput(format!(
                "{}: the header's {axis} offset is {}, which no coordinate can have; the file is damaged",
                path.display(),
                tr.offset
            )));
        }
    }
    if header.number_of_points() == 0 {
        return Err(Error::BadInput(format!(
            "{}: the header says the file holds no points; there is nothing to ingest (check that the \
             export that wrote it did not fail)",
            path.display()
        )));
    }
    Ok(())
}

/// Refuses a LAS version field other than 1.0–1.4 before the `las` crate reads the rest of the header by
/// it (for an unknown version it would read point data as header fields). Files too short to hold the
/// field, or without the LASF signature, are left to the `las` crate's own errors.
pub fn check_version(path: &Path) -> Result<()> {
    use std::io::Read;
    let mut head = [0u8; 26];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok();
    let (major, minor) = (head[24], head[25]);
    if ok && &head[..4] == b"LASF" && (major != 1 || minor > 4) {
        return Err(Error::BadInput(format!(
            "{}: the header says LAS version {major}.{minor}, which does not exist (LAS 1.0 to 1.4 do). \
             The version field is damaged or the writer is wrong; rewrite the file with `las2las` or \
             `pdal translate`",
            path.display()
        )));
    }
    Ok(())
}

/// The header's bounds (file units), when they are finite and ordered.
pub fn bounds(header: &Header) -> Option<Bbox> {
    let b = header.bounds();
    let ok = [b.min.x, b.min.y, b.min.z, b.max.x, b.max.y, b.max.z]
        .iter()
        .all(|v| v.is_finite())
        && b.max.x >= b.min.x
        && b.max.y >= b.min.y
        && b.max.z >= b.min.z;
    ok.then_some(Bbox {
        xmin: b.min.x,
        ymin: b.min.y,
        xmax: b.max.x,
        ymax: b.max.y,
        zmin: Some(b.min.z),
        zmax: Some(b.max.z),
    })
}

/// Whether the file is a COPC file (LAZ 1.4 with the `copc` info VLR first).
pub fn is_copc(header: &Header) -> bool {
    header
        .vlrs()
        .iter()
        .any(|v| v.user_id.trim_end_matches('\0') == "copc" && v.record_id == 1)
}

/// What the header says, as JSON for provenance and the quality report.
pub fn metadata(header: &Header) -> serde_json::Value {
    let v = header.version();
    let f = header.point_format();
    let t = header.transforms();
    let b = header.bounds();
    let vlr = |v: &las::Vlr| {
        serde_json::json!({
            "user_id": v.user_id.trim_end_matches('\0'),
            "record_id": v.record_id,
            "description": v.description.trim_end_matches('\0'),
            "bytes": v.data.len(),
        })
    };
    let by_return: Vec<u64> = (1..=15)
        .map_while(|n| header.number_of_points_by_return(n))
        .collect();
    serde_json::json!({
        "version": format!("{}.{}", v.major, v.minor),
        "point_format": f.to_u8().ok(),
        "point_record_length": f.len(),
        "compressed": f.is_compressed,
        "copc": is_copc(header),
        "point_count": header.number_of_points(),
        "points_by_return": by_return,
        "bounds": {
            "min": [b.min.x, b.min.y, b.min.z],
            "max": [b.max.x, b.max.y, b.max.z],
        },
        "scale": [t.x.scale, t.y.scale, t.z.scale],
        "offset": [t.x.offset, t.y.offset, t.z.offset],
        "generating_software": header.generating_software().trim_end_matches('\0'),
        "system_identifier": header.system_identifier().trim_end_matches('\0'),
        "file_source_id": header.file_source_id(),
        "guid": header.guid().to_string(),
        "creation_date": header.date().map(|d| d.to_string()),
        "gps_time_type": format!("{:?}", header.gps_time_type()),
        "extra_bytes_per_point": f.extra_bytes,
        "vlrs": header.vlrs().iter().map(vlr).collect::<Vec<_>>(),
        "evlrs": header.evlrs().iter().map(vlr).collect::<Vec<_>>(),
    })
}
