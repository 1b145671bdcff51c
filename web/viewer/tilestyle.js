// One Cesium3DTileStyle per tileset, put together from independent parts: the "Colour by" panel owns
// `color`, the storey filter owns `show`. Cesium takes a single style per tileset, so each part is kept
// on the layer (it outlives the tileset, which another version replaces) and the style is rebuilt
// whenever a part changes or a tileset is (re)loaded.

/** Sets (or, with undefined, removes) one part of a layer's style: "color" or "show". */
export function setStylePart(layer, part, value) {
  layer.styleParts ??= {};
  if (value === undefined || value === null) delete layer.styleParts[part];
  else layer.styleParts[part] = value;
  restyle(layer);
}

/** Gives the layer's current tileset the style made of its parts (none: the source colours). */
export function restyle(layer) {
  if (!layer.tileset) return;
  const parts = layer.styleParts ?? {};
  layer.tileset.style = Object.keys(parts).length ? new Cesium.Cesium3DTileStyle({ ...parts }) : undefined;
}
