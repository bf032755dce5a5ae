import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeDataTile, float16Table } from "../src/datatile.js";
import { buildTile } from "./tile-builder.mjs";

// float16 bit patterns
const ONE = 0x3c00;
const MINUS_TWO = 0xc000;
const HALF = 0x3800;
const MAX_HALF = 0x7bff; // 65504
const NAN = 0x7e00;
const SUBNORMAL = 0x0001; // 2^-24
const INF = 0x7c00;
const NEG_ZERO = 0x8000;

test("float16 table decodes normal, subnormal and special values", () => {
  const t = float16Table();
  assert.equal(t.length, 65536);
  assert.equal(t[ONE], 1);
  assert.equal(t[MINUS_TWO], -2);
  assert.equal(t[HALF], 0.5);
  assert.equal(t[MAX_HALF], 65504);
  assert.equal(t[SUBNORMAL], 2 ** -24);
  assert.equal(t[0x03ff], 1023 * 2 ** -24); // largest subnormal
  assert.equal(t[0x0400], 2 ** -14); // smallest normal
  assert.equal(t[INF], Infinity);
  assert.equal(t[0xfc00], -Infinity);
  assert.ok(Number.isNaN(t[NAN]));
  assert.ok(Object.is(t[NEG_ZERO], -0));
  assert.equal(t[0x3555], 0.333251953125); // 1/3 rounded to half
});

test("decodes a float16 tile with scale, NaN, header fields and flip flag", () => {
  const buf = buildTile({
    width: 3, height: 2, flags: 1, scale: 4, min: -8, max: 262016, finite: 5,
    values: [ONE, MINUS_TWO, NAN, HALF, MAX_HALF, SUBNORMAL],
  });
  const t = decodeDataTile(buf);
  assert.equal(t.width, 3);
  assert.equal(t.height, 2);
  assert.equal(t.flipped, true);
  assert.equal(t.finite, 5);
  assert.equal(t.min, -8);
  assert.equal(t.max, 262016);
  assert.ok(t.values instanceof Float32Array);
  assert.equal(t.values.length, 6);
  assert.equal(t.values[0], 4);
  assert.equal(t.values[1], -8);
  assert.ok(Number.isNaN(t.values[2]));
  assert.equal(t.values[3], 2);
  assert.equal(t.values[4], 65504 * 4);
  assert.equal(t.values[5], 2 ** -22);
});

test("a power-of-two scale below one keeps tiny values", () => {
  const t = decodeDataTile(buildTile({ width: 1, height: 1, scale: 2 ** -20, values: [ONE] }));
  assert.equal(t.values[0], 2 ** -20);
});

test("decodes a float32 tile exactly, unflipped", () => {
  const vals = [1.5, -1e-30, NaN, 3.4e38];
  const t = decodeDataTile(buildTile({ width: 2, height: 2, bytes: 4, values: vals }));
  assert.equal(t.flipped, false);
  assert.equal(t.values[0], 1.5);
  assert.equal(t.values[1], Math.fround(-1e-30));
  assert.ok(Number.isNaN(t.values[2]));
  assert.equal(t.values[3], Math.fround(3.4e38));
  assert.ok(Number.isNaN(t.min)); // header says NaN when not given
});

test("accepts a DataView or an offset typed array (as comm buffers arrive)", () => {
  const buf = buildTile({ width: 2, height: 1, values: [ONE, HALF] });
  const bigger = new Uint8Array(buf.byteLength + 7);
  bigger.set(new Uint8Array(buf), 3);
  const view = new DataView(bigger.buffer, 3, buf.byteLength);
  assert.deepEqual([...decodeDataTile(view).values], [1, 0.5]);
  assert.deepEqual([...decodeDataTile(new Uint8Array(bigger.buffer, 3, buf.byteLength)).values], [1, 0.5]);
});

test("rejects bad magic, version, value size and truncated bodies", () => {
  assert.throws(() => decodeDataTile(buildTile({ width: 1, height: 1, magic: "TMWX", values: [ONE] })), /magic/);
  assert.throws(() => decodeDataTile(buildTile({ width: 1, height: 1, version: 2, values: [ONE] })), /version/);
  const bad = buildTile({ width: 1, height: 1, values: [ONE] });
  new DataView(bad).setUint8(5, 8);
  assert.throws(() => decodeDataTile(bad), /value size/);
  const short = buildTile({ width: 4, height: 4, values: [ONE] }).slice(0, 40);
  assert.throws(() => decodeDataTile(short), /truncated/);
  assert.throws(() => decodeDataTile(new ArrayBuffer(10)), /too short/);
});

test("flag bit 1 marks a preview, never exact", () => {
  const t = decodeDataTile(buildTile({ width: 1, height: 1, flags: 2, values: [ONE] }));
  assert.equal(t.preview, true);
  assert.equal(t.exact, false);
  assert.equal(t.flipped, false);
  const f = decodeDataTile(buildTile({ width: 1, height: 1, flags: 1, values: [ONE] }));
  assert.equal(f.preview, false);
  assert.equal(f.exact, true);
  assert.equal(f.kind, "f16");
});

test("inflates a deflated tile (byte planes) to the plain one", async () => {
  const { inflateDataTile } = await import("../src/datatile.js");
  const { deflateSync } = await import("node:zlib");
  const values = [ONE, MINUS_TWO, NAN, HALF, MAX_HALF, SUBNORMAL];
  const plain = buildTile({ width: 3, height: 2, flags: 1, scale: 4, min: -8, max: 262016, finite: 5, values });
  const body = new Uint8Array(plain, 32);
  const planes = new Uint8Array(12);
  for (let i = 0; i < 6; i++) { planes[i] = body[2 * i]; planes[6 + i] = body[2 * i + 1]; }
  const z = deflateSync(planes);
  const packed = new Uint8Array(32 + z.length);
  packed.set(new Uint8Array(plain, 0, 32));
  packed.set(z, 32);
  new DataView(packed.buffer).setUint16(6, 1 | 4, true);
  assert.throws(() => decodeDataTile(packed.buffer), /inflate it first/);
  const inflated = await inflateDataTile(packed.buffer);
  assert.deepEqual(new Uint8Array(inflated), new Uint8Array(plain));
  const t = decodeDataTile(inflated);
  assert.equal(t.flipped, true);
  assert.equal(t.values[0], 4);
  assert.equal(await inflateDataTile(plain), plain); // not deflated: unchanged
});
