// Colormap picker: every name the server knows (reversed ones included), the usual
// sky-map choices first, and a swatch of the current LUT.

import { h } from "../dom.js";
import { getJson } from "../transport.js";
import { Events } from "../events.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */

const FAVOURITES = ["RdBu_r", "planck", "viridis", "magma", "inferno", "plasma", "cividis", "gray", "coolwarm", "Spectral_r", "twilight", "planck_log"];

/**
 * Draw a LUT left to right.
 * @param {HTMLCanvasElement} canvas
 * @param {Uint8Array} lut
 */
export function drawSwatch(canvas, lut) {
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const img = ctx.createImageData(256, 1);
  img.data.set(lut.subarray(0, 1024));
  canvas.width = 256;
  canvas.height = 1;
  ctx.putImageData(img, 0, 0);
}

/** @param {Viewer} viewer */
export function createColormapPicker(viewer) {
  const m = viewer.model;
  const select = h("select", {
    class: "tmw-select tmw-cmap",
    title: "Colormap",
    "aria-label": "Colormap",
    onchange: () => {
      m.set("cmap", select.value);
      m.save_changes();
    },
  });
  const swatch = h("canvas", { class: "tmw-swatch", width: 256, height: 1, "aria-hidden": "true" });
  const el = h("div", { class: "tmw-group tmw-cmap-picker" }, swatch, select);

  /** @param {string[]} names */
  const fill = (names) => {
    const current = m.get("cmap") || "viridis";
    const all = new Set(names);
    all.add(current);
    const fav = FAVOURITES.filter((n) => all.has(n));
    select.replaceChildren();
    if (fav.length) select.appendChild(h("optgroup", { label: "common" }, ...fav.map((n) => h("option", { value: n }, n))));
    const rest = [...all].filter((n) => !fav.includes(n)).sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" }));
    select.appendChild(h("optgroup", { label: "all" }, ...rest.map((n) => h("option", { value: n }, n))));
    select.value = current;
  };
  fill([]);
  getJson(viewer.source, "colormaps").then(
    (j) => fill(Array.isArray(j?.colormaps) ? j.colormaps : []),
    (e) => console.warn("tilemaker-widget: colormap list unavailable", e),
  );
  viewer.listen("change:cmap", () => {
    const name = m.get("cmap");
    if (![...select.options].some((o) => o.value === name)) fill([...select.options].map((o) => o.value));
    select.value = name;
  });
  viewer.on(Events.LUT, (lut) => drawSwatch(swatch, lut));
  return { el };
}
