//! Surfaces to triangles: each polygon (with holes) is triangulated in its own plane (earcut) and gets
//! its own vertices with the polygon's normal, so walls and roofs are flat-shaded; footprints are
//! extruded to LOD1 solids; whole features are turned outward when their surfaces wind inward.
//!
//! Coordinates here are local east-north-up metres (z up); the glTF y-up swap happens when a tile's mesh
//! is assembled.

use tvilling_core::surfaces::{Polygon, Ring, newell_normal};

/// What a surface is, for its colour: from semantics when the source has them, else from its normal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Roofs and up-facing surfaces.
    Roof,
    /// Walls and steep surfaces.
    Wall,
    /// Ground and down-facing surfaces.
    Ground,
    /// Windows.
    Window,
    /// Doors.
    Door,
}

impl Part {
    /// From a CityJSON/CityGML semantic type name; `None` for unknown or empty names.
    pub fn from_semantic(name: &str) -> Option<Part> {
        Some(match name {
            "RoofSurface" | "OuterCeilingSurface" => Part::Roof,
            "WallSurface" | "ClosureSurface" => Part::Wall,
            "GroundSurface" | "OuterFloorSurface" => Part::Ground,
            "Window" => Part::Window,
            "Door" => Part::Door,
            _ => return None,
        })
    }

    /// From a unit normal: more than ~17° from vertical counts as roof (up) or ground (down).
    pub fn from_normal(n: [f64; 3]) -> Part {
        if n[2] > 0.3 {
            Part::Roof
        } else if n[2] < -0.3 {
            Part::Ground
        } else {
            Part::Wall
        }
    }

    /// Vertex colour (sRGB, alpha): muted so that attribute styling in the viewer still reads.
    pub fn color(self) -> [u8; 4] {
        match self {
            Part::Roof => [178, 94, 74, 255],
            Part::Wall => [236, 232, 224, 255],
            Part::Ground => [150, 150, 150, 255],
            Part::Window => [128, 168, 200, 255],
            Part::Door => [140, 104, 76, 255],
        }
    }
}

/// Triangles of one feature in local metres, flat-shaded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeatureMesh {
    /// Vertex positions.
    pub positions: Vec<[f64; 3]>,
    /// Unit normal per vertex (the polygon's).
    pub normals: Vec<[f32; 3]>,
    /// Colour per vertex.
    pub colors: Vec<[u8; 4]>,
    /// Triangles, counter-clockwise seen from the normal's side.
    pub triangles: Vec<[u32; 3]>,
    /// Polygons left out: degenerate (zero area, fewer than three distinct vertices) or not
    /// triangulable.
    pub skipped: u32,
}

impl FeatureMesh {
    /// Total area of the triangles (m²): equals the surfaces' area for planar input.
    pub fn area(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|i| self.positions[i as usize]);
                norm(cross(sub(b, a), sub(c, a))) / 2.0
            })
            .sum()
    }

    /// Signed volume enclosed by the triangles (positive when they face outward); meaningful for closed
    /// shells only.
    pub fn signed_volume(&self) -> f64 {
        let Some(o) = self.positions.first().copied() else {
            return 0.0;
        };
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = t.map(|i| sub(self.positions[i as usize], o));
                dot(a, cross(b, c)) / 6.0
            })
            .sum()
    }

    /// Turns every triangle and normal around.
    pub fn flip(&mut self) {
        for t in &mut self.triangles {
            t.swap(1, 2);
        }
        for n in &mut self.normals {
            *n = n.map(|c| -c);
        }
    }

    /// Adds one polygon; returns false (and counts it as skipped) when it is degenerate.
    pub fn add_polygon(&mut self, polygon: &[Ring], part: Option<Part>) -> bool {
        match triangulate(polygon) {
            Some((normal, vertices, tris)) => {
                let base = self.positions.len() as u32;
                let part = part.unwrap_or_else(|| Part::from_normal(normal));
                let n32 = normal.map(|c| c as f32);
                self.normals
                    .extend(std::iter::repeat_n(n32, vertices.len()));
                self.colors
                    .extend(std::iter::repeat_n(part.color(), vertices.len()));
                self.positions.extend(vertices);
                self.triangles
                    .extend(tris.into_iter().map(|t| t.map(|i| base + i)));
                true
            }
            None => {
                self.skipped += 1;
                false
            }
        }
    }

    /// Makes a closed feature face outward: real files wind whole buildings inside out. Open surfaces
    /// (volume near zero compared with the box) are left alone; their material is double-sided.
    pub fn orient_outward(&mut self) {
        let (lo, hi) = bounds(&self.positions);
        let box_volume = (hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]);
        if self.signed_volume() < -0.01 * box_volume {
            self.flip();
        }
    }
}

