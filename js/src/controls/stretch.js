// Stretch selector (linear, log, sqrt, asinh, abs).

import { STRETCHES } from "../colour.js";
import { h } from "../dom.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */

/** @param {Viewer} viewer */
export function createStretchSelect(viewer) {
  const m = viewer.model;
  const select = h(
    "select",
    {
      class: "tmw-select tmw-stretch",
      title: "Stretch",
      "aria-label": "Stretch",
      onchange: () => {
        m.set("stretch", select.value);
        m.save_changes();
      },
    },
    ...STRETCHES.map((s) => h("option", { value: s }, s)),
  );
  const sync = () => {
    select.value = m.get("stretch") || "linear";
  };
  sync();
  viewer.listen("change:stretch", sync);
  return { el: h("div", { class: "tmw-group" }, select) };
}
