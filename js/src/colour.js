// Client-side colouring of data tiles: stretch, colormap lookup, NaN → transparent.
//
// The mapping, shared with the Python renderer (tilemaker_widget/engine/render.py):
//   u = clip((v - vmin) / (vmax - vmin), 0, 1)      (abs: |v| in place of v)
//   s = stretch(u)                                   (below; s(0) = 0, s(1) = 1)
//   index = min(255, floor(256 · s))                 (matplotlib's Colormap(N=256) rule)
// NaN → (0, 0, 0, 0). ±Infinity clip like any other out-of-range value.
// Gamma, contrast and brightness then act on s (`adjustFunction`, as engine/render.py).
//
// log is matplotlib's LogNorm, log(v / vmin) / log(vmax / vmin), written in u as
// log1p(a·u) / log1p(a) with a = vmax/vmin − 1; values ≤ 0 take the bottom colour. The
// server refuses vmin ≤ 0 for log; here such a range falls back to a = 1000 (DS9's log),
// so a hit-count map with vmin = 0 still shows something sensible.
//
// asinh_sym and sqrt_sym are sign-symmetric: an odd g of v itself (not of u), so zero
// keeps the colour it has on a symmetric range (the middle of a diverging colormap):
//   s = (g(v) − g(vmin)) / (g(vmax) − g(vmin)),  g = sign·sqrt|v|  or  asinh(v / (0.1·max|vmin|,|vmax|)).

/** @typedef {"linear" | "log" | "sqrt" | "asinh" | "abs" | "asinh_sym" | "sqrt_sym"} Stretch */

/** @type {Stretch[]} */
export const STRETCHES = ["linear", "log", "sqrt", "asinh", "abs", "asinh_sym", "sqrt_sym"];

/** Sign-symmetric stretches act on v about zero, not on the normalised value. */
const SYMMETRIC = new Set(["asinh_sym", "sqrt_sym"]);
/** asinh_sym softening: g(v) = asinh(v / (ASINH_SYM_A · max(|vmin|, |vmax|))). */
export const ASINH_SYM_A = 0.1;

/**
 * g and its inverse for a sign-symmetric stretch (engine/render.py symmetric_function):
 * t = (g(v) − g(vmin)) / (g(vmax) − g(vmin)), v clipped to [vmin, vmax].
 * @param {string} stretch
 * @param {number} vmin
 * @param {number} vmax
 * @returns {{g: (v: number) => number, inv: (y: number) => number}}
 */
function symmetric(stretch, vmin, vmax) {
  if (stretch === "sqrt_sym") return { g: (v) => Math.sign(v) * Math.sqrt(Math.abs(v)), inv: (y) => Math.sign(y) * y * y };
  const s = ASINH_SYM_A * Math.max(Math.abs(vmin), Math.abs(vmax)) || 1;
  return { g: (v) => Math.asinh(v / s), inv: (y) => s * Math.sinh(y) };
}

/** log stretch fallback when vmin ≤ 0: log(1 + a·u) / log(1 + a). */
export const LOG_A = 1000;
/** asinh stretch: asinh(b·u) / asinh(b). */
export const ASINH_B = 10;

const ASINH_NORM = 1 / Math.asinh(ASINH_B);

const FLOAT32_MAX = 3.4028234663852886e38;

/**
 * What is wrong with a stretch and range, or null: the rule of the Python renderer
 * (engine/render.py `RenderOptions.problem`, same messages), so the widget's menus
 * refuse what the kernel and the HTTP API refuse.
 * @param {string} stretch
 * @param {number} vmin
 * @param {number} vmax
 * @returns {string | null}
 */
