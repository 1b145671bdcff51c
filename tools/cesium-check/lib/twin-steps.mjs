// Viewer checks of a served twin's building models and sensors (check-viewer.mjs --bim, --sensors): the
// storey filter of a BIM tileset and the live sensor labels of the IoT collection. As in
// viewer-steps.mjs, each step records what it saw in `result` and its verdict in `result.checks`.
import { tilesLoaded } from "./viewer-steps.mjs";

/**
 * Turns the sun study off: the shadows it left on make every SwiftShader frame seconds long, so long
 * that a click on the box can outlast Playwright's action timeout; the box is set as its input event
 * would.
 */
async function sunOff(page) {
  await page.$eval("#sun-on", (box) => {
    box.checked = false;
    box.dispatchEvent(new Event("input", { bubbles: true }));
  });
}

/** Lets Cesium draw `n` frames (a new style reaches the features on the next update). */
async function frames(page, n = 3) {
  await page.evaluate(
    (n) =>
      new Promise((ok) => {
        const step = (k) => (k === 0 ? ok() : requestAnimationFrame(() => step(k - 1)));
        step(n);
      }),
    n,
  );
}

/**
 * The features shown after a style change: counted once Cesium has applied the style (the next update
 * styles the tiles in view), retried over a few frames until the count is `expected` or stays put.
 */
async function shownAfterStyle(page, name, expected) {
  let seen;
  for (let k = 0; k < 5; k++) {
    await frames(page, 2);
    seen = await shownFeatures(page, name);
    if (seen.shown === expected) break;
  }
  return seen;
}

/** Distinct `id`s of the features Cesium shows in the dataset's loaded tiles, and all it loaded. */
async function shownFeatures(page, name) {
  return page.evaluate((n) => {
    const tileset = window.tvilling.layers.get(n).tileset;
    const shown = new Set();
    const loaded = new Set();
    const visit = (tile) => {
      const c = tile.content;
      // With REPLACE refinement a parent's content can hold the same element as a child: count ids.
      if (tile.contentReady && c?.featuresLength) {
        for (let i = 0; i < c.featuresLength; i++) {
          const f = c.getFeature(i);
          const id = String(f.getProperty("id"));
          loaded.add(id);
          if (f.show) shown.add(id);
        }
      }
      tile.children.forEach(visit);
    };
    visit(tileset.root);
    return { shown: shown.size, loaded: loaded.size };
  }, name);
}

/**
 * The storey filter on the BIM dataset `opts.bim`, coloured by a category first: all storeys show every
 * element, "one storey" and "up to storey" show exactly the elements the tileset's `extras.storeys`
 * counts for them, the colours stay, and the arrow keys work the control.
 */
export async function storeyFilter(page, opts, result) {
  const name = opts.bim;
  await sunOff(page);
  await page.waitForFunction((n) => window.tvilling.layers.get(n)?.tileset, name, { timeout: opts.timeout });
  await page.evaluate((n) => window.tvilling.viewer.zoomTo(window.tvilling.layers.get(n).tileset), name);
  await tilesLoaded(page, name, opts.timeout);
  const info = await page.evaluate((n) => {
    const json = window.tvilling.layers.get(n).json;
    return {
      levels: json?.extras?.storeys?.levels ?? [],
      total: Object.values(json?.statistics?.classes ?? {})[0]?.count ?? null,
      sectionShown: !document.getElementById("storeys-section").hidden,
    };
  }, name);
  const out = (result.storeys = { levels: info.levels.map((l) => `${l.name} (${l.features})`), total: info.total, shown: {} });
  result.checks.storeySection = info.sectionShown && info.levels.length >= 2;
  if (!result.checks.storeySection) return;

  // Colour by the IFC class, so that the filter is seen to keep the colours.
  await page.selectOption("#style-dataset", name);
  const byClass = await page.$$eval("#style-property option", (os) => os.find((o) => o.value === "ifc_class")?.value);
  if (byClass) await page.selectOption("#style-property", byClass);
  await page.selectOption("#storey-dataset", name);

  const last = info.levels.length - 1;
  const sum = (k0, k1) => info.levels.slice(k0, k1 + 1).reduce((n, l) => n + l.features, 0);
  const cases = [
    ["all", "", info.total],
    ["onlyLowest", "only:0", sum(0, 0)],
    ["onlyTop", `only:${last}`, sum(last, last)],
    ["upToTop", `upto:${last}`, sum(0, last)],
  ];
  let ok = true;
  for (const [label, value, expected] of cases) {
    await page.selectOption("#storey-filter", value);
    const seen = await shownAfterStyle(page, name, expected);
    out.shown[label] = { ...seen, expected, status: await page.$eval("#storey-status", (p) => p.textContent) };
    ok &&= seen.shown === expected && seen.loaded === info.total;
  }
  out.style = await page.evaluate((n) => {
    const style = window.tvilling.layers.get(n).tileset.style;
    return { color: Boolean(style?.color), show: Boolean(style?.show), legend: document.querySelectorAll("#legend li").length };
  }, name);
  result.checks.storeyFilter = ok && out.shown.onlyLowest.shown < out.shown.all.shown;
  result.checks.storeyKeepsColours = !byClass || (out.style.color && out.style.show && out.style.legend > 1);

  // Keyboard: from "All storeys", ArrowDown on the focused control selects the lowest storey.
  await page.selectOption("#storey-filter", "");
  await page.focus("#storey-filter");
  await page.keyboard.press("ArrowDown");
  out.keyboard = { value: await page.$eval("#storey-filter", (s) => s.value), ...(await shownAfterStyle(page, name, cases[1][2])) };
  result.checks.storeyKeyboard = out.keyboard.value === "only:0" && out.keyboard.shown === cases[1][2];
  // Back to every storey, and to source colours for the screenshot.
  await page.selectOption("#storey-filter", "");
  await page.selectOption("#style-property", "");
  await frames(page);
}

