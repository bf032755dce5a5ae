// Drawing a box with the mouse: after the "Draw box" button (one box per press), or
// with shift-drag at any time (Leaflet's shift-drag box zoom is turned off for this).

import L from "leaflet";
import { Events } from "../events.js";
import { PointerDrag } from "../pointerdrag.js";
import { boxFromDrag } from "./geometry.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */
/** @typedef {import("./geometry.js").SkyBox} SkyBox */
/** @typedef {{start: any, rect: any}} Draft the box being dragged (its first corner, its rectangle) */

/** @extends {PointerDrag<Draft>} */
export class BoxDrawTool extends PointerDrag {
  /**
   * @param {Viewer} viewer
   * @param {(corners: Omit<SkyBox, "id" | "name">) => void} onBox
   */
  constructor(viewer, onBox) {
    super(viewer, { modifier: (e) => e.shiftKey, ignore: ".leaflet-control, .leaflet-popup" });
    this.onBox = onBox;
    viewer.map.boxZoom.disable();
  }

  /** @param {boolean} on */
  showMode(on) {
    this.viewer.map.getContainer().classList.toggle("tmw-drawing", on);
    this.viewer.emit(Events.DRAW_MODE, on);
  }

  /** @param {PointerEvent} e @returns {Draft} */
  begin(e) {
    const start = this.viewer.map.mouseEventToLatLng(e);
    const rect = L.rectangle(L.latLngBounds(start, start), { className: "tmw-box-draft", interactive: false, color: "#ffffff", weight: 1.5, dashArray: "4 3", fillOpacity: 0.08 }).addTo(this.viewer.map);
    return { start, rect };
  }

  /** @param {Draft} d @param {PointerEvent} e */
  drawTo(d, e) {
    d.rect.setBounds(L.latLngBounds(d.start, this.viewer.map.mouseEventToLatLng(e)));
  }

  /** @param {Draft} d */
  discard(d) {
    d.rect.remove();
  }

  /** @param {Draft} d @param {PointerEvent} e */
  finish(d, e) {
    d.rect.remove();
    const end = this.viewer.map.mouseEventToLatLng(e);
    const corners = boxFromDrag(d.start.lng, d.start.lat, end.lng, end.lat, this.viewer.raLeft);
    if (corners) this.onBox(corners);
    else console.warn("tilemaker-widget: a box must be narrower than 180° in RA");
  }
}
