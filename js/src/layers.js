// Which layer is shown: choosing one (with its default range and colormap), reading its
// description and histogram, and mounting its data-tile layer on the map.

import L from "leaflet";
import { renderProblem } from "./colour.js";
import { DEFAULT_TILE_SIZE, MIN_ZOOM } from "./crs.js";
import { Events } from "./events.js";
import { isNum } from "./numbers.js";
import { QUALITIES, createDataTileLayer } from "./tilelayer.js";

/** Longest the histogram waits for the first tiles of a layer whose range is known. */
const FIRST_TILES_WAIT_MS = 3000;

/** @typedef {import("./viewer.js").Viewer} Viewer */

/**
 * A layer entry of the `layers` trait (docs/protocol.md, "Widget state").
 * @typedef {object} LayerEntry
 * @property {string} id
 * @property {string} name
 * @property {string} [group]
 * @property {string} [map]
 * @property {string} [band]
 * @property {string} [units]
 * @property {string} [units_label]  units for display (e.g. "µK"), when the describer gives one
 * @property {string} [quantity]
 * @property {number[]} [shape]
 * @property {number | string | null} [vmin]
 * @property {number | string | null} [vmax]
 * @property {string | null} [cmap]
 * @property {"http" | "comm"} [transport]
 * @property {{path: string, hdu?: number, index?: number} | {provider: Record<string, any>} | null} [source]  what `register` is sent (a FITS plane, or a derived layer's provider)
 * @property {number} [tile_size]  grid facts as in `layers/{id}` (widget entries carry them)
 * @property {number} [native_level]
 * @property {number} [bounding_left]
 * @property {number} [bounding_right]
 * @property {number} [bounding_top]
 * @property {number} [bounding_bottom]
 * @property {string} [error]  why the kernel could not describe the layer
 * @property {string} [band_id]
 * @property {string} [map_id]
 * @property {{quantity: string, convention: "IAU" | "COSMO", convention_from: string}} [polarization]  derived polarization layers (docs/protocol.md, layer ids)
 */

export class LayerShown {
  /** @param {Viewer} viewer */
  constructor(viewer) {
    this.viewer = viewer;
    this.id = "";
    /** @type {any} current layer description (`layers/{id}`) */
    this.info = null;
    /** @type {any} current layer histogram */
    this.histogram = null;
    this.nativeLevel = 0;
    /** @type {any} */
    this.tileLayer = null;
    this.token = 0;
    /** @type {string | null} layer whose range should come from its histogram */
    this.autoRangeFor = null;
  }

  get model() {
    return this.viewer.model;
  }

  /** Units of the current layer for display: its display form when described, else as given. */
  units() {
    const entry = this.viewer.session.entry(this.id);
    return this.info?.units_label ?? entry?.units_label ?? this.info?.units ?? entry?.units ?? "";
  }

  /**
   * Choose a layer from the front end: the layer's default range and colormap come
   * with it (the protocol's rule). A change made in Python arrives with Python's own
   * defaults already applied, so the viewer does not reapply them (no ping-pong).
   * @param {string} id
   */
  select(id) {
    const entry = this.viewer.session.entry(id);
    this.model.set("layer", id);
    if (entry) {
      if (isNum(entry.vmin) && isNum(entry.vmax)) {
        // The layer's own range wins over a log stretch it cannot use (as in Python).
        if (renderProblem(this.model.get("stretch") || "linear", entry.vmin, entry.vmax)) this.model.set("stretch", "linear");
        this.model.set("vmin", entry.vmin), this.model.set("vmax", entry.vmax);
      } else this.autoRangeFor = id;
      if (entry.cmap) this.model.set("cmap", entry.cmap);
    }
    this.model.save_changes();
  }

  /** @param {number} delta */
  step(delta) {
    const layers = this.viewer.session.layers();
    if (!layers.length) return;
    const i = layers.findIndex((l) => l.id === this.id);
    const next = layers[(((i < 0 ? 0 : i) + delta) % layers.length + layers.length) % layers.length];
    if (next && next.id !== this.id) this.select(next.id);
  }

  /** @param {string} id */
  nameOf(id) {
    return this.viewer.session.entry(id)?.name ?? id;
  }

