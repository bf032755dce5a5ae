// The overlay panel on the map: the "Draw box" button and, per catalogue, a
// visibility checkbox and a colour. Toggles and colours belong to this view (the
// `catalogues` trait is Python's); a change made in Python still wins.

import { h } from "../dom.js";
import { Events } from "../events.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */
/** @typedef {import("../overlays/catalogues.js").CatalogueOverlay} CatalogueOverlay */
/** @typedef {import("../overlays/boxdraw.js").BoxDrawTool} BoxDrawTool */

/**
 * @param {Viewer} viewer
 * @param {{catalogues: CatalogueOverlay, draw: BoxDrawTool}} parts
 */
export function createOverlayPanel(viewer, { catalogues, draw }) {
  const drawBtn = h(
    "button",
    {
      class: "tmw-btn tmw-draw-box",
      type: "button",
      title: "Draw a box: press, then drag on the map (shift-drag works any time; Esc cancels)",
      "aria-pressed": "false",
      onclick: () => draw.setActive(!draw.active),
    },
    "Draw box",
  );
  const list = h("div", { class: "tmw-cat-list" });
  const el = h("div", { class: "tmw-overlays" }, drawBtn, list);

  const render = () => {
    list.replaceChildren();
    for (const c of catalogues.items.values()) {
      const id = c.entry.id;
      const n = c.table ? c.table.ra.length : c.entry.n;
      const state = c.error ? " ⚠" : c.table ? "" : " …";
      const box = h("input", {
        type: "checkbox",
        class: "tmw-cat-toggle",
        checked: c.visible,
        onchange: () => catalogues.setVisible(id, box.checked),
      });
      const colour = h("input", {
        type: "color",
        class: "tmw-cat-colour",
        value: c.colour,
        title: `Marker colour of ${c.entry.name}`,
        "aria-label": `Colour of ${c.entry.name}`,
        oninput: () => catalogues.setColour(id, colour.value),
      });
      const label = h("label", { class: "tmw-cat-name", title: c.error || `${c.entry.name}: ${n ?? "?"} sources` }, box, `${c.entry.name}${n !== undefined && n !== null ? ` (${n})` : ""}${state}`);
      list.appendChild(h("div", { class: "tmw-cat-row", dataset: { catalogue: id } }, colour, label));
    }
    list.hidden = catalogues.items.size === 0;
  };
  viewer.on(Events.CATALOGUES, render);
  viewer.on(Events.DRAW_MODE, (/** @type {boolean} */ on) => {
    drawBtn.classList.toggle("tmw-active", on);
    drawBtn.setAttribute("aria-pressed", String(on));
  });
  render();
  return { el };
}
