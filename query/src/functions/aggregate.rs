//! Geometry aggregates: `ST_Union(geom)`, `ST_Collect(geom)` (planned as `st_union_agg`/`st_collect_agg`
//! because DataFusion resolves a name to a scalar function first; see `session::rewrite`) and `ST_Extent`.
//! All skip NULLs and give NULL over no rows, as PostGIS.

use std::sync::Arc;

use deltalake::arrow::array::{ArrayRef, AsArray, BinaryArray};
use deltalake::arrow::datatypes::{DataType, Field, FieldRef};
use deltalake::datafusion::common::{DataFusionError, Result, ScalarValue};
use deltalake::datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use deltalake::datafusion::logical_expr::{Accumulator, AggregateUDFImpl, Signature, Volatility};

use super::catalog::{collect, envelope, line_union};
use crate::geom::{crs_of, wkb_array, wkb_field};
use crate::shape::{Geom, Shape};

/// Which aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Which {
    /// Dissolves polygons into one (multi)polygon.
    Union,
    /// Gathers geometries into a Multi* or a collection.
    Collect,
    /// The 2D envelope of all geometries.
    Extent,
}

/// A geometry aggregate.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct GeoAggregate {
    which: Which,
    signature: Signature,
}

impl GeoAggregate {
    /// The aggregate `which`.
    pub fn new(which: Which) -> Self {
        GeoAggregate {
            which,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for GeoAggregate {
    fn name(&self) -> &str {
        match self.which {
            Which::Union => "st_union_agg",
            Which::Collect => "st_collect_agg",
            Which::Extent => "st_extent",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn return_field(&self, arg_fields: &[FieldRef]) -> Result<FieldRef> {
        let crs = arg_fields.first().and_then(|f| crs_of(f));
        Ok(Arc::new(wkb_field(self.name(), crs.as_deref(), true)))
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let field = args.expr_fields.first().cloned().ok_or_else(|| {
            DataFusionError::Plan(format!("{} takes one geometry argument", self.name()))
        })?;
        Ok(Box::new(GeoAccumulator {
            which: self.which,
            field,
            parts: Vec::new(),
            bytes: 0,
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let item = Arc::new(Field::new_list_field(DataType::Binary, true));
        Ok(vec![Arc::new(Field::new(
            format!("{}_parts", args.name),
            DataType::List(item),
            true,
        ))])
    }
}

/// Holds WKB parts; partial states travel as a list of WKB so partitions can be merged.
#[derive(Debug)]
struct GeoAccumulator {
    which: Which,
    field: FieldRef,
    parts: Vec<Vec<u8>>,
    bytes: usize,
}

impl GeoAccumulator {
    fn push(&mut self, array: &BinaryArray) {
        for v in array.iter().flatten() {
            self.bytes += v.len();
            self.parts.push(v.to_vec());
        }
        // Extent only needs the running envelope; keep the state small.
        if self.which == Which::Extent && self.parts.len() > 1024 {
            self.parts = self.extent().map(|g| vec![g.to_wkb()]).unwrap_or_default();
            self.bytes = self.parts.iter().map(Vec::len).sum();
        }
    }

    fn geoms(&self) -> Result<Vec<Geom>> {
        self.parts.iter().map(|p| Geom::from_wkb(p)).collect()
    }

    fn extent(&self) -> Option<Geom> {
        let mut acc: Option<[f64; 4]> = None;
        for p in &self.parts {
            if let Ok(n) = tvilling_core::wkb::normalize(p, None)
                && let Some(b) = n.bbox
            {
                acc = Some(match acc {
                    None => [b.xmin, b.ymin, b.xmax, b.ymax],
                    Some(a) => [
                        a[0].min(b.xmin),
                        a[1].min(b.ymin),
                        a[2].max(b.xmax),
                        a[3].max(b.ymax),
                    ],
                });
            }
        }
        acc.map(|a| envelope(a[0], a[1], a[2], a[3]))
    }
}

impl Accumulator for GeoAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let array = values
            .first()
            .ok_or_else(|| DataFusionError::Internal("no argument".into()))?;
        let wkb = wkb_array(array, &self.field)?;
        self.push(&wkb);
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.parts.is_empty() {
            return Ok(ScalarValue::Binary(None));
        }
        let g = match self.which {
            Which::Extent => self.extent(),
            Which::Collect => Some(collect(self.geoms()?)),
            Which::Union => Some(union_all(&self.geoms()?)?),
        };
        Ok(ScalarValue::Binary(g.map(|g| g.to_wkb())))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.bytes + self.parts.len() * std::mem::size_of::<Vec<u8>>()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let values: Vec<ScalarValue> = std::mem::take(&mut self.parts)
            .into_iter()
            .map(|p| ScalarValue::Binary(Some(p)))
            .collect();
        self.bytes = 0;
        Ok(vec![ScalarValue::List(ScalarValue::new_list_nullable(
            &values,
            &DataType::Binary,
        ))])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = states
            .first()
            .ok_or_else(|| DataFusionError::Internal("no state".into()))?;
        for list in lists.as_list::<i32>().iter().flatten() {
            let wkb = wkb_array(&list, &Field::new("parts", DataType::Binary, true))?;
            self.push(&wkb);
        }
        Ok(())
    }
}

/// Dissolves polygons with one cascaded union; points and lines are collected, as tvilling's overlay does not
/// node lines.
fn union_all(geoms: &[Geom]) -> Result<Geom> {
    // Points dissolve into distinct points.
    let mut pts: Vec<[f64; 3]> = Vec::new();
    if geoms
        .iter()
        .all(|g| matches!(g.shape, Shape::Point(_) | Shape::Multi(4, _)))
    {
        for g in geoms {
            g.shape.for_each_coord(&mut |c| {
                if !pts.contains(c) {
                    pts.push(*c);
                }
            });
        }
        let has_z = geoms.iter().any(|g| g.has_z);
        let shape = match pts.as_slice() {
            [] => Shape::Point(None),
            [one] => Shape::Point(Some(*one)),
            _ => Shape::Multi(4, pts.into_iter().map(|c| Shape::Point(Some(c))).collect()),
        };
        return Ok(Geom { shape, has_z });
    }
    let solid: Vec<geo::Geometry> = geoms
        .iter()
        .filter(|g| !g.shape.is_empty())
        .filter_map(Geom::to_geo)
        .collect();
    if solid.iter().all(|g| {
        matches!(
            g,
            geo::Geometry::LineString(_) | geo::Geometry::MultiLineString(_)
        )
    }) {
        return Ok(line_union(solid.into_iter().flat_map(|g| match g {
            geo::Geometry::LineString(l) => vec![l],
            geo::Geometry::MultiLineString(m) => m.0,
            _ => vec![],
        })));
    }
    let mut polys = Vec::new();
    for g in geoms.iter().filter(|g| !g.shape.is_empty()) {
        match g.to_geo() {
            Some(geo::Geometry::Polygon(p)) => polys.push(p),
            Some(geo::Geometry::MultiPolygon(m)) => polys.extend(m.0),
            _ => return Ok(collect(geoms.to_vec())),
        }
    }
    let merged = geo::algorithm::bool_ops::unary_union(polys.iter());
    Ok(match merged.0.len() {
        0 => Geom {
            shape: Shape::Polygon(vec![]),
            has_z: false,
        },
        1 => Geom::from_geo(&geo::Geometry::Polygon(merged.0[0].clone())),
        _ => Geom::from_geo(&geo::Geometry::MultiPolygon(merged)),
    })
}
