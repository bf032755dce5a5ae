// The quantized tile `TMWQ` (docs/protocol.md, "Quantized tile format"): 8-bit codes
// over the layer's span, carried in a grey WebP/PNG that the browser's own decoder
// unpacks. Coloured through a 256-entry table, so a range change inside the span
// costs one table and one lookup per pixel, and no request.

import { indexFunction, packLut } from "./colour.js";
import { toArrayBuffer } from "./datatile.js";

export const Q_HEADER_BYTES = 48;
const MAGIC = [0x54, 0x4d, 0x57, 0x51]; // "TMWQ"
export const CODEC_MIME = /** @type {Record<number, string>} */ ({ 1: "image/webp", 2: "image/png" });
const FLAG_MIRRORED = 1;
const FLAG_PREVIEW = 2;
const FLAG_ALPHA = 4;

/**
 * @typedef {object} QuantizedTile
 * @property {"q8"} kind
 * @property {number} width
 * @property {number} height
 * @property {Uint8Array} codes  one code per pixel, row 0 = north, column 0 = left as displayed
 * @property {Uint8Array | null} mask  1 where the value is NaN; null when there is none
 * @property {number} lo  the span's lower edge
 * @property {number} step  code c stands for lo + (c + ½)·step
 * @property {number} min  exact minimum finite value (NaN if none)
 * @property {number} max  exact maximum finite value
 * @property {number} finite
 * @property {number} below  values clipped to code 0
 * @property {number} above  values clipped to code 255
 * @property {boolean} flipped
 * @property {boolean} preview  decimated stand-in, never final
 * @property {boolean} exact  always false: the f16 tile replaces it
 * @property {number} bytes  memory held by the codes (for the tile cache)
 * @property {ImageData} [rgba]  the tile coloured (kept by the viewer)
 * @property {string} [rgbaStamp]  the colouring `rgba` holds
 * @property {HTMLCanvasElement} [canvas]  the canvas it was last painted on
 * @property {string} [canvasStamp]  the colouring that canvas shows
 */

/**
 * @typedef {object} QuantizedHeader
 * @property {number} codec
 * @property {number} flags
 * @property {number} width
 * @property {number} height
 * @property {number} lo
 * @property {number} step
 * @property {number} min
 * @property {number} max
 * @property {number} finite
 * @property {number} below
 * @property {number} above
 * @property {number} imageBytes
 */

/**
 * @param {ArrayBuffer} buf
 * @returns {QuantizedHeader}
 */
export function parseQuantizedHeader(buf) {
  if (buf.byteLength < Q_HEADER_BYTES) throw new Error(`quantized tile too short (${buf.byteLength} bytes)`);
  const dv = new DataView(buf);
  for (let i = 0; i < 4; i++) {
    if (dv.getUint8(i) !== MAGIC[i]) throw new Error("not a TMWQ quantized tile (bad magic)");
  }
  const version = dv.getUint8(4);
  if (version !== 1) throw new Error(`unsupported quantized tile version ${version}`);
  const codec = dv.getUint8(5);
  if (!CODEC_MIME[codec]) throw new Error(`unknown quantized tile codec ${codec}`);
  const h = {
    codec,
    flags: dv.getUint16(6, true),
    width: dv.getUint32(8, true),
    height: dv.getUint32(12, true),
    lo: dv.getFloat32(16, true),
    step: dv.getFloat32(20, true),
    min: dv.getFloat32(24, true),
    max: dv.getFloat32(28, true),
    finite: dv.getUint32(32, true),
    below: dv.getUint32(36, true),
    above: dv.getUint32(40, true),
    imageBytes: dv.getUint32(44, true),
  };
  if (buf.byteLength < Q_HEADER_BYTES + h.imageBytes) {
    throw new Error(`quantized tile truncated: needs ${Q_HEADER_BYTES + h.imageBytes} bytes, got ${buf.byteLength}`);
  }
  return h;
}

/**
 * Decodes an image file to RGBA pixels.
 * @typedef {(bytes: Uint8Array, mime: string) => Promise<{width: number, height: number, data: Uint8ClampedArray | Uint8Array}>} ImageDecoder
 */

/**
 * The browser's native decoders: createImageBitmap, drawn on an (Offscreen)canvas.
 * No colour-space conversion and no premultiplication, so codes come back as sent.
 * @type {ImageDecoder}
 */
export async function browserImageDecoder(bytes, mime) {
  const blob = new Blob([/** @type {BlobPart} */ (/** @type {unknown} */ (bytes))], { type: mime });
  const bitmap = await createImageBitmap(blob, { colorSpaceConversion: "none", premultiplyAlpha: "none" });
  try {
    const { width, height } = bitmap;
    /** @type {any} */
    const canvas = typeof OffscreenCanvas !== "undefined" ? new OffscreenCanvas(width, height) : Object.assign(document.createElement("canvas"), { width, height });
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(bitmap, 0, 0);
    return { width, height, data: ctx.getImageData(0, 0, width, height).data };
  } finally {
    bitmap.close();
  }
}

