// Click a feature (or press Enter on the focused map for the feature at its centre): every attribute it
// carries is listed in the "Selected" table, and the feature is highlighted. A sensor pin lists its
// Datastreams.

export function setUpPicking(app) {
  const { viewer, $ } = app;
  let selected = null; // { feature, colour }
  let shown = null; // the object whose attributes the panel lists (an SQL entity, a sensor pin's group)

  function showFeature(feature) {
    if (selected) {
      // The tileset may have been reloaded (another version) and this feature destroyed with it.
      try {
        selected.feature.color = selected.colour;
      } catch {
        /* gone with its tileset */
      }
    }
    selected = null;
    shown = null;
    const body = $("feature").tBodies[0];
    body.replaceChildren();
    $("feature-hint").hidden = Boolean(feature);
    if (!feature) return;
    selected = { feature, colour: Cesium.Color.clone(feature.color) };
    feature.color = Cesium.Color.YELLOW;
    fill(feature.getPropertyIds().map((id) => [id, feature.getProperty(id)]));
  }

  /** Lists [name, value] pairs in the "Selected" table. */
  function fill(entries) {
    const body = $("feature").tBodies[0];
    body.replaceChildren();
    $("feature-hint").hidden = entries.length > 0;
    for (const [id, value] of entries) {
      const name = Object.assign(document.createElement("th"), { scope: "row", textContent: id });
      const cell = document.createElement("td");
      // noData reads as undefined; INT64 as BigInt; SQL nulls as null.
      cell.textContent = value === undefined || value === null ? "—" : typeof value === "object" ? JSON.stringify(value) : String(value);
      body.insertRow().append(name, cell);
    }
  }

  /** Lists `entries` ([name, value] pairs) of `source` (e.g. a sensor pin's group) in "Selected". */
  app.showAttributes = (entries, source) => {
    showFeature(null);
    fill(entries);
    shown = source;
  };
  /** Whether "Selected" lists the attributes of `source`, so that its owner can refresh them. */
  app.isShown = (source) => shown !== null && shown === source;

  /** Shows an SQL result entity's properties (its GeoJSON properties) in the "Selected" table. */
  app.showEntity = (entity) => {
    showFeature(null);
    const bag = entity?.properties;
    if (!bag) return;
    const now = viewer.clock.currentTime;
    fill(bag.propertyNames.map((n) => [n, bag[n]?.getValue(now)]));
  };

  /**
   * Picks at a canvas position; tiles features, SQL result entities and primitives whose `id` has an
   * `attributes()` function (sensor pins and labels) count.
   */
  function pickAt(position) {
    const picked = viewer.scene.pick(position);
    if (picked instanceof Cesium.Cesium3DTileFeature) {
      showFeature(picked);
      return true;
    }
    showFeature(null);
    if (picked?.id instanceof Cesium.Entity) app.showEntity(picked.id);
    else if (typeof picked?.id?.attributes === "function") app.showAttributes(picked.id.attributes(), picked.id);
    return false;
  }

  new Cesium.ScreenSpaceEventHandler(viewer.scene.canvas).setInputAction(
    (click) => pickAt(click.position),
    Cesium.ScreenSpaceEventType.LEFT_CLICK,
  );

  // A tileset about to be removed takes its features with it: drop a selection pointing into it.
  app.beforeLayerUnload = [
    (layer) => {
      if (selected && layer.tileset && selected.feature.tileset === layer.tileset) showFeature(null);
    },
  ];

  return {
    showFeature,
    /** Selects the feature at the centre of the map (keyboard users). */
    pickCentre: () => {
      const c = viewer.scene.canvas;
      return pickAt(new Cesium.Cartesian2(c.clientWidth / 2, c.clientHeight / 2));
    },
  };
}
