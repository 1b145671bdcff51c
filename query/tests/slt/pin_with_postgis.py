#!/usr/bin/env python3
"""Run every record of sqllogictest (.slt) files against a real PostGIS.

The .slt files in this folder are written in tvilling's SQL dialect (DataFusion).
This script translates each record's SQL to PostgreSQL, runs it through `psql`,
and formats the rows the way the sqllogictest runner prints ours:

  * `R` columns: PostgreSQL `numeric` from `round(x::numeric, n)`, printed in the
    shortest decimal form (`4.000000` -> `4`, `3.121445`, `-0.000000` -> `0`);
  * `I` columns: plain integers;
  * `T` columns: text as is; booleans as `true` / `false`; '' as `(empty)`;
  * NULL as `NULL`.

Modes:
  (default)  print each record, PostGIS's answer, and whether the file agrees;
             exit status 1 when any record disagrees (a check).
  --write    rewrite the expected rows of every `query` record in place with
             PostGIS's answer (the way the files were made).

Dialect translation (tvilling -> PostgreSQL):
  * `round(expr, n)` -> `round((expr)::numeric, n)`; nothing else is rewritten:
    the files only use SQL that PostgreSQL and DataFusion read alike
    (ST_GeomFromText(wkt[, srid]), ST_MakeEnvelope, VALUES ... AS t(a, b), ...).

Directives, in the comment lines just above a record:
  # postgis-sql: <one line of PostgreSQL>   run this instead of the record's SQL
                                           (used where tvilling deliberately differs)
  # postgis: skip                          do not run the record in PostGIS
A file containing the line `# postgis: skip-file` is skipped whole.

Errors: `query error` / `statement error` records must fail in PostGIS too; the
regex in the file is tvilling's message and is not matched against PostGIS's
(which is printed for the record).

Connection: `psql` with the usual PG* environment variables. Run as root, the
script runs psql as the `postgres` user (`runuser -u postgres -- psql`).
Override the command with --psql 'psql -h 127.0.0.1 -U me mydb'.
"""

import argparse
import decimal
import json
import os
import re
import shlex
import subprocess
import sys


# ---------------------------------------------------------------- translation

def _match_paren(s, i):
    """Index of the ')' closing the '(' at s[i], skipping string literals."""
    depth = 0
    j = i
    while j < len(s):
        c = s[j]
        if c == "'":
            j += 1
            while j < len(s):
                if s[j] == "'":
                    if j + 1 < len(s) and s[j + 1] == "'":
                        j += 2
                        continue
                    break
                j += 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise ValueError("unbalanced parentheses in: " + s)


def _split_top_level(s):
    """Split s at commas that are not inside parentheses or string literals."""
    parts, depth, start, j = [], 0, 0, 0
    while j < len(s):
        c = s[j]
        if c == "'":
            j += 1
            while j < len(s) and not (s[j] == "'" and s[j + 1 : j + 2] != "'"):
                j += 2 if s[j] == "'" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(s[start:j])
            start = j + 1
        j += 1
    parts.append(s[start:])
    return parts


_ROUND = re.compile(r"\bround\s*\(", re.IGNORECASE)

# --float-rounding=binary: round the float8 itself the way DataFusion does
# (x * 10^n, rounded half away from zero, / 10^n) instead of going through numeric.
RUST_ROUND_FN = (
    "CREATE FUNCTION pg_temp.df_round(x float8, n int) RETURNS float8 LANGUAGE sql "
    "IMMUTABLE AS $$ SELECT sign(x * 10.0::float8 ^ n) * floor(abs(x * 10.0::float8 ^ n) + 0.5) "
    "/ 10.0::float8 ^ n $$;\n"
)
ROUND_TEMPLATE = ["round((%s)::numeric, %s)"]


def translate(sql):
    """tvilling (DataFusion) SQL -> PostgreSQL/PostGIS SQL."""
    out, pos = [], 0
    while True:
        m = _ROUND.search(sql, pos)
        if not m:
            out.append(sql[pos:])
            return "".join(out)
        # skip matches inside string literals
        if sql[: m.start()].count("'") % 2 == 1:
            out.append(sql[pos : m.end()])
            pos = m.end()
            continue
        open_i = m.end() - 1
        close_i = _match_paren(sql, open_i)
        args = _split_top_level(sql[open_i + 1 : close_i])
        out.append(sql[pos : m.start()])
        if len(args) == 2:
            out.append(
                ROUND_TEMPLATE[0]
                % (translate(args[0].strip()), translate(args[1].strip()))
            )
        else:
            out.append("round((%s)::numeric)" % translate(args[0].strip()))
        pos = close_i + 1


# -------------------------------------------------------------------- parsing

class Record:
    def __init__(self, kind, header_line, sql_lines, start, result_start, end, directives):
        self.kind = kind  # 'query', 'query_error', 'statement_ok', 'statement_error'
        self.header = header_line
        self.sql = "\n".join(sql_lines).strip()
        self.start = start  # index of header line
        self.result_start = result_start  # index of first line after '----' (or None)
        self.end = end  # index one past the record's last line
        self.directives = directives

    @property
    def types(self):
        return self.header.split()[1] if self.kind == "query" else ""


