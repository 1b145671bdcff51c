// The storey filter for building models (datasets of kind bim): all storeys, one storey, or every
// storey up to one, so that a planner can look into a building floor by floor. The storeys and their
// order come from the tileset's `extras.storeys`, which the tiler writes bottom to top (by the lowest
// element of each storey, tiles/src/storeys.rs). The filter is the `show` part of the tileset's style
// (tilestyle.js), so the "Colour by" colours stay as they are.
import { literal } from "./styling.js";
import { setStylePart } from "./tilestyle.js";

/** A layer's storeys: { property (the metadata property id), levels: [{ name, elevation, features }] }, or null. */
export function storeysOf(layer) {
  const s = layer?.json?.extras?.storeys;
  if (typeof s?.property !== "string" || !Array.isArray(s.levels)) return null;
  const levels = s.levels.filter((l) => typeof l?.name === "string");
  return levels.length ? { property: s.property, levels } : null;
}

/**
 * The style's `show` expression for a choice { mode: "only" | "upto", name } (null: every element).
 * Elements on no storey (the site, a roof tied to the building itself) are hidden by either filter.
 */
export function showExpression(storeys, choice) {
  const k = storeys.levels.findIndex((l) => l.name === choice?.name);
  if (k < 0) return undefined;
  const chosen = choice.mode === "only" ? [storeys.levels[k]] : storeys.levels.slice(0, k + 1);
  // The property id is a 3D Metadata identifier ([A-Za-z_][A-Za-z0-9_]*), safe inside ${…}.
  const ref = `\${${storeys.property}}`;
  return chosen.map((l) => `${ref} === ${literal(l.name)}`).join(" || ");
}

export function setUpStoreys(app) {
  const { $ } = app;
  const datasetSelect = $("storey-dataset");
  const filter = $("storey-filter");

  const bimLayers = () => [...app.layers.values()].filter((l) => l.dataset.kind === "bim" && storeysOf(l));

  /** Puts the layer's chosen filter into its style and says how many elements it shows. */
  function apply(layer) {
    const storeys = storeysOf(layer);
    let choice = layer.storeyChoice ?? null;
    // Another version may not have the chosen storey any more: show everything then.
    if (choice && !storeys?.levels.some((l) => l.name === choice.name)) choice = layer.storeyChoice = null;
    setStylePart(layer, "show", storeys && choice ? showExpression(storeys, choice) : undefined);
    if (datasetSelect.value !== layer.dataset.name) return;
    const total = layer.json?.statistics?.classes ? Object.values(layer.json.statistics.classes)[0]?.count : undefined;
    let shown = total;
    if (storeys && choice) {
      const k = storeys.levels.findIndex((l) => l.name === choice.name);
      const chosen = choice.mode === "only" ? [storeys.levels[k]] : storeys.levels.slice(0, k + 1);
      shown = chosen.reduce((n, l) => n + (Number(l.features) || 0), 0);
    }
    $("storey-status").textContent = typeof total === "number" ? `${shown} of ${total} elements shown` : "";
  }

  /** Fills the filter with the selected model's storeys (bottom to top) and selects its current choice. */
  function fillFilter() {
    const layer = app.layers.get(datasetSelect.value);
    const storeys = storeysOf(layer);
    filter.replaceChildren(new Option("All storeys", ""));
    if (!storeys) return;
    const only = Object.assign(document.createElement("optgroup"), { label: "One storey" });
    const upto = Object.assign(document.createElement("optgroup"), { label: "Up to storey" });
    storeys.levels.forEach((l, k) => {
      const count = typeof l.features === "number" ? ` (${l.features})` : "";
      only.append(new Option(`${l.name}${count}`, `only:${k}`));
      upto.append(new Option(`up to ${l.name}`, `upto:${k}`));
    });
    filter.append(only, upto);
    const c = layer.storeyChoice;
    const k = c ? storeys.levels.findIndex((l) => l.name === c.name) : -1;
    filter.value = k >= 0 ? `${c.mode}:${k}` : "";
    apply(layer);
  }

  /** Lists the building models with storeys; the section shows only when there is one. */
  function refresh() {
    const layers = bimLayers();
    $("storeys-section").hidden = layers.length === 0;
    const previous = datasetSelect.value;
    datasetSelect.replaceChildren(...layers.map((l) => new Option(l.dataset.name, l.dataset.name)));
    if (layers.some((l) => l.dataset.name === previous)) datasetSelect.value = previous;
    fillFilter();
  }

  datasetSelect.addEventListener("change", fillFilter);
  filter.addEventListener("change", () => {
    const layer = app.layers.get(datasetSelect.value);
    const storeys = storeysOf(layer);
    if (!layer || !storeys) return;
    const m = /^(only|upto):(\d+)$/.exec(filter.value);
    const level = m ? storeys.levels[Number(m[2])] : undefined;
    layer.storeyChoice = level ? { mode: m[1], name: level.name } : null;
    apply(layer);
  });

  return {
    refresh,
    /** A layer (re)loaded, e.g. another version: its storeys may differ; the filter follows. */
    layerLoaded: (layer) => {
      if (layer.dataset.kind !== "bim") return;
      if (datasetSelect.value === layer.dataset.name) fillFilter();
      else apply(layer);
    },
  };
}
