// A uniform grid over (display longitude, Dec) for point catalogues: a counting sort
// puts each cell's points next to each other, so culling a view and finding the
// source under the mouse touch only the cells in question (100 000 points: ~2 ms to
// build, microseconds per click).

/** Cells per point: ~4 points per occupied cell keeps both queries and memory small. */
const POINTS_PER_CELL = 4;
const MAX_CELLS = 1 << 20;

export class PointIndex {
  /**
   * @param {Float64Array} lng  display longitudes, one copy of the strip: [-180, 180]
   * @param {Float64Array} dec
   */
  constructor(lng, dec) {
    const n = lng.length;
    this.lng = lng;
    this.dec = dec;
    let lng0 = Infinity, lng1 = -Infinity, dec0 = Infinity, dec1 = -Infinity;
    for (let i = 0; i < n; i++) {
      const x = lng[i], y = dec[i];
      if (x < lng0) lng0 = x;
      if (x > lng1) lng1 = x;
      if (y < dec0) dec0 = y;
      if (y > dec1) dec1 = y;
    }
    if (!n) lng0 = lng1 = dec0 = dec1 = 0;
    // Square cells over the points' own bounding box: a catalogue packed in a small
    // field gets fine cells, a full-sky one coarse cells.
    const w = Math.max(lng1 - lng0, 1e-9);
    const h = Math.max(dec1 - dec0, 1e-9);
    const target = Math.min(MAX_CELLS, Math.max(1, Math.ceil(n / POINTS_PER_CELL)));
    let cell = Math.sqrt((w * h) / target);
    // A thin strip (all points on one line) must not make a single giant cell.
    cell = Math.max(cell, Math.max(w, h) / MAX_CELLS, 1e-9);
    this.cell = cell;
    this.lng0 = lng0;
    this.dec0 = dec0;
    this.nx = Math.min(MAX_CELLS, Math.floor(w / cell) + 1);
    this.ny = Math.max(1, Math.min(Math.floor(MAX_CELLS / this.nx), Math.floor(h / cell) + 1));
    const cells = this.nx * this.ny;
    const cellOf = new Int32Array(n);
    /** start of each cell's run in `order`; cellStart[cells] = n */
    this.cellStart = new Int32Array(cells + 1);
    for (let i = 0; i < n; i++) {
      const c = this.cellIndex(lng[i], dec[i]);
      cellOf[i] = c;
      this.cellStart[c + 1]++;
    }
    for (let c = 0; c < cells; c++) this.cellStart[c + 1] += this.cellStart[c];
    const fill = this.cellStart.slice(0, cells);
    /** point indices, grouped by cell */
    this.order = new Int32Array(n);
    for (let i = 0; i < n; i++) this.order[fill[cellOf[i]]++] = i;
  }

  /** @param {number} x @param {number} y */
  cellIndex(x, y) {
    const cx = Math.min(this.nx - 1, Math.max(0, Math.floor((x - this.lng0) / this.cell)));
    const cy = Math.min(this.ny - 1, Math.max(0, Math.floor((y - this.dec0) / this.cell)));
    return cy * this.nx + cx;
  }

  /**
   * Call `fn(i)` for every point whose cell meets the rectangle (a superset of the
   * points inside it: callers clip, which they do anyway when drawing).
   * @param {number} lngMin
   * @param {number} lngMax
   * @param {number} decMin
   * @param {number} decMax
   * @param {(i: number) => void} fn
   */
  forEachIn(lngMin, lngMax, decMin, decMax, fn) {
    if (lngMax < lngMin || decMax < decMin || !this.order.length) return;
    const x0 = Math.max(0, Math.floor((lngMin - this.lng0) / this.cell));
    const x1 = Math.min(this.nx - 1, Math.floor((lngMax - this.lng0) / this.cell));
    const y0 = Math.max(0, Math.floor((decMin - this.dec0) / this.cell));
    const y1 = Math.min(this.ny - 1, Math.floor((decMax - this.dec0) / this.cell));
    const { order, cellStart, nx } = this;
    for (let cy = y0; cy <= y1; cy++) {
      // Cells of a row are contiguous in `order`: one run per row.
      const a = cellStart[cy * nx + x0];
      const b = cellStart[cy * nx + x1 + 1];
      for (let k = a; k < b; k++) fn(order[k]);
    }
  }

  /**
   * The point nearest (lng, dec) within `radius` degrees (Euclidean in the CAR plane,
   * which is what the screen shows), or -1.
   * @param {number} lng  in the same copy of the strip as the points
   * @param {number} dec
   * @param {number} radius
   */
  nearest(lng, dec, radius) {
    let best = -1;
    let bestD = radius * radius;
    this.forEachIn(lng - radius, lng + radius, dec - radius, dec + radius, (i) => {
      const dx = this.lng[i] - lng;
      const dy = this.dec[i] - dec;
      const d = dx * dx + dy * dy;
      if (d <= bestD) {
        bestD = d;
        best = i;
      }
    });
    return best;
  }
}
