// The "Colour by" panel: pick a dataset and an attribute; buildings get a Cesium3DTileStyle (styling.js),
// point clouds a custom shader (pointstyle.js), and the legend lists what each colour means.
import { colourBy, styleableProperties } from "./styling.js";
import { pointModes, pointStyle } from "./pointstyle.js";
import { setStylePart } from "./tilestyle.js";

export function setUpStylePanel(app) {
  const { $ } = app;

  /** The options for a layer: [{ value, label, build() → { legend, apply(tileset) } }]. */
  function options(layer) {
    if (!layer) return [];
    if (layer.dataset.kind === "pointcloud") {
      return pointModes(layer).map((m) => ({
        value: m.value,
        label: m.label,
        build: () => pointStyle(m, layer),
      }));
    }
    return styleableProperties(layer.json).map((p) => ({
      value: p.name,
      label: `${p.name} (${p.kind === "number" ? `${p.min}–${p.max}` : "categories"})`,
      build: () => {
        const { color, legend } = colourBy(p);
        return { legend, apply: () => setStylePart(layer, "color", color) };
      },
    }));
  }

  function drawLegend(entries) {
    const legend = $("legend");
    legend.replaceChildren();
    for (const { colour, label } of entries) {
      const li = document.createElement("li");
      const swatch = Object.assign(document.createElement("span"), { className: "swatch" });
      swatch.style.background = colour;
      swatch.setAttribute("aria-hidden", "true");
      li.append(swatch, label);
      legend.append(li);
    }
  }

  function apply() {
    const layer = app.layers.get($("style-dataset").value);
    drawLegend([]);
    if (!layer?.tileset) return;
    const chosen = options(layer).find((o) => o.value === $("style-property").value);
    // Reset both kinds of colouring (not the storey filter's `show`), then apply the chosen one.
    setStylePart(layer, "color", undefined);
    layer.tileset.customShader = undefined;
    if (!chosen) return;
    const built = chosen.build();
    built.apply(layer.tileset);
    drawLegend(built.legend);
  }

  function refresh() {
    const layer = app.layers.get($("style-dataset").value);
    const select = $("style-property");
    const previous = select.value;
    select.replaceChildren(new Option(layer?.dataset.kind === "pointcloud" ? "(source colours)" : "(source colours)", ""));
    for (const o of options(layer)) select.add(new Option(o.label, o.value));
    select.value = [...select.options].some((o) => o.value === previous) ? previous : "";
    apply();
  }

  $("style-dataset").addEventListener("change", refresh);
  $("style-property").addEventListener("change", apply);

  return {
    refresh,
    apply,
    /** A layer (re)loaded, e.g. another version: its statistics and style follow. */
    layerLoaded: (layer) => {
      if ($("style-dataset").value === layer.dataset.name) refresh();
    },
  };
}
