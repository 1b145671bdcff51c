//! Laser point clouds (kind `pointcloud`, issue 5): LAS 1.0–1.4, point formats 0–10, LAZ and COPC (read
//! as the LAZ 1.4 it is), through the `las` crate. One row per point.
//!
//! ```text
//! id                     the point's record number in the source file, 0-based, as text ("0" is the first
//!                        point in file order); unique within one source file
//! bbox_xmin … bbox_zmax  the point itself (min = max): the store's pruning columns, so Delta file and
//!                        Parquet row-group statistics skip groups outside a spatial filter
//! geometry               ISO WKB Point Z, so every ST_ function works on points as on any dataset
//! x, y, z                Float64, scaled and offset (and converted to the CRS's unit when a GeoTIFF unit
//!                        key overrides it, see crs.rs): plain columns for SQL and the tiler
//! intensity              Int32 (LAS u16)
//! return_number, number_of_returns, classification, scanner_channel, user_data   Int16 (LAS u8)
//! synthetic, key_point, withheld, overlap, scan_direction_flag, edge_of_flight_line   Boolean
//! scan_angle             Float32, degrees (0 = nadir, negative = left)
//! point_source_id        Int32 (LAS u16)
//! gps_time               Float64, null when the point format has none (0, 2)
//! red, green, blue       Int32 (LAS u16), null without colour (formats 0, 1, 4, 6, 9)
//! nir                    Int32 (LAS u16), null without near infrared (all but 8 and 10)
//! <extra dimensions>     one typed column per Extra Bytes descriptor (see extra.rs)
//! ```
//!
//! Why this layout: every store dataset has `id`, `geometry` and the bbox columns (DESIGN.md, "The store"),
//! which the query crate's spatial pushdown, `tvilling info` and the tiler rely on, so points follow it
//! rather than being a special case. The cost is that each coordinate is stored three times (x, bbox min,
//! bbox max) plus the WKB; Parquet compresses the repeats only partly. Unsigned LAS fields widen to the
//! next signed type because Delta has no unsigned types. Columns that a format lacks are still present
//! (null), so files of different point formats append to one dataset.
//!
//! Rows are written in Morton (Z-order) order of x/y over the header bounds ([`sort`]), so each Parquet
//! row group covers a compact area and its bbox statistics prune spatial filters. The sort runs out of
//! core: points are binned into a spill file while reading and each run of bins is sorted in memory on
//! the way out, so a 100 M point file needs about the memory of one million points.

mod crs;
mod error;
mod extra;
mod header;
mod reader;
mod rows;
mod sort;

pub use reader::PointCloudReader;
pub use sort::SortPlan;
