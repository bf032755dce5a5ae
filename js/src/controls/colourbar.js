// Colour bar: the LUT across [vmin, vmax] through the current stretch, with units.

import { lutIndex } from "../colour.js";
import { h } from "../dom.js";
import { formatShort } from "../numbers.js";
import { Events } from "../events.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */

/**
 * Fill a canvas (any width, height 1 is enough) with the colours of values spread
 * linearly from vmin to vmax, so a stretch shows as a non-uniform bar.
 * @param {HTMLCanvasElement} canvas
 * @param {Uint8Array} lut
 * @param {number} vmin
 * @param {number} vmax
 * @param {string} stretch
 */
export function drawColourBar(canvas, lut, vmin, vmax, stretch) {
  const w = 256;
  canvas.width = w;
  canvas.height = 1;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const img = ctx.createImageData(w, 1);
  for (let x = 0; x < w; x++) {
    const v = vmin + ((x + 0.5) / w) * (vmax - vmin);
    const k = lutIndex(v, vmin, vmax, stretch);
    img.data.set(lut.subarray(4 * k, 4 * k + 4), 4 * x);
  }
  ctx.putImageData(img, 0, 0);
}

/**
 * A colour bar with min/max labels and units, kept in step with the viewer.
 * @param {Viewer} viewer
 * @param {string} className
 */
export function createColourBar(viewer, className) {
  const canvas = h("canvas", { class: "tmw-colourbar-canvas", "aria-hidden": "true" });
  const lo = h("span", { class: "tmw-cb-lo" });
  const hi = h("span", { class: "tmw-cb-hi" });
  const units = h("span", { class: "tmw-cb-units" });
  const el = h("div", { class: `tmw-colourbar ${className}` }, lo, canvas, hi, units);
  const update = () => {
    const m = viewer.model;
    const vmin = m.get("vmin");
    const vmax = m.get("vmax");
    lo.textContent = formatShort(vmin);
    hi.textContent = formatShort(vmax);
    lo.title = `vmin = ${vmin}`;
    hi.title = `vmax = ${vmax}`;
    units.textContent = viewer.units();
    if (viewer.lut && Number.isFinite(vmin) && Number.isFinite(vmax)) {
      drawColourBar(canvas, viewer.lut, vmin, vmax, m.get("stretch") || "linear");
    }
  };
  viewer.on(Events.RECOLOUR, update);
  viewer.on(Events.LUT, update);
  viewer.on(Events.LAYER_INFO, update);
  update();
  return { el, update };
}

/** @param {Viewer} viewer */
export function createColourBarOverlay(viewer) {
  return createColourBar(viewer, "tmw-colourbar-overlay");
}
