// anywidget entry. Per model (`initialize`): the transport and the Session every view
// of the model shares. Per view (`render`): a Viewer, and its cleanup.

import { Session } from "./session.js";
import { chooseTransport } from "./transport.js";
import { Viewer } from "./viewer.js";

/** @typedef {import("./transport.js").CommModel} CommModel */

// anywidget calls this factory once per model, so the closure is the model's own state.
export default () => {
  /** @type {Promise<Session> | null} */
  let session = null;
  /** @param {CommModel} model */
  const start = (model) => (session ??= chooseTransport(model).then((source) => new Session(model, source)));
  return {
    /** @param {{model: CommModel}} ctx */
    initialize({ model }) {
      // Not awaited: anywidget gives `initialize` 2 s, the probe of the server may take longer.
      start(model);
      return () => {
        session?.then((s) => s.dispose());
        session = null;
      };
    },
    /** @param {{model: CommModel, el: HTMLElement}} ctx */
    async render({ model, el }) {
      el.classList.add("tmw-host");
      const viewer = new Viewer(el, model, await start(model));
      // For browser tests and benchmarks: the view's state, reachable from its element (no globals).
      Object.assign(el, { tilemaker: { model, viewer } });
      return () => viewer.dispose();
    },
  };
};
