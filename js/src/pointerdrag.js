// One press-drag-release gesture on the map, shared by the tools that draw with it (the
// ruler and profile line in tools/, the box in overlays/). A drag starts with the tool's
// mode on (its button, one drag per press) or with its modifier key held at any time; a
// release closer than MIN_DRAG_PX to the press is a click and draws nothing. What is
// drawn, and what a finished drag does, is the subclass's.

import { Disposer } from "./dom.js";

/** @typedef {import("./viewer.js").Viewer} Viewer */

/** A drag shorter than this (pixels) is a click, not a drawing. */
const MIN_DRAG_PX = 4;

/**
 * @template S what the subclass keeps while dragging (the shape drawn, where it started)
 * @abstract
 */
export class PointerDrag {
  /**
   * @param {Viewer} viewer
   * @param {{modifier: (e: PointerEvent) => boolean, ignore: string}} how
   *   `modifier`: starts a drag with the mode off; `ignore`: a selector of the elements
   *   on the map (controls, panels) where a press never starts one
   */
  constructor(viewer, how) {
    this.viewer = viewer;
    this.how = how;
    this.active = false;
    this.disposer = new Disposer();
    /** @type {{id: number, startPt: any, state: S} | null} */
    this.drag = null;
    this.suppressClickUntil = 0;
    const el = viewer.map.getContainer();
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
    this.showMode(on);
  }

  /** True once for the click that ends a drag (the browser still sends it). */
  consumeClick() {
    return performance.now() < this.suppressClickUntil;
  }

  /** @param {PointerEvent} e */
  down(e) {
    if (e.button !== 0 || this.drag || !(this.active || this.how.modifier(e))) return;
    const target = /** @type {Element | null} */ (e.target);
    if (target?.closest?.(this.how.ignore)) return;
    e.preventDefault();
    e.stopPropagation();
    const map = this.viewer.map;
    this.drag = { id: e.pointerId, startPt: map.mouseEventToContainerPoint(e), state: this.begin(e) };
    map.getContainer().setPointerCapture?.(e.pointerId);
  }

  /** @param {PointerEvent} e */
  move(e) {
    const d = this.drag;
    if (!d || e.pointerId !== d.id) return;
    this.drawTo(d.state, e);
  }

  /** @param {PointerEvent} e */
  up(e) {
    const d = this.drag;
    if (!d || e.pointerId !== d.id) return;
    const far = this.viewer.map.mouseEventToContainerPoint(e).distanceTo(d.startPt) >= MIN_DRAG_PX;
    this.release();
    if (!far) {
      this.discard(d.state);
      return;
    }
    this.suppressClickUntil = performance.now() + 500;
    if (this.active) this.setActive(false);
    this.finish(d.state, e);
  }

  /** Ends the drag without removing what it drew. */
  release() {
    if (!this.drag) return;
    try {
      this.viewer.map.getContainer().releasePointerCapture?.(this.drag.id);
    } catch {
      /* capture already gone */
    }
    this.drag = null;
  }

  /** Ends the drag and removes what it drew. */
  cancel() {
    if (!this.drag) return;
    this.discard(this.drag.state);
    this.release();
  }

  dispose() {
    this.cancel();
    this.disposer.dispose();
  }

  // -- the subclass's part --------------------------------------------------------

  /**
   * Shows the mode on or off (a class on the map, an event for its button).
   * @abstract
   * @param {boolean} on
   */
  showMode(on) {
    throw new Error("showMode is the subclass's");
  }

  /**
   * Starts drawing at the press.
   * @abstract
   * @param {PointerEvent} e
   * @returns {S}
   */
  begin(e) {
    throw new Error("begin is the subclass's");
  }

  /**
   * Follows the pointer.
   * @abstract
   * @param {S} state
   * @param {PointerEvent} e
   */
  drawTo(state, e) {
    throw new Error("drawTo is the subclass's");
  }

  /**
   * Removes what the drag drew (a cancel, or a release that was a click).
   * @abstract
   * @param {S} state
   */
  discard(state) {
    throw new Error("discard is the subclass's");
  }

  /**
   * Acts on a finished drag, released at `e`.
   * @abstract
   * @param {S} state
   * @param {PointerEvent} e
   */
  finish(state, e) {
    throw new Error("finish is the subclass's");
  }
}