export function renderProblem(stretch, vmin, vmax) {
  if (!STRETCHES.includes(/** @type {Stretch} */ (stretch))) return `unknown stretch '${stretch}'; use one of ${STRETCHES.join(", ")}`;
  if (!Number.isFinite(vmin) || !Number.isFinite(vmax)) return "vmin and vmax must be finite numbers";
  if (Math.max(Math.abs(vmin), Math.abs(vmax)) > FLOAT32_MAX) return "vmin and vmax must lie within ±3.403e+38 (maps are coloured in float32)";
  if (!(Math.fround(vmin) < Math.fround(vmax))) return `vmin (${vmin}) must be less than vmax (${vmax})`;
  if (stretch === "log" && vmin <= 0) return `a log stretch needs vmin > 0 (vmin is ${vmin})`;
  return null;
}

/**
 * The `a` of the log stretch for a range.
 * @param {number} [vmin]
 * @param {number} [vmax]
 */
export function logParameter(vmin, vmax) {
  return vmin !== undefined && vmax !== undefined && vmin > 0 && vmax > vmin && Number.isFinite(vmax / vmin)
    ? vmax / vmin - 1
    : LOG_A;
}

/**
 * The stretch as a function of the normalised value u ∈ [0, 1].
 * @param {string} stretch
 * @param {number} [vmin]  needed by log only
 * @param {number} [vmax]
 * @returns {(u: number) => number}
 */
export function stretchFunction(stretch, vmin, vmax) {
  if (SYMMETRIC.has(stretch)) {
    const lo = vmin ?? -1, hi = vmax ?? 1;
    const { g } = symmetric(stretch, lo, hi);
    const g0 = g(lo), gd = g(hi) - g0;
    return (u) => (g(lo + u * (hi - lo)) - g0) / gd;
  }
  switch (stretch) {
    case "log": {
      const a = logParameter(vmin, vmax);
      const norm = 1 / Math.log1p(a);
      return (u) => Math.log1p(a * u) * norm;
    }
    case "sqrt":
      return Math.sqrt;
    case "asinh":
      return (u) => Math.asinh(ASINH_B * u) * ASINH_NORM;
    case "linear":
    case "abs":
      return (u) => u;
    default:
      throw new Error(`unknown stretch "${stretch}"`);
  }
}

/**
 * Inverse of the stretch: the u that gives s.
 * @param {string} stretch
 * @param {number} [vmin]
 * @param {number} [vmax]
 * @returns {(s: number) => number}
 */
export function inverseStretch(stretch, vmin, vmax) {
  if (SYMMETRIC.has(stretch)) {
    const lo = vmin ?? -1, hi = vmax ?? 1;
    const { g, inv } = symmetric(stretch, lo, hi);
    const g0 = g(lo), gd = g(hi) - g0;
    return (s) => (inv(g0 + s * gd) - lo) / (hi - lo);
  }
  switch (stretch) {
    case "log": {
      const a = logParameter(vmin, vmax);
      return (s) => Math.expm1(s * Math.log1p(a)) / a;
    }
    case "sqrt":
      return (s) => s * s;
    case "asinh":
      return (s) => Math.sinh(s / ASINH_NORM) / ASINH_B;
    default:
      return (s) => s;
  }
}

/**
 * @typedef {{gamma?: number, contrast?: number, brightness?: number}} Adjust
 * Contrast controls after the stretch (VisiOmatic's tile parameters), as the server
 * applies them (engine/render.py `adjust`):
 *   t' = clip(contrast · (clip(t, 0, 1) − ½) + ½ + brightness, 0, 1) ^ (1 / gamma)
 */

/**
 * The contrast controls as a function of the stretched t, or null for the identity.
 * @param {Adjust | undefined} adjust
 * @returns {((t: number) => number) | null}
 */
export function adjustFunction(adjust) {
  const gamma = adjust?.gamma ?? 1, contrast = adjust?.contrast ?? 1, brightness = adjust?.brightness ?? 0;
  if (gamma === 1 && contrast === 1 && brightness === 0) return null;
  const inv = 1 / gamma;
  return (t) => {
    let u = t < 0 ? 0 : t > 1 ? 1 : t;
    u = contrast * (u - 0.5) + 0.5 + brightness;
    u = u < 0 ? 0 : u > 1 ? 1 : u;
    return inv === 1 ? u : Math.pow(u, inv);
  };
}

