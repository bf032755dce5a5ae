// NaN pixels in their own colour (the `nan_color` trait, default NAN_COLOUR), distinct
// from "outside the map" (the sky background). One rectangle over the layer's footprint
// sits under the tiles: data pixels cover it, NaN pixels (transparent in the tiles)
// let it show, and outside the footprint nothing is drawn. No tile is repainted.

import L from "leaflet";
import { isNum } from "./numbers.js";
import { footprintLngSpan } from "./sky.js";

/** @typedef {import("./viewer.js").Viewer} Viewer */

/** The default NaN colour (docs/notebook.md): a mid grey, unlike the dark sky around a map. */
export const NAN_COLOUR = "#808080";

const PANE = "tmw-nan";

/**
 * A colour for the rectangle, or null for "none" (NaN then looks like the outside).
 * @param {unknown} c
 */
export function nanFill(c) {
  if (c === undefined || c === null || c === "") return NAN_COLOUR;
  return typeof c === "string" && c !== "none" ? c : null;
}

export class NanFill {
  /** @param {Viewer} viewer */
  constructor(viewer) {
    this.viewer = viewer;
    const map = viewer.map;
    const pane = map.getPane(PANE) ?? map.createPane(PANE);
    pane.style.zIndex = "150"; // under the tile pane (200)
    pane.style.pointerEvents = "none";
    this.rect = L.rectangle([[0, 0], [0, 0]], {
      renderer: L.svg({ pane: PANE, padding: 0.5 }),
      stroke: false,
      fillOpacity: 1,
      interactive: false,
      className: "tmw-nan-fill",
    });
    /** @type {any} */
    this.info = null;
    this.place = this.place.bind(this);
    map.on("moveend viewreset", this.place);
    viewer.listen("change:nan_color", () => this.place());
  }

  /** The shown layer's description arrived (or none: `null`). @param {any} info */
  setLayer(info) {
    this.info = info;
    this.place();
  }

  /** Cover the footprint, in the copy of the RA strip nearest the view. */
  place() {
    const map = this.viewer.map;
    const info = this.info;
    const fill = nanFill(this.viewer.model.get("nan_color"));
    const known = info && ["bounding_left", "bounding_right", "bounding_top", "bounding_bottom"].every((k) => isNum(info[k]));
    if (!known || !fill) {
      this.rect.remove();
      return;
    }
    const [west, east] = footprintLngSpan(info, this.viewer.raLeft, map.getCenter().lng);
    this.rect.setBounds([[info.bounding_bottom, west], [info.bounding_top, east]]);
    this.rect.setStyle({ fillColor: fill });
    if (!map.hasLayer(this.rect)) this.rect.addTo(map);
  }

  dispose() {
    this.viewer.map.off("moveend viewreset", this.place);
    this.rect.remove();
  }
}
