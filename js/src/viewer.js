// The viewer: one Leaflet map, the data-tile layer, colouring state and the controls,
// driven by a model-like object (the anywidget model or the page's PageModel).

import L from "leaflet";
import { colourize, decodeLut, greyLut, renderProblem } from "./colour.js";
import { Disposer, h } from "./dom.js";
import { Graticule } from "./graticule.js";
import { lngToRa, normRa, raToLng, transformationFor } from "./sky.js";
import { TileCache } from "./tilecache.js";
import { createDataTileLayer, QUALITIES } from "./tilelayer.js";
import { LinkMeter } from "./linkmeter.js";
import { colourizeCodes } from "./quantized.js";
import { getJson } from "./transport.js";
import { createLayerMenu } from "./controls/layermenu.js";
import { createColormapPicker } from "./controls/colormap.js";
import { createStretchSelect } from "./controls/stretch.js";
import { createRangeControl } from "./controls/range.js";
import { createGoto } from "./controls/goto.js";
import { createViewButtons } from "./controls/viewbuttons.js";
import { createStatusLine } from "./controls/status.js";
import { createColourBarOverlay } from "./controls/colourbar.js";
import { createOverlays } from "./overlays/index.js";

/** @typedef {import("./model.js").ModelLike} ModelLike */
/** @typedef {import("./transport.js").TileSource} TileSource */
/** @typedef {import("./tilelayer.js").TileState} TileState */
/** @typedef {{el: HTMLElement, dispose?: () => void}} Control */

/**
 * A layer entry of the `layers` trait (docs/protocol.md, "Widget state").
 * @typedef {object} LayerEntry
 * @property {string} id
 * @property {string} name
 * @property {string} [group]
 * @property {string} [map]
 * @property {string} [band]
 * @property {string} [units]
 * @property {string} [quantity]
 * @property {number[]} [shape]
 * @property {number | string | null} [vmin]
 * @property {number | string | null} [vmax]
 * @property {string | null} [cmap]
 * @property {"http" | "comm"} [transport]
 * @property {{path: string, hdu?: number, index?: number} | null} [source]
 * @property {number} [tile_size]  grid facts as in `layers/{id}` (widget entries carry them)
 * @property {number} [native_level]
 * @property {number} [bounding_left]
 * @property {number} [bounding_right]
 * @property {number} [bounding_top]
 * @property {number} [bounding_bottom]
 * @property {string} [error]  why the kernel could not describe the layer
 */

const DEFAULT_TILE_SIZE = 675;
const SAVE_INTERVAL_MS = 150;
/** Zoom-out limit before a layer is described (its `min_zoom` then rules; engine/geometry.py MIN_ZOOM). */
const MIN_ZOOM = -2;

/** @param {unknown} v @returns {v is number} */
export const isNum = (v) => typeof v === "number" && Number.isFinite(v);

/**
 * A Leaflet CRS for the full-sky tile grid with tile size T.
 * @param {number} tileSize
 */
export function makeCrs(tileSize) {
  const [a, b, c, d] = transformationFor(tileSize);
  const crs = L.extend({}, L.CRS, {
    code: `tilemaker-car-${tileSize}`,
    projection: L.Projection.LonLat,
    transformation: new L.Transformation(a, b, c, d),
    scale: (/** @type {number} */ z) => 2 ** z,
    zoom: (/** @type {number} */ s) => Math.log2(s),
    distance: (/** @type {L.LatLng} */ p, /** @type {L.LatLng} */ q) => Math.hypot(p.lat - q.lat, p.lng - q.lng),
    infinite: false,
    // Tiles wrap horizontally: RA is periodic.
    wrapLng: [-180, 180],
  });
  return /** @type {L.CRS} */ (/** @type {unknown} */ (crs));
}