/**
 * The colour index of one non-NaN value, as a function of v. This is the definition;
 * `colourize` only adds shortcuts that give the same answer.
 * @param {string} stretch
 * @param {number} vmin
 * @param {number} vmax
 * @param {Adjust} [adjust]  gamma, contrast, brightness (identity when absent)
 * @returns {(v: number) => number}
 */
export function indexFunction(stretch, vmin, vmax, adjust) {
  const d = span(vmin, vmax);
  const adj = adjustFunction(adjust);
  const clampIndex = (/** @type {number} */ s) => {
    const k = Math.floor((adj ? adj(s) : s) * 256);
    return k > 255 ? 255 : k < 0 ? 0 : k;
  };
  const unit = (/** @type {number} */ v) => {
    const u = (v - vmin) / d;
    return u < 0 ? 0 : u > 1 ? 1 : u;
  };
  switch (stretch) {
    case "linear":
      return (v) => clampIndex(unit(v));
    case "abs":
      return (v) => clampIndex(unit(Math.abs(v)));
    case "sqrt":
      return (v) => clampIndex(Math.sqrt(unit(v)));
    case "asinh":
      return (v) => clampIndex(Math.asinh(ASINH_B * unit(v)) * ASINH_NORM);
    case "asinh_sym":
    case "sqrt_sym": {
      const { g } = symmetric(stretch, vmin, vmax);
      const g0 = g(vmin), gd = g(vmax) - g0;
      return (v) => clampIndex((g(v < vmin ? vmin : v > vmax ? vmax : v) - g0) / gd);
    }
    case "log": {
      if (logParameter(vmin, vmax) === LOG_A) {
        const f = stretchFunction("log", vmin, vmax);
        return (v) => clampIndex(f(unit(v)));
      }
      // In value space, so decades land exactly (10 in [1, 100] is 0.5, as in matplotlib).
      const decades = Math.log(vmax / vmin);
      const bottom = clampIndex(0);
      return (v) => (v <= vmin ? bottom : clampIndex(Math.log(v / vmin) / decades));
    }
    default:
      throw new Error(`unknown stretch "${stretch}"`);
  }
}

/**
 * The LUT index (0–255) for one value, or -1 for NaN.
 * @param {number} v
 * @param {number} vmin
 * @param {number} vmax
 * @param {string} stretch
 */
export function lutIndex(v, vmin, vmax, stretch) {
  return v !== v ? -1 : indexFunction(stretch, vmin, vmax)(v);
}

/**
 * vmax − vmin, guarded so a collapsed or inverted range still colours (values above
 * vmin take the top colour) instead of producing NaN.
 * @param {number} vmin
 * @param {number} vmax
 */
function span(vmin, vmax) {
  const d = vmax - vmin;
  return d > 0 && Number.isFinite(d) ? d : Number.MIN_VALUE;
}

/**
 * Pack a 256×4 RGBA LUT into 256 host-endian uint32 so one store writes a pixel.
 * @param {Uint8Array | Uint8ClampedArray | number[]} lut
 * @returns {Uint32Array}
 */
export function packLut(lut) {
  if (lut.length !== 1024) throw new Error(`a LUT has 256×4 entries, got ${lut.length}`);
  const bytes = new Uint8Array(1024);
  bytes.set(lut);
  return new Uint32Array(bytes.buffer);
}

const BINS = 4096;

/**
 * The index shared by every value whose u falls in bin [b/BINS, (b+1)/BINS), or -1
 * where the bin straddles an index boundary (then the index function runs). The index
 * is monotone in v, so equal indices at both bin edges hold inside; this skips the
 * transcendental call for all but the steep parts of log and asinh.
 * @param {(v: number) => number} index
 * @param {number} vmin
 * @param {number} d  vmax − vmin
 * @returns {Int16Array}
 */
