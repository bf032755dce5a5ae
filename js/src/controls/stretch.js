// Stretch selector (linear, log, sqrt, asinh, abs, and the sign-symmetric asinh_sym, sqrt_sym).

import { STRETCHES, renderProblem } from "../colour.js";
import { h } from "../dom.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */

/** @type {Record<string, string>} */
const TITLES = {
  asinh_sym: "asinh of the value about zero: 0 keeps the middle colour (CMB maps)",
  sqrt_sym: "signed square root of the value: 0 keeps the middle colour (CMB maps)",
};

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
        // Refuse what the kernel refuses (a log stretch over a range reaching 0),
        // red with the reason as tooltip, and keep the stretch shown.
        const problem = renderProblem(select.value, m.get("vmin"), m.get("vmax"));
        if (problem) {
          select.classList.add("tmw-invalid");
          select.title = `${problem}: set the range first`;
          select.value = m.get("stretch") || "linear";
          return;
        }
        select.classList.remove("tmw-invalid");
        select.title = "Stretch";
        m.set("stretch", select.value);
        m.save_changes();
      },
    },
    ...STRETCHES.map((s) => h("option", { value: s, title: TITLES[s] ?? s }, s)),
  );
  const sync = () => {
    select.value = m.get("stretch") || "linear";
  };
  sync();
  viewer.listen("change:stretch", sync);
  return { el: h("div", { class: "tmw-group" }, select) };
}