  /** @param {string | undefined} requested */
  async show(requested) {
    const v = this.viewer;
    const id = requested || v.session.layers()[0]?.id;
    if (!id) {
      v.banner.show("No layer to show.");
      return;
    }
    const token = ++this.token;
    this.id = id;
    this.info = null;
    this.histogram = null;
    v.banner.clear();
    if (!isNum(this.model.get("vmin")) || !isNum(this.model.get("vmax"))) this.autoRangeFor = id;
    v.events.emit(Events.LAYER, id);
    let info;
    try {
      info = await v.session.layerInfo(id);
    } catch (e) {
      if (token !== this.token) return;
      this.unmount();
      v.nan.setLayer(null);
      v.banner.show(`Cannot read layer "${this.nameOf(id)}": ${e instanceof Error ? e.message : e}`);
      return;
    }
    if (token !== this.token) return;
    this.info = info;
    const tileSize = isNum(info?.tile_size) ? info.tile_size : DEFAULT_TILE_SIZE;
    this.nativeLevel = isNum(info?.native_level) ? info.native_level : isNum(info?.number_of_levels) ? info.number_of_levels - 1 : 0;
    v.view.setTileSize(tileSize);
    // The layer description carries the zoom range the kernel checks `zoom` against.
    v.map.setMinZoom(isNum(info?.min_zoom) ? info.min_zoom : MIN_ZOOM);
    v.map.setMaxZoom(isNum(info?.max_zoom) ? info.max_zoom : this.nativeLevel + 4);
    v.view.layerShown(info);
    this.mount();
    v.nan.setLayer(info);
    v.events.emit(Events.LAYER_INFO, info);
    // The histogram is for the range panel: with the range known it waits for the first
    // tiles, which it would compete with on the link and on the server (a cold map's
    // statistics read 4 M samples while the first tiles are being read).
    const firstTiles = this.autoRangeFor === id ? Promise.resolve() : this.firstTiles();
    firstTiles.then(() => token === this.token ? v.session.histogram(id) : null).then(
      (hist) => {
        if (token !== this.token || hist === null) return;
        this.histogram = hist;
        if (this.autoRangeFor === id) {
          this.autoRangeFor = null;
          if (isNum(hist?.vmin) && isNum(hist?.vmax) && hist.vmax > hist.vmin) {
            this.model.set("vmin", hist.vmin);
            this.model.set("vmax", hist.vmax);
            this.model.save_changes();
          }
        }
        v.events.emit(Events.HISTOGRAM, hist);
      },
      (e) => console.warn("tilemaker-widget: no histogram for", id, e),
    );
  }

  /**
   * Resolves when the mounted tile layer first has every visible tile, or after
   * `FIRST_TILES_WAIT_MS` (a view that never completes must not lose its histogram).
   * @returns {Promise<void>}
   */
  firstTiles() {
    const layer = this.tileLayer;
    if (!layer) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, FIRST_TILES_WAIT_MS);
      layer.once("load", () => (clearTimeout(timer), resolve()));
    });
  }

  /** The tile quality asked for (`quality` trait; docs/notebook.md). */
  quality() {
    const q = this.model.get("quality");
    return QUALITIES.includes(q) ? q : "auto";
  }

  /** (Re)build the tile layer of the current layer, e.g. after the RA direction flipped. */
  mount() {
    this.unmount();
    const v = this.viewer;
    if (!this.info) return;
    const layer = createDataTileLayer(L, {
      source: v.session.source,
      layerId: this.id,
      tileSize: v.tileSize,
      nativeLevel: this.nativeLevel,
      raLeft: v.raLeft,
      cache: v.session.tiles,
      meter: v.session.meter,
      quality: () => this.quality(),
      range: () => ({ vmin: this.model.get("vmin"), vmax: this.model.get("vmax"), stretch: this.model.get("stretch") || "linear" }),
      paint: (canvas, state) => v.colouring.paint(canvas, state),
      onError: (err) => v.banner.show(`Cannot read layer "${this.nameOf(this.id)}": ${err.message}`),
    });
    layer.on("load", () => v.colouring.tilesLoaded());
    layer.addTo(v.map);
    this.tileLayer = layer;
  }

  unmount() {
    if (this.tileLayer) {
      this.tileLayer.remove();
      this.tileLayer = null;
    }
  }

  dispose() {
    this.token++;
    this.unmount();
  }
}
