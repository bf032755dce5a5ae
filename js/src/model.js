// A plain in-page model with the slice of the anywidget model API the Viewer uses,
// so the full-page viewer runs the same code without a kernel.

/**
 * @typedef {object} ModelLike
 * @property {(name: string) => any} get
 * @property {(name: string, value: any) => void} set
 * @property {() => void} save_changes
 * @property {(event: string, cb: (...args: any[]) => void) => void} on
 * @property {(event?: string, cb?: (...args: any[]) => void) => void} off
 */

/** @implements {ModelLike} */
export class PageModel {
  /** @param {Record<string, any>} [initial] */
  constructor(initial = {}) {
    /** @type {Map<string, any>} */
    this.values = new Map(Object.entries(initial));
    /** @type {Map<string, Set<(...args: any[]) => void>>} */
    this.listeners = new Map();
  }

  /** @param {string} name */
  get(name) {
    return this.values.get(name);
  }

  /**
   * Like Backbone: listeners of "change:name" run synchronously, only on a real change.
   * @param {string} name
   * @param {any} value
   */
  set(name, value) {
    const old = this.values.get(name);
    if (sameValue(old, value)) return;
    this.values.set(name, value);
    for (const cb of [...(this.listeners.get(`change:${name}`) ?? [])]) cb(this, value);
  }

  save_changes() {}

  /** @param {any} _content */
  send(_content) {}

  /**
   * @param {string} event
   * @param {(...args: any[]) => void} cb
   */
  on(event, cb) {
    for (const ev of event.split(/\s+/)) {
      if (!this.listeners.has(ev)) this.listeners.set(ev, new Set());
      this.listeners.get(ev)?.add(cb);
    }
  }

  /**
   * @param {string} [event]
   * @param {(...args: any[]) => void} [cb]
   */
  off(event, cb) {
    if (!event) {
      this.listeners.clear();
      return;
    }
    for (const ev of event.split(/\s+/)) {
      if (cb) this.listeners.get(ev)?.delete(cb);
      else this.listeners.delete(ev);
    }
  }
}

/**
 * Structural equality for trait values (numbers, strings, arrays, plain objects).
 * @param {any} a
 * @param {any} b
 * @returns {boolean}
 */
export function sameValue(a, b) {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || !a || !b) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => sameValue(a[k], b[k]));
}
