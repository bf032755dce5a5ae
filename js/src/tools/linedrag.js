// Dragging a line on the sky: the ruler and the profile tool share it. The line is
// drawn along the great circle between the ends (not straight on the CAR screen).

import L from "leaflet";
import { Disposer } from "../dom.js";
import { Events } from "../events.js";
import { lngToRa } from "../sky.js";
import { greatCircleLatLngs } from "./sphere.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */
/** @typedef {import("./sphere.js").Sky} Sky */

/** A drag shorter than this (pixels) is a click, not a line. */
const MIN_DRAG_PX = 4;

export class LineDrag {
  /**
   * @param {Viewer} viewer
   * @param {{name: string, colour: string, modifier?: (e: PointerEvent) => boolean,
   *          onMove?: (a: Sky, b: Sky) => void, onEnd: (a: Sky, b: Sky) => void}} opts
   */
  constructor(viewer, opts) {
    this.viewer = viewer;
    this.opts = opts;
    this.active = false;
    this.disposer = new Disposer();
    /** @type {{id: number, start: Sky, startLng: number, startPt: any, line: any} | null} */
    this.drag = null;
    /** @type {any} the last line drawn (kept until the next one or close) */
    this.kept = null;
    this.suppressClickUntil = 0;
    const el = viewer.map.getContainer();
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
    this.viewer.map.getContainer().classList.toggle(`tmw-${this.opts.name}-mode`, on);
    this.viewer.emit(Events.TOOL_MODE, { tool: this.opts.name, on });
  }

  /** True once for the click that ends a drag (the browser still sends it). */
  consumeClick() {
    return performance.now() < this.suppressClickUntil;
  }

  /** @param {any} e */
  sky(e) {
    const ll = this.viewer.map.mouseEventToLatLng(e);
    return { sky: { ra: lngToRa(ll.lng, this.viewer.raLeft), dec: Math.max(-90, Math.min(90, ll.lat)) }, lng: ll.lng };
  }

  /** @param {PointerEvent} e */
  down(e) {
    if (e.button !== 0 || this.drag || !(this.active || this.opts.modifier?.(e))) return;
    const target = /** @type {Element | null} */ (e.target);
    if (target?.closest?.(".leaflet-control, .leaflet-popup, .tmw-tools, .tmw-tool-panel, .tmw-overlays")) return;
    e.preventDefault();
    e.stopPropagation();
    const map = this.viewer.map;
    const { sky, lng } = this.sky(e);
    this.kept?.remove();
    this.kept = null;
    const line = L.polyline([[sky.dec, lng], [sky.dec, lng]], { className: `tmw-${this.opts.name}-line`, interactive: false, color: this.opts.colour, weight: 2 }).addTo(map);
    this.drag = { id: e.pointerId, start: sky, startLng: lng, startPt: map.mouseEventToContainerPoint(e), line };
    map.getContainer().setPointerCapture?.(e.pointerId);
  }

  /** @param {PointerEvent} e */
  move(e) {
    const d = this.drag;
    if (!d || e.pointerId !== d.id) return;
    const { sky } = this.sky(e);
    d.line.setLatLngs(greatCircleLatLngs(d.start, sky, this.viewer.raLeft, d.startLng));
    this.opts.onMove?.(d.start, sky);
  }

  /** @param {PointerEvent} e */
  up(e) {
    const d = this.drag;
    if (!d || e.pointerId !== d.id) return;
    const map = this.viewer.map;
    const far = map.mouseEventToContainerPoint(e).distanceTo(d.startPt) >= MIN_DRAG_PX;
    const { sky } = this.sky(e);
    this.release();
    if (!far) {
      d.line.remove();
      return;
    }
    this.kept = d.line;
    this.suppressClickUntil = performance.now() + 500;
    if (this.active) this.setActive(false);
    this.opts.onEnd(d.start, sky);
  }

  release() {
    if (!this.drag) return;
    try {
      this.viewer.map.getContainer().releasePointerCapture?.(this.drag.id);
    } catch {
      /* capture already gone */
    }
    this.drag = null;
  }

  cancel() {
    this.drag?.line.remove();
    this.release();
  }

  clear() {
    this.kept?.remove();
    this.kept = null;
  }

  dispose() {
    this.cancel();
    this.clear();
    this.disposer.dispose();
  }
}
