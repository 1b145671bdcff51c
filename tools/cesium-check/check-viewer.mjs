#!/usr/bin/env node
// Drives the viewer in web/viewer in headless Chromium against a stub /api/datasets that lists one
// locally tiled folder, the way a planner would use it:
//
//   node check-viewer.mjs TILESET_DIR [--json] [--timeout MS] [--screenshot FILE.png]
//   node check-viewer.mjs --server http://127.0.0.1:8080 --dataset NAME [--points NAME] [--bim NAME]
//                         [--sensors --iot-key KEY] [--basemap NAME --allow ORIGIN] [--json] …
//
// The second form drives the viewer that a running `tvilling serve` serves, with its real /api/datasets,
// versions, SQL and tiles; the dataset must have an older version for the version checks.
//
// It checks that the page lists the dataset and loads its tileset, that a real mouse click on a building
// fills the attribute panel (with `id`), that colouring by a numeric attribute draws a legend (and by a
// text attribute, a legend of values with counts), that the map zooms with the keyboard, that the sun
// study sets Cesium's clock with lighting and shadows, and that the version selector requests the
// tileset with ?version=N. With --server it also sets the "as of" date between v0 and v1, runs a query in
// the SQL console (drawn on the globe, rows in the table view, Enter on a row selects it) and opens the
// dataset's table; with --points it colours that point cloud by classification, height and intensity;
// with --bim it filters that building model by storey (lib/twin-steps.mjs); with --sensors it checks
// the IoT collection's live labels against /api/iot/latest and posts a reading (with --iot-key) that
// must reach its label through the live feed; with --basemap it checks that NaturalEarthII is the first
// base map and then picks the configured WMS map NAME (served from ORIGIN, which --allow lets through).
// Console errors, failed requests and requests leaving the loopback origin fail the check. The stub says the dataset is at version 1, so selecting v0
// asks for `tileset.json?version=0` (the static stub serves the same folder for both).
//
// Exit status: 0 when every check passed, 1 when one failed (listed in `failures`), 2 when it could not run.
import { existsSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { serve } from "./lib/serve.mjs";
import { CHROMIUM, launch, openPage } from "./lib/browser.mjs";
import { asOf, baseMap, categoryStyle, keyboard, pointStyles, sqlConsole, sun, tilesLoaded } from "./lib/viewer-steps.mjs";
import { liveSensors, stopSensors, storeyFilter } from "./lib/twin-steps.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const CESIUM_BUILD = join(HERE, "node_modules", "cesium", "Build", "Cesium");
const VIEWER = resolve(HERE, "..", "..", "web", "viewer");

function usage(message) {
  process.stderr.write(`${message}\nusage: check-viewer.mjs TILESET_DIR | --server URL --dataset NAME [--points NAME] [--bim NAME] [--sensors --iot-key KEY] [--json] [--timeout MS] [--screenshot FILE]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { json: false, timeout: 60000, screenshot: null, dir: null, server: null, name: "town", points: null, bim: null, sensors: false, iotKey: null, basemap: null, allow: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") opts.json = true;
    else if (a === "--timeout") opts.timeout = Number(argv[++i]);
    else if (a === "--screenshot") opts.screenshot = argv[++i];
    else if (a === "--server") opts.server = argv[++i]?.replace(/\/$/, "");
    else if (a === "--dataset") opts.name = argv[++i];
    else if (a === "--points") opts.points = argv[++i];
    else if (a === "--bim") opts.bim = argv[++i];
    else if (a === "--sensors") opts.sensors = true;
    else if (a === "--iot-key") opts.iotKey = argv[++i];
    else if (a === "--basemap") opts.basemap = argv[++i];
    else if (a === "--allow") opts.allow.push(argv[++i]?.replace(/\/$/, ""));
    else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else if (opts.dir === null) opts.dir = resolve(a);
    else usage(`unexpected argument ${a}`);
  }
  if (opts.server === null && (opts.bim || opts.sensors)) usage("--bim and --sensors need --server");
  if (opts.sensors && !opts.iotKey) usage("--sensors needs --iot-key KEY (a key that may write readings)");
  if (opts.server === null) {
    if (opts.dir === null) usage("missing the tileset folder (or --server URL)");
    if (!existsSync(join(opts.dir, "tileset.json")) || !statSync(opts.dir).isDirectory()) {
      usage(`${opts.dir} is not a folder with a tileset.json`);
    }
  }
  if (!existsSync(join(CESIUM_BUILD, "Cesium.js"))) usage(`CesiumJS is not installed in ${HERE}; run scripts/bootstrap.sh`);
  if (!existsSync(CHROMIUM)) usage(`${CHROMIUM} not found; install Debian's chromium (run scripts/bootstrap.sh)`);
  return opts;
}

/** Screen positions (page pixels) where Cesium picks a building, scanning a grid over the canvas. */
async function findBuilding(page) {
  return page.evaluate(() => {
    const { viewer } = window.tvilling;
    const canvas = viewer.scene.canvas;
    const rect = canvas.getBoundingClientRect();
    for (const fy of [0.5, 0.4, 0.6, 0.3, 0.7]) {
      for (const fx of [0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8]) {
        const p = new Cesium.Cartesian2(rect.width * fx, rect.height * fy);
        if (viewer.scene.pick(p) instanceof Cesium.Cesium3DTileFeature) {
          return { x: rect.left + p.x, y: rect.top + p.y };
        }
      }
    }
    return null;
  });
}

async function run(opts, page, url, problems, result) {
  result.timingsMs = {};
  const requests = [];
  page.on("request", (r) => requests.push(r.url()));
  let t0 = Date.now();
  // The step running now, named in the error when one times out.
  result.step = "load";
  const lap = (name, next) => {
    result.timingsMs[name] = Date.now() - t0;
    t0 = Date.now();
    result.step = next;
  };
  await page.goto(`${url}/`);
  await page.waitForFunction(() => window.tvilling?.ready, null, { timeout: opts.timeout });
  await page.evaluate(() => window.tvilling.ready);
  const listed = await page.evaluate((name) => window.tvilling.layers.has(name), opts.name);
  if (!listed) throw new Error(`the viewer does not list ${opts.name}: /api/datasets has no tileset for it (not readable anonymously, or not tiled)`);
  // The viewer starts at the first dataset it lists; the checks look at this one.
  await page.waitForFunction((name) => window.tvilling.layers.get(name).tileset, opts.name, { timeout: opts.timeout });
  await page.evaluate((name) => window.tvilling.viewer.zoomTo(window.tvilling.layers.get(name).tileset), opts.name);
  await tilesLoaded(page, opts.name, opts.timeout);
  lap("load", "pick");
  result.datasets = await page.$$eval("#datasets li", (lis) => lis.map((li) => li.textContent.trim()));
  result.checks.listed =
    result.datasets.some((d) => d.includes(opts.name)) && (await page.$$("#datasets li.failed")).length === 0;

  // A real click where Cesium draws a building: the panel lists its attributes.
  const at = await findBuilding(page);
  result.checks.foundBuilding = at !== null;
  if (at) {
    await page.mouse.click(at.x, at.y);
    await page.waitForFunction(() => document.querySelector("#feature tbody tr"), null, { timeout: 10000 }).catch(() => {});
    result.picked = Object.fromEntries(
      await page.$$eval("#feature tbody tr", (rows) => rows.map((r) => [r.cells[0].textContent, r.cells[1].textContent])),
    );
    result.checks.pickedHasId = typeof result.picked.id === "string" && result.picked.id.length > 0;
  }
  lap("pick", "style");

  // Colour the dataset by its first numeric attribute: a legend appears.
  await page.selectOption("#style-dataset", opts.name);
  const numeric = await page.$$eval("#style-property option", (os) => os.map((o) => [o.value, o.textContent]).find(([v, t]) => v && /\d–/.test(t))?.[0]);
  result.styledBy = numeric ?? null;
  if (numeric) {
    await page.selectOption("#style-property", numeric);
    await tilesLoaded(page, opts.name, opts.timeout);
    result.legend = await page.$$eval("#legend li", (lis) => lis.map((li) => li.textContent));
  }
  result.checks.legend = (result.legend?.length ?? 0) > 1;
  lap("style", "version");

  // The version selector asks the server for the older version.
  await page.selectOption(`#datasets li[data-name="${opts.name}"] select`, "0");
  await page.waitForFunction((name) => window.tvilling.layers.get(name).tileset?.resource.url.includes("version=0"), opts.name, { timeout: opts.timeout });
  await tilesLoaded(page, opts.name, opts.timeout);
  result.checks.versionRequested = requests.some((r) => r.includes(`/tiles/${opts.name}/tileset.json?version=0`));
  lap("version", "category style, keyboard, sun");

  await categoryStyle(page, opts, result);
  await keyboard(page, result);
  await sun(page, opts, result);
  lap("sun", "as of");
  if (opts.server) {
    await asOf(page, opts, result, requests);
    lap("asOf", "sql console");
    await sqlConsole(page, opts, result, problems);
    lap("sql", "points");
  } else {
    (result.skipped ??= {}).sql = "the stub server has no /api/sql; run with --server";
  }
  if (opts.points) {
    await pointStyles(page, opts, result);
    lap("points", "storeys");
  }
  if (opts.bim) {
    await storeyFilter(page, opts, result);
    lap("storeys", "sensors");
  }
  if (opts.sensors) {
    await liveSensors(page, opts, result);
    lap("sensors", "base map");
  }
  if (opts.basemap) {
    await baseMap(page, opts, result);
    lap("base map", "screenshot");
  }

  if (opts.screenshot) await writeFile(opts.screenshot, await page.screenshot());
  if (opts.sensors) await stopSensors(page, problems);
  return result;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const name = opts.name;
  const datasets = [{ name, kind: "vector", version: 1, classification: "open", tileset: `/tiles/${name}/tileset.json` }];
  // The stub: the viewer, Cesium, one tileset folder and a one-entry /api/datasets. With --server the
  // real server provides all of these.
  const server = opts.server
    ? { url: opts.server, close: async () => {} }
    : await serve({
        mounts: { "/": VIEWER, "/cesium/": CESIUM_BUILD, [`/tiles/${name}/`]: opts.dir },
        routes: {
          "/api/datasets": async () => ({ type: "application/json", body: JSON.stringify(datasets) }),
          "/api/viewer": async () => ({ type: "application/json", body: JSON.stringify({ base_layers: [] }) }),
          // Versions without commit times: the viewer labels them v1, v0 and the "as of" check is skipped.
          [`/api/datasets/${name}/versions`]: async () => ({
            type: "application/json",
            body: JSON.stringify([1, 0].map((version) => ({ version, timestamp: null, operation: "WRITE" }))),
          }),
        },
      });
  const problems = [];
  let browser;
  let result;
  const partial = { checks: {} };
  try {
    browser = await launch();
    const { page } = await openPage(browser, server.url, problems, { width: 1280, height: 800, allow: opts.allow });
    result = await run(opts, page, server.url, problems, partial);
  } catch (e) {
    result = { ...partial, errors: [`the check did not finish (step: ${partial.step ?? "start"}): ${e?.message ?? e}`] };
  } finally {
    await browser?.close().catch(() => {});
    await server.close();
  }
  result.errors = [...(result.errors ?? []), ...problems];
  result.failures = [...result.errors, ...Object.entries(result.checks).filter(([, ok]) => !ok).map(([name]) => `check failed: ${name}`)];
  result.ok = result.failures.length === 0;
  if (opts.json) process.stdout.write(JSON.stringify(result) + "\n");
  else process.stdout.write(`${result.ok ? "OK" : "FAILED"} viewer with ${opts.server ?? opts.dir}\n${JSON.stringify(result, null, 2)}\n`);
  process.exit(result.ok ? 0 : 1);
}

main().catch((e) => {
  process.stderr.write(`check-viewer.mjs: ${e?.stack ?? e}\n`);
  process.exit(2);
});
