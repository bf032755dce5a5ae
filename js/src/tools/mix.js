// The colour composite's formula, shared with the server (engine/composite.py):
//   level_c = min(255, floor(256 · clip(weight_c · t_c, 0, 1)))
// t_c = the channel's stretched value (colour.js stretchFunction) clipped to [0, 1],
// NaN counted as 0; a pixel NaN in all three channels is transparent.

import { stretchFunction } from "../colour.js";

/** @typedef {{layer: string, vmin: number, vmax: number, stretch: string, weight: number}} Channel */

/**
 * One channel's level (0–255) as a function of the value, NaN → 0.
 * @param {Channel} c
 * @returns {(v: number) => number}
 */
export function channelLevel(c) {
  const f = stretchFunction(c.stretch, c.vmin, c.vmax);
  const d = c.vmax - c.vmin > 0 ? c.vmax - c.vmin : Number.MIN_VALUE;
  const abs = c.stretch === "abs";
  const w = c.weight;
  return (v) => {
    if (v !== v) return 0;
    if (abs && v < 0) v = -v;
    let u = (v - c.vmin) / d;
    u = u <= 0 ? 0 : u >= 1 ? 1 : f(u);
    u *= w;
    const k = Math.floor((u < 0 ? 0 : u > 1 ? 1 : u) * 256);
    return k > 255 ? 255 : k;
  };
}

/**
 * Colour three channels' values (Float32Array or null where a layer has no tile) into RGBA.
 * @param {(Float32Array | null)[]} values
 * @param {Channel[]} channels
 * @param {Uint8ClampedArray} out  4 per pixel
 */
export function mixComposite(values, channels, out) {
  const n = out.length / 4;
  const levels = channels.map(channelLevel);
  for (let i = 0; i < n; i++) {
    let present = false;
    for (let c = 0; c < 3; c++) {
      const vs = values[c];
      const v = vs ? vs[i] : NaN;
      if (v === v) present = true;
      out[4 * i + c] = levels[c](v);
    }
    if (present) out[4 * i + 3] = 255;
    else out[4 * i] = out[4 * i + 1] = out[4 * i + 2] = out[4 * i + 3] = 0;
  }
  return out;
}
