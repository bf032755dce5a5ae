// Polarization vectors: headless segments over the map, length ∝ P, orientation ψ,
// drawn in the browser from the Q and U data tiles of the map shown (the same tiles
// the viewer shows as layers, fetched once and kept).
//
// Density: one segment every SPACING screen pixels. The data come from the level whose
// pixel is about SPACING pixels on screen, so each segment shows the block mean of Q
// and U under it (P of means, as the P layer's lower levels); past the native level one
// native pixel in every `stride` is drawn.
//
// Orientation: ψ = ½ atan2(±U, Q) east of north (IAU; U's sign flipped for COSMO maps,
// as the ψ layer says), drawn north up with east to the left (RA increasing to the
// left) or to the right, as the map is shown.

import { decodeDataTile } from "../datatile.js";
import { MapCanvas } from "./mapcanvas.js";

/** @typedef {import("../viewer.js").Viewer} Viewer */
/** @typedef {import("../layers.js").LayerEntry} LayerEntry */

/** Screen pixels between segments. */
export const SPACING = 24;
const MAX_TILES = 256;

/**
 * The data level and stride for a zoom: level pixels of about `spacing` screen pixels.
 * @param {number} zoom  Leaflet zoom (fractional allowed)
 * @param {number} native  the layer's native level
 * @param {number} [spacing]
 * @returns {{level: number, stride: number, pixel: number}} pixel = screen px per level pixel
 */
export function vectorLevel(zoom, native, spacing = SPACING) {
  const level = Math.max(0, Math.min(native, Math.round(zoom - Math.log2(spacing))));
  const pixel = 2 ** (zoom - level);
  return { level, stride: Math.max(1, Math.round(spacing / pixel)), pixel };
}

/**
 * A segment's screen direction for angle ψ (degrees east of north).
 * @param {number} psiDeg
 * @param {boolean} raLeft  east (RA increasing) to the left
 * @returns {[number, number]} unit vector, screen y down
 */
export function screenDirection(psiDeg, raLeft) {
  const p = (psiDeg * Math.PI) / 180;
  return [Math.sin(p) * (raLeft ? -1 : 1), -Math.cos(p)];
}

/**
 * The Q, U layers (and the P and ψ layers, for scale and convention) of the band shown.
 * @param {LayerEntry[]} layers
 * @param {string} layerId
 */
export function polarizationInputs(layers, layerId) {
  const current = layers.find((l) => l.id === layerId);
  if (!current) return null;
  const band = layers.filter((/** @type {any} */ l) => l.band_id === /** @type {any} */ (current).band_id && l.map_id === /** @type {any} */ (current).map_id);
  const q = band.find((l) => l.name === "Q");
  const u = band.find((l) => l.name === "U");
  if (!q || !u) return null;
  const p = band.find((/** @type {any} */ l) => l.polarization?.quantity === "P");
  const psi = band.find((/** @type {any} */ l) => l.polarization?.quantity === "angle");
  return { q, u, p, psi };
}

export class PolVectorOverlay extends MapCanvas {
  /** @param {Viewer} viewer */
  constructor(viewer) {
    super(viewer.map, "tmw-polvectors");
    this.viewer = viewer;
    /** @type {Map<string, Promise<any> | any>} key → decoded tile, null (off the map) or a pending promise */
    this.tiles = new Map();
    /** @type {Map<string, Float32Array>} per level tile: its segments (see tileSegments) */
    this.segments = new Map();
    /** segments drawn by the last paint (for tests and the status line) */
    this.drawn = 0;
  }

  /**
   * A data tile, fetched once: the decoded tile, null off the map, or undefined while it comes.
   * @param {string} layerId
   * @param {number} z
   * @param {number} y
   * @param {number} x  display column (the server applies the flip)
   * @param {0 | 1} flip
   */
  tile(layerId, z, y, x, flip) {
    const key = `${layerId}/${z}/${y}/${x}/${flip}`;
    const held = this.tiles.get(key);
    if (held !== undefined && !(held instanceof Promise)) return held;
    if (held === undefined) {
      const pending = this.viewer.source
        .request("GET", `layers/${layerId}/${z}/${y}/${x}/tile.f16`, flip ? { flip: 1 } : {}, null)
        .then((r) => (r.status === 200 ? decodeDataTile(r.body) : null))
        .catch(() => null)
        .then((t) => {
          this.tiles.set(key, t);
          this.redraw();
          return t;
        });
      this.tiles.set(key, pending);
      while (this.tiles.size > MAX_TILES) this.tiles.delete(/** @type {string} */ (this.tiles.keys().next().value));
    }
    return undefined;
  }

