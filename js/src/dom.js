// Tiny DOM helpers: element creation and listener bookkeeping for clean teardown.

/**
 * Create an element. Props: `class`, `on<event>` handlers, `style` (object), `dataset`
 * (object), DOM properties where they exist, attributes otherwise.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, any>} [props]
 * @param {...(Node | string | null | undefined | false)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k in el && !k.includes("-")) /** @type {any} */ (el)[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c);
  }
  return el;
}

/** Collects undo functions (listeners, observers, timers) and runs them once. */
export class Disposer {
  constructor() {
    /** @type {(() => void)[]} */
    this.undo = [];
  }

  /** @param {() => void} fn */
  add(fn) {
    this.undo.push(fn);
  }

  /**
   * @param {EventTarget} target
   * @param {string} type
   * @param {(ev: any) => void} cb
   * @param {AddEventListenerOptions | boolean} [opts]
   */
  listen(target, type, cb, opts) {
    target.addEventListener(type, cb, opts);
    this.add(() => target.removeEventListener(type, cb, opts));
  }

  dispose() {
    for (const fn of this.undo.splice(0).reverse()) {
      try {
        fn();
      } catch (e) {
        console.warn("tilemaker-widget: cleanup failed", e);
      }
    }
  }
}
