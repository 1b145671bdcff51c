// Live sensors: one pin and label per position of the IoT collection's Datastreams, grouped by Thing
// ("Temperature 21.4 °C · CO2 612 ppm"), clamped to the ground, with the latest
// readings of GET /api/iot/latest and then every reading the server commits, pushed by GET /api/iot/live
// (Server-Sent Events) without reloading. A click on a pin lists its Datastreams in "Selected".
//
// A server without an IoT collection the caller may read hides the section: the page asks
// /api/iot/latest only when /api/datasets lists a dataset of kind iot, so an ordinary twin causes no
// 404 (which Chromium would log as a console error).
//
// Pins and labels are a BillboardCollection and a LabelCollection rather than entities: their text is
// changed in place on every reading, and a billboard's `id` (its group) is what a pick returns.

const COLOUR = "#00b4d8";
// A new Datastream (or a lost stretch of the live feed) refetches the latest readings, at most this often.
const REFETCH_MS = 1000;

/** A reading's value as the label shows it: at most two decimals, no trailing zeros. */
export function formatResult(v) {
  return typeof v === "number" && Number.isFinite(v) ? String(Math.round(v * 100) / 100) : "—";
}

/** "Temperature 21.4 °C": one Datastream's part of a label. */
export function streamText(s) {
  return [s.name, formatResult(s.result), s.unit].filter((t) => t !== undefined && t !== null && t !== "").join(" ");
}

/** Groups key Datastreams by Thing and position (a Thing can have Datastreams at several places). */
function groupKey(d) {
  return `${d.thing}\u0000${Number(d.lon).toFixed(7)}\u0000${Number(d.lat).toFixed(7)}`;
}

