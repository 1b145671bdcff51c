// The SQL console: one read-only statement to POST /api/sql. Answers with a geometry column come back as
// GeoJSON and are drawn on the globe (when in WGS 84: select ST_Transform(geometry, 'EPSG:4326')); every
// answer's rows go to the table view, where a row flies to its feature.
import { showRows } from "./table.js";

const WGS84_NAMES = ["EPSG:4326", "urn:ogc:def:crs:EPSG::4326", "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:OGC::CRS84"];
const COLOUR = Cesium.Color.fromCssColorString("#00b4d8");

async function post(sql, format) {
  const r = await fetch("/api/sql", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ sql, format }),
  });
  if (!r.ok) {
    let detail = `HTTP ${r.status}`;
    try {
      const p = await r.json();
      detail = p.detail ?? p.title ?? detail;
    } catch {
      /* not a problem document */
    }
    return { ok: false, status: r.status, detail };
  }
  return { ok: true, body: await r.json(), truncated: r.headers.get("x-tvilling-truncated") === "true" };
}

export function setUpSql(app) {
  const { viewer, $ } = app;
  let source = null; // the GeoJsonDataSource of the last answer
  let lastQuery = null;
  let last = null; // the last answer's summary

  function done(summary) {
    last = summary;
    return summary;
  }

  function say(text, isError = false) {
    $("sql-status").textContent = text;
    // Bad SQL is the user's to fix, not a page error: only failures of the page itself go to the console.
    if (isError) console.warn(`sql: ${text}`);
  }

  async function clear() {
    if (source) await viewer.dataSources.remove(source, true);
    source = null;
  }

  /** Runs `sql`; draws GeoJSON answers unless `draw` is false. Resolves to a summary for tests. */
  async function run(sql = $("sql-text").value, { draw = true } = {}) {
    sql = sql.trim();
    if (!sql) {
      say("write a statement first");
      return { ok: false };
    }
    lastQuery = sql;
    say("running…");
    let answer = draw ? await post(sql, "geojson") : null;
    // No geometry column: ask again for plain rows.
    if (!answer?.ok && (!draw || /geometry column/.test(answer.detail))) answer = await post(sql, "json");
    if (lastQuery !== sql) return { ok: false, superseded: true };
    await clear();
    if (!answer.ok) {
      say(`error: ${answer.detail}`, true);
      return done({ ok: false, detail: answer.detail });
    }
    const cut = answer.truncated ? " (cut off at the server's row limit)" : "";
    if (Array.isArray(answer.body)) {
      const rows = answer.body;
      showRows(app, { caption: sql, columns: rows.length ? Object.keys(rows[0]) : [], rows });
      say(`${rows.length} row(s)${cut}`);
      return done({ ok: true, rows: rows.length, drawn: 0 });
    }
    const fc = answer.body;
    const features = fc.features ?? [];
    const columns = [...new Set(features.flatMap((f) => Object.keys(f.properties ?? {})))];
    const crs = fc.crs?.properties?.name;
    let drawn = 0;
    if (crs && !WGS84_NAMES.includes(crs)) {
      say(`${features.length} row(s)${cut}; not drawn: the geometries are in ${crs}. Select ST_Transform(geometry, 'EPSG:4326') AS geometry to draw them.`);
    } else {
      // Row i's entity is "sql-i" (the parts of a multi-geometry get "sql-i_2", … beside it).
      features.forEach((f, i) => (f.id = `sql-${i}`));
      source = await Cesium.GeoJsonDataSource.load(fc, {
        clampToGround: true,
        stroke: COLOUR,
        fill: COLOUR.withAlpha(0.45),
        markerColor: COLOUR,
        strokeWidth: 2,
      });
      source.name = "sql";
      await viewer.dataSources.add(source);
      drawn = features.filter((_, i) => source.entities.getById(`sql-${i}`)).length;
      say(`${features.length} row(s) drawn${cut}`);
      if (drawn) viewer.flyTo(source, { duration: 1.0 });
    }
    const drawnSource = source;
    showRows(app, {
      caption: sql,
      columns,
      rows: features.map((f) => f.properties ?? {}),
      onActivate: (i) => {
        const e = drawnSource?.entities.getById(`sql-${i}`);
        if (!e) return;
        app.showEntity?.(e);
        viewer.flyTo(e, { duration: 1.0 });
      },
    });
    return done({ ok: true, rows: features.length, drawn });
  }

  $("sql-run").addEventListener("click", () => run());
  $("sql-text").addEventListener("keydown", (e) => {
    // Ctrl+Enter runs, as in most consoles; Enter alone is a new line.
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
  $("sql-clear").addEventListener("click", () => {
    clear();
    say("");
  });
  // A dataset's "Table" button: its first rows in the table view.
  app.showTable = (dataset) => {
    const sql = `SELECT * FROM ${dataset.name} LIMIT 100`;
    $("sql-text").value = sql;
    return run(sql, { draw: false });
  };

  return {
    run,
    /** Offers a first statement on `name` that draws: ids and WGS 84 footprints. */
    suggest(name) {
      if (!$("sql-text").value) {
        $("sql-text").value = `SELECT id, ST_Transform(geometry, 'EPSG:4326') AS geometry FROM ${name} LIMIT 50`;
      }
    },
    source: () => source,
    /** The last answer: { ok, rows, drawn } or { ok: false, detail }. */
    last: () => last,
  };
}
