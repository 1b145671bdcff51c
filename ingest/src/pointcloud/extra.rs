//! Extra bytes (LAS 1.4 R15 §2.5, "Extra Bytes" VLR, user LASF_Spec record 4): each 192-byte descriptor
//! names one extra dimension. A scalar dimension becomes a typed column (Float64 when the descriptor
//! has a scale or offset, which are applied); nulls where the value equals the descriptor's no-data value.
//! Undocumented bytes (type 0), the deprecated array types (11–30) and bytes no descriptor covers are kept
//! as Binary so nothing is dropped.

use std::sync::Arc;

use las::Header;
use tvilling_core::arrow::array::{
    ArrayRef, BinaryBuilder, Float32Builder, Float64Builder, Int16Builder, Int32Builder,
    Int64Builder,
};
use tvilling_core::arrow::datatypes::{DataType, Field};

/// One extra dimension.
#[derive(Debug, Clone)]
pub struct Dim {
    /// The column name.
    pub column: String,
    /// Byte offset inside the point's extra bytes.
    offset: usize,
    /// Byte length.
    len: usize,
    /// LAS data type (1–10 scalar; anything else is kept as bytes).
    data_type: u8,
    scale: Option<f64>,
    offset_value: Option<f64>,
    no_data: Option<[u8; 8]>,
}

const DESCRIPTOR: usize = 192;

/// The extra dimensions of `header`'s point format; `taken` are the column names already in use.
pub fn dims(header: &Header, taken: &[String]) -> Vec<Dim> {
    let total = usize::from(header.point_format().extra_bytes);
    let mut out: Vec<Dim> = vec![];
    let mut names: Vec<String> = taken.to_vec();
    let mut at = 0usize;
    let descriptors = header
        .all_vlrs()
        .filter(|v| v.user_id.trim_end_matches('\0') == "LASF_Spec" && v.record_id == 4)
        .flat_map(|v| {
            v.data
                .chunks_exact(DESCRIPTOR)
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        });
    for d in descriptors {
        let data_type = d[2];
        let options = d[3];
        let len = match data_type {
            0 => usize::from(options),
            1..=30 => {
                let base = [1, 1, 2, 2, 4, 4, 8, 8, 4, 8][usize::from((data_type - 1) % 10)];
                base * (1 + usize::from((data_type - 1) / 10))
            }
            _ => break,
        };
        if at + len > total {
            break;
        }
        let raw_name = String::from_utf8_lossy(&d[4..36])
            .trim_end_matches('\0')
            .trim()
            .to_string();
        let column = crate::vector::fields::column_name(&raw_name, &names);
        names.push(column.clone());
        let f64_at = |o: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&d[o..o + 8]);
            f64::from_le_bytes(b)
        };
        let mut no_data = [0u8; 8];
        no_data.copy_from_slice(&d[40..48]);
        out.push(Dim {
            column,
            offset: at,
            len,
            data_type,
            no_data: (options & 0x01 != 0).then_some(no_data),
            scale: (options & 0x08 != 0).then(|| f64_at(112)),
            offset_value: (options & 0x10 != 0).then(|| f64_at(136)),
        });
        at += len;
    }
    if at < total {
        let column = crate::vector::fields::column_name("extra_bytes", &names);
        out.push(Dim {
            column,
            offset: at,
            len: total - at,
            data_type: 0,
            scale: None,
            offset_value: None,
            no_data: None,
        });
    }
    out
}

impl Dim {
    /// The Arrow field of this dimension.
    pub fn field(&self) -> Field {
        Field::new(&self.column, self.arrow_type(), true)
    }

    fn arrow_type(&self) -> DataType {
        if self.scale.is_some() || self.offset_value.is_some() {
            return DataType::Float64;
        }
        match self.data_type {
            1 | 2 | 4 => DataType::Int16,
            3 | 6 => DataType::Int32,
            5 | 7 | 8 => DataType::Int64,
            9 => DataType::Float32,
            10 => DataType::Float64,
            _ => DataType::Binary,
        }
    }