export function setUpSensors(app) {
  const { viewer, $ } = app;
  const scene = viewer.scene;
  // The collections need the scene to clamp to the ground.
  const pins = scene.primitives.add(new Cesium.BillboardCollection({ scene }));
  const labels = scene.primitives.add(new Cesium.LabelCollection({ scene }));
  const pin = new Cesium.PinBuilder().fromColor(Cesium.Color.fromCssColorString(COLOUR), 36);
  const groups = new Map(); // groupKey → group
  const streams = new Map(); // Datastream id → { datastream, name, thing, unit, time, result, quality, group }
  let unplaced = 0; // Datastreams without a position: counted, not drawn
  let live = null; // the EventSource
  let refetch = null; // the pending refetch timer
  let updates = 0; // readings applied from the live feed, for the status and tests

  function say(text) {
    $("sensors-status").textContent = text;
  }

  function summary() {
    const n = streams.size - unplaced;
    const where = unplaced ? `; ${unplaced} without a position` : "";
    say(`${n} Datastream(s) at ${groups.size} place(s)${where}${live?.readyState === EventSource.OPEN ? ", live" : ""}`);
  }

  /** The group's attributes for "Selected": the Thing, its position and each Datastream's reading. */
  function attributes(group) {
    const rows = [
      ["thing", group.thing],
      ["longitude", group.lon],
      ["latitude", group.lat],
    ];
    for (const s of group.streams) {
      rows.push(
        [s.name, `${formatResult(s.result)}${s.unit ? ` ${s.unit}` : ""}`],
        [`${s.name}: Datastream`, s.datastream],
        [`${s.name}: time`, s.time],
      );
      if (s.quality !== undefined && s.quality !== null) rows.push([`${s.name}: quality`, s.quality]);
    }
    return rows;
  }

  function relabel(group) {
    group.streams.sort((a, b) => a.datastream - b.datastream);
    group.label.text = `${group.thing}\n${group.streams.map(streamText).join(" · ")}`;
    // The panel follows the pin it shows.
    if (app.isShown?.(group)) app.showAttributes(attributes(group), group);
  }

  function newGroup(d) {
    const position = Cesium.Cartesian3.fromDegrees(d.lon, d.lat);
    const group = { key: groupKey(d), thing: d.thing, lon: d.lon, lat: d.lat, streams: [], position };
    group.attributes = () => attributes(group);
    const common = {
      position,
      heightReference: Cesium.HeightReference.CLAMP_TO_GROUND,
      // Always on top: a sensor inside a building would otherwise be hidden by its walls.
      disableDepthTestDistance: Number.POSITIVE_INFINITY,
      id: group,
    };
    group.pin = pins.add({ ...common, image: pin, verticalOrigin: Cesium.VerticalOrigin.BOTTOM });
    group.label = labels.add({
      ...common,
      text: "",
      font: "13px system-ui, sans-serif",
      fillColor: Cesium.Color.WHITE,
      showBackground: true,
      backgroundColor: Cesium.Color.fromCssColorString("#000000b0"),
      verticalOrigin: Cesium.VerticalOrigin.BOTTOM,
      horizontalOrigin: Cesium.HorizontalOrigin.CENTER,
      pixelOffset: new Cesium.Cartesian2(0, -40),
    });
    groups.set(group.key, group);
    return group;
  }

  /** Takes the answer of /api/iot/latest: adds new Datastreams, updates the others when newer. */
  function takeLatest(list) {
    const touched = new Set();
    for (const d of list) {
      if (typeof d?.datastream !== "number") continue;
      let s = streams.get(d.datastream);
      if (!s) {
        s = { datastream: d.datastream, name: d.name ?? `Datastream ${d.datastream}`, thing: d.thing ?? "", unit: d.unit ?? "" };
        streams.set(d.datastream, s);
        if (Number.isFinite(d.lon) && Number.isFinite(d.lat)) {
          s.group = groups.get(groupKey(d)) ?? newGroup(d);
          s.group.streams.push(s);
        } else {
          unplaced += 1;
        }
      }
      if (newer(s, d.time)) Object.assign(s, { time: d.time, result: d.result, quality: d.quality });
      if (s.group) touched.add(s.group);
    }
    touched.forEach(relabel);
    summary();
  }

  /** Whether a reading at `time` is newer than the one shown (readings can arrive out of order). */
  function newer(s, time) {
    return s.time === undefined || !(Date.parse(time) < Date.parse(s.time));
  }

  async function fetchLatest() {
    const r = await fetch("/api/iot/latest");
    if (r.status === 404) return null; // no IoT collection (or one this caller may not read)
    if (!r.ok) throw new Error(`/api/iot/latest answered HTTP ${r.status}`);
    return r.json();
  }

  function scheduleRefetch() {
    if (refetch) return;
    refetch = setTimeout(async () => {
      refetch = null;
      try {
        const list = await fetchLatest();
        if (list) takeLatest(list);
      } catch (e) {
        app.status(`sensors: ${e?.message ?? e}`, true);
      }
    }, REFETCH_MS);
  }

  function onObservation(event) {
    let o;
    try {
      o = JSON.parse(event.data);
    } catch {
      return; // not ours to fix; the next reading will do
    }
    const s = streams.get(o?.datastream);
    // A Datastream created after the page loaded: its name and Thing come with /api/iot/latest.
    if (!s) return scheduleRefetch();
    if (!newer(s, o.time)) return;
    Object.assign(s, { time: o.time, result: o.result, quality: o.quality, unit: o.unit ?? s.unit });
    updates += 1;
    if (s.group) relabel(s.group);
  }

  function listen() {
    live = new EventSource("/api/iot/live");
    live.addEventListener("observation", onObservation);
    // The server dropped readings for this page (it fell behind): catch up from the latest ones.
    live.addEventListener("lagged", scheduleRefetch);
    live.addEventListener("open", summary);
    // EventSource reconnects by itself after a network error; the status says so meanwhile.
    live.addEventListener("error", () => {
      summary();
      if (live.readyState === EventSource.CLOSED) say(`${$("sensors-status").textContent} (live updates stopped)`);
    });
  }

  $("sensors-on").addEventListener("change", () => {
    pins.show = labels.show = $("sensors-on").checked;
  });
  $("sensors-go").addEventListener("click", () => flyTo());

  /**
   * Flies to the pins where they are drawn: clamped to the ground as Cesium clamps them (the plain
   * globe here: the viewer has no terrain, and tilesets do not take part in collision because that
   * would keep the camera out of a building model).
   */
  async function flyTo() {
    const points = [...groups.values()].map((g) => {
      const c = Cesium.Cartographic.fromCartesian(g.position);
      c.height = scene.getHeight(c, Cesium.HeightReference.CLAMP_TO_GROUND) ?? 0;
      return Cesium.Cartographic.toCartesian(c);
    });
    if (!points.length) return;
    const sphere = Cesium.BoundingSphere.fromPoints(points);
    sphere.radius = Math.max(sphere.radius, 30); // one sensor: still a house's view around it
    await new Promise((complete) => viewer.camera.flyToBoundingSphere(sphere, { duration: 0.5, complete, cancel: complete }));
  }

  return {
    /** Shows the section when the server lists an IoT dataset and /api/iot/latest answers. */
    async start(datasets) {
      if (!datasets.some((d) => d.kind === "iot")) return false;
      const list = await fetchLatest();
      if (!list) return false;
      $("sensors-section").hidden = false;
      listen();
      takeLatest(list);
      return true;
    },
    flyTo,
    /** For tests and the console: what each label says, the feed's state, readings applied live. */
    labels: () => [...groups.values()].map((g) => ({ thing: g.thing, text: g.label.text, lon: g.lon, lat: g.lat })),
    live: () => live?.readyState === EventSource.OPEN,
    visible: () => pins.show && labels.show,
    updates: () => updates,
    /** Window position (CSS pixels) of a group's pin, for a real click; null when not on screen. */
    screenPosition: (thing) => {
      const g = [...groups.values()].find((x) => x.thing === thing);
      return g ? (g.pin.computeScreenSpacePosition(scene) ?? null) : null;
    },
    /** Closes the live feed (tests close it before the browser goes). */
    stop: () => live?.close(),
  };
}
