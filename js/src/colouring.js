// Colouring on the client: the colormap's LUT, painting a tile's values through the
// range and stretch, and repainting every live tile (no request) when they change.

import { colourize, greyLut } from "./colour.js";
import { Events } from "./events.js";
import { colourizeCodes } from "./quantized.js";
import { ThrottledSave } from "./saves.js";

/** @typedef {import("./viewer.js").Viewer} Viewer */
/** @typedef {import("./tilelayer.js").TileState} TileState */

/** @type {WeakMap<Uint8Array, number>} */
const lutIds = new WeakMap();
let lastLutId = 0;

/** A number for each LUT object (the session memoises one per colormap). @param {Uint8Array} lut */
function lutId(lut) {
  let id = lutIds.get(lut);
  if (id === undefined) lutIds.set(lut, (id = ++lastLutId));
  return id;
}

export class Colouring {
  /** @param {Viewer} viewer */
  constructor(viewer) {
    this.viewer = viewer;
    /** @type {Uint8Array | null} */
    this.lut = null;
    this.token = 0;
    this.pending = false;
    this.saves = new ThrottledSave(viewer.model);
  }

  async loadColormap() {
    const v = this.viewer;
    const name = v.model.get("cmap") || "viridis";
    const token = ++this.token;
    try {
      const lut = await v.session.colormap(name);
      if (token !== this.token) return;
      this.lut = lut;
    } catch (e) {
      if (token !== this.token) return;
      v.banner.show(`Colormap "${name}" is not available: ${e instanceof Error ? e.message : e}`, false);
      if (this.lut) return;
      this.lut = greyLut();
    }
    v.events.emit(Events.LUT, this.lut);
    this.schedule();
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
    const m = this.viewer.model;
    const vmin = m.get("vmin");
    const vmax = m.get("vmax");
    const stretch = m.get("stretch") || "linear";
    const adjust = { gamma: m.get("gamma") ?? 1, contrast: m.get("contrast") ?? 1, brightness: m.get("brightness") ?? 0 };
    // The coloured pixels stay with the tile (in the tile cache, shared by the model's
    // views), so a tile shown again in the same colours (zooming back) is one
    // putImageData, not a recolouring. The LUT's own id, not a per-view counter, so
    // two views never mistake each other's colours.
    const stamp = `${lutId(this.lut)}|${vmin}|${vmax}|${stretch}|${adjust.gamma}|${adjust.contrast}|${adjust.brightness}`;
    // The tile layer hands back the canvas a cached tile was last shown on.
    if (data.canvas === canvas && data.canvasStamp === stamp) return;
    if (!data.rgba || data.rgba.width !== data.width || data.rgba.height !== data.height) {
      data.rgba = ctx.createImageData(data.width, data.height);
      data.rgbaStamp = "";
    }
    if (data.rgbaStamp !== stamp) {
      if (data.kind === "q8") colourizeCodes(data, this.lut, vmin, vmax, stretch, data.rgba.data, adjust);
      else colourize(data.values, this.lut, vmin, vmax, stretch, data.rgba.data, adjust);
      data.rgbaStamp = stamp;
    }
    ctx.putImageData(data.rgba, 0, 0);
    data.canvas = canvas;
    data.canvasStamp = stamp;
  }

  /** Repaint once per frame at most, however many traits changed. */
  schedule() {
    if (this.pending) return;
    this.pending = true;
    const run = () => {
      this.pending = false;
      this.repaintAll();
    };
    // rAF does not run in hidden tabs; the trait must still advance there.
    if (document.hidden) setTimeout(run, 0);
    else requestAnimationFrame(run);
  }

  repaintAll() {
    if (!this.lut) return;
    const live = this.viewer.layer.tileLayer?.liveTiles;
    if (live) for (const [canvas, state] of live) this.paint(canvas, state);
    // A range past the quantized tiles' span (or too narrow for 8 bits) fetches exact ones.
    this.viewer.layer.tileLayer?.refresh();
    this.viewer.events.emit(Events.RECOLOUR);
    this.countRender();
  }

  /** Every tile of the view has arrived (and was painted if a LUT is there). */
  tilesLoaded() {
    if (this.lut) this.countRender();
  }

  /** `_render_count` for tests and benchmarks, sent at most every 150 ms. */
  countRender() {
    const m = this.viewer.model;
    m.set("_render_count", (m.get("_render_count") ?? 0) + 1);
    this.saves.request();
  }

  dispose() {
    this.token++;
    this.saves.dispose();
  }
}
