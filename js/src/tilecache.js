// A byte-bounded LRU of decoded tiles (exact or quantized; previews are never put
// here), so zooming back or recolouring after a prune does not refetch (each refetch
// over the comm is a kernel round trip). A key holds the best tile known so far.

/** @typedef {import("./datatile.js").DataTile | import("./quantized.js").QuantizedTile} DataTile */

/**
 * Values plus the RGBA picture the viewer keeps with each tile.
 * @param {DataTile} t
 */
const size = (t) => t.bytes + 4 * t.width * t.height;

export class TileCache {
  /** @param {number} maxBytes */
  constructor(maxBytes = 96 * 2 ** 20) {
    this.maxBytes = maxBytes;
    this.bytes = 0;
    /** @type {Map<string, DataTile | null>} null = known empty (204) */
    this.map = new Map();
  }

  /** @param {string} key */
  has(key) {
    return this.map.has(key);
  }

  /** @param {string} key */
  get(key) {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  /**
   * @param {string} key
   * @param {DataTile | null} tile
   */
  set(key, tile) {
    const old = this.map.get(key);
    if (old) this.bytes -= size(old);
    this.map.delete(key);
    this.map.set(key, tile);
    if (tile) this.bytes += size(tile);
    for (const [k, v] of this.map) {
      if (this.bytes <= this.maxBytes || k === key) break;
      this.map.delete(k);
      if (v) this.bytes -= size(v);
    }
  }

  clear() {
    this.map.clear();
    this.bytes = 0;
  }
}
