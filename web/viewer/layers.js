// The dataset list: one row per dataset with a tileset, with a show/hide toggle, a version selector
// (newest first, labelled with the commit time from /api/datasets/{name}/versions), a fly-to button and
// a table button; and the "as of" date that puts every dataset at its newest version committed by then.

import { restyle } from "./tilestyle.js";

/**
 * A layer: { dataset, tileset, json (the tileset.json, for statistics), row, versions, version,
 * styleParts (tilestyle.js) }.
 */

function tilesetUrl(dataset, version) {
  if (version === dataset.version) return dataset.tileset; // current: the plain, cacheable URL
  const url = new URL(dataset.tileset, location.href);
  url.searchParams.set("version", version);
  return url.toString();
}

/** Loads `version` of a layer's tileset in place of the one shown. */
export async function loadLayer(app, layer, version) {
  const { viewer } = app;
  for (const hook of app.beforeLayerUnload ?? []) hook(layer);
  if (layer.tileset) viewer.scene.primitives.remove(layer.tileset);
  layer.tileset = null;
  layer.version = version;
  layer.row.querySelector("select").value = String(version);
  const url = tilesetUrl(layer.dataset, version);
  try {
    const tileset = await Cesium.Cesium3DTileset.fromUrl(url);
    tileset.tileFailed.addEventListener((e) => app.status(`${layer.dataset.name}: tile ${e.url} failed: ${e.message}`, true));
    tileset.show = layer.row.querySelector("input").checked && !layer.row.classList.contains("not-yet");
    layer.tileset = viewer.scene.primitives.add(tileset);
    restyle(layer); // the colour and storey filter chosen for the version shown before
    // Cesium keeps the tileset JSON's statistics private; read them from the same (cached) URL.
    layer.json = await (await fetch(url)).json();
    layer.row.classList.remove("failed");
    for (const hook of app.onLayerLoaded) hook(layer);
  } catch (e) {
    layer.row.classList.add("failed");
    app.status(`${layer.dataset.name} version ${version}: ${e?.message ?? e}`, true);
  }
}

function label(v) {
  if (!v.timestamp) return `v${v.version}`;
  return `v${v.version} · ${v.timestamp.slice(0, 16).replace("T", " ")}`;
}

function datasetRow(app, dataset) {
  const li = document.createElement("li");
  li.dataset.name = dataset.name; // data-name: how scripts and tests find a dataset's row
  const toggle = Object.assign(document.createElement("input"), { type: "checkbox", checked: true });
  toggle.setAttribute("aria-label", `show ${dataset.name}`);
  const name = Object.assign(document.createElement("span"), { className: "name", textContent: dataset.name });
  name.title = `${dataset.kind}, ${dataset.classification}`;
  // One option per version, newest first; the server serves older versions with ?version=N.
  const version = document.createElement("select");
  version.setAttribute("aria-label", `${dataset.name} version`);
  for (let v = dataset.version; v >= 0; v--) version.add(new Option(`v${v}`, v));
  const fly = Object.assign(document.createElement("button"), { type: "button", textContent: "Go" });
  fly.setAttribute("aria-label", `fly to ${dataset.name}`);
  const table = Object.assign(document.createElement("button"), { type: "button", textContent: "Table" });
  table.setAttribute("aria-label", `${dataset.name} as a table`);
  li.append(toggle, name, version, fly, table);

  const layer = { dataset, tileset: null, json: null, row: li, versions: [], version: dataset.version };
  toggle.addEventListener("change", () => layer.tileset && (layer.tileset.show = toggle.checked && !li.classList.contains("not-yet")));
  version.addEventListener("change", () => loadLayer(app, layer, Number(version.value)));
  fly.addEventListener("click", () => layer.tileset && app.viewer.flyTo(layer.tileset));
  table.addEventListener("click", () => app.showTable?.(dataset));
  return layer;
}

/** Reads the versions with their commit times and relabels the selector. */
async function loadVersions(layer) {
  const r = await fetch(`/api/datasets/${encodeURIComponent(layer.dataset.name)}/versions`);
  if (!r.ok) return; // the plain v0…vN labels stay
  layer.versions = await r.json();
  const select = layer.row.querySelector("select");
  for (const v of layer.versions) {
    const option = [...select.options].find((o) => Number(o.value) === v.version);
    if (option) option.textContent = label(v);
  }
}

/** The newest version of a layer committed at or before `when` (a Date), or null if none was. */
export function versionAsOf(layer, when) {
  const ok = layer.versions.filter((v) => v.timestamp && Date.parse(v.timestamp) <= when.getTime());
  return ok.length ? Math.max(...ok.map((v) => v.version)) : null;
}

/** Puts every layer at its version as of `when` (null: the newest). */
export async function setAsOf(app, when) {
  const jobs = [];
  for (const layer of app.layers.values()) {
    const version = when ? versionAsOf(layer, when) : layer.dataset.version;
    // A dataset that did not exist yet is hidden (its row says so) rather than shown at v0.
    layer.row.classList.toggle("not-yet", version === null);
    layer.row.title = version === null ? `${layer.dataset.name} did not exist yet` : "";
    if (version === null) {
      if (layer.tileset) layer.tileset.show = false;
    } else if (version !== layer.version || !layer.tileset) {
      jobs.push(loadLayer(app, layer, version));
    } else if (layer.tileset) {
      layer.tileset.show = layer.row.querySelector("input").checked;
    }
  }
  await Promise.all(jobs);
}

/** Lists the datasets, loads their current tilesets and version logs; returns the layers. */
export async function loadDatasets(app) {
  const { $ } = app;
  const response = await fetch("/api/datasets");
  if (!response.ok) throw new Error(`/api/datasets answered HTTP ${response.status}`);
  const all = await response.json();
  app.datasets = Array.isArray(all) ? all : []; // every dataset, for the sensors (kind iot, no tiles)
  const datasets = app.datasets.filter((d) => d.tileset);
  const list = $("datasets");
  list.replaceChildren();
  if (datasets.length === 0) list.innerHTML = `<li class="muted">no datasets with tiles</li>`;
  for (const d of datasets) {
    const layer = datasetRow(app, d);
    app.layers.set(d.name, layer);
    list.append(layer.row);
  }
  const layers = [...app.layers.values()];
  await Promise.all(layers.flatMap((l) => [loadLayer(app, l, l.dataset.version), loadVersions(l)]));

  $("as-of").addEventListener("change", () => {
    const value = $("as-of").value;
    setAsOf(app, value ? new Date(value) : null);
  });
  $("as-of-latest").addEventListener("click", () => {
    $("as-of").value = "";
    setAsOf(app, null);
  });
  return layers;
}
