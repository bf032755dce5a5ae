// Source catalogues: every catalogue of the `catalogues` trait drawn as markers on ONE
// canvas (skycanvas.js), positions in typed arrays with a grid index (spatial.js) for
// culling and for finding the source under a click.

import L from "leaflet";
import { h } from "../dom.js";
import { formatDec, formatRa } from "../sky.js";
import { getJson } from "../transport.js";
import { makeStamp, markerRadius, packRgba, parseHex, stamp } from "./markers.js";
import { createSkyCanvasLayer } from "./skycanvas.js";
import { PointIndex } from "./spatial.js";
import { Events } from "../events.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */
/** @typedef {import("./skycanvas.js").CanvasView} CanvasView */

/**
 * An entry of the `catalogues` trait.
 * @typedef {object} CatalogueEntry
 * @property {string} id
 * @property {string} name
 * @property {string} [color]
 * @property {boolean} [visible]
 * @property {number | null} [n]
 */

/**
 * @typedef {object} Catalogue
 * @property {CatalogueEntry} entry  as last received from the model
 * @property {string} colour  "#rrggbb"
 * @property {boolean} visible
 * @property {{ra: Float64Array, dec: Float64Array, labels: (string | null)[], extra: any[]} | null} table
 * @property {Float64Array | null} lng  display longitudes for `raLeft`
 * @property {PointIndex | null} index
 * @property {boolean} raLeft
 * @property {string} error
 */

/** @typedef {{cat: Catalogue, i: number, lng: number, d: number}} SourceHit */

const HALO = packRgba(0, 0, 0, 150);
const DEFAULT_COLOUR = "#ffd400";

/** @type {CanvasRenderingContext2D | null} */
let colourCtx = null;

/**
 * Any CSS colour → "#rrggbb" (what `<input type=color>` and the rasteriser take).
 * @param {string | undefined} colour
 */
export function normaliseColour(colour) {
  if (!colour) return DEFAULT_COLOUR;
  if (parseHex(colour)) return colour.length === 4 ? `#${[...colour.slice(1)].map((c) => c + c).join("")}` : colour.toLowerCase();
  colourCtx ??= document.createElement("canvas").getContext("2d");
  if (!colourCtx) return DEFAULT_COLOUR;
  colourCtx.fillStyle = DEFAULT_COLOUR;
  colourCtx.fillStyle = colour;
  const s = String(colourCtx.fillStyle);
  return parseHex(s) ? s : DEFAULT_COLOUR;
}

export class CatalogueOverlay {
  /** @param {Viewer} viewer */
  constructor(viewer) {
    this.viewer = viewer;
    /** @type {Map<string, Catalogue>} in drawing order (last on top) */
    this.items = new Map();
    /** @type {Map<number, import("./markers.js").Stamp>} */
    this.stamps = new Map();
    this.layer = createSkyCanvasLayer(L, (img, px, view) => this.paint(img, px, view), () => viewer.tileSize);
    this.layer.addTo(viewer.map);
    viewer.listen("change:catalogues", () => this.sync());
    viewer.on(Events.RA_DIRECTION, () => {
      for (const c of this.items.values()) this.project(c);
      this.layer.redraw();
    });
    this.sync();
  }

  /** The widget's catalogues live in the kernel; the full page has only HTTP. */
  get source() {
    return this.viewer.source.comm ?? this.viewer.source;
  }

  /** @returns {CatalogueEntry[]} */
  entries() {
    const v = this.viewer.model.get("catalogues");
    return Array.isArray(v) ? v.filter((e) => e && typeof e.id === "string") : [];
  }

  /** Follow the trait: load new catalogues, drop removed ones, take Python's colour/visibility changes. */
  sync() {
    const entries = this.entries();
    /** @type {Map<string, Catalogue>} */
    const next = new Map();
    for (const e of entries) {
      let c = this.items.get(e.id);
      if (!c) {
        c = { entry: e, colour: normaliseColour(e.color), visible: e.visible !== false, table: null, lng: null, index: null, raLeft: this.viewer.raLeft, error: "" };
        this.load(c);
      } else {
        // Only a change made on the Python side overrides the view's own toggles.
        if (e.color !== c.entry.color) c.colour = normaliseColour(e.color);
        if (e.visible !== c.entry.visible) c.visible = e.visible !== false;
        c.entry = e;
      }
      next.set(e.id, c);
    }
    this.items = next;
    this.viewer.emit(Events.CATALOGUES);
    this.layer.redraw();
  }

  /** @param {Catalogue} c */
  async load(c) {
    const id = c.entry.id;
    try {
      const t = await getJson(this.source, `sources/${encodeURIComponent(id)}/table`);
      if (this.items.get(id) !== c) return;
      c.table = {
        ra: Float64Array.from(t?.ra ?? []),
        dec: Float64Array.from(t?.dec ?? []),
        labels: Array.isArray(t?.labels) ? t.labels : [],
        extra: Array.isArray(t?.extra) ? t.extra : [],
      };
      this.project(c);
    } catch (e) {
      if (this.items.get(id) !== c) return;
      c.error = e instanceof Error ? e.message : String(e);
      console.warn(`tilemaker-widget: catalogue ${id} not loaded`, e);
    }
    this.viewer.emit(Events.CATALOGUES);
    this.layer.redraw();
  }

  /**
   * Display longitudes for the current RA direction (one copy of the strip) and their index.
   * @param {Catalogue} c
   */
  project(c) {
    if (!c.table) return;
    const raLeft = this.viewer.raLeft;
    const { ra, dec } = c.table;
    const lng = new Float64Array(ra.length);
    for (let i = 0; i < ra.length; i++) {
      const r = ((ra[i] % 360) + 360) % 360;
      lng[i] = raLeft ? 180 - r : r >= 180 ? r - 360 : r;
    }
    c.lng = lng;
    c.raLeft = raLeft;
    c.index = new PointIndex(lng, dec);
  }

