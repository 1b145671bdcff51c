//! From decoded LAS records to store rows (the columns are listed in the module doc of `pointcloud`).

use std::fmt::Write;
use std::sync::Arc;

use las::PointData;
use tvilling_core::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanArray, Float32Array, Float64Array, Int16Array, Int32Array,
    StringBuilder, new_null_array,
};
use tvilling_core::arrow::datatypes::{DataType, Field, SchemaRef};
use tvilling_core::arrow::record_batch::RecordBatch;
use tvilling_core::schema;

use super::extra::{Builder, Dim};
use crate::Result;

/// The fixed point attributes after x, y, z, with their Arrow types.
const FIXED: [(&str, DataType); 20] = [
    ("x", DataType::Float64),
    ("y", DataType::Float64),
    ("z", DataType::Float64),
    ("intensity", DataType::Int32),
    ("return_number", DataType::Int16),
    ("number_of_returns", DataType::Int16),
    ("classification", DataType::Int16),
    ("synthetic", DataType::Boolean),
    ("key_point", DataType::Boolean),
    ("withheld", DataType::Boolean),
    ("overlap", DataType::Boolean),
    ("scanner_channel", DataType::Int16),
    ("scan_direction_flag", DataType::Boolean),
    ("edge_of_flight_line", DataType::Boolean),
    ("scan_angle", DataType::Float32),
    ("user_data", DataType::Int16),
    ("point_source_id", DataType::Int32),
    ("gps_time", DataType::Float64),
    ("red", DataType::Int32),
    ("green", DataType::Int32),
];

/// Columns after the fixed ones that every point dataset has.
const MORE: [(&str, DataType); 2] = [("blue", DataType::Int32), ("nir", DataType::Int32)];

/// The names of the fixed attribute columns.
pub fn fixed_names() -> Vec<String> {
    FIXED
        .iter()
        .chain(MORE.iter())
        .map(|(n, _)| (*n).to_string())
        .collect()
}

/// Builds store batches from decoded records, in one CRS with unit factors applied.
#[derive(Debug, Clone)]
pub struct Converter {
    /// The dataset schema.
    pub schema: SchemaRef,
    xy_factor: f64,
    z_factor: f64,
    extra: Vec<Dim>,
}

impl Converter {
    /// A converter for points stored in `crs` (`EPSG:N`).
    pub fn new(crs: &str, xy_factor: f64, z_factor: f64, extra: Vec<Dim>) -> Self {
        let nullable = |n: &str| matches!(n, "gps_time" | "red" | "green" | "blue" | "nir");
        let fields = FIXED
            .iter()
            .chain(MORE.iter())
            .map(|(n, t)| Field::new(*n, t.clone(), nullable(n)))
            .chain(extra.iter().map(Dim::field));
        Converter {
            schema: schema::dataset_schema(crs, fields),
            xy_factor,
            z_factor,
            extra,
        }
    }

    /// Stored coordinates from file coordinates.
    pub fn scale(&self, x: f64, y: f64, z: f64) -> [f64; 3] {
        [x * self.xy_factor, y * self.xy_factor, z * self.z_factor]
    }

