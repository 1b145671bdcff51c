#!/usr/bin/env python3
"""Expected answer of the SQL-over-points test, from independent tools (laspy + lazrs, shapely, ogr2ogr).

The question (issue 5, "SQL over points"): how many vegetation points (ASPRS classes 3, 4 and 5: low,
medium and high vegetation) lie within 10 m of each building? Buildings are the BGT footprints of Delft
(`vector/delft_bgt_pand.sqlite`, layer `buildingpart`, EPSG:28992), points are AHN3
(`pointcloud/ahn3_cropped_2.laz`, RD New + NAP). "Within 10 m" is the 2D distance from the point to the
footprint polygon (0 inside it), inclusive, as PostGIS's ST_DWithin.

AHN3 does not use ASPRS classes 3-5: its vegetation is in class 1 ("overige", unclassified), so the
answer is computed for both class sets. Writes crates/cli/tests/expected/vegetation_near_buildings.json:
per class set and BGT `lokaalid` the number of such points (buildings with none are left out, as an inner join leaves them out), the total and the number of
buildings. The footprints are read with GDAL's ogr2ogr (GeoJSON), the points with laspy, and the distance
test is shapely's (GEOS) `dwithin` through an STRtree — none of tvilling's code.

Run (any Python with laspy[lazrs] and shapely; keep the venv outside the repository):

    python3 -m venv ~/.cache/tvilling-pc-venv
    ~/.cache/tvilling-pc-venv/bin/pip install 'laspy[lazrs]' shapely
    ~/.cache/tvilling-pc-venv/bin/python tools/expected/vegetation_near_buildings.py
"""

import json
import os
import subprocess
import tempfile

import laspy
import numpy as np
import shapely
from shapely.geometry import shape

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DATA = os.path.normpath(os.path.join(ROOT, "..", "shared", "data"))
OUT = os.path.join(ROOT, "crates", "cli", "tests", "expected", "vegetation_near_buildings.json")
# ASPRS vegetation classes, and AHN's class 1 ("overige": unclassified, mostly vegetation). AHN3 does not
# use classes 3-5 (its points are 1, 2 ground, 6 building, 9 water, 26 bridges), so on this sample the
# ASPRS answer is 0 everywhere, and class 1 is the one that finds the trees.
CLASS_SETS = {"asprs_vegetation": (3, 4, 5), "ahn_unclassified": (1,)}
DISTANCE = 10.0


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        gj = os.path.join(tmp, "pand.geojson")
        subprocess.run(
            ["ogr2ogr", "-f", "GeoJSON", gj, os.path.join(DATA, "vector", "delft_bgt_pand.sqlite"), "buildingpart"],
            check=True,
        )
        with open(gj) as f:
            features = json.load(f)["features"]
    ids = [f["properties"]["lokaalid"] for f in features]
    polys = [shape(f["geometry"]) for f in features]

    las = laspy.read(os.path.join(DATA, "pointcloud", "ahn3_cropped_2.laz"))
    out = {
        "how": "tools/expected/vegetation_near_buildings.py: ogr2ogr + laspy " + laspy.__version__
        + " + shapely " + shapely.__version__ + " (GEOS " + shapely.geos_version_string + ")",
        "distance_m": DISTANCE,
        "buildings": len(ids),
        "sets": {},
    }
    for name, classes in CLASS_SETS.items():
        keep = np.isin(np.asarray(las.classification), classes)
        xs, ys = np.asarray(las.x)[keep], np.asarray(las.y)[keep]
        tree = shapely.STRtree(shapely.points(xs, ys))
        counts = {}
        for lokaalid, poly in zip(ids, polys):
            hits = tree.query(poly, predicate="dwithin", distance=DISTANCE)
            if len(hits):
                counts[lokaalid] = counts.get(lokaalid, 0) + int(len(hits))
        out["sets"][name] = {
            "classes": list(classes),
            "points": int(keep.sum()),
            "buildings_with_points": len(counts),
            "total": sum(counts.values()),
            "counts": dict(sorted(counts.items())),
        }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")
    for name, v in out["sets"].items():
        print(f"{name}: {v['buildings_with_points']} buildings, {v['total']} point-building pairs")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