/// A triangulated polygon: unit normal, vertices, triangles indexing them.
pub type Triangulation = ([f64; 3], Vec<[f64; 3]>, Vec<[u32; 3]>);

/// Triangulates one polygon: its unit normal, its vertices (rings without closing duplicates) and
/// triangles indexing them, counter-clockwise seen from the normal. `None` when degenerate.
pub fn triangulate(polygon: &[Ring]) -> Option<Triangulation> {
    let rings: Vec<Vec<[f64; 3]>> = polygon.iter().map(|r| clean(r)).collect();
    let outer = rings.first().filter(|r| r.len() >= 3)?;
    let n = newell_normal(outer);
    let len = norm(n);
    // Under 1 cm² of area there is nothing to see, and the plane is not defined well enough to project.
    // Also false for NaN: written as a positive test.
    if len.is_nan() || len <= 2e-4 {
        return None;
    }
    let n = n.map(|c| c / len);
    // A basis (u, v) of the plane with u × v = n, so a ring counter-clockwise about n stays
    // counter-clockwise in (u, v).
    let helper = if n[0].abs() < 0.9 {
        [1.0, 0.0, 0.0]
    } else {
        [0.0, 1.0, 0.0]
    };
    let u = unit(cross(helper, n));
    let v = cross(n, u);
    let o = outer[0];
    let mut flat = vec![];
    let mut holes = vec![];
    let mut vertices = vec![];
    for (i, r) in rings.iter().enumerate() {
        if r.len() < 3 {
            continue; // a degenerate hole is dropped; the polygon stays
        }
        if i > 0 {
            holes.push(vertices.len());
        }
        for p in r {
            let d = sub(*p, o);
            flat.push(dot(d, u));
            flat.push(dot(d, v));
            vertices.push(*p);
        }
    }
    let idx = earcutr::earcut(&flat, &holes, 2).ok()?;
    let mut tris = Vec::with_capacity(idx.len() / 3);
    for t in idx.chunks_exact(3) {
        let (a, b, c) = (t[0], t[1], t[2]);
        let area2 = (flat[2 * b] - flat[2 * a]) * (flat[2 * c + 1] - flat[2 * a + 1])
            - (flat[2 * c] - flat[2 * a]) * (flat[2 * b + 1] - flat[2 * a + 1]);
        if area2 == 0.0 {
            continue;
        }
        // earcut does not promise an orientation; make every triangle agree with the normal.
        let tri = if area2 > 0.0 { [a, b, c] } else { [a, c, b] };
        tris.push(tri.map(|i| i as u32));
    }
    if tris.is_empty() {
        return None;
    }
    Some((n, vertices, tris))
}

/// A footprint extruded to a LOD1 solid between `base` and `top` (local metres): floor, roof and one wall
/// quad per ring edge, all facing outward.
pub fn extrude(footprint: &[Ring], base: f64, top: f64) -> Vec<Polygon> {
    let rings: Vec<Vec<[f64; 3]>> = footprint
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut r = clean(r);
            // Exterior counter-clockwise from above, holes clockwise: then each wall quad below faces
            // out of the solid.
            let ccw = newell_normal(&r)[2] > 0.0;
            if ccw != (i == 0) {
                r.reverse();
            }
            r
        })
        .filter(|r| r.len() >= 3)
        .collect();
    if rings.is_empty() || top.is_nan() || base.is_nan() || top <= base {
        return vec![];
    }
    let at = |r: &Vec<[f64; 3]>, z: f64| -> Ring {
        let mut ring: Ring = r.iter().map(|p| [p[0], p[1], z]).collect();
        if let Some(f) = ring.first().copied() {
            ring.push(f);
        }
        ring
    };
    let roof: Polygon = rings.iter().map(|r| at(r, top)).collect();
    let floor: Polygon = rings
        .iter()
        .map(|r| {
            let mut f = at(r, base);
            f.reverse();
            f
        })
        .collect();
    let mut out = vec![floor, roof];
    for r in &rings {
        for (i, a) in r.iter().enumerate() {
            let b = r[(i + 1) % r.len()];
            out.push(vec![vec![
                [a[0], a[1], base],
                [b[0], b[1], base],
                [b[0], b[1], top],
                [a[0], a[1], top],
                [a[0], a[1], base],
            ]]);
        }
    }
    out
}

