#!/usr/bin/env python3
"""Reference values for tvilling's IFC reader, computed with IfcOpenShell.

For every sample in ../shared/data/ifc this writes, per file: the schema, the building storeys, the
per-class count of products that have a 3D body, and per product (by GlobalId) its class, storey, the
bounding box of its body in world coordinates (metres, the model's own engineering coordinates, before any
georeferencing) and its volume.

Geometry comes from ifcopenshell.geom.create_shape with use-world-coords (openings subtracted, IfcOpenShell's
default tessellation). Products with no body (no faces) are left out, and so are IfcOpeningElement (voids,
not things) and IfcAnnotation. tvilling's test (ingest/tests/bim.rs) reads the JSON this writes.

Usage (from the workspace root):
    python3 -m venv ~/.cache/ifc-venv && ~/.cache/ifc-venv/bin/pip install ifcopenshell
    ~/.cache/ifc-venv/bin/python tools/ifc-reference/reference.py ../shared/data/ifc > ingest/tests/expected/ifc.json
"""
import json
import os
import sys

import ifcopenshell
import ifcopenshell.geom
import ifcopenshell.util.element
import ifcopenshell.util.shape

SKIP = {"IfcOpeningElement", "IfcAnnotation"}


def storey_of(el):
    seen = 0
    cur = el
    while cur is not None and seen < 64:
        seen += 1
        container = ifcopenshell.util.element.get_container(cur)
        if container is not None:
            cur = container
        else:
            cur = ifcopenshell.util.element.get_aggregate(cur)
        if cur is not None and cur.is_a("IfcBuildingStorey"):
            return cur.Name
    return None


def one(path):
    f = ifcopenshell.open(path)
    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    out = {
        "schema": f.schema,
        "ifcopenshell": ifcopenshell.version,
        "storeys": sorted(s.Name or "" for s in f.by_type("IfcBuildingStorey")),
        "classes": {},
        "elements": {},
        "failed": {},
    }
    for el in f.by_type("IfcProduct"):
        if el.Representation is None or el.is_a() in SKIP:
            continue
        try:
            shape = ifcopenshell.geom.create_shape(settings, el)
        except Exception as e:  # noqa: BLE001 - the reference records what IfcOpenShell cannot do
            out["failed"][el.GlobalId] = f"{el.is_a()}: {e}"
            continue
        g = shape.geometry
        verts = g.verts
        if len(g.faces) == 0 or len(verts) == 0:
            continue
        xs, ys, zs = verts[0::3], verts[1::3], verts[2::3]
        try:
            volume = ifcopenshell.util.shape.get_volume(g)
        except Exception:  # noqa: BLE001
            volume = None
        cls = el.is_a()
        out["classes"][cls] = out["classes"].get(cls, 0) + 1
        out["elements"][el.GlobalId] = {
            "class": cls,
            "name": el.Name,
            "storey": storey_of(el),
            "bbox": [round(v, 4) for v in (min(xs), min(ys), min(zs), max(xs), max(ys), max(zs))],
            "volume": None if volume is None else round(volume, 5),
        }
    return out


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else "../shared/data/ifc"
    result = {}
    for name in sorted(os.listdir(folder)):
        if name.lower().endswith(".ifc"):
            result[name] = one(os.path.join(folder, name))
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
