#!/usr/bin/env python3
"""Runs the points-in-polygons join on DuckDB spatial and SedonaDB, the peers of benches/spatial_join.rs.

Each engine registers the two GeoParquet files as the views `points` and `polys` (the files are scanned by
every query, as tvilling scans its store), runs each query once to warm up, then times the best of N runs.
One JSON object per engine and query goes to stdout:

    {"engine": "duckdb", "version": "1.5.5", "query": "count", "seconds": 1.23, "runs": [...],
     "count": 4321, "groups": 1, "digest": null, "load_seconds": 0.01}

`count` is the number of joined rows (the sum of the per-group counts for a grouped query), `groups` the
number of result rows, and `digest` the SHA-256 of the sorted `key<TAB>count` lines of a two-column result,
so that the bench can check that every engine returned the same answer. Progress goes to stderr.

Usage:
    peers.py --points points.parquet --polys polys.parquet --query count [--query per_polygon]
             [--sql 'NAME=SELECT ...'] [--runs 3] [--engines duckdb,sedonadb]

The packages are pinned in requirements.txt next to this file; the DuckDB spatial extension is loaded
from the `duckdb-extension-spatial` wheel, so nothing is fetched from extensions.duckdb.org.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pathlib
import sys
import time
from typing import Callable, Iterable, Sequence

# The queries by name. benches/spatial_join.rs passes its own text with --sql so that every engine runs
# exactly the same SQL; these defaults are the same text, for running this script by hand.
QUERIES = {
    "count": "SELECT count(*) AS n FROM points p JOIN polys k ON ST_Intersects(p.geometry, k.geometry)",
    "per_polygon": "SELECT k.id, count(*) AS n FROM points p JOIN polys k "
    "ON ST_Intersects(p.geometry, k.geometry) GROUP BY k.id",
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def summarise(rows: Sequence[Sequence[object]]) -> dict:
    """Reduces a result to what the engines must agree on: total count, result rows, and a digest."""
    if len(rows) == 1 and len(rows[0]) == 1:
        return {"count": int(rows[0][0]), "groups": 1, "digest": None}
    if rows and len(rows[0]) != 2:
        raise SystemExit(f"expected a (key, count) result, got {len(rows[0])} columns")
    lines = sorted(f"{key}\t{int(n)}\n" for key, n in rows)
    return {
        "count": sum(int(n) for _, n in rows),
        "groups": len(rows),
        "digest": hashlib.sha256("".join(lines).encode()).hexdigest(),
    }


def time_query(run: Callable[[], list], runs: int) -> tuple[list[float], list]:
    """One warm-up run, then `runs` timed ones; returns the timings and the last result."""
    rows = run()
    timings = []
    for _ in range(runs):
        t = time.perf_counter()
        rows = run()
        timings.append(time.perf_counter() - t)
    return timings, rows


def duckdb_engine(points: pathlib.Path, polys: pathlib.Path):
    import duckdb
    import duckdb_extension_spatial

    ext = (
        pathlib.Path(duckdb_extension_spatial.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / "spatial.duckdb_extension"
    )
    if not ext.exists():
        raise SystemExit(
            f"{ext} is missing: duckdb-extension-spatial must have the same version as duckdb "
            f"({duckdb.__version__}); reinstall benches/peers/requirements.txt"
        )
    t = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"LOAD '{ext}'")
    for name, path in (("points", points), ("polys", polys)):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
        kind = con.execute(
            f"SELECT column_type FROM (DESCRIBE {name}) WHERE column_name = 'geometry'"
        ).fetchone()
        if kind is None or not str(kind[0]).upper().startswith("GEOMETRY"):
            raise SystemExit(f"duckdb reads {path}'s geometry as {kind}, not GEOMETRY: is it GeoParquet?")
    load = time.perf_counter() - t
    return "duckdb", duckdb.__version__, load, lambda sql: con.execute(sql).fetchall()


def sedonadb_engine(points: pathlib.Path, polys: pathlib.Path):
    import pyarrow
    import sedonadb

    t = time.perf_counter()
    sd = sedonadb.connect()
    for name, path in (("points", points), ("polys", polys)):
        sd.read_parquet(str(path)).to_view(name)
    load = time.perf_counter() - t

    def run(sql: str) -> list:
        # Through the Arrow C stream rather than to_arrow_table(), which also wants geoarrow-pyarrow for
        # geometry columns; these results have none.
        table = pyarrow.table(sd.sql(sql))
        return list(zip(*(c.to_pylist() for c in table.columns)))

    return "sedonadb", sedonadb.__version__, load, run


ENGINES = {"duckdb": duckdb_engine, "sedonadb": sedonadb_engine}


def main(argv: Iterable[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", required=True, type=pathlib.Path, help="GeoParquet file of points")
    ap.add_argument("--polys", required=True, type=pathlib.Path, help="GeoParquet file of polygons")
    ap.add_argument("--query", action="append", required=True, help=f"one of {', '.join(QUERIES)}")
    ap.add_argument("--sql", action="append", default=[], help="NAME=SQL: the text of query NAME")
    ap.add_argument("--runs", type=int, default=3, help="timed runs after one warm-up (best is reported)")
    ap.add_argument("--engines", default=",".join(ENGINES), help="comma-separated subset of engines")
    args = ap.parse_args(argv)

    queries = dict(QUERIES)
    for item in args.sql:
        name, sep, sql = item.partition("=")
        if not sep:
            raise SystemExit(f"--sql wants NAME=SQL, got {item!r}")
        queries[name] = sql
    for q in args.query:
        if q not in queries:
            raise SystemExit(f"unknown query {q!r}: use one of {', '.join(queries)} or give --sql {q}=...")
    for p in (args.points, args.polys):
        if not p.exists():
            raise SystemExit(f"{p} does not exist")

    for engine in args.engines.split(","):
        if engine not in ENGINES:
            raise SystemExit(f"unknown engine {engine!r}: use {', '.join(ENGINES)}")
        name, version, load, run = ENGINES[engine](args.points.resolve(), args.polys.resolve())
        for q in args.query:
            log(f"{name} {version}: {q} (warm-up + {args.runs} runs)")
            timings, rows = time_query(lambda: run(queries[q]), args.runs)
            out = {
                "engine": name,
                "version": version,
                "query": q,
                "seconds": min(timings),
                "runs": timings,
                "load_seconds": load,
            }
            out.update(summarise(rows))
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