/**
 * Decode a quantized tile.
 * @param {ArrayBuffer | ArrayBufferView} data
 * @param {ImageDecoder} [decodeImage]
 * @returns {Promise<QuantizedTile>}
 */
export async function decodeQuantizedTile(data, decodeImage = browserImageDecoder) {
  const buf = toArrayBuffer(data);
  const h = parseQuantizedHeader(buf);
  const img = await decodeImage(new Uint8Array(buf, Q_HEADER_BYTES, h.imageBytes), CODEC_MIME[h.codec]);
  if (img.width !== h.width || img.height !== h.height) {
    throw new Error(`quantized tile image is ${img.width}×${img.height}, header says ${h.width}×${h.height}`);
  }
  const n = h.width * h.height;
  const px = img.data;
  const codes = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 4) codes[i] = px[j];
  /** @type {Uint8Array | null} */
  let mask = null;
  if (h.flags & FLAG_ALPHA) {
    mask = new Uint8Array(n);
    for (let i = 0, j = 3; i < n; i++, j += 4) mask[i] = px[j] < 128 ? 1 : 0;
  }
  return {
    kind: "q8",
    width: h.width,
    height: h.height,
    codes,
    mask,
    lo: h.lo,
    step: h.step,
    min: h.min,
    max: h.max,
    finite: h.finite,
    below: h.below,
    above: h.above,
    flipped: (h.flags & FLAG_MIRRORED) !== 0,
    preview: (h.flags & FLAG_PREVIEW) !== 0,
    exact: false,
    bytes: n * (mask ? 2 : 1),
  };
}

/**
 * The value code c stands for.
 * @param {QuantizedTile} t
 * @param {number} c
 */
export const codeValue = (t, c) => t.lo + (c + 0.5) * t.step;

/**
 * Fewest codes a colour range must span before the 8-bit picture is called banded:
 * below this one code covers more than ~2.7 of the 256 colours (a visible step in a
 * smooth gradient, ~1.3 colours off at worst), so the exact tile is fetched.
 */
export const MIN_CODES_IN_RANGE = 96;

/**
 * Whether colouring this tile with this range needs the exact values: the range
 * reaches past the span where values were clipped, or it is so narrow that the
 * codes would show as bands.
 * @param {QuantizedTile} t
 * @param {number} vmin
 * @param {number} vmax
 * @param {string} stretch
 */
export function needsExact(t, vmin, vmax, stretch) {
  if (t.finite === 0) return false;
  let lo = vmin;
  let hi = vmax;
  if (stretch === "abs") {
    // |v| in [vmin, vmax] is v in ±[vmin, vmax].
    lo = -Math.max(Math.abs(vmin), Math.abs(vmax));
    hi = -lo;
  }
  const top = t.lo + 256 * t.step;
  if (t.below > 0 && lo < t.lo) return true;
  if (t.above > 0 && hi > top) return true;
  // Only the part of the range the tile's values occupy matters for banding.
  const a = Math.max(vmin, t.min, t.lo);
  const b = Math.min(vmax, t.max, top);
  if (!(b > a)) return false;
  return (vmax - vmin) / t.step < MIN_CODES_IN_RANGE;
}

/** @type {WeakMap<Uint8Array, Uint32Array>} */
const packed = new WeakMap();

/**
 * Colour a quantized tile: one colour per code (by the same rule as the exact
 * values, colour.js indexFunction), then one lookup per pixel. NaN is transparent.
 * @param {QuantizedTile} t
 * @param {Uint8Array} lut  256×4 RGBA
 * @param {number} vmin
 * @param {number} vmax
 * @param {string} stretch
 * @param {Uint8ClampedArray} out  RGBA, width × height × 4
 * @param {import("./colour.js").Adjust} [adjust]  gamma, contrast, brightness
 */
export function colourizeCodes(t, lut, vmin, vmax, stretch, out, adjust) {
  let lut32 = packed.get(lut);
  if (!lut32) {
    lut32 = packLut(lut);
    packed.set(lut, lut32);
  }
  const index = indexFunction(stretch, vmin, vmax, adjust);
  const table = new Uint32Array(256);
  for (let c = 0; c < 256; c++) table[c] = lut32[index(codeValue(t, c))];
  const n = t.width * t.height;
  const px = new Uint32Array(out.buffer, out.byteOffset, n);
  const { codes, mask } = t;
  if (mask) for (let i = 0; i < n; i++) px[i] = mask[i] ? 0 : table[codes[i]];
  else for (let i = 0; i < n; i++) px[i] = table[codes[i]];
  return out;
}