    /// A builder for this dimension's column.
    pub fn builder(&self, capacity: usize) -> Builder {
        match self.arrow_type() {
            DataType::Float64 => Builder::F64(Float64Builder::with_capacity(capacity)),
            DataType::Int16 => Builder::I16(Int16Builder::with_capacity(capacity)),
            DataType::Int32 => Builder::I32(Int32Builder::with_capacity(capacity)),
            DataType::Int64 => Builder::I64(Int64Builder::with_capacity(capacity)),
            DataType::Float32 => Builder::F32(Float32Builder::with_capacity(capacity)),
            _ => Builder::Bin(BinaryBuilder::with_capacity(capacity, capacity * self.len)),
        }
    }

    /// Appends this dimension's value from one point's extra bytes.
    pub fn append(&self, b: &mut Builder, extra: &[u8]) {
        let Some(bytes) = extra.get(self.offset..self.offset + self.len) else {
            b.null();
            return;
        };
        let mut w = [0u8; 8];
        if self.len <= 8 {
            w[..self.len].copy_from_slice(bytes);
        }
        let (int, float): (Option<i128>, Option<f64>) = match self.data_type {
            1 => (Some(i128::from(w[0])), None),
            2 => (Some(i128::from(w[0] as i8)), None),
            3 => (Some(i128::from(u16::from_le_bytes([w[0], w[1]]))), None),
            4 => (Some(i128::from(i16::from_le_bytes([w[0], w[1]]))), None),
            5 => (
                Some(i128::from(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))),
                None,
            ),
            6 => (
                Some(i128::from(i32::from_le_bytes([w[0], w[1], w[2], w[3]]))),
                None,
            ),
            7 => (Some(i128::from(u64::from_le_bytes(w))), None),
            8 => (Some(i128::from(i64::from_le_bytes(w))), None),
            9 => (
                None,
                Some(f64::from(f32::from_le_bytes([w[0], w[1], w[2], w[3]]))),
            ),
            10 => (None, Some(f64::from_le_bytes(w))),
            _ => (None, None),
        };
        // The no-data value is stored as u64/i64/f64 whatever the dimension's own type (R15 §2.5.2).
        if let Some(nd) = self.no_data {
            let is_no_data = match (int, float) {
                (Some(i), _) if matches!(self.data_type, 2 | 4 | 6 | 8) => {
                    i == i128::from(i64::from_le_bytes(nd))
                }
                (Some(i), _) => i == i128::from(u64::from_le_bytes(nd)),
                (_, Some(f)) if self.data_type == 9 => f as f32 == f64::from_le_bytes(nd) as f32,
                (_, Some(f)) => f == f64::from_le_bytes(nd),
                _ => false,
            };
            if is_no_data {
                b.null();
                return;
            }
        }
        match b {
            Builder::F64(c) => {
                let v = float.or(int.map(|i| i as f64));
                let v = v.map(|v| v * self.scale.unwrap_or(1.0) + self.offset_value.unwrap_or(0.0));
                c.append_option(v);
            }
            // The casts below cannot truncate: each arm's Arrow type was chosen to hold the LAS type.
            Builder::I16(c) => c.append_option(int.map(|i| i as i16)),
            Builder::I32(c) => c.append_option(int.map(|i| i as i32)),
            // u64 values above i64::MAX wrap; no real extra dimension uses that range.
            Builder::I64(c) => c.append_option(int.map(|i| i as i64)),
            Builder::F32(c) => c.append_option(float.map(|f| f as f32)),
            Builder::Bin(c) => c.append_value(bytes),
        }
    }
}

/// A growing extra-dimension column.
pub enum Builder {
    F64(Float64Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    Bin(BinaryBuilder),
}

impl Builder {
    fn null(&mut self) {
        match self {
            Builder::F64(c) => c.append_null(),
            Builder::I16(c) => c.append_null(),
            Builder::I32(c) => c.append_null(),
            Builder::I64(c) => c.append_null(),
            Builder::F32(c) => c.append_null(),
            Builder::Bin(c) => c.append_null(),
        }
    }

    /// The finished column.
    pub fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::F64(c) => Arc::new(c.finish()),
            Builder::I16(c) => Arc::new(c.finish()),
            Builder::I32(c) => Arc::new(c.finish()),
            Builder::I64(c) => Arc::new(c.finish()),
            Builder::F32(c) => Arc::new(c.finish()),
            Builder::Bin(c) => Arc::new(c.finish()),
        }
    }
}
