//! The in-memory city model both readers produce: buildings and building parts with their attributes and
//! their surfaces per level of detail, in source coordinates. `rows` turns it into store rows.
//!
//! Coordinates are real-world values in the source CRS (a CityJSON `transform` is already applied). Rings
//! are as the source wrote them: exterior ring first, then holes; the closing vertex may or may not repeat
//! the first one; by both formats' rules an exterior ring runs counter-clockwise seen from outside the
//! solid, but real files break that rule and the tiler checks orientation itself.

use std::collections::BTreeMap;

use tvilling_core::crs::Crs;
use tvilling_core::provenance::Issue;

/// One city object that becomes one row: a `Building`, `BuildingPart` (or, from CityJSON, another type
/// the reader was asked to keep).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CityObject {
    /// The stable id: the CityJSON object key or the CityGML `gml:id` (generated only when the source has
    /// none, and then recorded as a quality issue).
    pub id: String,
    /// `Building`, `BuildingPart`, … as the source names it (CityGML without namespace prefix).
    pub object_type: String,
    /// The id of the building this part belongs to.
    pub parent_id: Option<String>,
    /// Every attribute in source order. Nested CityJSON objects are flattened with `.` (`address.street`);
    /// arrays stay JSON arrays. CityGML generic attributes keep their type (`intAttribute` → integer,
    /// `doubleAttribute`/`measureAttribute` → number, `dateAttribute` → `YYYY-MM-DD` string); core and ADE
    /// properties (`function`, `yearOfConstruction`, 3CIM `objektUUID`, …) use their local element name;
    /// a code-list value with a `codeSpace` keeps the code.
    pub attributes: Vec<(String, serde_json::Value)>,
    /// Geometry per level of detail, keyed by the source's LOD label (`"0"`, `"1"`, `"1.2"`, `"2"`, `"2.2"`,
    /// `"3"`). One key may collect several geometries (a LOD2 solid plus LOD2 multi-surfaces); their
    /// surfaces are concatenated.
    pub lods: BTreeMap<String, Vec<Surface>>,
}

/// One planar (or nearly planar) surface: a polygon with holes, plus its semantic type when known.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Surface {
    /// Exterior ring first, then interior rings. Each ring has at least three distinct vertices; readers
    /// drop degenerate rings and record an issue.
    pub rings: Vec<Vec<[f64; 3]>>,
    /// The semantic surface type from CityJSON `semantics` or a CityGML thematic surface.
    pub semantic: Option<SurfaceType>,
}

/// Semantic surface types of CityJSON 1.1/2.0 and CityGML 1.0–3.0 buildings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SurfaceType {
    /// `RoofSurface`.
    Roof,
    /// `WallSurface`.
    Wall,
    /// `GroundSurface`.
    Ground,
    /// `ClosureSurface`.
    Closure,
    /// `OuterCeilingSurface`.
    OuterCeiling,
    /// `OuterFloorSurface`.
    OuterFloor,
    /// `Window`.
    Window,
    /// `Door`.
    Door,
    /// `InteriorWallSurface`, `CeilingSurface`, `FloorSurface` and any other.
    Other,
}

impl SurfaceType {
    /// Maps the type name both formats use (with or without a namespace prefix).
    pub fn from_name(name: &str) -> SurfaceType {
        let local = name.rsplit(':').next().unwrap_or(name);
        match local {
            "RoofSurface" => SurfaceType::Roof,
            "WallSurface" => SurfaceType::Wall,
            "GroundSurface" => SurfaceType::Ground,
            "ClosureSurface" => SurfaceType::Closure,
            "OuterCeilingSurface" => SurfaceType::OuterCeiling,
            "OuterFloorSurface" => SurfaceType::OuterFloor,
            "Window" => SurfaceType::Window,
            "Door" => SurfaceType::Door,
            _ => SurfaceType::Other,
        }
    }

    /// The CityJSON/CityGML name.
    pub fn name(self) -> &'static str {
        match self {
            SurfaceType::Roof => "RoofSurface",
            SurfaceType::Wall => "WallSurface",
            SurfaceType::Ground => "GroundSurface",
            SurfaceType::Closure => "ClosureSurface",
            SurfaceType::OuterCeiling => "OuterCeilingSurface",
            SurfaceType::OuterFloor => "OuterFloorSurface",
            SurfaceType::Window => "Window",
            SurfaceType::Door => "Door",
            SurfaceType::Other => "Other",
        }
    }
}

/// Everything a reader got out of one file.
#[derive(Debug, Clone, Default)]
pub struct CityModel {
    /// The objects that become rows, in source order.
    pub objects: Vec<CityObject>,
    /// The CRS the file declares (CityJSON `metadata.referenceSystem`, CityGML `srsName`), horizontal and
    /// vertical when the declaration names both; `None` when it declares none.
    pub crs: Option<Crs>,
    /// The declaration as written, for provenance and messages.
    pub crs_declared: Option<String>,
    /// City objects of all types in the file, by type (`Building`: 12, `Road`: 3, …), kept or not.
    pub object_types: BTreeMap<String, u64>,
    /// Problems with single objects or surfaces, each naming the object id (and the surface where it
    /// helps); the object is kept if anything usable is left.
    pub issues: Vec<Issue>,
    /// Objects left out entirely (unusable), counted; examples are in `issues`.
    pub rejected: u64,
    /// What the file says about itself: format and version, metadata block, `transform`, LODs found.
    pub metadata: serde_json::Value,
}
