// Colour-by-attribute styles for 3D Tiles, built from the tileset's 3D Tiles 1.1 `statistics` (min/max
// per number, occurrences per code) so the ramp fits the whole dataset, not just the tiles in view.

// viridis in six steps: ordered, readable for colour-blind users, and distinct on a grey globe.
const RAMP = ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"];
// Tableau 10 for categories; values beyond the ten most common share OTHER.
const CATEGORIES = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const OTHER = "#6b6b6b";

/**
 * The properties a tileset can be coloured by: numbers with min/max and codes with occurrences.
 * Returns [{ name, kind: "number" | "category", min, max, occurrences }], sorted by name.
 */
export function styleableProperties(tilesetJson) {
  const out = [];
  for (const cls of Object.values(tilesetJson?.statistics?.classes ?? {})) {
    for (const [name, s] of Object.entries(cls.properties ?? {})) {
      if (typeof s.min === "number" && typeof s.max === "number") {
        out.push({ name, kind: "number", min: s.min, max: s.max });
      } else if (s.occurrences) {
        out.push({ name, kind: "category", occurrences: s.occurrences });
      }
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** A string literal for a Cesium style expression. */
export function literal(s) {
  return `'${String(s).replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/**
 * Builds { color, legend: [{ colour, label }] } colouring by `property`: `color` is the style's colour
 * part (tilestyle.js joins it with the storey filter's `show`).
 */
export function colourBy(property) {
  const ref = `\${${property.name}}`;
  const conditions = [];
  const legend = [];
  if (property.kind === "number") {
    const { min, max } = property;
    const step = (max - min) / RAMP.length;
    const digits = step >= 10 || step === 0 ? 0 : step >= 1 ? 1 : 2;
    // A missing value (noData reads as undefined) or an INT64 BigInt would make ">=" throw in Cesium's
    // expression engine: compare Number(value) and catch NaN first.
    conditions.push([`isNaN(Number(${ref}))`, `color('${OTHER}')`]);
    for (let k = RAMP.length - 1; k >= 0; k--) {
      const lower = min + k * step;
      conditions.push([k === 0 ? "true" : `Number(${ref}) >= ${lower}`, `color('${RAMP[k]}')`]);
    }
    for (let k = 0; k < RAMP.length; k++) {
      const lo = (min + k * step).toFixed(digits);
      const hi = (k === RAMP.length - 1 ? max : min + (k + 1) * step).toFixed(digits);
      legend.push({ colour: RAMP[k], label: `${lo} – ${hi}` });
      if (step === 0) break;
    }
  } else {
    const common = Object.entries(property.occurrences)
      .sort((a, b) => b[1] - a[1])
      .slice(0, CATEGORIES.length);
    common.forEach(([value, count], i) => {
      conditions.push([`${ref} === ${literal(value)}`, `color('${CATEGORIES[i]}')`]);
      legend.push({ colour: CATEGORIES[i], label: `${value} (${count})` });
    });
    conditions.push(["true", `color('${OTHER}')`]);
  }
  legend.push({ colour: OTHER, label: property.kind === "number" ? "no value" : "other / no value" });
  return { color: { conditions }, legend };
}
