#!/usr/bin/env python3
"""Expected values for the point-cloud reader tests, from an independent reader (laspy + lazrs).

Writes ingest/tests/expected/pointcloud.json: for every file in ../shared/data/pointcloud, the point
count, header and measured bounds, the classification histogram (the raw class byte, 5 bits for formats
0-5), extra dimension names, and the first and last point in file order. Coordinates are as the file
holds them (scaled + offset); the Rust test applies the unit factor tvilling reports for GeoTIFF unit
overrides (mvk-thin.las). `crs_arg` is the --crs the tests pass (files without a usable CRS, or with a
wrong one) and `crs` the CRS tvilling must store.

Run (any Python with laspy[lazrs]; keep the venv outside the repository):

    python3 -m venv ~/.cache/tvilling-pc-venv
    ~/.cache/tvilling-pc-venv/bin/pip install 'laspy[lazrs]'
    ~/.cache/tvilling-pc-venv/bin/python tools/expected/pointcloud_expected.py
"""

import json
import os
import sys

import laspy
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "pointcloud"))
OUT = os.path.join(ROOT, "ingest", "tests", "expected", "pointcloud.json")

# The CRS each sample is stored in, and the --crs a test must pass (None: the file's own CRS is used).
# autzen: ESRI-style WKT and user-defined GeoTIFF keys with no EPSG identity; SOURCES.md says EPSG:2994.
# lone-star: its WKT says geocentric WGS 84 but the points are UTM 12N metres (SOURCES.md).
# ahn3: no CRS record; RD New + NAP.
CRS = {
    "1.2-with-color.copc.laz": (None, "EPSG:2991+6360"),
    "32-1-472-150-76.laz": (None, "EPSG:25832+5941"),
    "ahn3_cropped_2.laz": ("EPSG:28992+5709", "EPSG:28992+5709"),
    "append-bug.laz": (None, "EPSG:2154"),
    "autzen_trim.las": ("EPSG:2994", "EPSG:2994"),
    "autzen_trim.laz": ("EPSG:2994", "EPSG:2994"),
    "autzen_trim_7.las": ("EPSG:2994", "EPSG:2994"),
    "lone-star.copc.laz": ("EPSG:26912", "EPSG:26912"),
    "mvk-thin.las": (None, "EPSG:26995"),
    "test1_4.las": (None, "EPSG:2903"),
}
# Factor from file x/y/z to stored x/y/z (GeoTIFF ProjLinearUnits/VerticalUnits = US survey foot).
US_FT = 1200.0 / 3937.0
FACTORS = {"mvk-thin.las": [US_FT, US_FT]}


def point(las, i):
    fmt = las.point_format
    names = set(fmt.dimension_names)
    p = {
        "x": float(las.x[i]),
        "y": float(las.y[i]),
        "z": float(las.z[i]),
        "intensity": int(las.intensity[i]),
        "return_number": int(las.return_number[i]),
        "number_of_returns": int(las.number_of_returns[i]),
        "classification": int(las.classification[i]),
        "point_source_id": int(las.point_source_id[i]),
        "user_data": int(las.user_data[i]),
        "gps_time": float(las.gps_time[i]) if "gps_time" in names else None,
        "red": int(las.red[i]) if "red" in names else None,
        "green": int(las.green[i]) if "green" in names else None,
        "blue": int(las.blue[i]) if "blue" in names else None,
        "nir": int(las.nir[i]) if "nir" in names else None,
    }
    for d in fmt.extra_dimension_names:
        p["extra:" + d] = float(las[d][i])
    return p


def descriptor_no_data(header):
    """The no-data value of each extra dimension whose descriptor has one (options bit 0), by name."""
    import struct
    out = {}
    for v in header.vlrs:
        if v.user_id.rstrip("\0") == "LASF_Spec" and v.record_id == 4:
            data = v.record_data_bytes()
            for i in range(0, len(data) - 191, 192):
                d = data[i : i + 192]
                name = d[4:36].split(b"\0")[0].decode("ascii", "replace")
                if d[3] & 1:
                    kind = "<d" if d[2] in (9, 10) else ("<q" if d[2] in (2, 4, 6, 8) else "<Q")
                    out[name] = float(struct.unpack(kind, d[40:48])[0])
    return out


def descriptor_names(header):
    """Extra dimension names from every Extra Bytes VLR, in order. laspy reads only the first such VLR
    and calls bytes it has no descriptor for 'ExtraBytes' (append-bug.laz has two VLRs); tvilling reads
    all of them, so the test maps laspy's names to these."""
    names = []
    for v in header.vlrs:
        if v.user_id.rstrip("\0") == "LASF_Spec" and v.record_id == 4:
            data = v.record_data_bytes()
            for i in range(0, len(data) - 191, 192):
                names.append(data[i + 4 : i + 36].split(b"\0")[0].decode("ascii", "replace"))
    return names


def main():
    if not os.path.isdir(DATA):
        sys.exit(f"{DATA} is not there; the real samples live in ../shared/data")
    out = {"generator": f"tools/expected/pointcloud_expected.py with laspy {laspy.__version__}", "files": {}}
    for name in sorted(os.listdir(DATA)):
        las = laspy.read(os.path.join(DATA, name))
        h = las.header
        cls = np.asarray(las.classification).astype(np.int64)
        hist = {str(int(c)): int(n) for c, n in zip(*np.unique(cls, return_counts=True))}
        crs_arg, crs = CRS[name]
        xy, z = FACTORS.get(name, [1.0, 1.0])
        out["files"][name] = {
            "version": f"{h.version.major}.{h.version.minor}",
            "point_format": h.point_format.id,
            "point_count": int(h.point_count),
            "header_min": [float(v) for v in h.mins],
            "header_max": [float(v) for v in h.maxs],
            "min": [float(las.x.min()), float(las.y.min()), float(las.z.min())],
            "max": [float(las.x.max()), float(las.y.max()), float(las.z.max())],
            "classification_counts": hist,
            "extra_dimensions": list(h.point_format.extra_dimension_names),
            "extra_no_data": descriptor_no_data(h),
            "extra_columns": dict(zip(h.point_format.extra_dimension_names, descriptor_names(h))),
            "crs_arg": crs_arg,
            "crs": crs,
            "xy_factor": xy,
            "z_factor": z,
            "first": point(las, 0),
            "last": point(las, len(las.points) - 1),
        }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
