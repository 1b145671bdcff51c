// The tvilling viewer: the datasets the server lists at /api/datasets as 3D Tiles in CesiumJS, with
// toggles, a version selector, colour-by-attribute with a legend, and a click → all attributes panel.
//
// It never talks to Cesium Ion. The base imagery is chosen with ?imagery= (none by default, so the
// page works offline):
//   none          a plain globe
//   naturalearth  Cesium's bundled NaturalEarthII (offline, coarse)
//   osm           OpenStreetMap tiles (needs the network)
import { colourBy, styleableProperties } from "./styling.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

function status(text, isError = false) {
  $("status").textContent = text;
  // Errors go to the console too: the browser tests fail on console errors.
  if (isError) console.error(text);
}

function baseLayer(kind) {
  switch (kind) {
    case "none":
      return false;
    case "naturalearth":
      return Cesium.ImageryLayer.fromProviderAsync(
        Cesium.TileMapServiceImageryProvider.fromUrl(Cesium.buildModuleUrl("Assets/Textures/NaturalEarthII")),
      );
    case "osm":
      return new Cesium.ImageryLayer(new Cesium.OpenStreetMapImageryProvider({ url: "https://tile.openstreetmap.org/" }));
    default:
      status(`unknown ?imagery=${kind}; use none, naturalearth or osm`, true);
      return false;
  }
}

Cesium.Ion.defaultAccessToken = "";
const viewer = new Cesium.Viewer("globe", {
  baseLayer: baseLayer(params.get("imagery") ?? "none"),
  terrainProvider: new Cesium.EllipsoidTerrainProvider(),
  baseLayerPicker: false,
  geocoder: false,
  animation: false,
  timeline: false,
  sceneModePicker: false,
  navigationHelpButton: false,
  infoBox: false, // the side panel shows attributes instead
  selectionIndicator: false,
});
viewer.scene.globe.baseColor = Cesium.Color.fromCssColorString("#55645c");

/** name → { dataset, tileset, json (the tileset.json, for statistics), row (its <li>) } */
const layers = new Map();

function tilesetUrl(dataset, version) {
  if (version === dataset.version) return dataset.tileset; // current: the plain, cacheable URL
  const url = new URL(dataset.tileset, location.href);
  url.searchParams.set("version", version);
  return url.toString();
}

async function loadLayer(layer, version) {
  // Removing a tileset destroys it and its features: drop a selection that points into it first.
  if (selected && selected.feature.tileset === layer.tileset) showFeature(null);
  if (layer.tileset) viewer.scene.primitives.remove(layer.tileset);
  layer.tileset = null;
  const url = tilesetUrl(layer.dataset, version);
  try {
    const tileset = await Cesium.Cesium3DTileset.fromUrl(url);
    tileset.tileFailed.addEventListener((e) => status(`${layer.dataset.name}: tile ${e.url} failed: ${e.message}`, true));
    tileset.show = layer.row.querySelector("input").checked;
    layer.tileset = viewer.scene.primitives.add(tileset);
    // Cesium keeps the tileset JSON's statistics private; read them from the same (cached) URL.
    layer.json = await (await fetch(url)).json();
    layer.row.classList.remove("failed");
    if ($("style-dataset").value === layer.dataset.name) refreshStyleControls();
  } catch (e) {
    layer.row.classList.add("failed");
    status(`${layer.dataset.name} version ${version}: ${e?.message ?? e}`, true);
  }
}

function datasetRow(dataset) {
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
  li.append(toggle, name, version, fly);

  const layer = { dataset, tileset: null, json: null, row: li };
  toggle.addEventListener("change", () => layer.tileset && (layer.tileset.show = toggle.checked));
  version.addEventListener("change", () => loadLayer(layer, Number(version.value)));
  fly.addEventListener("click", () => layer.tileset && viewer.flyTo(layer.tileset));
  layers.set(dataset.name, layer);
  return layer;
}

// --- colour by attribute -------------------------------------------------------------------------

function refreshStyleControls() {
  const layer = layers.get($("style-dataset").value);
  const select = $("style-property");
  const previous = select.value;
  select.replaceChildren(new Option("(source colours)", ""));
  for (const p of styleableProperties(layer?.json)) {
    select.add(new Option(`${p.name} (${p.kind === "number" ? `${p.min}–${p.max}` : "categories"})`, p.name));
  }
  select.value = [...select.options].some((o) => o.value === previous) ? previous : "";
  applyStyle();
}

function applyStyle() {
  const layer = layers.get($("style-dataset").value);
  const legend = $("legend");
  legend.replaceChildren();
  if (!layer?.tileset) return;
  const property = styleableProperties(layer.json).find((p) => p.name === $("style-property").value);
  if (!property) {
    layer.tileset.style = undefined;
    return;
  }
  const { style, legend: entries } = colourBy(property);
  layer.tileset.style = style;
  for (const { colour, label } of entries) {
    const li = document.createElement("li");
    const swatch = Object.assign(document.createElement("span"), { className: "swatch" });
    swatch.style.background = colour;
    li.append(swatch, label);
    legend.append(li);
  }
}

$("style-dataset").addEventListener("change", refreshStyleControls);
$("style-property").addEventListener("change", applyStyle);

// --- click → attributes --------------------------------------------------------------------------

let selected = null; // { feature, colour }

function showFeature(feature) {
  if (selected) selected.feature.color = selected.colour; // the feature's styled colour back
  selected = null;
  const body = $("feature").tBodies[0];
  body.replaceChildren();
  $("feature-hint").hidden = Boolean(feature);
  if (!feature) return;
  selected = { feature, colour: Cesium.Color.clone(feature.color) };
  feature.color = Cesium.Color.YELLOW;
  for (const id of feature.getPropertyIds()) {
    const value = feature.getProperty(id);
    const name = Object.assign(document.createElement("th"), { scope: "row", textContent: id });
    const cell = document.createElement("td");
    // noData reads as undefined; INT64 as BigInt.
    cell.textContent = value === undefined || value === null ? "—" : String(value);
    body.insertRow().append(name, cell);
  }
}

new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas).setInputAction((click) => {
  const picked = viewer.scene.pick(click.position);
  showFeature(picked instanceof Cesium.Cesium3DTileFeature ? picked : null);
}, Cesium.ScreenSpaceEventType.LEFT_CLICK);

// --- start ---------------------------------------------------------------------------------------

async function start() {
  const response = await fetch("/api/datasets");
  if (!response.ok) throw new Error(`/api/datasets answered HTTP ${response.status}`);
  const datasets = (await response.json()).filter((d) => d.tileset);
  const list = $("datasets");
  list.replaceChildren();
  if (datasets.length === 0) list.innerHTML = `<li class="muted">no datasets with tiles</li>`;
  for (const d of datasets) {
    const layer = datasetRow(d);
    list.append(layer.row);
    $("style-dataset").add(new Option(d.name, d.name));
  }
  await Promise.all([...layers.values()].map((l) => loadLayer(l, l.dataset.version)));
  const first = [...layers.values()].find((l) => l.tileset);
  if (first) await viewer.zoomTo(first.tileset);
  refreshStyleControls();
  status(`${datasets.length} dataset(s)`);
}

// For browser tests and the console: the viewer, the layers, and a promise settled when every listed
// tileset has been created (or failed).
window.tvilling = {
  viewer,
  layers,
  showFeature,
  ready: start().catch((e) => status(`cannot list datasets: ${e?.message ?? e}`, true)),
};
