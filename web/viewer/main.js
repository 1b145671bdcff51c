// The tvilling viewer: the datasets the server lists at /api/datasets as 3D Tiles in CesiumJS. The parts
// live in small modules, each wired to its section of index.html:
//
//   layers.js     dataset list: toggles, fly-to, version selector and the "as of" date
//   stylepanel.js colour by attribute with a legend (styling.js: vector tiles, pointstyle.js: point clouds)
//   storeys.js    building models (bim) floor by floor; tilestyle.js joins it with the colours
//   picking.js    click (or Enter on the map) → every attribute of the feature in the panel
//   sun.js        time slider with sun lighting and shadows (solstudie)
//   sensors.js    the IoT collection's sensors: latest readings as labels, updated live (SSE)
//   sql.js        SQL console; GeoJSON results drawn on the globe, rows in the table view (table.js)
//   keyboard.js   camera keys on the focused map
//
//   basemap.js    base maps: NaturalEarthII (offline, default), none, OSM, configured WMS/WMTS
//
// It never talks to Cesium Ion. ?imagery=NAME picks the first base map (see basemap.js).
import { setUpBasemap } from "./basemap.js";
import { loadDatasets } from "./layers.js";
import { setUpStylePanel } from "./stylepanel.js";
import { setUpStoreys } from "./storeys.js";
import { setUpPicking } from "./picking.js";
import { setUpSun } from "./sun.js";
import { setUpSensors } from "./sensors.js";
import { setUpSql } from "./sql.js";
import { setUpKeyboard } from "./keyboard.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);

function status(text, isError = false) {
  $("status").textContent = text;
  // Errors go to the console too: the browser tests fail on console errors.
  if (isError) console.error(text);
}

Cesium.Ion.defaultAccessToken = "";
const viewer = new Cesium.Viewer("globe", {
  baseLayer: false, // basemap.js adds it
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

/** What the modules share: the viewer, the layers by dataset name, and helpers. */
const app = { viewer, layers: new Map(), $, status, onLayerLoaded: [] };

const basemap = setUpBasemap(app);
const style = setUpStylePanel(app);
app.onLayerLoaded.push(style.layerLoaded);
const storeys = setUpStoreys(app);
app.onLayerLoaded.push(storeys.layerLoaded);
const picking = setUpPicking(app);
const sun = setUpSun(app);
const sensors = setUpSensors(app);
const sql = setUpSql(app);
setUpKeyboard(app, picking);

async function start() {
  await basemap.start(params.get("imagery"));
  const layers = await loadDatasets(app);
  for (const l of layers) $("style-dataset").add(new Option(l.dataset.name, l.dataset.name));
  const first = layers.find((l) => l.tileset);
  if (first) await viewer.zoomTo(first.tileset);
  style.refresh();
  storeys.refresh();
  const vector = layers.find((l) => l.dataset.kind !== "pointcloud");
  if (vector) sql.suggest(vector.dataset.name);
  status(`${layers.length} dataset(s)`);
  // After the tiles: the pins clamp to the buildings and terrain already loaded.
  await sensors.start(app.datasets ?? []).catch((e) => status(`sensors: ${e?.message ?? e}`, true));
}

// For browser tests and the console: the viewer, the layers, the panels' functions, and a promise
// settled when every listed tileset has been created (or failed).
window.tvilling = {
  viewer,
  layers: app.layers,
  basemap,
  showFeature: picking.showFeature,
  style,
  storeys,
  sun,
  sensors,
  sql,
  ready: start().catch((e) => status(`cannot list datasets: ${e?.message ?? e}`, true)),
};
