// The viewer: the DOM of one view, its Leaflet map and controls, wired to a model-like
// object (the anywidget model or the page's PageModel) and to the model's Session.
// Each concern has its module: layers.js (which layer, its tiles), colouring.js (LUT,
// repaint), nanfill.js (NaN colour), view.js (centre and zoom), fullscreen.js (height),
// banner.js (errors).

import L from "leaflet";
import { ErrorBanner } from "./banner.js";
import { Colouring } from "./colouring.js";
import { DEFAULT_TILE_SIZE, MIN_ZOOM, makeCrs } from "./crs.js";
import { Disposer, h } from "./dom.js";
import { EventBus, Events } from "./events.js";
import { Fullscreen } from "./fullscreen.js";
import { Graticule } from "./graticule.js";
import { LayerShown } from "./layers.js";
import { NanFill } from "./nanfill.js";
import { isNum } from "./numbers.js";
import { raToLng } from "./sky.js";
import { ViewSync } from "./view.js";
import { createLayerMenu } from "./controls/layermenu.js";
import { createColormapPicker } from "./controls/colormap.js";
import { createStretchSelect } from "./controls/stretch.js";
import { createQualitySelect } from "./controls/quality.js";
import { createRangeControl } from "./controls/range.js";
import { createGoto } from "./controls/goto.js";
import { createViewButtons } from "./controls/viewbuttons.js";
import { createStatusLine } from "./controls/status.js";
import { createColourBarOverlay } from "./controls/colourbar.js";
import { createOverlays } from "./overlays/index.js";
import { createTools } from "./tools/index.js";
import { PolVectorOverlay } from "./overlays/polvectors.js";

/** @typedef {import("./model.js").ModelLike} ModelLike */
/** @typedef {import("./session.js").Session} Session */
/** @typedef {import("./layers.js").LayerEntry} LayerEntry */
/** @typedef {import("./events.js").EventName} EventName */
/** @typedef {import("./events.js").EventDetails} EventDetails */
/** @typedef {{el: HTMLElement, dispose?: () => void}} Control */

