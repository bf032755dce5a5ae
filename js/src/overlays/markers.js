// Marker rasterising straight into an ImageData: a marker is a precomputed list of
// pixel offsets ("stamp") written as whole 32-bit pixels. 100 000 markers cost a few
// milliseconds, where as many canvas path calls would cost tens.

/**
 * @typedef {object} Stamp
 * @property {Int32Array} fg  (dx, dy) pairs of the marker's own pixels
 * @property {Int32Array} halo  (dx, dy) pairs of its dark outline
 * @property {number} reach  largest |dx| or |dy|
 */

/**
 * Marker radius in CSS pixels for a scale: a dot when the whole sky is in view, a
 * ring that leaves the source's own pixels visible when zoomed in.
 * @param {number} pxPerDeg  CSS pixels per degree
 */
export function markerRadius(pxPerDeg) {
  return Math.max(1.5, Math.min(7, 1.5 + Math.log2(Math.max(pxPerDeg, 1) / 4)));
}

/**
 * @param {number} r  radius in device pixels
 * @returns {Stamp}
 */
export function makeStamp(r) {
  /** @type {number[]} */
  const fg = [];
  /** @type {number[]} */
  const halo = [];
  const ring = r > 3; // small markers are filled dots
  const width = Math.max(1.2, r / 4);
  const reach = Math.ceil(r + 1);
  for (let dy = -reach; dy <= reach; dy++) {
    for (let dx = -reach; dx <= reach; dx++) {
      const d = Math.hypot(dx, dy);
      const inFg = ring ? d <= r && d > r - width : d <= r;
      if (inFg) fg.push(dx, dy);
      // An outer outline only: the ring's inside shows the map's own pixels.
      else if (d <= r + 1 && d > r) halo.push(dx, dy);
    }
  }
  return { fg: Int32Array.from(fg), halo: Int32Array.from(halo), reach };
}

/**
 * Pack a CSS colour as a little-endian RGBA pixel (what a Uint32Array view of
 * ImageData holds).
 * @param {number} r
 * @param {number} g
 * @param {number} b
 * @param {number} [a]
 */
export function packRgba(r, g, b, a = 255) {
  return ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

/**
 * "#rgb", "#rrggbb" → [r, g, b]; anything else → null (callers normalise CSS names
 * through a canvas first).
 * @param {string} hex
 * @returns {[number, number, number] | null}
 */
export function parseHex(hex) {
  const m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(hex.trim());
  if (!m) return null;
  const s = m[1].length === 3 ? [...m[1]].map((c) => c + c).join("") : m[1];
  return [parseInt(s.slice(0, 2), 16), parseInt(s.slice(2, 4), 16), parseInt(s.slice(4, 6), 16)];
}

/**
 * Write a stamp's offsets at (cx, cy), clipped to the buffer.
 * @param {Uint32Array} buf
 * @param {number} width
 * @param {number} height
 * @param {number} cx  integer device pixel
 * @param {number} cy
 * @param {Int32Array} offsets
 * @param {number} reach
 * @param {number} pixel  packed RGBA
 */
export function stamp(buf, width, height, cx, cy, offsets, reach, pixel) {
  if (cx - reach >= 0 && cy - reach >= 0 && cx + reach < width && cy + reach < height) {
    // Wholly inside: no per-pixel bounds checks (the common case).
    const base = cy * width + cx;
    for (let k = 0; k < offsets.length; k += 2) buf[base + offsets[k + 1] * width + offsets[k]] = pixel;
    return;
  }
  for (let k = 0; k < offsets.length; k += 2) {
    const x = cx + offsets[k];
    const y = cy + offsets[k + 1];
    if (x >= 0 && y >= 0 && x < width && y < height) buf[y * width + x] = pixel;
  }
}
