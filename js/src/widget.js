// anywidget entry: pick a transport, build a Viewer, return its cleanup.

import { chooseTransport } from "./transport.js";
import { Viewer } from "./viewer.js";

/** @typedef {import("./transport.js").CommModel} CommModel */

export default {
  /**
   * @param {{model: CommModel, el: HTMLElement}} ctx
   */
  async render({ model, el }) {
    el.classList.add("tmw-host");
    const source = await chooseTransport(model);
    const viewer = new Viewer(el, model, source);
    // For browser tests and benchmarks: the view's state, reachable from its element (no globals).
    Object.assign(el, { tilemaker: { model, viewer } });
    return () => {
      viewer.dispose();
      source.dispose();
    };
  },
};
