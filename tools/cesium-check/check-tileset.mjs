#!/usr/bin/env node
// Loads a 3D Tiles tileset in CesiumJS inside headless Chromium and reports what Cesium saw:
//
//   node check-tileset.mjs DIR_OR_TILESET_JSON [--json] [--timeout MS] [--screenshot FILE.png]
//
// The tileset folder, the Cesium build and the check page are served from one loopback port; nothing
// else is reachable (requests elsewhere are blocked and count as failures). The report (with --json, one
// JSON object on stdout) holds: errors (tile failures, console errors, render errors, failed requests),
// warnings (console warnings), tilesLoaded/tilesRendered/tilesTotal, the bounding sphere centre as WGS 84
// lon/lat and ellipsoidal height, feature counts, the metadata schema's classes and properties, one
// feature's properties, and whether the root tile's content was loaded and rendered.
//
// Exit status: 0 when the tileset loaded with no errors and at least one tile rendered, 1 when the check
// ran and found problems (listed in `failures`), 2 when it could not run (usage, Chromium missing).
import { existsSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

import { serve } from "./lib/serve.mjs";
import { CHROMIUM, launch, openPage } from "./lib/browser.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const CESIUM_BUILD = join(HERE, "node_modules", "cesium", "Build", "Cesium");

function usage(message) {
  process.stderr.write(`${message}\nusage: check-tileset.mjs DIR_OR_TILESET_JSON [--json] [--timeout MS] [--screenshot FILE]\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { json: false, timeout: 60000, screenshot: null, target: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--json") opts.json = true;
    else if (a === "--timeout") opts.timeout = Number(argv[++i]);
    else if (a === "--screenshot") opts.screenshot = argv[++i];
    else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else if (opts.target === null) opts.target = a;
    else usage(`unexpected argument ${a}`);
  }
  if (opts.target === null) usage("missing the tileset");
  if (!(opts.timeout > 0)) usage("--timeout needs a number of milliseconds");
  return opts;
}

/** What counts as a failed check, each as a sentence. */
export function failures(report) {
  const out = [...report.errors];
  if (!(report.tilesLoaded > 0)) out.push("no tile content loaded");
  if (!(report.tilesRendered > 0)) out.push("no tile rendered");
  return out;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const target = resolve(opts.target);
  if (!existsSync(target)) usage(`${target} does not exist`);
  const tilesetFile = statSync(target).isDirectory() ? join(target, "tileset.json") : target;
  if (!existsSync(tilesetFile)) usage(`${tilesetFile} does not exist`);
  if (!existsSync(join(CESIUM_BUILD, "Cesium.js"))) {
    usage(`CesiumJS is not installed in ${HERE}; run scripts/bootstrap.sh (it runs \`npm ci\` there)`);
  }
  if (!existsSync(CHROMIUM)) usage(`${CHROMIUM} not found; install Debian's chromium (run scripts/bootstrap.sh)`);

  const server = await serve({
    mounts: {
      "/cesium/": CESIUM_BUILD,
      "/page/": join(HERE, "page"),
      "/tiles/": dirname(tilesetFile),
    },
  });
  const problems = [];
  let browser;
  let report;
  try {
    browser = await launch();
    const { page, console: messages } = await openPage(browser, server.url, problems);
    const query = new URLSearchParams({ tileset: `/tiles/${basename(tilesetFile)}`, timeout: opts.timeout });
    await page.goto(`${server.url}/page/check-tileset.html?${query}`);
    await page.waitForFunction(() => window.__report, null, { timeout: opts.timeout + 60000 });
    report = await page.evaluate(() => window.__report);
    // SwiftShader's "GL Driver Message … GPU stall due to ReadPixels" is about the software renderer,
    // not the tileset.
    report.warnings = messages.filter((m) => m.startsWith("warning:") && !m.includes("GL Driver Message"));
    if (opts.screenshot) await writeFile(opts.screenshot, await page.screenshot());
  } catch (e) {
    report = { errors: [`the check did not finish: ${e?.message ?? e}`] };
  } finally {
    await browser?.close().catch(() => {});
    await server.close();
  }
  report.tileset = tilesetFile;
  report.errors = [...report.errors, ...problems];
  report.failures = failures(report);
  report.ok = report.failures.length === 0;

  if (opts.json) {
    process.stdout.write(JSON.stringify(report) + "\n");
  } else {
    const c = report.boundingSphere;
    process.stdout.write(
      `${report.ok ? "OK" : "FAILED"} ${tilesetFile}\n` +
        (c ? `  centre ${c.lon.toFixed(5)} E ${c.lat.toFixed(5)} N, h ${c.height.toFixed(1)} m, radius ${c.radius.toFixed(1)} m\n` : "") +
        `  tiles: ${report.tilesLoaded} loaded, ${report.tilesRendered} rendered, ${report.tilesTotal} in the tree; root loaded ${report.rootContentReady}, rendered ${report.rootRendered}\n` +
        `  features: ${report.features} in loaded tiles, ${report.distinctIds} distinct ids, ${report.featuresRendered} rendered\n` +
        `  schema classes: ${(report.schemaClasses ?? []).join(", ")}\n` +
        `  a feature: ${JSON.stringify(report.feature)}\n` +
        report.warnings?.map((w) => `  ${w}\n`).join("") +
        report.failures.map((f) => `  FAILURE ${f}\n`).join(""),
    );
  }
  process.exit(report.ok ? 0 : 1);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`check-tileset.mjs: ${e?.stack ?? e}\n`);
    process.exit(2);
  });
}
