// Keyboard navigation of the map (it is focusable: Tab reaches it, and "Skip to the map" jumps there):
// arrows move, + / - zoom, Page Up / Page Down tilt, [ / ] turn, Enter selects the feature at the centre,
// Escape clears the selection. Everything in the side panel is a native control and works with Tab.

export function setUpKeyboard(app, picking) {
  const { viewer, $ } = app;
  const globe = $("globe");
  globe.addEventListener("keydown", (e) => {
    const camera = viewer.camera;
    // Steps scale with the camera's height so the keys feel the same at every zoom.
    const height = Math.max(camera.positionCartographic.height, 10);
    const step = height * 0.1;
    const angle = Cesium.Math.toRadians(5);
    switch (e.key) {
      case "ArrowUp":
        camera.moveUp(step);
        break;
      case "ArrowDown":
        camera.moveDown(step);
        break;
      case "ArrowLeft":
        camera.moveLeft(step);
        break;
      case "ArrowRight":
        camera.moveRight(step);
        break;
      case "+":
      case "=":
        camera.zoomIn(step * 2);
        break;
      case "-":
        camera.zoomOut(step * 2);
        break;
      case "PageUp":
        camera.lookUp(angle);
        break;
      case "PageDown":
        camera.lookDown(angle);
        break;
      case "[":
      case "]":
        // Turn in place: the heading changes, the position and tilt stay.
        camera.setView({
          orientation: { heading: camera.heading + (e.key === "]" ? angle : -angle), pitch: camera.pitch, roll: 0 },
        });
        break;
      case "Enter":
        picking.pickCentre();
        break;
      case "Escape":
        picking.showFeature(null);
        break;
      default:
        return;
    }
    e.preventDefault();
    viewer.scene.requestRender();
  });
}