export class Viewer {
  /**
   * @param {HTMLElement} el
   * @param {ModelLike} model
   * @param {TileSource} source
   */
  constructor(el, model, source) {
    this.model = model;
    this.source = source;
    this.disposer = new Disposer();
    this.events = new EventTarget();
    this.cache = new TileCache();
    /** tile throughput, for quality "auto" (shared by every layer of this view) */
    this.meter = new LinkMeter();
    /** @type {Map<string, Promise<Uint8Array>>} */
    this.luts = new Map();
    /** @type {Map<string, Promise<any>>} */
    this.infos = new Map();
    /** @type {Map<string, Promise<any>>} */
    this.histograms = new Map();
    /** @type {Uint8Array | null} */
    this.lut = null;
    /** bumped with every new LUT: part of a tile's colouring stamp */
    this.lutVersion = 0;
    /** @type {any} current layer description (`layers/{id}`) */
    this.info = null;
    /** @type {any} current layer histogram */
    this.histogram = null;
    this.layerId = "";
    this.tileSize = DEFAULT_TILE_SIZE;
    this.raLeft = model.get("ra_left") ?? true;
    /** @type {import("./graticule.js").LabelMode} */
    this.labelMode = "sexagesimal";
    /** @type {any} */
    this.tileLayer = null;
    this.layerToken = 0;
    this.cmapToken = 0;
    this.recolourPending = false;
    this.clamping = false;
    this.lastSave = -Infinity;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.saveTimer = undefined;
    this.errorShown = "";
    /** @type {string | null} layer whose range should come from its histogram */
    this.autoRangeFor = null;
    // No centre given (the full page without ?ra=&dec=): frame the first layer shown.
    this.fitPending = !Array.isArray(model.get("center"));

    this.banner = h("div", { class: "tmw-error", role: "alert", hidden: true });
    this.mapEl = h("div", { class: "tmw-map" });
    this.mapWrap = h("div", { class: "tmw-mapwrap" }, this.mapEl, this.banner);
    this.toolbar = h("div", { class: "tmw-toolbar" });
    this.statusEl = h("div", { class: "tmw-status" });
    this.root = h("div", { class: "tmw-root" }, this.toolbar, this.mapWrap, this.statusEl);
    el.appendChild(this.root);
    this.applyHeight();

    const [ra, dec] = this.modelCenter();
    this.map = L.map(this.mapEl, {
      crs: makeCrs(this.tileSize),
      center: [dec, raToLng(ra, this.raLeft)],
      zoom: isNum(model.get("zoom")) ? model.get("zoom") : 0,
      minZoom: MIN_ZOOM,
      maxZoom: 14,
      zoomSnap: 0.25,
      zoomDelta: 0.5,
      wheelPxPerZoomLevel: 120,
      attributionControl: false,
      zoomControl: false,
      fadeAnimation: false,
      // No maxBounds: with fractional zoom Leaflet's bounds correction can recurse
      // forever (seen here at zoom −0.25); keepSkyInView does the vertical clamp.
    });
    // Top right: the left edge carries the Dec labels of the grid.
    L.control.zoom({ position: "topright" }).addTo(this.map);
    this.graticule = new Graticule(this.map, () => ({
      raLeft: this.raLeft,
      mode: this.labelMode,
      tileSize: this.tileSize,
    }));

    /** @type {Control[]} */
    this.controls = [];
    const add = (/** @type {Control} */ c, /** @type {HTMLElement} */ parent) => {
      this.controls.push(c);
      parent.appendChild(c.el);
    };
    add(createLayerMenu(this), this.toolbar);
    add(createColormapPicker(this), this.toolbar);
    add(createStretchSelect(this), this.toolbar);
    add(createRangeControl(this), this.toolbar);
    add(createGoto(this), this.toolbar);
    add(createViewButtons(this), this.toolbar);
    add(createStatusLine(this), this.statusEl);
    add(createColourBarOverlay(this), this.mapWrap);
    /** catalogues, boxes and the box tool (overlays/) */
    this.overlays = createOverlays(this);
    add(this.overlays, this.mapWrap);

    this.wireModel();
    this.wireMap();

    this.graticule.show(!!model.get("graticule"));
    this.loadColormap();
    this.showLayer(this.model.get("layer"));
  }

