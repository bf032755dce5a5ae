// Decoder for the `TMWD` data tile (docs/protocol.md, "Data tile format").

/**
 * @typedef {object} DataTile
 * @property {number} width
 * @property {number} height
 * @property {Float32Array} values  true values (scale applied), row 0 = north, column 0 = left as displayed
 * @property {number} min  minimum finite value (NaN if none)
 * @property {number} max  maximum finite value (NaN if none)
 * @property {number} finite  number of finite values
 * @property {boolean} flipped  the tile is mirrored (requested with flip=1)
 * @property {"f16"} kind  (f32 tiles too: values are exact floats)
 * @property {boolean} preview  decimated stand-in for block means not ready yet (never final)
 * @property {boolean} exact  true unless a preview
 * @property {number} bytes  memory held by the values (for the tile cache)
 * @property {ImageData} [rgba]  the tile coloured (kept by the viewer)
 * @property {string} [rgbaStamp]  the colouring `rgba` holds
 * @property {HTMLCanvasElement} [canvas]  the canvas it was last painted on
 * @property {string} [canvasStamp]  the colouring that canvas shows
 */

export const HEADER_BYTES = 32;
const FLAG_DEFLATE = 4;
const MAGIC = [0x54, 0x4d, 0x57, 0x44]; // "TMWD"

/** @type {Float32Array | null} */
let half = null;

/**
 * All 65536 float16 bit patterns as float32. Built once: a table lookup beats
 * bit twiddling per value by a wide margin on 455k-value tiles.
 * @returns {Float32Array}
 */
export function float16Table() {
  if (half) return half;
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    if (exp === 0) t[h] = sign * frac * 2 ** -24;
    else if (exp === 31) t[h] = frac ? NaN : sign * Infinity;
    else t[h] = sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  half = t;
  return t;
}

const littleEndianHost = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Copy whatever a transport handed us (ArrayBuffer, DataView, typed array) into
 * an ArrayBuffer that starts at offset 0, so typed-array views are aligned.
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {ArrayBuffer}
 */
export function toArrayBuffer(data) {
  if (data instanceof ArrayBuffer) return data;
  if (ArrayBuffer.isView(data)) {
    const { buffer, byteOffset, byteLength } = data;
    if (byteOffset === 0 && byteLength === buffer.byteLength && buffer instanceof ArrayBuffer) {
      return buffer;
    }
    return /** @type {ArrayBuffer} */ (buffer.slice(byteOffset, byteOffset + byteLength));
  }
  throw new TypeError("expected an ArrayBuffer or a typed array");
}

/**
 * Decode a data tile.
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {DataTile}
 */
export function decodeDataTile(data) {
  const buf = toArrayBuffer(data);
  if (buf.byteLength < HEADER_BYTES) throw new Error(`data tile too short (${buf.byteLength} bytes)`);
  const dv = new DataView(buf);
  for (let i = 0; i < 4; i++) {
    if (dv.getUint8(i) !== MAGIC[i]) throw new Error("not a TMWD data tile (bad magic)");
  }
  const version = dv.getUint8(4);
  if (version !== 1) throw new Error(`unsupported data tile version ${version}`);
  const bytes = dv.getUint8(5);
  if (bytes !== 2 && bytes !== 4) throw new Error(`unsupported value size ${bytes}`);
  const flags = dv.getUint16(6, true);
  if (flags & FLAG_DEFLATE) throw new Error("a deflated data tile (tile.f16z): inflate it first (inflateDataTile)");
  const width = dv.getUint32(8, true);
  const height = dv.getUint32(12, true);
  const scale = dv.getFloat32(16, true);
  const min = dv.getFloat32(20, true);
  const max = dv.getFloat32(24, true);
  const finite = dv.getUint32(28, true);
  const n = width * height;
  if (buf.byteLength < HEADER_BYTES + n * bytes) {
    throw new Error(`data tile truncated: ${width}x${height}x${bytes} needs ${HEADER_BYTES + n * bytes} bytes, got ${buf.byteLength}`);
  }
  const values = new Float32Array(n);
  if (bytes === 2) {
    const table = float16Table();
    if (littleEndianHost) {
      const raw = new Uint16Array(buf, HEADER_BYTES, n);
      if (scale === 1) for (let i = 0; i < n; i++) values[i] = table[raw[i]];
      else for (let i = 0; i < n; i++) values[i] = table[raw[i]] * scale;
    } else {
      for (let i = 0; i < n; i++) values[i] = table[dv.getUint16(HEADER_BYTES + 2 * i, true)] * scale;
    }
  } else if (littleEndianHost) {
    values.set(new Float32Array(buf, HEADER_BYTES, n));
    if (scale !== 1) for (let i = 0; i < n; i++) values[i] *= scale;
  } else {
    for (let i = 0; i < n; i++) values[i] = dv.getFloat32(HEADER_BYTES + 4 * i, true) * scale;
  }
  const preview = (flags & 2) === 2;
  return {
    kind: "f16", width, height, values, min, max, finite,
    flipped: (flags & 1) === 1, preview, exact: !preview, bytes: values.byteLength,
  };
}

/**
 * Undo `tile.f16z`'s compression: zlib-inflate the byte planes (the browser's own
 * DecompressionStream) and interleave them back into little-endian values. A tile
 * without the deflate flag comes back as it is.
 * @param {ArrayBuffer | ArrayBufferView} data
 * @returns {Promise<ArrayBuffer>}
 */
export async function inflateDataTile(data) {
  const buf = toArrayBuffer(data);
  if (buf.byteLength < HEADER_BYTES) throw new Error(`data tile too short (${buf.byteLength} bytes)`);
  const dv = new DataView(buf);
  const flags = dv.getUint16(6, true);
  if (!(flags & FLAG_DEFLATE)) return buf;
  const size = dv.getUint8(5);
  const n = dv.getUint32(8, true) * dv.getUint32(12, true);
  const body = new Blob([new Uint8Array(buf, HEADER_BYTES)]).stream().pipeThrough(new DecompressionStream("deflate"));
  const planes = new Uint8Array(await new Response(body).arrayBuffer());
  if (planes.length !== n * size) throw new Error(`deflated data tile holds ${planes.length} bytes, expected ${n * size}`);
  const out = new ArrayBuffer(HEADER_BYTES + n * size);
  const o = new Uint8Array(out);
  o.set(new Uint8Array(buf, 0, HEADER_BYTES));
  new DataView(out).setUint16(6, flags & ~FLAG_DEFLATE, true);
  for (let k = 0; k < size; k++) {
    const plane = planes.subarray(k * n, (k + 1) * n);
    for (let i = 0, j = HEADER_BYTES + k; i < n; i++, j += size) o[j] = plane[i];
  }
  return out;
}