def parse(lines):
    records, i, directives = [], 0, []
    while i < len(lines):
        line = lines[i]
        s = line.strip()
        if s.startswith("#"):
            directives.append(s)
            i += 1
            continue
        if not s:
            directives = []
            i += 1
            continue
        words = s.split()
        if words[0] in ("query", "statement"):
            start = i
            if words[0] == "query" and len(words) > 1 and words[1] == "error":
                kind = "query_error"
            elif words[0] == "query":
                kind = "query"
            elif len(words) > 1 and words[1] == "error":
                kind = "statement_error"
            else:
                kind = "statement_ok"
            i += 1
            sql_lines = []
            while i < len(lines) and lines[i].strip() and lines[i].strip() != "----":
                sql_lines.append(lines[i])
                i += 1
            result_start = None
            if i < len(lines) and lines[i].strip() == "----":
                i += 1
                result_start = i
                while i < len(lines) and lines[i].strip():
                    i += 1
            records.append(Record(kind, s, sql_lines, start, result_start, i, directives))
            directives = []
            continue
        # control lines (halt, hash-threshold, include, ...) are ignored
        directives = []
        i += 1
    return records


# --------------------------------------------------------------------- running

def psql_base(cmd):
    if cmd:
        return shlex.split(cmd)
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", "psql"]
    return ["psql"]


def run_psql(base, sql, prelude=""):
    """Returns (ok, stdout_lines, error_message)."""
    p = subprocess.run(
        base + ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"],
        input=prelude + sql + ";\n",
        capture_output=True,
        text=True,
        cwd="/",
    )
    if p.returncode == 2 or "connection to server" in p.stderr:
        sys.exit("cannot reach PostgreSQL: " + p.stderr.strip())
    if p.returncode != 0:
        msg = p.stderr.strip().splitlines()
        msg = [m for m in msg if m.startswith("psql:") or m.startswith("ERROR")] or msg
        return False, [], " / ".join(msg)
    return True, [l for l in p.stdout.splitlines() if l != ""], ""


def fmt_value(v, t):
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, decimal.Decimal):
        if t == "I" and v == v.to_integral_value():
            return str(int(v))
        if v == 0:
            return "0"
        s = format(v.normalize(), "f")
        return s
    if isinstance(v, (list, dict)):
        return json.dumps(v, separators=(",", ":"))
    if v == "":
        return "(empty)"
    return str(v)


def run_query(base, sql, types):
    wrapped = "SELECT row_to_json(q)::text FROM (%s) AS q" % sql.rstrip().rstrip(";")
    ok, out, err = run_psql(base, wrapped, RUST_ROUND_FN if ROUND_TEMPLATE[0].startswith("pg_temp") else "")
    if not ok:
        return False, [], err
    rows = []
    for line in out:
        pairs = json.loads(
            line,
            object_pairs_hook=lambda p: p,
            parse_float=decimal.Decimal,
            parse_int=decimal.Decimal,
        )
        vals = [v for _, v in pairs]
        if len(vals) != len(types):
            return False, [], "PostGIS returned %d columns, record declares %d (%s)" % (
                len(vals), len(types), types)
        rows.append(" ".join(fmt_value(v, t) for v, t in zip(vals, types)))
    return True, rows, ""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+")
    ap.add_argument("--write", action="store_true", help="rewrite expected rows from PostGIS")
    ap.add_argument("--psql", default=None, help="psql command line (default: psql)")
    ap.add_argument("--quiet", action="store_true", help="print only disagreements")
    ap.add_argument(
        "--float-rounding",
        choices=["numeric", "binary"],
        default="numeric",
        help="numeric (default, how the files were made): round(x::numeric, n); "
        "binary: round the float8 as DataFusion does (x*10^n half away from zero)/10^n, "
        "a cross-check for values near a rounding boundary",
    )
    args = ap.parse_args()
    if args.float_rounding == "binary":
        ROUND_TEMPLATE[0] = "pg_temp.df_round((%s)::float8, %s)"
    base = psql_base(args.psql)

    mismatches = 0
    total = 0
    for path in args.files:
        with open(path) as f:
            lines = f.read().split("\n")
        if any(l.strip() == "# postgis: skip-file" for l in lines):
            print("== %s: skipped (# postgis: skip-file)" % path)
            continue
        records = parse(lines)
        replacements = []  # (start, end, new_lines)
        print("== %s: %d records" % (path, len(records)))
        for r in records:
            if "# postgis: skip" in r.directives:
                continue
            total += 1
            override = [d for d in r.directives if d.startswith("# postgis-sql:")]
            sql = override[-1][len("# postgis-sql:"):].strip() if override else translate(r.sql)
            problem = None
            if r.kind == "query":
                ok, rows, err = run_query(base, sql, r.types)
                if not ok:
                    problem = "PostGIS error: " + err
                    rows = []
                expected = [l.strip() for l in lines[r.result_start : r.end]] if r.result_start is not None else []
                if ok and rows != [" ".join(e.split()) for e in expected]:
                    problem = "file says %r, PostGIS says %r" % (expected, rows)
                if r.result_start is None:
                    problem = "query record has no '----' line"
                elif ok and args.write:
                    replacements.append((r.result_start, r.end, rows))
                report = rows if ok else [err]
            elif r.kind in ("query_error", "statement_error"):
                ok, _, err = run_psql(base, sql)
                if ok:
                    problem = "expected an error, PostGIS succeeded"
                report = ["PostGIS error: " + err] if not ok else ["(no error)"]
            else:
                ok, _, err = run_psql(base, sql)
                if not ok:
                    problem = "PostGIS error: " + err
                report = ["ok"] if ok else [err]
            if args.write and problem and problem.startswith("file says"):
                problem = None  # being rewritten
            if problem:
                mismatches += 1
            if not args.quiet or problem:
                print("-- line %d: %s" % (r.start + 1, r.header))
                print("   " + sql.replace("\n", "\n   "))
                for l in report:
                    print("   => " + l)
                if problem:
                    print("   !! " + problem)
        if args.write and replacements:
            for start, end, rows in sorted(replacements, reverse=True):
                lines[start:end] = rows
            with open(path, "w") as f:
                f.write("\n".join(lines))
    print("== %d records run in PostGIS, %d disagreements" % (total, mismatches))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
