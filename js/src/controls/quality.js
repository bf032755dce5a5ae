// Tile quality selector (`quality` trait): auto, exact, fast (docs/notebook.md).

import { h } from "../dom.js";
import { QUALITIES } from "../tilelayer.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */

/** @type {Record<string, string>} */
const TITLES = {
  auto: "8-bit tiles first, exact values when the link is idle (exact at once on a fast link)",
  exact: "exact values only (more bytes per view)",
  fast: "8-bit tiles only; exact values only when the colour range needs them",
};

/** @param {Viewer} viewer */
export function createQualitySelect(viewer) {
  const m = viewer.model;
  const select = h(
    "select",
    {
      class: "tmw-select tmw-quality",
      title: "Tile quality",
      "aria-label": "Tile quality",
      onchange: () => {
        m.set("quality", select.value);
        m.save_changes();
      },
    },
    ...QUALITIES.map((q) => h("option", { value: q, title: TITLES[q] }, q)),
  );
  const sync = () => {
    const q = m.get("quality");
    select.value = QUALITIES.includes(q) ? q : "auto";
  };
  sync();
  viewer.listen("change:quality", sync);
  return { el: h("div", { class: "tmw-group" }, select) };
}
