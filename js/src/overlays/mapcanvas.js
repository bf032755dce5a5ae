// A canvas laid over the whole map and redrawn as the view moves: the base of the
// overlays that draw in screen pixels (graticule, polarization vectors).

/** A full-map canvas shown and hidden with the overlay; subclasses implement `redraw`. */
export class MapCanvas {
  /**
   * @param {any} map  L.Map
   * @param {string} className  the canvas's CSS class
   */
  constructor(map, className) {
    this.map = map;
    this.canvas = document.createElement("canvas");
    this.canvas.className = className;
    this.visible = false;
    this.redraw = this.redraw.bind(this);
    // During a zoom animation the drawing would be at the old scale: hide it until the
    // zoom ends and the overlay is drawn again.
    this.hide = () => { this.canvas.style.visibility = "hidden"; };
  }

  /** @param {boolean} on */
  show(on) {
    if (on === this.visible) return;
    this.visible = on;
    if (on) {
      this.map.getContainer().appendChild(this.canvas);
      this.map.on("move zoomend resize viewreset", this.redraw);
      this.map.on("zoomanim", this.hide);
      this.redraw();
    } else {
      this.map.off("move zoomend resize viewreset", this.redraw);
      this.map.off("zoomanim", this.hide);
      this.canvas.remove();
    }
  }

  /**
   * Make the canvas visible, sized to the map in device pixels, and cleared.
   * @returns {{ctx: CanvasRenderingContext2D, size: {x: number, y: number}} | null}
   *   the context in CSS pixels, or null when there is nothing to draw on
   */
  clear() {
    const size = this.map.getSize();
    const dpr = globalThis.devicePixelRatio || 1;
    const c = this.canvas;
    c.style.visibility = "visible";
    if (c.width !== Math.round(size.x * dpr) || c.height !== Math.round(size.y * dpr)) {
      c.width = Math.round(size.x * dpr);
      c.height = Math.round(size.y * dpr);
      c.style.width = `${size.x}px`;
      c.style.height = `${size.y}px`;
    }
    const ctx = c.getContext("2d");
    if (!ctx || size.x === 0 || size.y === 0) return null;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, size.x, size.y);
    return { ctx, size };
  }

  redraw() {}

  dispose() {
    this.show(false);
  }
}