/// A ring without its closing vertex and without repeated consecutive vertices.
fn clean(ring: &[[f64; 3]]) -> Vec<[f64; 3]> {
    let mut out: Vec<[f64; 3]> = Vec::with_capacity(ring.len());
    for p in ring {
        if !p.iter().all(|c| c.is_finite()) {
            continue;
        }
        if out.last() != Some(p) {
            out.push(*p);
        }
    }
    while out.len() > 1 && out.first() == out.last() {
        out.pop();
    }
    out
}

/// The axis-aligned bounds of points (`[inf; 3]`/`[-inf; 3]` when empty).
pub fn bounds(points: &[[f64; 3]]) -> ([f64; 3], [f64; 3]) {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for p in points {
        for k in 0..3 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    (lo, hi)
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}
fn unit(a: [f64; 3]) -> [f64; 3] {
    let l = norm(a);
    a.map(|c| c / l)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(size: f64) -> Ring {
        vec![
            [0.0, 0.0, 0.0],
            [size, 0.0, 0.0],
            [size, size, 0.0],
            [0.0, size, 0.0],
            [0.0, 0.0, 0.0],
        ]
    }

    #[test]
    fn triangulates_a_polygon_with_a_hole_to_its_area() {
        let hole: Ring = vec![
            [4.0, 4.0, 0.0],
            [4.0, 6.0, 0.0],
            [6.0, 6.0, 0.0],
            [6.0, 4.0, 0.0],
            [4.0, 4.0, 0.0],
        ];
        let mut m = FeatureMesh::default();
        assert!(m.add_polygon(&[square(10.0), hole], None));
        assert!((m.area() - 96.0).abs() < 1e-9);
        assert_eq!(m.normals[0], [0.0, 0.0, 1.0]);
        assert_eq!(m.colors[0], Part::Roof.color());
    }

    #[test]
    fn extrudes_a_footprint_to_a_closed_outward_solid() {
        // Given clockwise, as shapefiles store exteriors: extrude() must still face out.
        let mut cw = square(10.0);
        cw.reverse();
        let mut m = FeatureMesh::default();
        for p in extrude(&[cw], 2.0, 8.0) {
            assert!(m.add_polygon(&p, None));
        }
        assert!(
            (m.signed_volume() - 600.0).abs() < 1e-6,
            "{}",
            m.signed_volume()
        );
        assert!((m.area() - (2.0 * 100.0 + 4.0 * 60.0)).abs() < 1e-6);
    }

    #[test]
    fn turns_an_inside_out_solid_around() {
        let mut m = FeatureMesh::default();
        for p in extrude(&[square(4.0)], 0.0, 3.0) {
            m.add_polygon(&p, None);
        }
        m.flip();
        assert!(m.signed_volume() < 0.0);
        m.orient_outward();
        assert!((m.signed_volume() - 48.0).abs() < 1e-9);
    }

    #[test]
    fn skips_degenerate_polygons() {
        let mut m = FeatureMesh::default();
        let line: Ring = vec![
            [0.0, 0.0, 0.0],
            [1.0, 0.0, 0.0],
            [2.0, 0.0, 0.0],
            [0.0, 0.0, 0.0],
        ];
        let point: Ring = vec![[1.0, 1.0, 1.0]; 4];
        let nan: Ring = vec![[f64::NAN, 0.0, 0.0]; 4];
        for p in [vec![line], vec![point], vec![nan], vec![]] {
            assert!(!m.add_polygon(&p, None));
        }
        assert_eq!(m.skipped, 4);
        assert!(m.triangles.is_empty());
    }
}