    /// The rows of `points`, whose file record numbers are `ids`.
    ///
    /// Built column by column from the raw records (the `las` crate's column readers, and the flag bits
    /// read here as its `Flags` reads them), not through a `las::Point` per record, which cost an
    /// allocation for its extra bytes and a pass over every field for each point.
    pub fn batch(&self, points: &PointData, ids: &[u64]) -> Result<RecordBatch> {
        let n = points.len();
        let format = points.format();
        let record_len = points.record_len();
        let extended = format.is_extended;
        // Extra bytes follow the point format's own fields.
        let core_len = record_len.saturating_sub(usize::from(format.extra_bytes));
        let records = || points.raw_bytes().chunks_exact(record_len.max(1));

        let mut id = StringBuilder::with_capacity(n, n * 8);
        for fid in ids {
            // Written into the builder, not through a String per point.
            write!(id, "{fid}").map_err(|e| crate::Error::Internal(e.to_string()))?;
            id.append_value("");
        }
        let (xy, zf) = (self.xy_factor, self.z_factor);
        let xs = Float64Array::from_iter_values(points.x().map(|v| v * xy));
        let ys = Float64Array::from_iter_values(points.y().map(|v| v * xy));
        let zs = Float64Array::from_iter_values(points.z().map(|v| v * zf));
        let mut geom = BinaryBuilder::with_capacity(n, n * 29);
        let mut wkb = [0u8; 29];
        // ISO WKB Point Z: little endian (1), type 1001.
        wkb[0] = 1;
        wkb[1..5].copy_from_slice(&1001u32.to_le_bytes());
        for ((px, py), pz) in xs.values().iter().zip(ys.values()).zip(zs.values()) {
            wkb[5..13].copy_from_slice(&px.to_le_bytes());
            wkb[13..21].copy_from_slice(&py.to_le_bytes());
            wkb[21..29].copy_from_slice(&pz.to_le_bytes());
            geom.append_value(wkb);
        }
        let i16s = |v: &mut dyn Iterator<Item = u8>| -> ArrayRef {
            Arc::new(Int16Array::from_iter_values(v.map(i16::from)))
        };
        let i32s = |v: &mut dyn Iterator<Item = u16>| -> ArrayRef {
            Arc::new(Int32Array::from_iter_values(v.map(i32::from)))
        };
        // Flag bits as `las::raw::point::Flags` reads them: legacy formats keep them in the return
        // byte (14) and the classification byte (15), extended ones in byte 15.
        let flag = |f: &dyn Fn(u8, u8) -> bool| -> ArrayRef {
            Arc::new(BooleanArray::from(
                records().map(|r| f(r[14], r[15])).collect::<Vec<bool>>(),
            ))
        };
        let synthetic = flag(&|_, b| {
            if extended {
                b & 1 == 1
            } else {
                b >> 5 & 1 == 1
            }
        });
        let key = flag(&|_, b| {
            if extended {
                b & 2 == 2
            } else {
                b >> 6 & 1 == 1
            }
        });
        let withheld = flag(&|_, b| {
            if extended {
                b & 4 == 4
            } else {
                b >> 7 & 1 == 1
            }
        });
        // Legacy formats have no overlap bit: class 12 (its low four bits, as `las` tests) means overlap.
        let overlap = flag(&|_, b| {
            if extended {
                b & 8 == 8
            } else {
                b & 0b1111 == 12
            }
        });
        let scan_byte = move |a: u8, b: u8| if extended { b } else { a };
        let direction = flag(&|a, b| scan_byte(a, b) >> 6 & 1 == 1);
        let edge = flag(&|a, b| scan_byte(a, b) >> 7 == 1);
        let channel: ArrayRef = Arc::new(Int16Array::from_iter_values(records().map(|r| {
            if extended {
                i16::from(r[15] >> 4 & 3)
            } else {
                0
            }
        })));
        let gps: ArrayRef = match points.gps_time() {
            Some(t) => Arc::new(Float64Array::from_iter_values(t)),
            None => new_null_array(&DataType::Float64, n),
        };
        let colour = |pick: fn((u16, u16, u16)) -> u16| -> ArrayRef {
            match points.rgb() {
                Some(c) => Arc::new(Int32Array::from_iter_values(c.map(|c| i32::from(pick(c))))),
                None => new_null_array(&DataType::Int32, n),
            }
        };
        let nir: ArrayRef = match points.nir() {
            Some(v) => i32s(&mut { v }),
            None => new_null_array(&DataType::Int32, n),
        };
        let mut extra: Vec<Builder> = self.extra.iter().map(|d| d.builder(n)).collect();
        if !self.extra.is_empty() {
            for r in records() {
                let bytes = r.get(core_len..).unwrap_or_default();
                for (d, b) in self.extra.iter().zip(extra.iter_mut()) {
                    d.append(b, bytes);
                }
            }
        }
        let (xa, ya, za): (ArrayRef, ArrayRef, ArrayRef) =
            (Arc::new(xs), Arc::new(ys), Arc::new(zs));
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(id.finish()),
            xa.clone(),
            ya.clone(),
            xa.clone(),
            ya.clone(),
            za.clone(),
            za.clone(),
            Arc::new(geom.finish()),
            xa,
            ya,
            za,
            i32s(&mut points.intensity()),
            i16s(&mut points.return_number()),
            i16s(&mut points.number_of_returns()),
            // The raw classification bits, as the file has them.
            i16s(&mut points.classification()),
            synthetic,
            key,
            withheld,
            overlap,
            channel,
            direction,
            edge,
            Arc::new(Float32Array::from_iter_values(points.scan_angle_degrees())),
            i16s(&mut points.user_data()),
            i32s(&mut points.point_source_id()),
            gps,
            colour(|c| c.0),
            colour(|c| c.1),
            colour(|c| c.2),
            nir,
        ];
        columns.extend(extra.iter_mut().map(Builder::finish));
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

#[cfg(test)]
mod tests {
    use las::point::{Classification, Format, ScanDirection};
    use las::{Color, Point, PointDataBuilder, Transform, Vector};
    use tvilling_core::arrow::array::{Array, AsArray};
    use tvilling_core::arrow::datatypes::{Float32Type, Float64Type, Int16Type, Int32Type};

    use super::*;

