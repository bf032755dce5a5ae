// View buttons: graticule (off / sexagesimal / degrees), RA direction, polarization
// vectors, full screen.

import { h } from "../dom.js";
import { Events } from "../events.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */

/** @param {Viewer} viewer */
export function createViewButtons(viewer) {
  const m = viewer.model;
  const grid = h(
    "select",
    {
      class: "tmw-select tmw-grid",
      title: "RA/Dec grid and its labels",
      "aria-label": "Grid",
      onchange: () => {
        if (grid.value !== "off") viewer.setLabelMode(/** @type {"sexagesimal" | "degrees"} */ (grid.value));
        m.set("graticule", grid.value !== "off");
        m.save_changes();
      },
    },
    h("option", { value: "off" }, "no grid"),
    h("option", { value: "sexagesimal" }, "grid hms"),
    h("option", { value: "degrees" }, "grid °"),
  );
  const syncGrid = () => {
    grid.value = m.get("graticule") ? viewer.labelMode : "off";
  };

  const raDir = h("button", {
    class: "tmw-btn tmw-radir",
    type: "button",
    onclick: () => {
      m.set("ra_left", !viewer.raLeft);
      m.save_changes();
    },
  });
  const syncRa = () => {
    raDir.textContent = viewer.raLeft ? "RA ←" : "RA →";
    raDir.title = viewer.raLeft
      ? "RA increases to the left (sky view); click to flip"
      : "RA increases to the right; click to flip";
  };

  const vectors = h("button", {
    class: "tmw-btn tmw-polvec",
    type: "button",
    title: "Polarization vectors (from the map's Q and U)",
    "aria-label": "Polarization vectors",
    "aria-pressed": "false",
    onclick: () => {
      m.set("pol_vectors", !m.get("pol_vectors"));
      m.save_changes();
    },
  }, "pol");
  const syncVectors = () => vectors.setAttribute("aria-pressed", String(!!m.get("pol_vectors")));

  const full = h("button", {
    class: "tmw-btn tmw-fullscreen-btn",
    type: "button",
    title: "Full screen",
    "aria-label": "Full screen",
    onclick: () => viewer.toggleFullscreen(),
  });
  // An inline icon: fonts on Jupyter hosts rarely carry the ⛶ glyph.
  full.innerHTML =
    '<svg width="12" height="12" viewBox="0 0 12 12" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.6">' +
    '<path d="M1 4V1h3M8 1h3v3M11 8v3H8M4 11H1V8"/></svg>';

  syncGrid();
  syncRa();
  syncVectors();
  viewer.listen("change:pol_vectors", syncVectors);
  viewer.listen("change:graticule", syncGrid);
  viewer.on(Events.LABEL_MODE, syncGrid);
  viewer.on(Events.RA_DIRECTION, syncRa);
  return { el: h("div", { class: "tmw-group tmw-view-buttons" }, grid, raDir, vectors, full) };
}
