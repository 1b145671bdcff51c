// Base maps: Cesium's bundled NaturalEarthII (offline, the default), none, OpenStreetMap (needs the
// network) and the WMS/WMTS maps the server is configured with (server.base_layers, listed by
// GET /api/viewer; e.g. Lantmäteriet's topographic web map). ?imagery=NAME picks the first one shown:
// naturalearth, none, osm or the name of a configured map.

const BUILT_IN = [
  { key: "naturalearth", name: "NaturalEarthII (offline)" },
  { key: "none", name: "None" },
  { key: "osm", name: "OpenStreetMap (online)" },
];

/** The Cesium imagery layer of a configured map. */
function configuredLayer(c) {
  const format = c.format ?? "image/png";
  const credit = c.credit ?? undefined;
  if (c.kind === "wms") {
    return new Cesium.ImageryLayer(
      new Cesium.WebMapServiceImageryProvider({
        url: c.url,
        layers: c.layers,
        parameters: { format, transparent: false },
        credit,
      }),
    );
  }
  return new Cesium.ImageryLayer(
    new Cesium.WebMapTileServiceImageryProvider({
      url: c.url,
      layer: c.layers,
      style: c.style ?? "default",
      tileMatrixSetID: c.tile_matrix_set ?? "3857",
      format,
      credit,
    }),
  );
}

export function setUpBasemap(app) {
  const { viewer, $ } = app;
  const select = $("basemap");
  let configured = [];

  function layerFor(key) {
    if (key === "none") return null;
    if (key === "naturalearth") {
      return Cesium.ImageryLayer.fromProviderAsync(
        Cesium.TileMapServiceImageryProvider.fromUrl(Cesium.buildModuleUrl("Assets/Textures/NaturalEarthII")),
      );
    }
    if (key === "osm") {
      return new Cesium.ImageryLayer(new Cesium.OpenStreetMapImageryProvider({ url: "https://tile.openstreetmap.org/" }));
    }
    const c = configured[Number(key.replace("layer:", ""))];
    return c ? configuredLayer(c) : null;
  }

  /** Shows the base map `key` (a built-in key or `layer:N`) instead of the current one. */
  function use(key) {
    viewer.imageryLayers.removeAll();
    const layer = layerFor(key);
    if (layer) viewer.imageryLayers.add(layer, 0);
    select.value = key;
    return layer;
  }

  async function start(wanted) {
    try {
      const r = await fetch("/api/viewer");
      if (r.ok) configured = (await r.json()).base_layers ?? [];
    } catch (e) {
      app.status(`base maps: ${e?.message ?? e}`, true);
    }
    for (const b of BUILT_IN) select.add(new Option(b.name, b.key));
    configured.forEach((c, i) => select.add(new Option(c.name, `layer:${i}`)));
    let key = "naturalearth";
    if (wanted) {
      const i = configured.findIndex((c) => c.name === wanted);
      if (i >= 0) key = `layer:${i}`;
      else if (BUILT_IN.some((b) => b.key === wanted)) key = wanted;
      else app.status(`unknown ?imagery=${wanted}; use naturalearth, none, osm or a configured base map`, true);
    }
    use(key);
    select.addEventListener("change", () => use(select.value));
  }

  return { start, use, configured: () => configured };
}
