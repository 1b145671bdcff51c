// The viewer checks beyond load / pick / style / version (check-viewer.mjs): categories, keyboard, the
// sun study, the "as of" date, the SQL console with its table view, point cloud styling. Each step
// records what it saw in `result` and its verdict in `result.checks`; a step the page cannot take
// (no such attribute, no older version at a different second) records why in `result.skipped`.

/** Waits until the dataset's current tileset has every tile of the view loaded, on 5 frames in a row. */
export async function tilesLoaded(page, name, timeout) {
  await page.waitForFunction(
    (name) => {
      const t = window.tvilling?.layers.get(name)?.tileset;
      window.__settled = t && t.tilesLoaded ? (window.__settled ?? 0) + 1 : 0;
      return window.__settled >= 5;
    },
    name,
    { timeout, polling: "raf" },
  );
}

function skip(result, step, why) {
  (result.skipped ??= {})[step] = why;
}

/** Colours by a text attribute: the legend lists its most common values with their counts. */
export async function categoryStyle(page, opts, result) {
  const category = await page.$$eval("#style-property option", (os) => os.find((o) => o.value && /categories/.test(o.textContent))?.value);
  if (!category) return skip(result, "categories", "no text attribute with occurrences in the tileset statistics");
  await page.selectOption("#style-property", category);
  await tilesLoaded(page, opts.name, opts.timeout);
  result.categoryLegend = await page.$$eval("#legend li", (lis) => lis.map((li) => li.textContent));
  result.categoryStyledBy = category;
  // "Bostad (412)": a value and how many features have it.
  result.checks.categoryLegend = result.categoryLegend.filter((l) => /\(\d+\)$/.test(l)).length >= 1;
}

/** The map takes keyboard focus; - and + zoom out and in; Escape clears the selection. */
export async function keyboard(page, result) {
  await page.focus("#globe");
  const height = () => page.evaluate(() => window.tvilling.viewer.camera.positionCartographic.height);
  const h0 = await height();
  await page.keyboard.press("Minus");
  const h1 = await height();
  await page.keyboard.press("Equal");
  await page.keyboard.press("Equal");
  const h2 = await height();
  await page.keyboard.press("Escape");
  const rows = await page.$$eval("#feature tbody tr", (r) => r.length);
  result.keyboard = { h0, zoomedOut: h1, zoomedIn: h2, rowsAfterEscape: rows };
  result.checks.keyboardZoom = h1 > h0 && h2 < h1;
  result.checks.keyboardEscapeClears = rows === 0;
  // Put the camera back so later steps see the same view.
  await page.keyboard.press("Minus");
}

/** The sun study: midsummer morning with lighting and shadows on, as the controls set it. */
export async function sun(page, opts, result) {
  await page.check("#sun-on");
  await page.fill("#sun-date", "2025-06-21");
  await page.$eval("#sun-time", (el) => {
    el.value = String(8 * 60 + 30);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  });
  await tilesLoaded(page, opts.name, opts.timeout);
  result.sun = await page.evaluate(() => {
    const v = window.tvilling.viewer;
    const d = Cesium.JulianDate.toDate(v.clock.currentTime);
    return {
      shadows: v.shadows,
      lighting: v.scene.globe.enableLighting,
      local: `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()} ${d.getHours()}:${d.getMinutes()}`,
      label: document.getElementById("sun-time-label").textContent,
    };
  });
  result.checks.sun = result.sun.shadows && result.sun.lighting && result.sun.local === "2025-6-21 8:30" && result.sun.label === "08:30";
}

/** "As of" a moment between v0 and v1: the dataset goes back to v0; "Latest" brings v1 back. */
export async function asOf(page, opts, result, requests) {
  const versions = await page.evaluate((name) => window.tvilling.layers.get(name).versions, opts.name);
  result.versions = versions;
  const v0 = versions.find((v) => v.version === 0);
  const v1 = versions.find((v) => v.version === 1);
  if (!v0?.timestamp || !v1?.timestamp) return skip(result, "asOf", "no timestamps for v0 and v1");
  // The control has whole seconds (local time): the first whole second at or after v0's commit.
  const at = new Date(Math.ceil(Date.parse(v0.timestamp) / 1000) * 1000);
  if (at.getTime() >= Date.parse(v1.timestamp)) return skip(result, "asOf", "v0 and v1 were committed within the same second");
  const p = (n) => String(n).padStart(2, "0");
  const local = `${at.getFullYear()}-${p(at.getMonth() + 1)}-${p(at.getDate())}T${p(at.getHours())}:${p(at.getMinutes())}:${p(at.getSeconds())}`;
  // From the newest version (the version step left v0 selected), so that "as of" has to load v0.
  await page.click("#as-of-latest");
  await page.waitForFunction((name) => window.tvilling.layers.get(name).version === 1 && window.tvilling.layers.get(name).tileset, opts.name, {
    timeout: opts.timeout,
  });
  const before = requests.length;
  await page.$eval("#as-of", (el, v) => {
    el.value = v;
    el.dispatchEvent(new Event("change", { bubbles: true }));
  }, local);
  await page.waitForFunction((name) => window.tvilling.layers.get(name).version === 0 && window.tvilling.layers.get(name).tileset, opts.name, {
    timeout: opts.timeout,
  });
  await tilesLoaded(page, opts.name, opts.timeout);
  const asked = requests.slice(before).some((r) => r.includes(`/tiles/${opts.name}/tileset.json?version=0`));
  await page.click("#as-of-latest");
  await page.waitForFunction((name) => window.tvilling.layers.get(name).version === 1 && window.tvilling.layers.get(name).tileset, opts.name, {
    timeout: opts.timeout,
  });
  await tilesLoaded(page, opts.name, opts.timeout);
  result.asOf = local;
  result.checks.asOf = asked;
}

