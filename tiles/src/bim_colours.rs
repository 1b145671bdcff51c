//! Colours of BIM elements (datasets of kind `bim`, issue 6): the element's own `colour` column
//! (`#RRGGBBAA`, from the IFC surface style or material), else a default per IFC class. Windows and
//! spaces are translucent whatever their style says: a window shows what is behind it, and a space (the
//! air of a room) would otherwise hide the room's walls and furniture.
//!
//! Colours are sRGB with alpha; the glb writer makes them linear and switches the material to `BLEND`
//! when any vertex is translucent.

use tvilling_core::arrow::array::{Array, AsArray, RecordBatch};

/// Alpha of windows (at most).
const WINDOW_ALPHA: u8 = 110;
/// Alpha of spaces (at most).
const SPACE_ALPHA: u8 = 40;

/// The colour of `row`, `None` for datasets without IFC columns (city models keep their semantic
/// colours).
pub fn colour(batch: &RecordBatch, row: usize) -> Option<[u8; 4]> {
    let text = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| {
                c.as_string_opt::<i32>()
                    .map(|s| (s.is_valid(row)).then(|| s.value(row)))
            })
            .flatten()
    };
    let class = text("ifc_class")?;
    let mut c = text("colour")
        .and_then(parse)
        .unwrap_or_else(|| default(class));
    if class.starts_with("IfcWindow") || class == "IfcCurtainWall" || class == "IfcPlate" {
        c[3] = c[3].min(WINDOW_ALPHA);
    }
    if class == "IfcSpace" {
        c[3] = c[3].min(SPACE_ALPHA);
    }
    Some(c)
}

/// `#RRGGBB` or `#RRGGBBAA`.
fn parse(s: &str) -> Option<[u8; 4]> {
    let h = s.strip_prefix('#')?;
    let byte = |i: usize| h.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok());
    match h.len() {
        6 => Some([byte(0)?, byte(2)?, byte(4)?, 255]),
        8 => Some([byte(0)?, byte(2)?, byte(4)?, byte(6)?]),
        _ => None,
    }
}

/// Muted defaults per class, close to what BIM viewers use.
fn default(class: &str) -> [u8; 4] {
    let base = class
        .trim_end_matches("StandardCase")
        .trim_end_matches("ElementedCase");
    match base {
        "IfcWall" | "IfcCurtainWall" => [230, 226, 216, 255],
        "IfcSlab" | "IfcFooting" | "IfcPile" => [170, 170, 165, 255],
        "IfcRoof" => [160, 80, 60, 255],
        "IfcWindow" | "IfcPlate" => [140, 190, 230, 255],
        "IfcDoor" => [150, 110, 70, 255],
        "IfcBeam" | "IfcColumn" | "IfcMember" => [190, 170, 140, 255],
        "IfcStair" | "IfcStairFlight" | "IfcRamp" | "IfcRampFlight" | "IfcRailing" => {
            [200, 195, 185, 255]
        }
        "IfcSpace" => [120, 200, 140, 255],
        "IfcSite" => [120, 150, 90, 255],
        "IfcFurnishingElement" | "IfcFurniture" => [200, 160, 110, 255],
        "IfcCovering" => [210, 205, 195, 255],
        _ => [200, 200, 200, 255],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tvilling_core::arrow::array::StringArray;
    use tvilling_core::arrow::datatypes::{DataType, Field, Schema};

    #[test]
    fn uses_the_style_else_the_class_and_makes_windows_translucent() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("ifc_class", DataType::Utf8, false),
            Field::new("colour", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec!["IfcWall", "IfcWindow", "IfcDoor"])),
                Arc::new(StringArray::from(vec![
                    Some("#102030FF"),
                    Some("#FFFFFF"),
                    None,
                ])),
            ],
        )
        .unwrap();
        assert_eq!(colour(&batch, 0), Some([16, 32, 48, 255]));
        assert_eq!(colour(&batch, 1), Some([255, 255, 255, WINDOW_ALPHA]));
        assert_eq!(colour(&batch, 2), Some(default("IfcDoor")));
    }
}
