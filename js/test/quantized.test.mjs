import { test } from "node:test";
import assert from "node:assert/strict";
import { colourize, greyLut } from "../src/colour.js";
import { LinkMeter } from "../src/linkmeter.js";
import {
  codeValue, colourizeCodes, decodeQuantizedTile, needsExact, parseQuantizedHeader, Q_HEADER_BYTES,
} from "../src/quantized.js";

/**
 * A TMWQ tile whose "image" is just the RGBA pixels; the fake decoder hands them back.
 * @param {{width: number, height: number, codes: number[], nan?: number[], flags?: number, lo?: number, step?: number, codec?: number, below?: number, above?: number}} o
 */
function buildQ(o) {
  const n = o.width * o.height;
  const image = new Uint8Array(4 * n);
  for (let i = 0; i < n; i++) {
    image.set([o.codes[i], o.codes[i], o.codes[i], o.nan?.includes(i) ? 0 : 255], 4 * i);
  }
  const buf = new ArrayBuffer(Q_HEADER_BYTES + image.length);
  const dv = new DataView(buf);
  [0x54, 0x4d, 0x57, 0x51].forEach((b, i) => dv.setUint8(i, b));
  dv.setUint8(4, 1);
  dv.setUint8(5, o.codec ?? 1);
  dv.setUint16(6, (o.flags ?? 0) | (o.nan ? 4 : 0), true);
  dv.setUint32(8, o.width, true);
  dv.setUint32(12, o.height, true);
  dv.setFloat32(16, o.lo ?? -256, true);
  dv.setFloat32(20, o.step ?? 2, true);
  dv.setFloat32(24, -250, true);
  dv.setFloat32(28, 250, true);
  dv.setUint32(32, n - (o.nan?.length ?? 0), true);
  dv.setUint32(36, o.below ?? 0, true);
  dv.setUint32(40, o.above ?? 0, true);
  dv.setUint32(44, image.length, true);
  new Uint8Array(buf, Q_HEADER_BYTES).set(image);
  return buf;
}

const w = 3, h = 2;
/** @type {import("../src/quantized.js").ImageDecoder} */
const fakeDecoder = async (bytes, mime) => {
  fakeDecoder.mime = mime;
  return { width: w, height: h, data: new Uint8ClampedArray(bytes) };
};

test("header fields, codes, NaN mask and flags", async () => {
  const buf = buildQ({ width: w, height: h, codes: [0, 1, 128, 200, 255, 7], nan: [5], flags: 3 });
  const hd = parseQuantizedHeader(buf);
  assert.equal(hd.width, 3);
  assert.equal(hd.imageBytes, 24);
  const t = await decodeQuantizedTile(buf, fakeDecoder);
  assert.equal(fakeDecoder.mime, "image/webp");
  assert.deepEqual([...t.codes], [0, 1, 128, 200, 255, 7]);
  assert.deepEqual([...(t.mask ?? [])], [0, 0, 0, 0, 0, 1]);
  assert.equal(t.flipped, true);
  assert.equal(t.preview, true);
  assert.equal(t.exact, false);
  assert.equal(t.finite, 5);
  assert.equal(codeValue(t, 0), -255);
  assert.equal(codeValue(t, 128), 1);
  assert.equal(codeValue(t, 255), 255);
});

test("PNG codec, no alpha means no mask", async () => {
  const t = await decodeQuantizedTile(buildQ({ width: w, height: h, codes: [1, 2, 3, 4, 5, 6], codec: 2 }), fakeDecoder);
  assert.equal(fakeDecoder.mime, "image/png");
  assert.equal(t.mask, null);
  assert.equal(t.preview, false);
});

test("bad tiles are refused with a reason", async () => {
  const buf = buildQ({ width: w, height: h, codes: [0, 0, 0, 0, 0, 0] });
  new DataView(buf).setUint8(0, 0);
  assert.throws(() => parseQuantizedHeader(buf), /magic/);
  assert.throws(() => parseQuantizedHeader(new ArrayBuffer(10)), /too short/);
  const short = buildQ({ width: w, height: h, codes: [0, 0, 0, 0, 0, 0] }).slice(0, 60);
  assert.throws(() => parseQuantizedHeader(short), /truncated/);
  const wrong = buildQ({ width: w, height: h, codes: [0, 0, 0, 0, 0, 0] });
  new DataView(wrong).setUint8(5, 9);
  assert.throws(() => parseQuantizedHeader(wrong), /codec 9/);
  const other = async () => ({ width: 1, height: 1, data: new Uint8ClampedArray(4) });
  await assert.rejects(decodeQuantizedTile(buildQ({ width: w, height: h, codes: [0, 0, 0, 0, 0, 0] }), other), /header says 3×2/);
});

test("colouring codes equals colouring the values they stand for, every stretch", async () => {
  const codes = [0, 17, 100, 128, 201, 255];
  const t = await decodeQuantizedTile(buildQ({ width: w, height: h, codes, nan: [1], lo: 0.5, step: 1.5 }), fakeDecoder);
  const lut = greyLut();
  for (const [stretch, vmin, vmax] of [["linear", 10, 300], ["sqrt", 0, 200], ["asinh", 5, 390], ["log", 1, 400], ["abs", 0, 100]]) {
    const a = colourizeCodes(t, lut, vmin, vmax, stretch, new Uint8ClampedArray(4 * w * h));
    const values = new Float32Array(codes.map((c, i) => (i === 1 ? NaN : codeValue(t, c))));
    const b = colourize(values, lut, vmin, vmax, stretch, new Uint8ClampedArray(4 * w * h));
    assert.deepEqual([...a], [...b], stretch);
    assert.deepEqual([...a.subarray(4, 8)], [0, 0, 0, 0]); // NaN transparent
  }
});

test("needsExact: past the span where values were clipped, or too few codes", async () => {
  // span [-256, 256), step 2
  const clean = await decodeQuantizedTile(buildQ({ width: w, height: h, codes: [0, 0, 0, 0, 0, 0] }), fakeDecoder);
  assert.equal(needsExact(clean, -300, 300, "linear"), false); // nothing was clipped
  assert.equal(needsExact(clean, -200, 200, "linear"), false);
  assert.equal(needsExact(clean, -80, 80, "linear"), true); // 80 codes across the range
  const clipped = await decodeQuantizedTile(buildQ({ width: w, height: h, codes: [0, 0, 0, 0, 0, 0], below: 3 }), fakeDecoder);
  assert.equal(needsExact(clipped, -300, 300, "linear"), true);
  assert.equal(needsExact(clipped, -250, 300, "linear"), false); // above: none clipped
  assert.equal(needsExact(clipped, 0, 300, "abs"), true); // |v| ≤ 300 reaches −300
});

test("link meter: bytes over busy time, overlapping requests counted once", () => {
  const m = new LinkMeter();
  assert.ok(Number.isNaN(m.bytesPerSecond()));
  m.record(0, 100, 400_000);
  m.record(50, 150, 400_000); // overlaps: busy 0–150 ms
  m.record(1000, 1050, 200_000); // idle gap not counted
  assert.equal(m.bytesPerSecond(), 1_000_000 / 0.2);
});