/** The SQL console: the dataset's Table button fills the table view; bad SQL is reported in the console;
 * a query with WGS 84 footprints is drawn, its rows fill the table view, and Enter on a row shows that
 * feature's attributes (the drawn answer stays on screen for the screenshot). */
export async function sqlConsole(page, opts, result, problems) {
  const status = () => page.$eval("#sql-status", (el) => el.textContent);
  // The dataset's Table button: its rows in the table view, without drawing.
  await page.click(`#datasets li[data-name="${opts.name}"] button[aria-label$="as a table"]`);
  await page.waitForFunction(() => /LIMIT 100/.test(document.querySelector("#rows caption").textContent), null, { timeout: opts.timeout });
  result.tableCaption = await page.$eval("#rows caption", (c) => c.textContent);
  result.checks.datasetTable = (await page.$$eval("#rows tbody tr", (r) => r.length)) > 0;

  // Bad SQL is reported in the console's status, not as a page error.
  await page.fill("#sql-text", "SELEC nothing");
  await page.click("#sql-run");
  await page.waitForFunction(() => /^error/.test(document.getElementById("sql-status").textContent), null, { timeout: opts.timeout });
  result.sqlError = await status();
  // The 400 answer to the deliberate mistake is expected (any other failed request still counts): drop
  // it and the console line Chromium writes for it, which names no URL.
  for (const re of [/^HTTP 400 for .*\/api\/sql$/, /^console error: Failed to load resource: .* 400 /]) {
    const expected = problems.findIndex((p) => re.test(p));
    if (expected >= 0) problems.splice(expected, 1);
  }
  result.checks.sqlErrorShown = /error: .+/.test(result.sqlError);

  const sql = `SELECT id, ST_Transform(geometry, 'EPSG:4326') AS geometry FROM ${opts.name} ORDER BY id LIMIT 5`;
  await page.fill("#sql-text", sql);
  await page.click("#sql-run");
  await page.waitForFunction(() => /row\(s\)|error/.test(document.getElementById("sql-status").textContent), null, { timeout: opts.timeout });
  result.sql = await page.evaluate(() => ({
    status: document.getElementById("sql-status").textContent,
    drawn: window.tvilling.sql.last()?.drawn ?? 0,
    entities: window.tvilling.sql.source()?.entities.values.length ?? 0,
    tableRows: document.querySelectorAll("#rows tbody tr").length,
    columns: [...document.querySelectorAll("#rows thead th")].map((th) => th.textContent),
  }));
  result.checks.sqlDrawn = result.sql.drawn === 5 && result.sql.entities >= 5 && /5 row\(s\) drawn/.test(result.sql.status);
  result.checks.sqlTable = result.sql.tableRows === 5 && result.sql.columns.includes("id");
  // Keyboard: the first row, Enter → its attributes in "Selected".
  await page.focus("#rows tbody tr");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#feature tbody tr"), null, { timeout: 10000 }).catch(() => {});
  const firstId = await page.$eval("#rows tbody tr td", (td) => td.textContent);
  result.sqlSelected = Object.fromEntries(
    await page.$$eval("#feature tbody tr", (rows) => rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent])),
  );
  result.checks.sqlRowSelects = result.sqlSelected.id === firstId;
  // Let the fly-to end and the draped footprints draw before the screenshot.
  await page.waitForTimeout(1500);
}

/** A point cloud coloured by classification, then by height: legends and no shader errors. */
export async function pointStyles(page, opts, result) {
  const name = opts.points;
  await page.waitForFunction((n) => window.tvilling.layers.get(n)?.tileset, name, { timeout: opts.timeout });
  await page.evaluate((n) => window.tvilling.viewer.zoomTo(window.tvilling.layers.get(n).tileset), name);
  await page.selectOption("#style-dataset", name);
  result.points = {};
  for (const mode of ["classification", "height", "intensity"]) {
    await page.selectOption("#style-property", mode);
    await tilesLoaded(page, name, opts.timeout);
    // A few frames with the shader in use: compile errors surface as console errors / render errors.
    await page.evaluate(() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok))));
    result.points[mode] = {
      legend: await page.$$eval("#legend li", (lis) => lis.map((li) => li.textContent)),
      shader: await page.evaluate((n) => Boolean(window.tvilling.layers.get(n).tileset.customShader), name),
    };
  }
  result.checks.pointStyles = Object.values(result.points).every((p) => p.shader && p.legend.length > 2);
}

/**
 * Base maps: NaturalEarthII is shown first, then the configured map `opts.basemap` is picked in the
 * "Base map" list and must become the globe's imagery, a WMS map whose tiles Cesium then requests (the
 * caller's WMS counts them).
 */
export async function baseMap(page, opts, result) {
  result.checks.naturalEarthFirst = await page.$eval("#basemap", (s) => s.value === "naturalearth");
  const value = await page.$$eval("#basemap option", (os, name) => os.find((o) => o.textContent === name)?.value ?? null, opts.basemap);
  if (value === null) {
    result.checks.baseMap = false;
    return;
  }
  await page.selectOption("#basemap", value);
  result.checks.baseMap = await page
    .waitForFunction(() => {
      const { viewer } = window.tvilling;
      const layer = viewer.imageryLayers.length === 1 ? viewer.imageryLayers.get(0) : null;
      return layer?.imageryProvider instanceof Cesium.WebMapServiceImageryProvider && viewer.scene.globe.tilesLoaded;
    }, null, { timeout: opts.timeout })
    .then(() => true)
    .catch(() => false);
}

