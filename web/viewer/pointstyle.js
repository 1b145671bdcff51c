// Point cloud colouring with CesiumJS custom shaders: point tiles carry `classification` and `intensity`
// as glTF property attributes (EXT_structural_metadata), which Cesium exposes to shaders as
// `fsInput.metadata.*`, and COLOR_0 (the source RGB, or the tiler's intensity/elevation ramp).

// ASPRS LAS 1.4 standard classes, coloured as most point cloud tools do.
export const CLASSES = [
  [1, "unclassified", "#a0a0a0"],
  [2, "ground", "#a5773f"],
  [3, "low vegetation", "#b5e38c"],
  [4, "medium vegetation", "#63c451"],
  [5, "high vegetation", "#1e7b35"],
  [6, "building", "#e3503e"],
  [7, "low point (noise)", "#ff00ff"],
  [9, "water", "#3a7bd5"],
  [17, "bridge deck", "#f2c84b"],
];
const OTHER = "#6b6b6b";
const RAMP = ["#440154", "#414487", "#2a788e", "#22a884", "#7ad151", "#fde725"];

function vec3(css) {
  const c = Cesium.Color.fromCssColorString(css);
  return `vec3(${c.red.toFixed(4)}, ${c.green.toFixed(4)}, ${c.blue.toFixed(4)})`;
}

/** GLSL: `float t` in 0..1 → the viridis ramp (piecewise linear through RAMP). */
function rampGlsl(t) {
  const steps = RAMP.map((c, i) => `if (${t} <= ${(i / (RAMP.length - 1)).toFixed(4)}) return mix(${vec3(RAMP[Math.max(i - 1, 0)])}, ${vec3(c)}, ${i === 0 ? "1.0" : `(${t} - ${((i - 1) / (RAMP.length - 1)).toFixed(4)}) * ${RAMP.length - 1}.0`});`);
  return `vec3 ramp(float t) {\n  ${steps.join("\n  ")}\n  return ${vec3(RAMP[RAMP.length - 1])};\n}`;
}

/** The modes a point layer offers: classification, height, intensity. */
export function pointModes(layer) {
  const stats = layer.json?.statistics?.classes?.point?.properties ?? {};
  const intensity = stats.intensity ?? {};
  return [
    { value: "classification", label: "classification (ASPRS classes)" },
    { value: "height", label: "height (ellipsoidal, m)" },
    {
      value: "intensity",
      label: "intensity",
      min: typeof intensity.min === "number" ? intensity.min : 0,
      max: typeof intensity.max === "number" ? intensity.max : 65535,
    },
  ];
}

/** Lowest and highest ellipsoidal height of a tileset's root bounding volume, and its frame. */
function heightRange(tileset) {
  const centre = tileset.boundingSphere.center;
  const up = Cesium.Ellipsoid.WGS84.geodeticSurfaceNormal(centre, new Cesium.Cartesian3());
  const h0 = Cesium.Cartographic.fromCartesian(centre).height;
  const bv = tileset.root.boundingVolume;
  let half = tileset.boundingSphere.radius;
  const obb = bv?.boundingVolume?.halfAxes ? bv.boundingVolume : bv?.orientedBoundingBox;
  if (obb?.halfAxes) {
    half = 0;
    for (let i = 0; i < 3; i++) {
      half += Math.abs(Cesium.Cartesian3.dot(Cesium.Matrix3.getColumn(obb.halfAxes, i, new Cesium.Cartesian3()), up));
    }
  }
  return { centre, up, min: h0 - half, max: h0 + half };
}

/** { legend, apply(tileset), clear(tileset) } for one mode of pointModes(). */
export function pointStyle(mode, layer) {
  let shader;
  let legend;
  if (mode.value === "classification") {
    const branches = CLASSES.map(([code, , css]) => `if (c == ${code}) return ${vec3(css)};`).join("\n  ");
    shader = new Cesium.CustomShader({
      fragmentShaderText: `
vec3 classColour(int c) {
  ${branches}
  return ${vec3(OTHER)};
}
void fragmentMain(FragmentInput fsInput, inout czm_modelMaterial material) {
  material.diffuse = classColour(int(fsInput.metadata.classification));
}`,
    });
    legend = [...CLASSES.map(([code, name, colour]) => ({ colour, label: `${code} ${name}` })), { colour: OTHER, label: "other classes" }];
  } else {
    const height = mode.value === "height";
    const range = height ? heightRange(layer.tileset) : { min: mode.min, max: mode.max };
    const span = Math.max(range.max - range.min, 1e-6);
    const value = height
      ? `dot(fsInput.attributes.positionWC - u_centre, u_up) + ${(Cesium.Cartographic.fromCartesian(range.centre).height - range.min).toFixed(3)}`
      : `float(fsInput.metadata.intensity) - ${range.min.toFixed(3)}`;
    shader = new Cesium.CustomShader({
      uniforms: height
        ? {
            u_centre: { type: Cesium.UniformType.VEC3, value: range.centre },
            u_up: { type: Cesium.UniformType.VEC3, value: range.up },
          }
        : {},
      fragmentShaderText: `
${rampGlsl("t")}
void fragmentMain(FragmentInput fsInput, inout czm_modelMaterial material) {
  float t = clamp((${value}) / ${span.toFixed(6)}, 0.0, 1.0);
  material.diffuse = ramp(t);
}`,
    });
    // The ramp is continuous; the legend names the value at each of its colour stops.
    const digits = span >= 60 ? 0 : 1;
    legend = RAMP.map((colour, i) => ({
      colour,
      label: `${(range.min + (i / (RAMP.length - 1)) * span).toFixed(digits)}${height ? " m" : ""}`,
    }));
  }
  return { legend, apply: (t) => (t.customShader = shader), clear: (t) => (t.customShader = undefined) };
}
