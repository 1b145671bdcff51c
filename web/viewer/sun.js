// Sun study (solstudie): a date and a time-of-day slider drive Cesium's clock; with the checkbox on, the
// globe is lit by the sun at that moment and buildings cast and receive shadows. Times are the
// browser's local time.

function pad(n) {
  return String(n).padStart(2, "0");
}

export function setUpSun(app) {
  const { viewer, $ } = app;
  const today = new Date();
  $("sun-date").value = `${today.getFullYear()}-${pad(today.getMonth() + 1)}-${pad(today.getDate())}`;
  $("sun-time").value = 12 * 60;
  viewer.clock.shouldAnimate = false;
  viewer.shadowMap.maximumDistance = 5000;
  viewer.shadowMap.softShadows = true;

  /** The chosen moment as a Date (local time). */
  function moment() {
    const minutes = Number($("sun-time").value);
    const [y, m, d] = ($("sun-date").value || "2025-06-21").split("-").map(Number);
    return new Date(y, m - 1, d, Math.floor(minutes / 60), minutes % 60);
  }

  function update() {
    const when = moment();
    $("sun-time-label").textContent = `${pad(when.getHours())}:${pad(when.getMinutes())}`;
    $("sun-time").setAttribute("aria-valuetext", $("sun-time-label").textContent);
    viewer.clock.currentTime = Cesium.JulianDate.fromDate(when);
    const on = $("sun-on").checked;
    viewer.scene.globe.enableLighting = on;
    viewer.shadows = on;
    viewer.terrainShadows = on ? Cesium.ShadowMode.RECEIVE_ONLY : Cesium.ShadowMode.DISABLED;
    viewer.scene.requestRender();
  }

  for (const id of ["sun-on", "sun-date", "sun-time"]) $(id).addEventListener("input", update);
  update();
  return {
    /** Sets date (YYYY-MM-DD), minutes after midnight and lighting on/off, as the controls would. */
    set(date, minutes, on = true) {
      $("sun-date").value = date;
      $("sun-time").value = minutes;
      $("sun-on").checked = on;
      update();
      return moment();
    },
  };
}
