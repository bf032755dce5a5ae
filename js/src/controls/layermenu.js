// Layer menu: one <select> grouped as "group › map › band", with previous/next
// buttons (PageUp/PageDown or [ ] on the focused map do the same).

import { h } from "../dom.js";
import { Events } from "../events.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */
/** @typedef {import("../layers.js").LayerEntry} LayerEntry */

/**
 * @param {LayerEntry} l
 */
function groupLabel(l) {
  return [l.group, l.map, l.band].filter((s) => s !== undefined && s !== null && s !== "").join(" › ");
}

/** @param {Viewer} viewer */
export function createLayerMenu(viewer) {
  const select = h("select", {
    class: "tmw-select tmw-layer-select",
    title: "Layer (PageUp/PageDown or [ ] on the map)",
    "aria-label": "Layer",
    onchange: () => viewer.selectLayer(select.value),
  });
  const prev = h("button", { class: "tmw-btn", type: "button", title: "Previous layer ([)", "aria-label": "Previous layer", onclick: () => viewer.stepLayer(-1) }, "‹");
  const next = h("button", { class: "tmw-btn", type: "button", title: "Next layer (])", "aria-label": "Next layer", onclick: () => viewer.stepLayer(1) }, "›");
  const el = h("div", { class: "tmw-group tmw-layer-menu" }, prev, select, next);

  const rebuild = () => {
    const layers = viewer.layers();
    select.replaceChildren();
    /** @type {Map<string, HTMLOptGroupElement | HTMLSelectElement>} */
    const groups = new Map();
    for (const l of layers) {
      const label = groupLabel(l);
      let parent = groups.get(label);
      if (!parent) {
        parent = label ? h("optgroup", { label }) : select;
        if (parent !== select) select.appendChild(parent);
        groups.set(label, parent);
      }
      parent.appendChild(h("option", { value: l.id, title: l.quantity ?? "" }, l.name || l.id));
    }
    select.value = viewer.layerId;
    const many = layers.length > 1;
    prev.disabled = !many;
    next.disabled = !many;
  };
  rebuild();
  viewer.listen("change:layers", rebuild);
  viewer.on(Events.LAYERS, rebuild);
  viewer.on(Events.LAYER, (id) => {
    select.value = id;
  });
  return { el };
}
