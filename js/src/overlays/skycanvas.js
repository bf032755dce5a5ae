// One canvas in a Leaflet pane that a callback paints pixel by pixel (ImageData), for
// overlays with too many items for DOM or SVG elements. The canvas covers the view
// plus a margin and moves with the map pane, so a drag only repaints when it has
// uncovered the margin; a zoom animation scales it like Leaflet's own renderers.

/**
 * What the painter needs to turn sky positions into canvas pixels.
 * @typedef {object} CanvasView
 * @property {number} x0  Leaflet world pixel (at `zoom`) of the canvas's left edge
 * @property {number} y0  world pixel of its top edge
 * @property {number} width  CSS pixels
 * @property {number} height
 * @property {number} zoom
 * @property {number} dpr  device pixels per CSS pixel
 * @property {number} worldWidth  world pixels across the full strip (360°) at `zoom`
 */

/**
 * @typedef {(image: ImageData, pixels: Uint32Array, view: CanvasView) => void} Painter
 */

const PADDING = 0.25;

/**
 * @param {any} L  Leaflet
 * @param {Painter} paint
 * @param {() => number} tileSize  the CRS's tile size (world width = 2^(z+1)·T)
 * @returns {any} an L.Layer with `redraw()` (repaint on the next frame) and `canvas`
 */
export function createSkyCanvasLayer(L, paint, tileSize) {
  const SkyCanvas = L.Layer.extend({
    /** @param {any} map */
    onAdd(map) {
      const animated = map._zoomAnimated;
      this.canvas = L.DomUtil.create("canvas", `tmw-sky-canvas leaflet-zoom-${animated ? "animated" : "hide"}`);
      this.getPane().appendChild(this.canvas);
      this.frame = 0;
      /** @type {any} */
      this.drawn = null; // {topLeft, size, zoom, nw}
      this.paintNow();
    },

    onRemove() {
      this.cancel();
      L.DomUtil.remove(this.canvas);
      this.drawn = null;
    },

    getEvents() {
      /** @type {Record<string, Function>} */
      const ev = { move: this.onMove, moveend: this.onMoveEnd, viewreset: this.redraw, resize: this.redraw };
      if (this._map?._zoomAnimated) ev.zoomanim = this.onZoomAnim;
      return ev;
    },

    cancel() {
      if (this.frame) cancelAnimationFrame(this.frame);
      if (this.timer) clearTimeout(this.timer);
      this.frame = 0;
      this.timer = 0;
    },

    /** Repaint on the next frame (one paint however many requests). */
    redraw() {
      if (!this._map || this.frame || this.timer) return;
      const run = () => {
        this.frame = 0;
        this.timer = 0;
        this.paintNow();
      };
      // rAF does not run in hidden tabs; state must still reach the canvas there.
      if (document.hidden) this.timer = setTimeout(run, 0);
      else this.frame = requestAnimationFrame(run);
    },

    /**
     * Does the painted canvas still cover the view, keeping `keep` (0–1) of its margin?
     * Positions are in layer pixels, which a pan leaves alone, so while it covers the
     * view no repaint is needed.
     * @param {number} keep
     */
    covers(keep) {
      const d = this.drawn;
      const map = this._map;
      if (!d || map.getZoom() !== d.zoom) return false;
      const tl = map.containerPointToLayerPoint([0, 0]);
      const size = map.getSize();
      const mx = ((d.size.x - size.x) / 2) * keep;
      const my = ((d.size.y - size.y) / 2) * keep;
      return tl.x >= d.topLeft.x + mx && tl.y >= d.topLeft.y + my &&
        tl.x + size.x <= d.topLeft.x + d.size.x - mx && tl.y + size.y <= d.topLeft.y + d.size.y - my;
    },

    /** During a drag: repaint only once the view leaves the painted area. */
    onMove() {
      if (!this.covers(0)) this.redraw();
    },

    /** After a pan: re-centre the painted area once half its margin is used up. */
    onMoveEnd() {
      if (!this.covers(0.5)) this.redraw();
    },

    /** @param {{zoom: number, center: any}} e */
    onZoomAnim(e) {
      const d = this.drawn;
      if (!d) return;
      const map = this._map;
      const scale = map.getZoomScale(e.zoom, d.zoom);
      const offset = map._latLngToNewLayerPoint(d.nw, e.zoom, e.center);
      L.DomUtil.setTransform(this.canvas, offset, scale);
    },

    paintNow() {
      const map = this._map;
      if (!map) return;
      const view = map.getSize();
      if (!view.x || !view.y) return;
      const pad = view.multiplyBy(PADDING).round();
      const topLeft = map.containerPointToLayerPoint([-pad.x, -pad.y]).round();
      const size = view.add(pad.multiplyBy(2));
      const dpr = globalThis.devicePixelRatio || 1;
      const c = this.canvas;
      const w = Math.round(size.x * dpr);
      const h = Math.round(size.y * dpr);
      if (c.width !== w || c.height !== h) {
        c.width = w;
        c.height = h;
        c.style.width = `${size.x}px`;
        c.style.height = `${size.y}px`;
        this.image = null;
      }
      L.DomUtil.setPosition(c, topLeft);
      const zoom = map.getZoom();
      this.drawn = { topLeft, size, zoom, nw: map.layerPointToLatLng(topLeft) };
      const ctx = c.getContext("2d");
      if (!ctx) return;
      if (!this.image) {
        this.image = ctx.createImageData(w, h);
        this.pixels = new Uint32Array(this.image.data.buffer);
      }
      this.pixels.fill(0);
      const origin = map.getPixelOrigin();
      paint(this.image, this.pixels, {
        x0: topLeft.x + origin.x,
        y0: topLeft.y + origin.y,
        width: size.x,
        height: size.y,
        zoom,
        dpr,
        worldWidth: 2 ** (zoom + 1) * tileSize(),
      });
      ctx.putImageData(this.image, 0, 0);
      map.fire("tmw:overlaydrawn");
    },
  });
  return new SkyCanvas({ pane: "overlayPane" });
}
