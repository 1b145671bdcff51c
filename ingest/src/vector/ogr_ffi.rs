//! The one place tvilling calls GDAL's C API directly.
//!
//! gdal 0.19's safe `Feature::field` checks only `OGR_F_IsFieldNull`, so a field that is *unset* (a
//! GeoJSON property missing from one feature, a CSV cell past the end of a short row) comes back as its
//! type's default: `""` for strings and `0` for numbers. Storing that would invent data, so the reader asks
//! `OGR_F_IsFieldSet` first and stores null. The crate offers no safe wrapper for that call.
#![allow(unsafe_code)]

use gdal::vector::{Feature, FieldValue};

/// The value of the field at `index`, or `None` when it is null *or unset* (use this instead of
/// `Feature::field`, which reports unset fields as `""` or `0`).
pub fn field_value(feature: &Feature<'_>, index: usize) -> Option<FieldValue> {
    if is_set(feature, index) {
        feature.field(index).ok().flatten()
    } else {
        None
    }
}

/// Whether the field at `index` has a value (set and not null) in `feature`.
pub fn is_set(feature: &Feature<'_>, index: usize) -> bool {
    let Ok(i) = i32::try_from(index) else {
        return false;
    };
    // SAFETY: `c_feature()` is the live handle owned by `feature` for this call's duration, and
    // OGR_F_IsFieldSet checks `i` against the feature's field count itself (returning 0 when out of range).
    unsafe {
        gdal_sys::OGR_F_IsFieldSet(feature.c_feature(), i) != 0
            && gdal_sys::OGR_F_IsFieldNull(feature.c_feature(), i) == 0
    }
}
