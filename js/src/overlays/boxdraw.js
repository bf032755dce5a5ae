// Drawing a box with the mouse: after the "Draw box" button (one box per press), or
// with shift-drag at any time (Leaflet's shift-drag box zoom is turned off for this).

import L from "leaflet";
import { Disposer } from "../dom.js";
import { boxFromDrag } from "./geometry.js";
import { Events } from "../events.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */
/** @typedef {import("./geometry.js").SkyBox} SkyBox */

/** A drag shorter than this (pixels) is a click, not a box. */
const MIN_DRAG_PX = 4;

export class BoxDrawTool {
  /**
   * @param {Viewer} viewer
   * @param {(corners: Omit<SkyBox, "id" | "name">) => void} onBox
   */
  constructor(viewer, onBox) {
    this.viewer = viewer;
    this.onBox = onBox;
    this.active = false;
    this.disposer = new Disposer();
    /** @type {{id: number, start: any, startPt: any, rect: any} | null} */
    this.drag = null;
    this.suppressClickUntil = 0;
    const map = viewer.map;
    map.boxZoom.disable();
    const el = map.getContainer();
    // Capture phase: runs before Leaflet's own handlers, so cancelling the pointerdown
    // keeps Leaflet from starting a pan (it listens to the mousedown this suppresses).
    this.disposer.listen(el, "pointerdown", (/** @type {PointerEvent} */ e) => this.down(e), true);
    this.disposer.listen(el, "pointermove", (/** @type {PointerEvent} */ e) => this.move(e));
    this.disposer.listen(el, "pointerup", (/** @type {PointerEvent} */ e) => this.up(e));
    this.disposer.listen(el, "pointercancel", () => this.cancel());
    this.disposer.listen(el, "keydown", (/** @type {KeyboardEvent} */ e) => {
      if (e.key === "Escape" && (this.drag || this.active)) this.cancel(), this.setActive(false);
    });
  }

  /** @param {boolean} on */
  setActive(on) {
    this.active = on;
    this.viewer.map.getContainer().classList.toggle("tmw-drawing", on);
    this.viewer.emit(Events.DRAW_MODE, on);
  }

  /** True once for the click that ends a drawn box (the browser still sends it). */
  consumeClick() {
    return performance.now() < this.suppressClickUntil;
  }

  /** @param {PointerEvent} e */
  down(e) {
    if (e.button !== 0 || !(this.active || e.shiftKey) || this.drag) return;
    const target = /** @type {Element | null} */ (e.target);
    if (target?.closest?.(".leaflet-control, .leaflet-popup")) return;
    e.preventDefault();
    e.stopPropagation();
    const map = this.viewer.map;
    const start = map.mouseEventToLatLng(e);
    const rect = L.rectangle(L.latLngBounds(start, start), { className: "tmw-box-draft", interactive: false, color: "#ffffff", weight: 1.5, dashArray: "4 3", fillOpacity: 0.08 }).addTo(map);
    this.drag = { id: e.pointerId, start, startPt: map.mouseEventToContainerPoint(e), rect };
    map.getContainer().setPointerCapture?.(e.pointerId);
  }

  /** @param {PointerEvent} e */
  move(e) {
    const d = this.drag;
    if (!d || e.pointerId !== d.id) return;
    d.rect.setBounds(L.latLngBounds(d.start, this.viewer.map.mouseEventToLatLng(e)));
  }

  /** @param {PointerEvent} e */
  up(e) {
    const d = this.drag;
    if (!d || e.pointerId !== d.id) return;
    const map = this.viewer.map;
    const endPt = map.mouseEventToContainerPoint(e);
    const end = map.mouseEventToLatLng(e);
    this.cancel();
    if (endPt.distanceTo(d.startPt) < MIN_DRAG_PX) return;
    this.suppressClickUntil = performance.now() + 500;
    if (this.active) this.setActive(false);
    const corners = boxFromDrag(d.start.lng, d.start.lat, end.lng, end.lat, this.viewer.raLeft);
    if (corners) this.onBox(corners);
    else console.warn("tilemaker-widget: a box must be narrower than 180° in RA");
  }

  cancel() {
    if (!this.drag) return;
    this.drag.rect.remove();
    try {
      this.viewer.map.getContainer().releasePointerCapture?.(this.drag.id);
    } catch {
      /* capture already gone */
    }
    this.drag = null;
  }

  dispose() {
    this.cancel();
    this.disposer.dispose();
  }
}
