// Contrast controls: gamma, contrast and brightness after the stretch (synced traits
// of the same names; coloured in the browser, so moving a slider needs no request).
// The formula is js/src/colour.js adjustFunction (= engine/render.py adjust).

import { h } from "../dom.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */

/** Slider specs: gamma on a log scale (0.1–10), contrast 0–3 of its 0–10, brightness ±1. */
const FIELDS = [
  { name: "gamma", label: "γ", min: -1, max: 1, step: 0.001, neutral: 1, toModel: (/** @type {number} */ s) => Number((10 ** s).toFixed(2)), toSlider: (/** @type {number} */ v) => Math.log10(v) },
  { name: "contrast", label: "contrast", min: 0, max: 3, step: 0.01, neutral: 1, toModel: (/** @type {number} */ s) => s, toSlider: (/** @type {number} */ v) => v },
  { name: "brightness", label: "brightness", min: -1, max: 1, step: 0.01, neutral: 0, toModel: (/** @type {number} */ s) => s, toSlider: (/** @type {number} */ v) => v },
];

/** @param {Viewer} viewer */
export function createContrastControl(viewer) {
  const m = viewer.model;
  /** @type {(() => void)[]} */
  const syncs = [];
  const rows = FIELDS.map((f) => {
    const out = h("span", { class: "tmw-contrast-value" });
    const input = h("input", {
      type: "range", class: `tmw-contrast-${f.name}`, min: f.min, max: f.max, step: f.step,
      oninput: () => {
        m.set(f.name, f.toModel(parseFloat(input.value)));
        m.save_changes();
        sync();
      },
    });
    const sync = () => {
      const v = m.get(f.name) ?? f.neutral;
      input.value = String(f.toSlider(v));
      out.textContent = Number(v).toFixed(2);
    };
    syncs.push(sync);
    viewer.listen(`change:${f.name}`, sync);
    return h("label", { class: "tmw-contrast-row" }, h("span", { class: "tmw-contrast-label" }, f.label), input, out);
  });
  const reset = h("button", { class: "tmw-btn tmw-contrast-reset", type: "button", onclick: () => {
    for (const f of FIELDS) m.set(f.name, f.neutral);
    m.save_changes();
  } }, "reset");
  const pop = h("div", { class: "tmw-contrast-panel", hidden: true }, ...rows, reset);
  const button = h("button", { class: "tmw-btn tmw-tool-contrast", type: "button", title: "Gamma, contrast and brightness (after the stretch)", onclick: () => {
    pop.hidden = !pop.hidden;
  } }, "Contrast");
  for (const s of syncs) s();
  return { el: h("div", { class: "tmw-contrast" }, button, pop) };
}
