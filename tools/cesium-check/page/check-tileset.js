// Runs in the browser: loads one tileset in a Cesium Viewer, waits until Cesium says every tile needed
// for the view is loaded, and leaves a JSON-able report in `window.__report` for check-tileset.mjs.
// Parameters come from the query string: `tileset` (URL) and `timeout` (ms).
const params = new URLSearchParams(location.search);
const TILESET = params.get("tileset");
const TIMEOUT_MS = Number(params.get("timeout") ?? 60000);

const report = { errors: [], tileset: TILESET };

// JSON cannot hold BigInt (INT64 properties) or typed arrays (vector/array properties).
function plain(v) {
  if (typeof v === "bigint") return v.toString();
  if (ArrayBuffer.isView(v)) return Array.from(v, plain);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object" && "x" in v && "y" in v) return { ...v };
  return v;
}

function allTiles(tile, out = []) {
  out.push(tile);
  for (const child of tile.children) allTiles(child, out);
  return out;
}

async function run() {
  // No Cesium Ion: no token, no base imagery, no terrain service, no geocoder. The globe is a plain
  // ellipsoid, so nothing is fetched but our own files.
  Cesium.Ion.defaultAccessToken = "";
  const viewer = new Cesium.Viewer("cesium", {
    baseLayer: false,
    baseLayerPicker: false,
    geocoder: false,
    terrainProvider: new Cesium.EllipsoidTerrainProvider(),
    animation: false,
    timeline: false,
    homeButton: false,
    sceneModePicker: false,
    navigationHelpButton: false,
    fullscreenButton: false,
    infoBox: false,
    selectionIndicator: false,
  });
  window.__viewer = viewer;
  viewer.scene.globe.baseColor = Cesium.Color.DARKSLATEGREY;
  // Cesium stops rendering after an exception in the render loop and shows a panel; record it instead.
  viewer.scene.renderError.addEventListener((_, e) => report.errors.push(`render error: ${e?.stack ?? e}`));

  let tileset;
  try {
    tileset = await Cesium.Cesium3DTileset.fromUrl(TILESET);
  } catch (e) {
    report.errors.push(`Cesium3DTileset.fromUrl failed: ${e?.message ?? e}`);
    return;
  }
  const rendered = new Set();
  tileset.tileFailed.addEventListener((e) => report.errors.push(`tile failed: ${e.url}: ${e.message}`));
  tileset.tileVisible.addEventListener((tile) => rendered.add(tile));
  viewer.scene.primitives.add(tileset);
  await viewer.zoomTo(tileset);

  // tilesLoaded turns true once every tile that meets the screen-space error for this view is loaded;
  // the camera settles after zoomTo, so require it on several frames in a row.
  const start = performance.now();
  let settled = 0;
  while (settled < 5) {
    await new Promise((r) => requestAnimationFrame(r));
    settled = tileset.tilesLoaded ? settled + 1 : 0;
    if (performance.now() - start > TIMEOUT_MS) {
      report.errors.push(`tiles not loaded after ${TIMEOUT_MS} ms (tilesLoaded stayed false)`);
      break;
    }
  }
  report.loadMs = Math.round(performance.now() - start);

  const center = Cesium.Cartographic.fromCartesian(tileset.boundingSphere.center);
  report.boundingSphere = {
    lon: Cesium.Math.toDegrees(center.longitude),
    lat: Cesium.Math.toDegrees(center.latitude),
    height: center.height,
    radius: tileset.boundingSphere.radius,
  };

  const tiles = allTiles(tileset.root);
  const ready = tiles.filter((t) => t.contentReady && t.content);
  report.tilesTotal = tiles.length;
  report.tilesLoaded = ready.length;
  report.tilesRendered = rendered.size;
  report.rootContentReady = Boolean(tileset.root.contentReady);
  report.rootRendered = rendered.has(tileset.root);
  report.features = ready.reduce((n, t) => n + (t.content.featuresLength ?? 0), 0);
  report.featuresRendered = tileset.statistics.numberOfFeaturesSelected;
  report.trianglesRendered = tileset.statistics.numberOfTrianglesSelected;

  // Distinct `id` values across loaded tiles: parents repeat the largest buildings as LOD1 blocks.
  const ids = new Set();
  for (const t of ready) {
    for (let i = 0; i < t.content.featuresLength; i++) {
      const f = t.content.getFeature(i);
      if (f.hasProperty("id")) ids.add(String(plain(f.getProperty("id"))));
    }
  }
  report.distinctIds = ids.size;

  const schema = tileset.schema;
  report.schemaClasses = schema ? Object.keys(schema.classes) : [];
  report.schemaProperties = {};
  for (const [id, cls] of Object.entries(schema?.classes ?? {})) {
    report.schemaProperties[id] = Object.keys(cls.properties);
  }

  // One feature from the first rendered tile with features, as Cesium's picking would show it.
  const sample = ready.find((t) => rendered.has(t) && t.content.featuresLength > 0) ??
    ready.find((t) => t.content.featuresLength > 0);
  if (sample) {
    const f = sample.content.getFeature(0);
    // A property at its noData value reads as undefined; keep its name with null.
    report.feature = {};
    for (const id of f.getPropertyIds()) report.feature[id] = plain(f.getProperty(id)) ?? null;
  }
}

run()
  .catch((e) => report.errors.push(`check failed: ${e?.stack ?? e}`))
  .finally(() => {
    window.__report = report;
  });
