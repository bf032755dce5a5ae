// The error banner over the map; a layer error also reaches Python through `_error`.

import { h } from "./dom.js";

/** @typedef {import("./model.js").ModelLike} ModelLike */

export class ErrorBanner {
  /** @param {ModelLike} model */
  constructor(model) {
    this.model = model;
    this.el = h("div", { class: "tmw-error", role: "alert", hidden: true });
    this.reported = "";
  }

  /**
   * @param {string} message
   * @param {boolean} [layerError]  also report through the `_error` trait
   */
  show(message, layerError = true) {
    this.el.textContent = message;
    this.el.hidden = false;
    if (layerError && this.reported !== message) {
      this.reported = message;
      this.model.set("_error", message);
      this.model.save_changes();
    }
  }

  clear() {
    this.el.hidden = true;
    this.el.textContent = "";
    if (this.reported || this.model.get("_error")) {
      this.reported = "";
      this.model.set("_error", "");
      this.model.save_changes();
    }
  }
}
