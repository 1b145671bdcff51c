//! Small 3D vector and affine-matrix arithmetic for placements and geometry (f64, right-handed, z up as
//! IFC has it).

/// A point or vector.
pub type V3 = [f64; 3];

/// `a - b`.
pub fn sub(a: V3, b: V3) -> V3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
/// `a + b`.
pub fn add(a: V3, b: V3) -> V3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}
/// `a * s`.
pub fn scale(a: V3, s: f64) -> V3 {
    [a[0] * s, a[1] * s, a[2] * s]
}
/// Dot product.
pub fn dot(a: V3, b: V3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
/// Cross product.
pub fn cross(a: V3, b: V3) -> V3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
/// Length.
pub fn norm(a: V3) -> f64 {
    dot(a, a).sqrt()
}
/// Unit vector, `None` for a zero or non-finite vector.
pub fn unit(a: V3) -> Option<V3> {
    let n = norm(a);
    (n > 1e-12 && n.is_finite()).then(|| scale(a, 1.0 / n))
}

/// An affine transform: columns x, y, z (3×3, not necessarily orthonormal: mapped items may scale) and
/// translation t. `apply(p) = x·p.x + y·p.y + z·p.z + t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mat {
    /// Image of the x axis.
    pub x: V3,
    /// Image of the y axis.
    pub y: V3,
    /// Image of the z axis.
    pub z: V3,
    /// Translation.
    pub t: V3,
}

impl Default for Mat {
    fn default() -> Self {
        Mat::IDENTITY
    }
}

impl Mat {
    /// No transform.
    pub const IDENTITY: Mat = Mat {
        x: [1.0, 0.0, 0.0],
        y: [0.0, 1.0, 0.0],
        z: [0.0, 0.0, 1.0],
        t: [0.0, 0.0, 0.0],
    };
    /// Transforms a point.
    pub fn apply(&self, p: V3) -> V3 {
        add(
            add(
                add(scale(self.x, p[0]), scale(self.y, p[1])),
                scale(self.z, p[2]),
            ),
            self.t,
        )
    }
    /// Transforms a direction (no translation).
    pub fn apply_dir(&self, d: V3) -> V3 {
        add(
            add(scale(self.x, d[0]), scale(self.y, d[1])),
            scale(self.z, d[2]),
        )
    }
    /// `self ∘ other`: first `other`, then `self`.
    pub fn then_after(&self, other: &Mat) -> Mat {
        Mat {
            x: self.apply_dir(other.x),
            y: self.apply_dir(other.y),
            z: self.apply_dir(other.z),
            t: self.apply(other.t),
        }
    }
    /// The determinant of the 3×3 part (negative for a mirroring transform).
    pub fn det(&self) -> f64 {
        dot(self.x, cross(self.y, self.z))
    }
    /// The inverse, `None` when singular.
    pub fn inverse(&self) -> Option<Mat> {
        let d = self.det();
        if d.abs() < 1e-18 || !d.is_finite() {
            return None;
        }
        // Rows of the inverse of [x y z] are the cross products of the columns over the determinant.
        let r0 = scale(cross(self.y, self.z), 1.0 / d);
        let r1 = scale(cross(self.z, self.x), 1.0 / d);
        let r2 = scale(cross(self.x, self.y), 1.0 / d);
        let m = Mat {
            x: [r0[0], r1[0], r2[0]],
            y: [r0[1], r1[1], r2[1]],
            z: [r0[2], r1[2], r2[2]],
            t: [0.0; 3],
        };
        let t = m.apply_dir(self.t);
        Some(Mat {
            t: scale(t, -1.0),
            ..m
        })
    }
    /// A right-handed frame from a z axis and an approximate x axis (the IFC Axis2Placement rule: x is
    /// made perpendicular to z; a missing or parallel x is replaced by a default).
    pub fn frame(origin: V3, z: Option<V3>, x: Option<V3>) -> Mat {
        let z = z.and_then(unit).unwrap_or([0.0, 0.0, 1.0]);
        let project = |x: V3| unit(sub(x, scale(z, dot(x, z))));
        let x = x
            .and_then(project)
            .or_else(|| project([1.0, 0.0, 0.0]))
            .or_else(|| project([0.0, 1.0, 0.0]))
            .unwrap_or([1.0, 0.0, 0.0]);
        let y = cross(z, x);
        Mat { x, y, z, t: origin }
    }
    /// Scales every length by `s` (units to metres), around the origin.
    pub fn scaled_translation(&self, s: f64) -> Mat {
        Mat {
            t: scale(self.t, s),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composes_and_inverts_frames() {
        let a = Mat::frame(
            [1.0, 2.0, 3.0],
            Some([0.0, 0.0, 1.0]),
            Some([0.0, 1.0, 0.0]),
        );
        assert_eq!(a.apply([1.0, 0.0, 0.0]), [1.0, 3.0, 3.0]);
        let inv = a.inverse().unwrap();
        let p = inv.apply(a.apply([0.3, -2.0, 5.0]));
        assert!(norm(sub(p, [0.3, -2.0, 5.0])) < 1e-12);
        let b = a.then_after(&a);
        assert!(norm(sub(b.apply([0.0; 3]), [-1.0, 3.0, 6.0])) < 1e-12);
    }

    #[test]
    fn makes_x_perpendicular_to_z() {
        let f = Mat::frame([0.0; 3], Some([0.0, 0.0, 2.0]), Some([1.0, 0.0, 1.0]));
        assert_eq!(f.x, [1.0, 0.0, 0.0]);
        let g = Mat::frame([0.0; 3], Some([1.0, 0.0, 0.0]), Some([1.0, 0.0, 0.0]));
        assert!(dot(g.x, g.z).abs() < 1e-12);
        assert!((g.det() - 1.0).abs() < 1e-12);
    }
}
