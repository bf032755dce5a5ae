// save_changes at most every SAVE_INTERVAL_MS: the first at once, then one trailing.
// A histogram drag repaints every frame; the kernel needs only a few of those.

/** @typedef {import("./model.js").ModelLike} ModelLike */

export const SAVE_INTERVAL_MS = 150;

export class ThrottledSave {
  /** @param {ModelLike} model */
  constructor(model) {
    this.model = model;
    this.last = -Infinity;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
  }

  request() {
    if (this.timer) return;
    const wait = this.last + SAVE_INTERVAL_MS - performance.now();
    if (wait <= 0) {
      this.last = performance.now();
      this.model.save_changes();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.last = performance.now();
      this.model.save_changes();
    }, wait);
  }

  dispose() {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