  /** @param {string} id @param {boolean} on */
  setVisible(id, on) {
    const c = this.items.get(id);
    if (!c || c.visible === on) return;
    c.visible = on;
    this.viewer.emit(Events.CATALOGUES);
    this.layer.redraw();
  }

  /** @param {string} id @param {string} colour */
  setColour(id, colour) {
    const c = this.items.get(id);
    if (!c) return;
    c.colour = normaliseColour(colour);
    this.layer.redraw();
  }

  /** @param {number} r  device pixels */
  stampFor(r) {
    const key = Math.round(r * 4);
    let s = this.stamps.get(key);
    if (!s) this.stamps.set(key, (s = makeStamp(key / 4)));
    return s;
  }

  /** Marker radius (CSS px) at the current zoom. */
  radius() {
    return markerRadius((2 ** this.viewer.map.getZoom() * this.viewer.tileSize) / 180);
  }

  /**
   * @param {ImageData} image
   * @param {Uint32Array} pixels
   * @param {CanvasView} view
   */
  paint(image, pixels, view) {
    const W = image.width;
    const H = image.height;
    const scale = view.worldWidth / 360; // CSS px per degree
    const st = this.stampFor(markerRadius(scale) * view.dpr);
    const margin = (st.reach + 1) / view.dpr / scale;
    const west = view.x0 / scale - 180 - margin;
    const east = (view.x0 + view.width) / scale - 180 + margin;
    const north = 90 - view.y0 / scale + margin;
    const south = 90 - (view.y0 + view.height) / scale - margin;
    const shown = [...this.items.values()].filter((c) => c.visible && c.index && c.lng);
    // Halos first for every marker, so no halo covers another marker's colour.
    for (const pass of [st.halo, st.fg]) {
      for (const c of shown) {
        const rgb = parseHex(c.colour) ?? [255, 212, 0];
        const pixel = pass === st.fg ? packRgba(rgb[0], rgb[1], rgb[2]) : HALO;
        const lng = /** @type {Float64Array} */ (c.lng);
        const dec = /** @type {Float64Array} */ (c.table?.dec);
        // The strip repeats every 360°: draw each copy in view.
        for (let k = Math.ceil((west - 180) / 360); k <= Math.floor((east + 180) / 360); k++) {
          const off = 360 * k;
          const dx = (off + 180) * scale - view.x0;
          const dy = 90 * scale - view.y0;
          /** @type {PointIndex} */ (c.index).forEachIn(west - off, east - off, south, north, (i) => {
            const x = Math.floor((lng[i] * scale + dx) * view.dpr);
            const y = Math.floor((dy - dec[i] * scale) * view.dpr);
            stamp(pixels, W, H, x, y, pass, st.reach, pixel);
          });
        }
      }
    }
  }

  /**
   * The shown source nearest a container point, within a few pixels.
   * @param {{x: number, y: number}} point  container pixels
   * @returns {SourceHit | null}
   */
  hit(point) {
    const map = this.viewer.map;
    const ll = map.containerPointToLatLng(L.point(point.x, point.y));
    const scale = (2 ** map.getZoom() * this.viewer.tileSize) / 180;
    const radius = Math.max(this.radius() + 2, 5) / scale;
    const base = ((((ll.lng + 180) % 360) + 360) % 360) - 180;
    /** @type {SourceHit | null} */
    let best = null;
    for (const c of this.items.values()) {
      if (!c.visible || !c.index || !c.lng) continue;
      // Near the strip's seam the nearest source may sit in the neighbouring copy.
      for (const off of [0, -360, 360]) {
        const i = c.index.nearest(base + off, ll.lat, radius);
        if (i < 0) continue;
        const d = Math.hypot(c.lng[i] - base - off, c.index.dec[i] - ll.lat);
        // `<=`: later catalogues are drawn on top, so they win ties.
        if (!best || d <= best.d) best = { cat: c, i, lng: c.lng[i] - off + (ll.lng - base), d };
      }
    }
    return best;
  }

  /**
   * Select a source: the `selected_source` trait and a popup.
   * @param {SourceHit} hit
   */
  select(hit) {
    const { cat, i } = hit;
    const t = cat.table;
    if (!t) return;
    const label = t.labels[i] ?? null;
    const extra = t.extra[i] && typeof t.extra[i] === "object" ? t.extra[i] : {};
    const ra = t.ra[i];
    const dec = t.dec[i];
    const model = this.viewer.model;
    model.set("selected_source", { catalogue: cat.entry.id, index: i, name: label, ra, dec, extra });
    model.save_changes();
    const rows = Object.entries(extra).map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, v === null ? "—" : String(v))));
    const content = h(
      "div",
      { class: "tmw-popup-source" },
      h("div", { class: "tmw-popup-title" }, label ?? `source ${i}`),
      h("div", { class: "tmw-popup-sub" }, cat.entry.name),
      h("div", { class: "tmw-popup-coord" }, `RA ${ra.toFixed(5)}°  Dec ${dec >= 0 ? "+" : ""}${dec.toFixed(5)}°`),
      h("div", { class: "tmw-popup-coord" }, `${formatRa(ra)}  ${formatDec(dec)}`),
      rows.length ? h("table", { class: "tmw-popup-extra" }, ...rows) : null,
    );
    L.popup({ className: "tmw-popup", maxWidth: 340, autoPanPadding: L.point(20, 20) })
      .setLatLng([dec, hit.lng])
      .setContent(content)
      .openOn(this.viewer.map);
  }

  dispose() {
    this.layer.remove();
    this.items.clear();
  }
}