  /**
   * The segments of one level tile (tile pixel x, y of the centre, P, ψ), computed once
   * when both its Q and U tiles are here: panning only moves and strokes them.
   * @param {any} inputs
   * @param {number} z
   * @param {number} y
   * @param {number} x
   * @param {0 | 1} flip
   * @param {number} stride
   * @param {number} sign  −1 for a COSMO map's U
   * @returns {Float32Array | null}
   */
  tileSegments(inputs, z, y, x, flip, stride, sign) {
    const key = `${inputs.q.id}/${inputs.u.id}/${z}/${y}/${x}/${flip}/${stride}/${sign}`;
    const held = this.segments.get(key);
    if (held) return held;
    const tq = this.tile(inputs.q.id, z, y, x, flip);
    const tu = this.tile(inputs.u.id, z, y, x, flip);
    if (!tq || !tu) return null;
    const n = tq.width;
    const out = [];
    for (let i = Math.floor(stride / 2); i < n; i += stride) {
      for (let j = Math.floor(stride / 2); j < n; j += stride) {
        const q = tq.values[i * n + j];
        const u = sign * tu.values[i * n + j];
        if (!Number.isFinite(q) || !Number.isFinite(u)) continue;
        out.push(j + 0.5, i + 0.5, Math.hypot(q, u), (0.5 * Math.atan2(u, q) * 180) / Math.PI);
      }
    }
    const segs = Float32Array.from(out);
    this.segments.set(key, segs);
    while (this.segments.size > MAX_TILES) this.segments.delete(/** @type {string} */ (this.segments.keys().next().value));
    return segs;
  }

  /** The P value that draws a full-length segment. */
  referenceP(/** @type {any} */ inputs) {
    const v = this.viewer;
    const vmax = v.model.get("vmax");
    if (inputs.p && v.layerId === inputs.p.id && typeof vmax === "number" && vmax > 0) return vmax;
    if (inputs.p && typeof inputs.p.vmax === "number" && inputs.p.vmax > 0) return inputs.p.vmax;
    return NaN; // the view's own 95th percentile (below)
  }

  redraw() {
    if (!this.visible) return;
    const map = this.map;
    const viewer = this.viewer;
    const drawing = this.clear();
    if (!drawing) return;
    const { ctx, size } = drawing;
    this.drawn = 0;
    const inputs = polarizationInputs(viewer.layers() ?? [], viewer.layerId);
    if (!inputs) return;
    // Widget entries carry grid facts; the full page's come with the shown layer's
    // description (the same grid as its Q and U).
    const native = inputs.q.native_level ?? viewer.layer?.nativeLevel ?? 0;
    const T = inputs.q.tile_size ?? viewer.tileSize;
    const zoom = map.getZoom();
    const { level, stride, pixel } = vectorLevel(zoom, native);
    const span = T * pixel; // screen px per level tile
    const origin = map.project(map.containerPointToLatLng([0, 0]), zoom);
    const flip = viewer.raLeft ? 1 : 0;
    const across = 2 ** (level + 1);
    const rows = 2 ** level;
    const sign = inputs.psi?.polarization?.convention === "COSMO" ? -1 : 1;
    const k0 = Math.floor(origin.x / span);
    const k1 = Math.floor((origin.x + size.x) / span);
    const r0 = Math.max(0, Math.floor(origin.y / span));
    const r1 = Math.min(rows - 1, Math.floor((origin.y + size.y) / span));
    /** @type {number[]} */
    const segs = []; // screen x, y, P, ψ
    for (let r = r0; r <= r1; r++) {
      for (let k = k0; k <= k1; k++) {
        const x = ((k % across) + across) % across;
        const tileSegs = this.tileSegments(inputs, level, rows - 1 - r, x, flip, stride, sign);
        if (!tileSegs) continue;
        // Tile-relative level-pixel positions → screen: one multiply-add per segment.
        const ox = k * span - origin.x;
        const oy = r * span - origin.y;
        for (let s = 0; s < tileSegs.length; s += 4) {
          const sx = ox + tileSegs[s] * pixel;
          const sy = oy + tileSegs[s + 1] * pixel;
          if (sx < -SPACING || sx > size.x + SPACING || sy < -SPACING || sy > size.y + SPACING) continue;
          segs.push(sx, sy, tileSegs[s + 2], tileSegs[s + 3]);
        }
      }
    }
    if (!segs.length) return;
    let pref = this.referenceP(inputs);
    if (!(pref > 0)) {
      const ps = [];
      for (let s = 2; s < segs.length; s += 4) ps.push(segs[s]);
      ps.sort((a, b) => a - b);
      pref = ps[Math.floor(0.95 * (ps.length - 1))] || 1;
    }
    const full = SPACING * 0.9;
    ctx.beginPath();
    for (let s = 0; s < segs.length; s += 4) {
      const half = (Math.min(1, segs[s + 2] / pref) * full) / 2;
      if (half < 0.5) continue;
      const [dx, dy] = screenDirection(segs[s + 3], viewer.raLeft);
      ctx.moveTo(segs[s] - dx * half, segs[s + 1] - dy * half);
      ctx.lineTo(segs[s] + dx * half, segs[s + 1] + dy * half);
      this.drawn++;
    }
    // A dark halo under a light line: legible on every colormap.
    ctx.lineCap = "round";
    ctx.strokeStyle = "rgba(0, 0, 0, 0.65)";
    ctx.lineWidth = 3.5;
    ctx.stroke();
    ctx.strokeStyle = "rgba(255, 255, 255, 0.95)";
    ctx.lineWidth = 1.5;
    ctx.stroke();
    map.fire("tmw:polvectorsdrawn");
  }

  dispose() {
    super.dispose();
    this.tiles.clear();
    this.segments.clear();
  }
}
