// Go-to box: typed coordinates ("150.1 2.2", "10h00m00s +02d12m", "10:00:00 +02:12:00").

import { h } from "../dom.js";
import { parseCoordinates } from "../sky.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */

/** @param {Viewer} viewer */
export function createGoto(viewer) {
  const input = h("input", {
    class: "tmw-goto",
    type: "text",
    placeholder: "Go to RA Dec…",
    spellcheck: false,
    title: "Go to: 150.1 2.2 · 10h00m00s +02d12m · 10:00:00 +02:12:00 (Enter)",
    "aria-label": "Go to coordinates",
  });
  const go = () => {
    try {
      const { ra, dec } = parseCoordinates(input.value);
      input.classList.remove("tmw-invalid");
      input.title = "Go to coordinates";
      viewer.goTo(ra, dec);
    } catch (e) {
      input.classList.add("tmw-invalid");
      input.title = e instanceof Error ? e.message : String(e);
    }
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") go();
    else input.classList.remove("tmw-invalid");
  });
  return { el: h("div", { class: "tmw-group" }, input) };
}