export class Viewer {
  /**
   * @param {HTMLElement} el
   * @param {ModelLike} model
   * @param {Session} session  shared by every view of the model
   */
  constructor(el, model, session) {
    this.model = model;
    this.session = session;
    this.disposer = new Disposer();
    this.events = new EventBus();
    // The first layer's grid when its entry gives it, so the zoom asked for is that grid's.
    const first = session.entry(model.get("layer")) ?? session.layers()[0];
    this.tileSize = isNum(first?.tile_size) ? first.tile_size : DEFAULT_TILE_SIZE;
    this.raLeft = model.get("ra_left") ?? true;
    /** @type {import("./graticule.js").LabelMode} */
    this.labelMode = "sexagesimal";

    this.banner = new ErrorBanner(model);
    // Inline, because Leaflet built in a detached element (JupyterLab renders outputs
    // before attaching them) reads no computed position and sets an inline `relative`
    // that would override `.tmw-map`'s absolute placement: a blank map of height 0.
    this.mapEl = h("div", { class: "tmw-map", style: { position: "absolute" } });
    this.mapWrap = h("div", { class: "tmw-mapwrap" }, this.mapEl, this.banner.el);
    this.toolbar = h("div", { class: "tmw-toolbar" });
    this.statusEl = h("div", { class: "tmw-status" });
    this.root = h("div", { class: "tmw-root" }, this.toolbar, this.mapWrap, this.statusEl);
    el.appendChild(this.root);

    this.view = new ViewSync(this);
    this.fullscreen = new Fullscreen(this);
    this.fullscreen.applyHeight();
    const [ra, dec] = this.view.modelCenter();
    this.map = L.map(this.mapEl, {
      crs: makeCrs(this.tileSize),
      center: [dec, raToLng(ra, this.raLeft)],
      zoom: this.view.modelZoom(0),
      minZoom: MIN_ZOOM,
      maxZoom: 14,
      zoomSnap: 0.25,
      zoomDelta: 0.5,
      wheelPxPerZoomLevel: 120,
      attributionControl: false,
      zoomControl: false,
      fadeAnimation: false,
      // Our ResizeObserver handles every size change (Leaflet's window listener would
      // pan later, as if the user had).
      trackResize: false,
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
    this.nan = new NanFill(this);
    /** polarization vectors from the shown map's Q/U tiles (overlays/polvectors.js) */
    this.polVectors = new PolVectorOverlay(this);
    this.layer = new LayerShown(this);
    this.colouring = new Colouring(this);

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
    add(createQualitySelect(this), this.toolbar);
    add(createStatusLine(this), this.statusEl);
    add(createColourBarOverlay(this), this.mapWrap);
    /** catalogues, boxes and the box tool (overlays/) */
    this.overlays = createOverlays(this);
    add(this.overlays, this.mapWrap);
    /** ruler, profile, values across layers, contrast (tools/) */
    this.tools = createTools(this);
    add(this.tools, this.mapWrap);

    this.wireModel();
    this.wireMap();

    this.graticule.show(!!model.get("graticule"));
    this.polVectors.show(!!model.get("pol_vectors"));
    this.colouring.loadColormap();
    this.layer.show(model.get("layer"));
  }

  // --- what the controls use ---------------------------------------------------------

  get source() {
    return this.session.source;
  }

  get layerId() {
    return this.layer.id;
  }

  get lut() {
    return this.colouring.lut;
  }

  layers() {
    return this.session.layers();
  }

  /** @param {string} id */
  layerEntry(id) {
    return this.session.entry(id);
  }

  units() {
    return this.layer.units();
  }

  /** @param {string} id */
  selectLayer(id) {
    this.layer.select(id);
  }

  /** @param {number} delta */
  stepLayer(delta) {
    this.layer.step(delta);
  }

  /** @param {number} ra @param {number} dec */
  goTo(ra, dec) {
    this.view.goTo(ra, dec);
  }

  toggleFullscreen() {
    this.fullscreen.toggle();
  }

  /** @param {import("./graticule.js").LabelMode} mode */
  setLabelMode(mode) {
    this.labelMode = mode;
    this.graticule.redraw();
    this.emit(Events.LABEL_MODE, mode);
  }

  /**
   * @template {EventName} K
   * @param {K} type
   * @param {EventDetails[K]} [detail]
   */
  emit(type, detail) {
    this.events.emit(type, detail);
  }

  /**
   * Listen to a viewer event; removed on dispose.
   * @template {EventName} K
   * @param {K} type
   * @param {(detail: EventDetails[K]) => void} cb
   */
  on(type, cb) {
    this.disposer.add(this.events.on(type, cb));
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

  // --- wiring ------------------------------------------------------------------------

  wireModel() {
    this.listen("change:layer", () => this.layer.show(this.model.get("layer")));
    this.listen("change:cmap", () => this.colouring.loadColormap());
    this.listen("change:quality", () => this.layer.tileLayer?.refresh());
    for (const name of ["vmin", "vmax", "stretch", "gamma", "contrast", "brightness"]) this.listen(`change:${name}`, () => this.colouring.schedule());
    this.listen("change:center", () => this.view.fromModel());
    this.listen("change:zoom", () => this.view.fromModel());
    this.listen("change:height", () => this.fullscreen.applyHeight());
    this.listen("change:ra_left", () => this.view.applyRaDirection());
    this.listen("change:graticule", () => this.graticule.show(!!this.model.get("graticule")));
    this.listen("change:pol_vectors", () => this.polVectors.show(!!this.model.get("pol_vectors")));
    // Segment lengths follow the P layer's range; the Q/U tiles are held: no request.
    this.listen("change:vmax", () => this.polVectors.redraw());
    this.on(Events.LAYER_INFO, () => this.polVectors.redraw());
    this.listen("change:layers", () => {
      Promise.resolve(this.source.sync?.(this.layers())).then(() => this.emit(Events.LAYERS));
      if (!this.layer.tileLayer) this.layer.show(this.model.get("layer"));
    });
  }

  wireMap() {
    this.map.on("moveend", () => this.view.moved());
    const ro = new ResizeObserver(() => {
      this.view.resized();
      this.graticule.redraw();
    });
    ro.observe(this.mapEl);
    this.disposer.add(() => ro.disconnect());
    this.disposer.listen(this.mapEl, "keydown", (/** @type {KeyboardEvent} */ e) => {
      if (e.target !== this.mapEl) return;
      if (e.key === "PageDown" || e.key === "]") this.stepLayer(1);
      else if (e.key === "PageUp" || e.key === "[") this.stepLayer(-1);
      else return;
      e.preventDefault();
    });
  }

  dispose() {
    this.layer.dispose();
    this.nan.dispose();
    this.colouring.dispose();
    for (const c of this.controls) c.dispose?.();
    this.disposer.dispose();
    this.graticule.dispose();
    this.polVectors.dispose();
    this.map.remove();
    this.root.remove();
  }
}
