//! From decoded LAS records to store rows (the columns are listed in the module doc of `pointcloud`).

use std::sync::Arc;

use las::PointData;
use tvilling_core::arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Float32Builder, Float64Builder, Int16Builder,
    Int32Builder, StringBuilder,
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
    pub fn batch(&self, points: &PointData, ids: &[u64]) -> Result<RecordBatch> {
        let n = points.len();
        let mut id = StringBuilder::with_capacity(n, n * 8);
        let mut geom = BinaryBuilder::with_capacity(n, n * 29);
        let f64s = || Float64Builder::with_capacity(n);
        let (mut x, mut y, mut z) = (f64s(), f64s(), f64s());
        let i16s = || Int16Builder::with_capacity(n);
        let i32s = || Int32Builder::with_capacity(n);
        let bools = || BooleanBuilder::with_capacity(n);
        let mut intensity = i32s();
        let (mut ret, mut nret, mut class, mut channel, mut user) =
            (i16s(), i16s(), i16s(), i16s(), i16s());
        let (mut synthetic, mut key, mut withheld, mut overlap, mut dir, mut edge) =
            (bools(), bools(), bools(), bools(), bools(), bools());
        let mut angle = Float32Builder::with_capacity(n);
        let mut source = i32s();
        let mut gps = f64s();
        let (mut red, mut green, mut blue, mut nir) = (i32s(), i32s(), i32s(), i32s());
        let mut extra: Vec<Builder> = self.extra.iter().map(|d| d.builder(n)).collect();
        let mut wkb = [0u8; 29];
        // ISO WKB Point Z: little endian (1), type 1001.
        wkb[0] = 1;
        wkb[1..5].copy_from_slice(&1001u32.to_le_bytes());
        // The raw classification byte, as the file has it (las maps legacy class 12 to the overlap flag).
        let classes = points.classification();
        for ((p, raw_class), fid) in points.points().zip(classes).zip(ids) {
            let p = p.map_err(|e| crate::Error::BadInput(format!("a point record: {e}")))?;
            let [px, py, pz] = self.scale(p.x, p.y, p.z);
            id.append_value(fid.to_string());
            wkb[5..13].copy_from_slice(&px.to_le_bytes());
            wkb[13..21].copy_from_slice(&py.to_le_bytes());
            wkb[21..29].copy_from_slice(&pz.to_le_bytes());
            geom.append_value(wkb);
            x.append_value(px);
            y.append_value(py);
            z.append_value(pz);
            intensity.append_value(i32::from(p.intensity));
            ret.append_value(i16::from(p.return_number));
            nret.append_value(i16::from(p.number_of_returns));
            class.append_value(i16::from(raw_class));
            synthetic.append_value(p.is_synthetic);
            key.append_value(p.is_key_point);
            withheld.append_value(p.is_withheld);
            overlap.append_value(p.is_overlap);
            channel.append_value(i16::from(p.scanner_channel));
            dir.append_value(p.scan_direction == las::point::ScanDirection::LeftToRight);
            edge.append_value(p.is_edge_of_flight_line);
            angle.append_value(p.scan_angle);
            user.append_value(i16::from(p.user_data));
            source.append_value(i32::from(p.point_source_id));
            gps.append_option(p.gps_time);
            red.append_option(p.color.map(|c| i32::from(c.red)));
            green.append_option(p.color.map(|c| i32::from(c.green)));
            blue.append_option(p.color.map(|c| i32::from(c.blue)));
            nir.append_option(p.nir.map(i32::from));
            for (d, b) in self.extra.iter().zip(extra.iter_mut()) {
                d.append(b, &p.extra_bytes);
            }
        }
        let xs = x.finish();
        let ys = y.finish();
        let zs = z.finish();
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
            Arc::new(intensity.finish()),
            Arc::new(ret.finish()),
            Arc::new(nret.finish()),
            Arc::new(class.finish()),
            Arc::new(synthetic.finish()),
            Arc::new(key.finish()),
            Arc::new(withheld.finish()),
            Arc::new(overlap.finish()),
            Arc::new(channel.finish()),
            Arc::new(dir.finish()),
            Arc::new(edge.finish()),
            Arc::new(angle.finish()),
            Arc::new(user.finish()),
            Arc::new(source.finish()),
            Arc::new(gps.finish()),
            Arc::new(red.finish()),
            Arc::new(green.finish()),
            Arc::new(blue.finish()),
            Arc::new(nir.finish()),
        ];
        columns.extend(extra.iter_mut().map(Builder::finish));
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}