function binIndexTable(index, vmin, d) {
  const tab = new Int16Array(BINS + 1);
  let left = index(vmin);
  for (let b = 0; b < BINS; b++) {
    const right = index(vmin + ((b + 1) / BINS) * d);
    tab[b] = left === right ? left : -1;
    left = right;
  }
  tab[BINS] = index(vmin + d);
  return tab;
}

/** @type {WeakMap<object, Uint32Array>} */
const packed = new WeakMap();

/**
 * Colour values into RGBA.
 * @param {Float32Array | number[]} values
 * @param {Uint8Array | Uint8ClampedArray} lut  256×4 RGBA
 * @param {number} vmin
 * @param {number} vmax
 * @param {string} stretch
 * @param {Uint8ClampedArray} [out]  reused when given (length 4·values.length)
 * @param {Adjust} [adjust]  gamma, contrast, brightness
 * @returns {Uint8ClampedArray}
 */
export function colourize(values, lut, vmin, vmax, stretch, out, adjust) {
  const n = values.length;
  const rgba = out ?? new Uint8ClampedArray(4 * n);
  if (rgba.length < 4 * n) throw new Error("output buffer too small");
  let lut32 = packed.get(lut);
  if (!lut32) {
    lut32 = packLut(lut);
    packed.set(lut, lut32);
  }
  const px = new Uint32Array(rgba.buffer, rgba.byteOffset, n);
  const index = indexFunction(stretch, vmin, vmax, adjust); // also rejects unknown stretches
  const d = span(vmin, vmax);
  const adj = adjustFunction(adjust);
  // Every stretch maps u ≤ 0 to t = 0 and u ≥ 1 to t = 1; the controls then move them.
  const end = (/** @type {number} */ t) => Math.min(255, Math.max(0, Math.floor((adj ? adj(t) : t) * 256)));
  const bottom = lut32[end(0)];
  const top = lut32[end(1)];
  const abs = stretch === "abs";
  // `v !== v` is the NaN test. Linear and abs are cheap enough to inline.
  if (!adj && (stretch === "linear" || abs)) {
    const abs = stretch === "abs";
    for (let i = 0; i < n; i++) {
      let v = values[i];
      if (v !== v) { px[i] = 0; continue; }
      if (abs && v < 0) v = -v;
      const u = (v - vmin) / d;
      if (u <= 0) { px[i] = bottom; continue; }
      if (u >= 1) { px[i] = top; continue; }
      const k = Math.floor(u * 256);
      px[i] = lut32[k > 255 ? 255 : k];
    }
    return rgba;
  }
  const tab = binIndexTable(index, vmin, d);
  for (let i = 0; i < n; i++) {
    let v = values[i];
    if (v !== v) { px[i] = 0; continue; }
    if (abs && v < 0) v = -v;
    const u = (v - vmin) / d;
    // Clipped values are common (a range set inside the data); every stretch maps
    // u ≤ 0 to the first colour and u ≥ 1 to the last.
    if (u <= 0) { px[i] = bottom; continue; }
    if (u >= 1) { px[i] = top; continue; }
    let k = tab[(u * BINS) | 0];
    if (k < 0) k = index(v);
    px[i] = lut32[k];
  }
  return rgba;
}

/**
 * Decode the base64 LUT of `GET colormaps/{name}`.
 * @param {string} b64
 * @returns {Uint8Array}
 */
export function decodeLut(b64) {
  const bin = atob(b64);
  if (bin.length !== 1024) throw new Error(`colormap LUT must be 1024 bytes, got ${bin.length}`);
  const lut = new Uint8Array(1024);
  for (let i = 0; i < 1024; i++) lut[i] = bin.charCodeAt(i);
  return lut;
}

/** A grey ramp, used until the real colormap arrives. */
export function greyLut() {
  const lut = new Uint8Array(1024);
  for (let i = 0; i < 256; i++) lut.set([i, i, i, 255], 4 * i);
  return lut;
}