    /// Points with every flag combination, for one point format.
    fn points(format: u8) -> (Vec<Point>, PointData) {
        let format = Format::new(format).expect("format");
        let points: Vec<Point> = (0u8..16)
            .map(|i| {
                let bit = |k: u8| i >> k & 1 == 1;
                Point {
                    x: f64::from(i) * 1.5,
                    y: 100.0 - f64::from(i),
                    z: 7.25,
                    intensity: u16::from(i) * 1000,
                    return_number: i % 3 + 1,
                    number_of_returns: 3,
                    scan_direction: if bit(0) {
                        ScanDirection::LeftToRight
                    } else {
                        ScanDirection::RightToLeft
                    },
                    is_edge_of_flight_line: bit(1),
                    // Legacy formats keep only the low five bits; 12 would be read as overlap there.
                    classification: Classification::new(if i == 12 { 6 } else { i })
                        .expect("class"),
                    is_synthetic: bit(2),
                    is_key_point: bit(3),
                    is_withheld: bit(0) && bit(1),
                    is_overlap: format.is_extended && bit(2),
                    scanner_channel: if format.is_extended { i % 4 } else { 0 },
                    scan_angle: if format.is_extended {
                        f32::from(i) * 0.6
                    } else {
                        f32::from(i) - 8.0
                    },
                    user_data: i,
                    point_source_id: u16::from(i) + 300,
                    gps_time: format.has_gps_time.then_some(f64::from(i) * 0.25),
                    color: format
                        .has_color
                        .then(|| Color::new(u16::from(i), 2 * u16::from(i), 3 * u16::from(i))),
                    ..Default::default()
                }
            })
            .collect();
        let t = Transform {
            scale: 0.001,
            offset: 0.0,
        };
        let data = PointDataBuilder::new()
            .with_format(format)
            .with_transforms(Vector { x: t, y: t, z: t })
            .build_from_points(points.clone())
            .expect("point data");
        (points, data)
    }

    #[test]
    fn columns_match_the_las_points_for_legacy_and_extended_formats() {
        for format in [1, 3, 6, 7] {
            let (points, data) = points(format);
            let ids: Vec<u64> = (0..points.len() as u64).collect();
            let batch = Converter::new("EPSG:3006", 1.0, 1.0, vec![])
                .batch(&data, &ids)
                .expect("batch");
            let col = |n: &str| batch.column_by_name(n).expect(n).clone();
            let bools = |n: &str| {
                col(n)
                    .as_boolean()
                    .iter()
                    .map(Option::unwrap_or_default)
                    .collect::<Vec<_>>()
            };
            let i16s = |n: &str| col(n).as_primitive::<Int16Type>().values().to_vec();
            let i32s = |n: &str| {
                col(n)
                    .as_primitive::<Int32Type>()
                    .iter()
                    .collect::<Vec<_>>()
            };
            let want = |f: fn(&Point) -> bool| points.iter().map(f).collect::<Vec<_>>();
            assert_eq!(
                bools("synthetic"),
                want(|p| p.is_synthetic),
                "format {format}"
            );
            assert_eq!(
                bools("key_point"),
                want(|p| p.is_key_point),
                "format {format}"
            );
            assert_eq!(
                bools("withheld"),
                want(|p| p.is_withheld),
                "format {format}"
            );
            assert_eq!(bools("overlap"), want(|p| p.is_overlap), "format {format}");
            assert_eq!(
                bools("edge_of_flight_line"),
                want(|p| p.is_edge_of_flight_line)
            );
            assert_eq!(
                bools("scan_direction_flag"),
                want(|p| p.scan_direction == ScanDirection::LeftToRight)
            );
            let chan: Vec<i16> = points
                .iter()
                .map(|p| i16::from(p.scanner_channel))
                .collect();
            assert_eq!(i16s("scanner_channel"), chan, "format {format}");
            let class: Vec<i16> = points
                .iter()
                .map(|p| i16::from(u8::from(p.classification)))
                .collect();
            assert_eq!(i16s("classification"), class);
            let ret: Vec<i16> = points.iter().map(|p| i16::from(p.return_number)).collect();
            assert_eq!(i16s("return_number"), ret);
            assert_eq!(i16s("user_data"), (0..16).collect::<Vec<i16>>());
            let source: Vec<Option<i32>> = (300..316).map(Some).collect();
            assert_eq!(i32s("point_source_id"), source);
            let angle = col("scan_angle");
            for (a, p) in angle
                .as_primitive::<Float32Type>()
                .values()
                .iter()
                .zip(&points)
            {
                assert!(
                    (a - p.scan_angle).abs() < 0.01,
                    "format {format}: {a} vs {}",
                    p.scan_angle
                );
            }
            let x = col("x");
            assert_eq!(x.as_primitive::<Float64Type>().value(3), 4.5);
            let gps = col("gps_time");
            assert_eq!(
                gps.null_count() == 0,
                data.format().has_gps_time,
                "format {format}"
            );
            let red = i32s("red");
            let want_red: Vec<Option<i32>> = points
                .iter()
                .map(|p| p.color.map(|c| i32::from(c.red)))
                .collect();
            assert_eq!(red, want_red, "format {format}");
            assert_eq!(col("id").as_string::<i32>().value(15), "15");
        }
    }
}
