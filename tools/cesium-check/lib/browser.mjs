// Launches Debian's Chromium headless through playwright-core and records everything that counts as a
// failure on a page: console errors, uncaught exceptions, failed or non-2xx requests, and any request that
// leaves the loopback origin (the checks must work offline, so such a request is blocked and reported).
import { chromium } from "playwright-core";
import { existsSync } from "node:fs";

export const CHROMIUM = process.env.TVILLING_CHROMIUM ?? "/usr/bin/chromium";

// WebGL without a GPU: SwiftShader through ANGLE. Newer Chromium refuses the software fallback for
// WebGL unless --enable-unsafe-swiftshader is given. The rest keep the browser from reaching out
// (updates, sync, QUIC probes) so a run is hermetic and quiet.
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--use-angle=swiftshader",
  "--enable-unsafe-swiftshader",
  "--ignore-gpu-blocklist",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

/** Launches the browser; playwright gives each launch a fresh temporary user-data-dir. */
export async function launch() {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found; install Debian's chromium (run scripts/bootstrap.sh)`);
  }
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

/**
 * Opens a page whose problems are collected into `problems` (an array of strings). Requests to any origin
 * other than `origin` (and those in `allow`, e.g. a test's own map service) are aborted and reported.
 */
export async function openPage(browser, origin, problems, { width = 1024, height = 768, allow = [] } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const console_ = [];
  await context.route("**/*", (route) => {
    const url = route.request().url();
    const allowed = [origin, ...allow].some((o) => url.startsWith(o + "/") || url.startsWith(o + "?"));
    if (allowed || url.startsWith("data:") || url.startsWith("blob:")) {
      return route.continue();
    }
    problems.push(`request outside the loopback origin blocked: ${url}`);
    return route.abort();
  });
  page.on("console", (msg) => {
    console_.push(`${msg.type()}: ${msg.text()}`);
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`uncaught exception: ${e?.stack ?? e}`));
  page.on("requestfailed", (req) => {
    // Aborted outside requests are already reported above.
    if (req.url().startsWith(origin + "/")) {
      problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`);
    }
  });
  page.on("response", (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.url()}`);
  });
  return { page, context, console: console_ };
}