/** What the viewer's label shows for a reading (web/viewer/sensors.js formatResult). */
const formatResult = (v) => String(Math.round(v * 100) / 100);

/**
 * The live sensors: the pins' labels carry each Datastream's latest reading (from /api/iot/latest,
 * grouped by Thing), a click on a pin lists its Datastreams in "Selected", a reading posted to
 * /api/iot/observations (with `opts.iotKey`) reaches its label through the live feed, and the "Sensors"
 * box hides and shows them.
 */
export async function liveSensors(page, opts, result) {
  const latest = await (await fetch(`${opts.server}/api/iot/latest`)).json();
  const out = (result.sensors = { latest });
  await sunOff(page);
  await page.waitForFunction(() => !document.getElementById("sensors-section").hidden && window.tvilling.sensors.live(), null, {
    timeout: opts.timeout,
  });
  // Go: the pins where they are drawn; the building model near them loads for the screenshot.
  await page.click("#sensors-go");
  await page.waitForTimeout(1000); // the flight takes 0.5 s
  if (opts.bim) await tilesLoaded(page, opts.bim, opts.timeout);
  await frames(page, 3);
  out.labels = await page.evaluate(() => window.tvilling.sensors.labels());
  const places = new Set(latest.filter((d) => d.lon !== null).map((d) => `${d.thing}|${d.lon}|${d.lat}`));
  result.checks.sensorLabels =
    latest.length > 0 &&
    out.labels.length === places.size &&
    latest.every((d) => out.labels.some((l) => l.thing === d.thing && l.text.includes(`${d.name} ${formatResult(d.result)}`)));

  // A real click on the first Thing's pin (a little above its tip).
  const first = latest[0];
  const at = await page.evaluate((thing) => {
    const p = window.tvilling.sensors.screenPosition(thing);
    const r = window.tvilling.viewer.scene.canvas.getBoundingClientRect();
    // Only a pin on the canvas can be clicked (Go must have brought it into view).
    return p && p.x >= 0 && p.y >= 24 && p.x < r.width && p.y < r.height ? { x: r.left + p.x, y: r.top + p.y - 12 } : null;
  }, first.thing);
  result.checks.sensorsInView = at !== null;
  out.pinAt = at;
  const selected = () =>
    page.$$eval("#feature tbody tr", (rows) => Object.fromEntries(rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent])));
  if (at) {
    await page.mouse.click(at.x, at.y);
    await page.waitForFunction(() => document.querySelector("#feature tbody tr"), null, { timeout: 10000 }).catch(() => {});
  }
  out.selected = await selected();
  result.checks.sensorSelected = out.selected.thing === first.thing && out.selected[`${first.name}: Datastream`] === String(first.datastream);

  // A new reading: the label (and the open "Selected" panel) follow without a reload.
  const value = Math.round((first.result + 1.7) * 10) / 10;
  const text = `${first.name} ${formatResult(value)}`;
  const posted = Date.now();
  const r = await fetch(`${opts.server}/api/iot/observations`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": opts.iotKey ?? "" },
    body: JSON.stringify([{ datastream: first.datastream, time: new Date().toISOString(), result: value }]),
  });
  out.post = { status: r.status, body: await r.text() };
  await page
    .waitForFunction(([thing, t]) => window.tvilling.sensors.labels().some((l) => l.thing === thing && l.text.includes(t)), [first.thing, text], {
      timeout: 20000,
    })
    .catch(() => {});
  out.liveMs = Date.now() - posted;
  out.labelsAfter = await page.evaluate(() => window.tvilling.sensors.labels());
  out.selectedAfter = await selected();
  result.checks.sensorLive =
    r.ok && out.labelsAfter.some((l) => l.thing === first.thing && l.text.includes(text)) && out.selectedAfter[first.name]?.startsWith(formatResult(value));

  // The "Sensors" box hides the pins and shows them again.
  await page.uncheck("#sensors-on");
  const hidden = await page.evaluate(() => !window.tvilling.sensors.visible());
  await page.check("#sensors-on");
  result.checks.sensorToggle = hidden && (await page.evaluate(() => window.tvilling.sensors.visible()));
  await frames(page, 5);
}

/** Closes the viewer's live feed; its cancelled request is expected, not a failure. */
export async function stopSensors(page, problems) {
  const before = problems.length;
  await page.evaluate(() => window.tvilling.sensors.stop());
  await page.waitForTimeout(200);
  for (let i = problems.length - 1; i >= before; i--) {
    if (/^request failed: .*\/api\/iot\/live .*ERR_ABORTED/.test(problems[i])) problems.splice(i, 1);
  }
}
