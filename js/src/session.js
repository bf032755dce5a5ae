// What every view of one model shares, built once per model (anywidget's `initialize`,
// or once for the full page): the tile source, the decoded tiles, the link meter and
// the memoised colormaps, layer descriptions and histograms.

import { decodeLut } from "./colour.js";
import { LinkMeter } from "./linkmeter.js";
import { memoAsync } from "./memo.js";
import { isNum } from "./numbers.js";
import { TileCache } from "./tilecache.js";
import { getJson } from "./transport.js";

/** @typedef {import("./model.js").ModelLike} ModelLike */
/** @typedef {import("./transport.js").TileSource} TileSource */
/** @typedef {import("./layers.js").LayerEntry} LayerEntry */

export class Session {
  /**
   * @param {ModelLike} model
   * @param {TileSource} source
   */
  constructor(model, source) {
    this.model = model;
    this.source = source;
    this.tiles = new TileCache();
    /** Tile throughput, for quality "auto" (one link, whichever view or layer measures it). */
    this.meter = new LinkMeter();
    const path = (/** @type {string} */ prefix, /** @type {string} */ key) => `${prefix}/${encodeURIComponent(key)}`;
    /** A colormap's 256×4 RGBA LUT. */
    this.colormap = memoAsync((name) => getJson(source, path("colormaps", name)).then((j) => decodeLut(j.lut)));
    /** A layer's description (`layers/{id}`). */
    this.layerInfo = memoAsync((id) => {
      const entry = this.entry(id);
      // The widget's layer entries carry the grid facts, so the first tile needs no
      // request before it; an entry with an error asks the API, which names the problem.
      return entry && isNum(entry.tile_size) && isNum(entry.native_level) && !entry.error
        ? Promise.resolve(entry)
        : getJson(source, path("layers", id));
    });
    /** A layer's histogram (`histograms/data/{id}`). */
    this.histogram = memoAsync((id) => getJson(source, path("histograms/data", id)));
  }

  /** @returns {LayerEntry[]} the `layers` trait */
  layers() {
    const l = this.model.get("layers");
    return Array.isArray(l) ? l : [];
  }

  /** @param {string} id */
  entry(id) {
    return this.layers().find((l) => l.id === id);
  }

  dispose() {
    this.tiles.clear();
    this.source.dispose?.();
  }
}