  // --- events between the viewer and its controls ------------------------------

  /**
   * @param {string} type  "layerinfo" | "histogram" | "lut" | "recolour" | "radirection" | "labelmode" | "cursor"
   * @param {any} [detail]
   */
  emit(type, detail) {
    this.events.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * @param {string} type
   * @param {(detail: any) => void} cb
   */
  on(type, cb) {
    const f = (/** @type {Event} */ e) => cb(/** @type {CustomEvent} */ (e).detail);
    this.events.addEventListener(type, f);
    this.disposer.add(() => this.events.removeEventListener(type, f));
  }

  /**
   * Listen to a model event; removed on dispose.
   * @param {string} event
   * @param {(...args: any[]) => void} cb
   */
  listen(event, cb) {
    this.model.on(event, cb);
    this.disposer.add(() => this.model.off(event, cb));
  }

  wireModel() {
    this.listen("change:layer", () => this.showLayer(this.model.get("layer")));
    this.listen("change:cmap", () => this.loadColormap());
    this.listen("change:quality", () => this.tileLayer?.refresh());
    for (const name of ["vmin", "vmax", "stretch"]) this.listen(`change:${name}`, () => this.scheduleRecolour());
    this.listen("change:center", () => this.applyViewFromModel());
    this.listen("change:zoom", () => this.applyViewFromModel());
    this.listen("change:height", () => this.applyHeight());
    this.listen("change:ra_left", () => this.applyRaDirection());
    this.listen("change:graticule", () => this.graticule.show(!!this.model.get("graticule")));
    this.listen("change:layers", () => {
      Promise.resolve(this.source.sync?.(this.model.get("layers"))).then(() => this.emit("layers"));
      if (!this.tileLayer) this.showLayer(this.model.get("layer"));
    });
  }

  wireMap() {
    const map = this.map;
    map.on("moveend", () => {
      if (!this.keepSkyInView()) this.pushView();
    });
    const ro = new ResizeObserver(() => {
      map.invalidateSize({ pan: false });
      this.graticule.redraw();
    });
    ro.observe(this.mapEl);
    this.disposer.add(() => ro.disconnect());
    this.disposer.listen(document, "fullscreenchange", () => {
      this.root.classList.toggle("tmw-fullscreen", document.fullscreenElement === this.root);
      this.applyHeight();
      map.invalidateSize({ pan: false });
    });
    this.disposer.listen(this.mapEl, "keydown", (/** @type {KeyboardEvent} */ e) => {
      if (e.target !== this.mapEl) return;
      if (e.key === "PageDown" || e.key === "]") this.stepLayer(1);
      else if (e.key === "PageUp" || e.key === "[") this.stepLayer(-1);
      else return;
      e.preventDefault();
    });
  }

  // --- layers --------------------------------------------------------------------

  /** @returns {LayerEntry[]} */
  layers() {
    const l = this.model.get("layers");
    return Array.isArray(l) ? l : [];
  }

  /** @param {string} id */
  layerEntry(id) {
    return this.layers().find((l) => l.id === id);
  }

  /** Units of the current layer, from its description or its entry. */
  units() {
    return this.info?.units ?? this.layerEntry(this.layerId)?.units ?? "";
  }

  /**
   * Choose a layer from the front end: the layer's default range and colormap come
   * with it (the protocol's rule). A change made in Python arrives with Python's own
   * defaults already applied, so the viewer does not reapply them (no ping-pong).
   * @param {string} id
   */
  selectLayer(id) {
    const entry = this.layerEntry(id);
    this.model.set("layer", id);
    if (entry) {
      if (isNum(entry.vmin) && isNum(entry.vmax)) {
        // The layer's own range wins over a log stretch it cannot use (as in Python).
        if (renderProblem(this.model.get("stretch") || "linear", entry.vmin, entry.vmax)) this.model.set("stretch", "linear");
        this.model.set("vmin", entry.vmin), this.model.set("vmax", entry.vmax);
      }
      else this.autoRangeFor = id;
      if (entry.cmap) this.model.set("cmap", entry.cmap);
    }
    this.model.save_changes();
  }

  /** @param {number} delta */
  stepLayer(delta) {
    const layers = this.layers();
    if (!layers.length) return;
    const i = layers.findIndex((l) => l.id === this.layerId);
    const next = layers[(((i < 0 ? 0 : i) + delta) % layers.length + layers.length) % layers.length];
    if (next && next.id !== this.layerId) this.selectLayer(next.id);
  }

  /** @param {string} id */
  layerInfo(id) {
    let p = this.infos.get(id);
    if (!p) {
      const entry = this.layerEntry(id);
      // The widget's layer entries carry the grid facts, so the first tile needs no
      // request before it; an entry with an error asks the API, which names the problem.
      p =
        entry && isNum(entry.tile_size) && isNum(entry.native_level) && !entry.error
          ? Promise.resolve(entry)
          : getJson(this.source, `layers/${encodeURIComponent(id)}`);
      this.infos.set(id, p);
      p.catch(() => this.infos.delete(id));
    }
    return p;
  }

  /** @param {string} id */
  layerHistogram(id) {
    let p = this.histograms.get(id);
    if (!p) {
      p = getJson(this.source, `histograms/data/${encodeURIComponent(id)}`);
      this.histograms.set(id, p);
      p.catch(() => this.histograms.delete(id));
    }
    return p;
  }

  /** @param {string | undefined} requested */
  async showLayer(requested) {
    const id = requested || this.layers()[0]?.id;
    if (!id) {
      this.showError("No layer to show.");
      return;
    }
    const token = ++this.layerToken;
    this.layerId = id;
    this.info = null;
    this.histogram = null;
    this.clearError();
    if (!isNum(this.model.get("vmin")) || !isNum(this.model.get("vmax"))) this.autoRangeFor = id;
    this.emit("layer", id);
    let info;
    try {
      info = await this.layerInfo(id);
    } catch (e) {
      if (token !== this.layerToken) return;
      this.unmountTileLayer();
      const name = this.layerEntry(id)?.name ?? id;
      this.showError(`Cannot read layer "${name}": ${e instanceof Error ? e.message : e}`);
      return;
    }
    if (token !== this.layerToken) return;
    this.info = info;
    const tileSize = isNum(info?.tile_size) ? info.tile_size : DEFAULT_TILE_SIZE;
    const native = isNum(info?.native_level) ? info.native_level : isNum(info?.number_of_levels) ? info.number_of_levels - 1 : 0;
    this.nativeLevel = native;
    this.setTileSize(tileSize);
    // The layer description carries the zoom range the kernel checks `zoom` against.
    this.map.setMinZoom(isNum(info?.min_zoom) ? info.min_zoom : MIN_ZOOM);
    this.map.setMaxZoom(isNum(info?.max_zoom) ? info.max_zoom : native + 4);
    if (this.fitPending) {
      this.fitPending = false;
      this.fitToLayer(info);
    }
    this.mountTileLayer();
    this.emit("layerinfo", info);
    this.layerHistogram(id).then(
      (hist) => {
        if (token !== this.layerToken) return;
        this.histogram = hist;
        if (this.autoRangeFor === id) {
          this.autoRangeFor = null;
          if (isNum(hist?.vmin) && isNum(hist?.vmax) && hist.vmax > hist.vmin) {
            this.model.set("vmin", hist.vmin);
            this.model.set("vmax", hist.vmax);
            this.model.save_changes();
          }
        }
        this.emit("histogram", hist);
      },
      (e) => console.warn("tilemaker-widget: no histogram for", id, e),
    );
  }

  mountTileLayer() {
    this.unmountTileLayer();
    if (!this.info) return;
    const layer = createDataTileLayer(L, {
      source: this.source,
      layerId: this.layerId,
      tileSize: this.tileSize,
      nativeLevel: this.nativeLevel ?? 0,
      raLeft: this.raLeft,
      cache: this.cache,
      meter: this.meter,
      quality: () => this.quality(),
      range: () => ({ vmin: this.model.get("vmin"), vmax: this.model.get("vmax"), stretch: this.model.get("stretch") || "linear" }),
      paint: (canvas, state) => this.paint(canvas, state),
      onError: (err) => {
        const name = this.layerEntry(this.layerId)?.name ?? this.layerId;
        this.showError(`Cannot read layer "${name}": ${err.message}`);
      },
    });
    layer.on("load", () => {
      if (this.lut) this.bumpRenderCount();
    });
    layer.addTo(this.map);
    this.tileLayer = layer;
  }

  unmountTileLayer() {
    if (this.tileLayer) {
      this.tileLayer.remove();
      this.tileLayer = null;
    }
  }

  /**
   * Changing tile size changes the CRS; keep the sky centre and the angular scale.
   * @param {number} tileSize
   */
  setTileSize(tileSize) {
    if (tileSize === this.tileSize) return;
    const c = this.map.getCenter();
    const zoom = this.map.getZoom() + Math.log2(this.tileSize / tileSize);
    this.tileSize = tileSize;
    this.map.options.crs = makeCrs(tileSize);
    // `reset` (undocumented in the typings) recomputes the pixel origin with the new CRS.
    this.map.setView(c, zoom, /** @type {any} */ ({ reset: true }));
  }

  // --- colouring -------------------------------------------------------------------

  /** @param {string} name */
  colormapLut(name) {
    let p = this.luts.get(name);
    if (!p) {
      p = getJson(this.source, `colormaps/${encodeURIComponent(name)}`).then((j) => decodeLut(j.lut));
      this.luts.set(name, p);
      p.catch(() => this.luts.delete(name));
    }
    return p;
  }

  async loadColormap() {
    const name = this.model.get("cmap") || "viridis";
    const token = ++this.cmapToken;
    try {
      const lut = await this.colormapLut(name);
      if (token !== this.cmapToken) return;
      this.lut = lut;
      this.lutVersion++;
    } catch (e) {
      if (token !== this.cmapToken) return;
      this.showError(`Colormap "${name}" is not available: ${e instanceof Error ? e.message : e}`, false);
      if (this.lut) return;
      this.lut = greyLut();
      this.lutVersion++;
    }
    this.emit("lut", this.lut);
    this.scheduleRecolour();
  }

  /**
   * @param {HTMLCanvasElement} canvas
   * @param {TileState} state
   */
  paint(canvas, state) {
    const data = state.data;
    if (!this.lut || !data) return;
    const ctx = canvas.getContext("2d");
    if (!ctx) return;
    const m = this.model;
    const vmin = m.get("vmin");
    const vmax = m.get("vmax");
    const stretch = m.get("stretch") || "linear";
    // The coloured pixels stay with the tile (in the tile cache), so a tile shown again
    // in the same colours (zooming back) is one putImageData, not a recolouring.
    const stamp = `${this.lutVersion}|${vmin}|${vmax}|${stretch}`;
    // The tile layer hands back the canvas a cached tile was last shown on.
    if (data.canvas === canvas && data.canvasStamp === stamp) return;
    if (!data.rgba || data.rgba.width !== data.width || data.rgba.height !== data.height) {
      data.rgba = ctx.createImageData(data.width, data.height);
      data.rgbaStamp = "";
    }
    if (data.rgbaStamp !== stamp) {
      if (data.kind === "q8") colourizeCodes(data, this.lut, vmin, vmax, stretch, data.rgba.data);
      else colourize(data.values, this.lut, vmin, vmax, stretch, data.rgba.data);
      data.rgbaStamp = stamp;
    }
    ctx.putImageData(data.rgba, 0, 0);
    data.canvas = canvas;
    data.canvasStamp = stamp;
  }

  scheduleRecolour() {
    if (this.recolourPending) return;
    this.recolourPending = true;
    const run = () => {
      this.recolourPending = false;
      this.recolourAll();
    };
    // rAF does not run in hidden tabs; the trait must still advance there.
    if (document.hidden) setTimeout(run, 0);
    else requestAnimationFrame(run);
  }

  recolourAll() {
    if (!this.lut) return;
    const live = this.tileLayer?.liveTiles;
    if (live) for (const [canvas, state] of live) this.paint(canvas, state);
    // A range past the quantized tiles' span (or too narrow for 8 bits) fetches exact ones.
    this.tileLayer?.refresh();
    this.emit("recolour");
    this.bumpRenderCount();
  }

  bumpRenderCount() {
    const n = (this.model.get("_render_count") ?? 0) + 1;
    this.model.set("_render_count", n);
    this.saveThrottled();
  }

  /**
   * save_changes at most every SAVE_INTERVAL_MS: the first at once, then one trailing.
   * A histogram drag repaints every frame; the kernel needs only a few of those.
   */
  saveThrottled() {
    const now = performance.now();
    if (this.saveTimer) return;
    const wait = this.lastSave + SAVE_INTERVAL_MS - now;
    if (wait <= 0) {
      this.lastSave = now;
      this.model.save_changes();
      return;
    }
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.lastSave = performance.now();
      this.model.save_changes();
    }, wait);
  }

  /** The tile quality asked for (`quality` trait; docs/notebook.md). */
  quality() {
    const q = this.model.get("quality");
    return QUALITIES.includes(q) ? q : "auto";
  }

  // --- view state ------------------------------------------------------------------

  /** @returns {[number, number]} */
  modelCenter() {
    const c = this.model.get("center");
    return Array.isArray(c) && isNum(c[0]) && isNum(c[1]) ? [c[0], c[1]] : [180, 0];
  }

  /**
   * One screen pixel in degrees: views closer than this are the same view (Leaflet
   * rounds pans to whole pixels, so an exact trait and the map differ by up to ½ px).
   */
  tolerance() {
    return 180 / (2 ** this.map.getZoom() * this.tileSize);
  }

  /**
   * Keep the poles from leaving the view's edges (or centre the sky vertically when it
   * is shorter than the view). RA needs nothing: it wraps.
   * @returns {boolean} the view moved (its moveend will push the view)
   */
  keepSkyInView() {
    const map = this.map;
    const size = map.getSize();
    if (!size.y) return false;
    const zoom = map.getZoom();
    const c = map.project(map.getCenter(), zoom);
    const skyHeight = 2 ** zoom * this.tileSize;
    const half = size.y / 2;
    const y = skyHeight <= size.y ? skyHeight / 2 : Math.min(Math.max(c.y, half), skyHeight - half);
    // Leaflet pans by whole pixels: a sub-pixel correction would never converge.
    if (Math.abs(y - c.y) < 1 || this.clamping) return false;
    this.clamping = true;
    try {
      map.setView(map.unproject(L.point(c.x, y), zoom), zoom, { animate: false });
    } finally {
      this.clamping = false;
    }
    return true;
  }

  pushView() {
    const c = this.map.getCenter();
    const ra = lngToRa(c.lng, this.raLeft);
    const dec = Math.max(-90, Math.min(90, c.lat));
    const zoom = this.map.getZoom();
    const [mra, mdec] = this.modelCenter();
    const tol = this.tolerance();
    const dra = Math.abs(((ra - mra + 540) % 360) - 180);
    if (dra < tol && Math.abs(dec - mdec) < tol && Math.abs(zoom - (this.model.get("zoom") ?? NaN)) < 1e-9) return;
    this.model.set("center", [ra, dec]);
    this.model.set("zoom", zoom);
    this.model.save_changes();
  }

  applyViewFromModel() {
    const [ra, dec] = this.modelCenter();
    const zoom = this.model.get("zoom");
    const c = this.map.getCenter();
    const tol = this.tolerance();
    const dra = Math.abs(((normRa(ra) - lngToRa(c.lng, this.raLeft) + 540) % 360) - 180);
    const z = isNum(zoom) ? zoom : this.map.getZoom();
    if (dra < tol && Math.abs(dec - c.lat) < tol && Math.abs(z - this.map.getZoom()) < 1e-9) return;
    this.map.setView([dec, raToLng(ra, this.raLeft, c.lng)], z, { animate: false });
  }

  /**
   * Centre the map on a sky position. The trait takes the exact position typed (the
   * map itself can only sit on whole pixels).
   * @param {number} ra
   * @param {number} dec
   */
  goTo(ra, dec) {
    this.model.set("center", [normRa(ra), dec]);
    this.model.save_changes();
    this.applyViewFromModel();
  }

  /**
   * Centre on a layer's bounding box and zoom so that it fills the view.
   * @param {any} info  layer description with bounding_left/right/top/bottom (degrees)
   */
  fitToLayer(info) {
    let { bounding_left: l, bounding_right: r, bounding_top: t, bounding_bottom: b } = info ?? {};
    if (![l, r, t, b].every(isNum)) return;
    if (r < l) r += 360;
    const size = this.map.getSize();
    const width = Math.max(r - l, 1e-6);
    const height = Math.max(Math.abs(t - b), 1e-6);
    const fit = Math.log2(Math.min((size.x * 180) / (this.tileSize * width), (size.y * 180) / (this.tileSize * height)));
    const zoom = size.x > 0 && size.y > 0 ? Math.max(this.map.getMinZoom(), Math.floor(fit * 4) / 4) : this.map.getZoom();
    this.map.setView([(t + b) / 2, raToLng(normRa((l + r) / 2), this.raLeft)], zoom, { animate: false });
  }

  applyHeight() {
    const hgt = this.model.get("height");
    const fullscreen = document.fullscreenElement === this.root;
    this.mapWrap.style.height = fullscreen ? "" : `${isNum(hgt) && hgt > 0 ? hgt : 500}px`;
  }

  applyRaDirection() {
    const raLeft = this.model.get("ra_left") ?? true;
    if (raLeft === this.raLeft) return;
    const c = this.map.getCenter();
    const ra = lngToRa(c.lng, this.raLeft);
    this.raLeft = raLeft;
    this.map.setView([c.lat, raToLng(ra, raLeft)], this.map.getZoom(), { animate: false });
    this.mountTileLayer();
    this.graticule.redraw();
    this.emit("radirection", raLeft);
  }

  /** @param {import("./graticule.js").LabelMode} mode */
  setLabelMode(mode) {
    this.labelMode = mode;
    this.graticule.redraw();
    this.emit("labelmode", mode);
  }

  toggleFullscreen() {
    if (document.fullscreenElement === this.root) document.exitFullscreen?.();
    else this.root.requestFullscreen?.().catch((e) => console.warn("tilemaker-widget: full screen refused", e));
  }

  // --- errors ----------------------------------------------------------------------

  /**
   * @param {string} message
   * @param {boolean} [layerError]  also report through the `_error` trait
   */
  showError(message, layerError = true) {
    this.banner.textContent = message;
    this.banner.hidden = false;
    if (layerError && this.errorShown !== message) {
      this.errorShown = message;
      this.model.set("_error", message);
      this.model.save_changes();
    }
  }

  clearError() {
    this.banner.hidden = true;
    this.banner.textContent = "";
    if (this.errorShown || this.model.get("_error")) {
      this.errorShown = "";
      this.model.set("_error", "");
      this.model.save_changes();
    }
  }

  dispose() {
    clearTimeout(this.saveTimer);
    this.layerToken++;
    this.cmapToken++;
    for (const c of this.controls) c.dispose?.();
    this.disposer.dispose();
    this.graticule.dispose();
    this.unmountTileLayer();
    this.map.remove();
    this.root.remove();
    this.cache.clear();
  }
}
