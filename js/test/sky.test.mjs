import { test } from "node:test";
import assert from "node:assert/strict";
import {
  apiTile, formatDec, formatRa, lngToRa, normRa, parseCoordinates, raToLng,
  skyToWorld, storedColumn, storedTileBounds, transformationFor, worldToSky,
} from "../src/sky.js";

const close = (/** @type {number} */ a, /** @type {number} */ b, eps = 1e-9) =>
  assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

test("flip rule at z = 0, 1, 3 (protocol formula)", () => {
  const cols = (/** @type {number} */ z, /** @type {boolean} */ flip) =>
    Array.from({ length: 2 ** (z + 1) }, (_, x) => storedColumn(z, x, flip));
  assert.deepEqual(cols(0, true), [0, 1]);
  assert.deepEqual(cols(1, true), [1, 0, 3, 2]);
  assert.deepEqual(cols(3, true), [7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8]);
  assert.deepEqual(cols(3, false), [...Array(16).keys()]);
});

test("display columns show the sky of their stored columns, mirrored under flip", () => {
  for (const z of [0, 1, 3, 6]) {
    const n = 2 ** (z + 1);
    const w = 360 / n;
    for (const raLeft of [true, false]) {
      for (let x = 0; x < n; x++) {
        // The display column's edges as RA, via the display-longitude mapping.
        const leftRa = lngToRa(-180 + x * w, raLeft);
        const rightRa = lngToRa(-180 + (x + 1) * w, raLeft);
        const b = storedTileBounds(z, 0, storedColumn(z, x, raLeft));
        const lo = normRa(b.raMin);
        const hi = normRa(b.raMax);
        if (raLeft) {
          // mirrored: the left edge is the stored tile's high-RA edge
          close(normRa(leftRa), hi === 0 ? 0 : hi);
          close(normRa(rightRa), lo);
        } else {
          close(leftRa, lo);
          close(rightRa, hi);
        }
      }
    }
  }
});

test("flip=1 puts RA 360 at the left edge, 180 in the middle, 0 at the right", () => {
  close(lngToRa(-180 + 1e-9, true), 360 - 1e-9, 1e-6);
  close(lngToRa(0, true), 180);
  close(lngToRa(180 - 1e-9, true), 1e-9, 1e-6);
  close(lngToRa(-180, false), 180);
  close(lngToRa(-90, false), 270);
  close(lngToRa(90, false), 90);
});

test("API tile: rows from the south, columns wrapped, flip flag", () => {
  assert.deepEqual(apiTile({ z: 0, y: 0, x: 0 }, true), { z: 0, y: 0, x: 0, flip: 1 });
  assert.deepEqual(apiTile({ z: 1, y: 0, x: 3 }, false), { z: 1, y: 1, x: 3, flip: 0 });
  assert.deepEqual(apiTile({ z: 1, y: 1, x: -1 }, true), { z: 1, y: 0, x: 3, flip: 1 });
  assert.deepEqual(apiTile({ z: 3, y: 2, x: 17 }, true), { z: 3, y: 5, x: 1, flip: 1 });
  // row y (from north) covers the Dec band of API row 2^z-1-y
  const b = storedTileBounds(3, apiTile({ z: 3, y: 0, x: 0 }, true).y, 0);
  assert.equal(b.decMax, 90);
});

test("transformation: level z spans 2^(z+1)·T pixels across and 2^z·T down", () => {
  const T = 675;
  const [a, b, c, d] = transformationFor(T);
  for (const z of [0, 1, 3]) {
    const s = 2 ** z;
    close(s * (a * 180 + b), 2 ** (z + 1) * T); // lng 180 → right edge
    close(s * (a * -180 + b), 0); // lng -180 → left edge
    close(s * (c * -90 + d), 2 ** z * T); // Dec -90 → bottom
    close(s * (c * 90 + d), 0); // Dec 90 → top
  }
});

test("world pixel ↔ sky round trips, both RA directions", () => {
  const T = 675;
  for (const raLeft of [true, false]) {
    for (const z of [0, 2.5, 7]) {
      for (const [ra, dec] of [[0.001, 0], [10, -45], [150.1, 2.2], [180, 89.9], [359.9, -89.9]]) {
        const p = skyToWorld(ra, dec, z, T, raLeft);
        const s = worldToSky(p.x, p.y, z, T, raLeft);
        close(s.ra, ra, 1e-9);
        close(s.dec, dec, 1e-9);
      }
    }
  }
  // centre of the strip is RA 180 under flip, 0 without
  const mid = worldToSky(675, 337.5, 0, 675, true);
  close(mid.ra, 180);
  close(mid.dec, 0);
  close(worldToSky(675, 337.5, 0, 675, false).ra, 0);
  // at integer zoom, one pixel is 180 / (2^z T) degrees
  const a = worldToSky(1000, 500, 3, 675, false);
  const b = worldToSky(1001, 501, 3, 675, false);
  close(b.ra - a.ra, 180 / (8 * 675));
  close(a.dec - b.dec, 180 / (8 * 675));
});

test("raToLng picks the strip copy nearest a reference", () => {
  close(raToLng(10, true), 170);
  close(raToLng(10, true, 500), 530);
  close(raToLng(350, false, 0), -10);
  close(raToLng(350, false, 300), 350);
  close(lngToRa(raToLng(123.4, true, -900), true), 123.4);
});

test("sexagesimal formatting, with rounding carry", () => {
  assert.equal(formatRa(150), "10:00:00.00");
  assert.equal(formatRa(0), "00:00:00.00");
  assert.equal(formatRa(360), "00:00:00.00");
  assert.equal(formatRa(359.9999999999), "00:00:00.00");
  assert.equal(formatRa(15 / 3600), "00:00:01.00");
  assert.equal(formatRa(83.63308), "05:34:31.94");
  assert.equal(formatRa(-15), "23:00:00.00");
  assert.equal(formatRa(150, 0), "10:00:00");
  assert.equal(formatDec(2.2), "+02:12:00.0");
  assert.equal(formatDec(-0.5), "-00:30:00.0");
  assert.equal(formatDec(22.0145), "+22:00:52.2");
  assert.equal(formatDec(-89.99999999), "-90:00:00.0");
  assert.equal(formatDec(-1e-9), "+00:00:00.0");
  assert.equal(formatDec(90), "+90:00:00.0");
});

test("parses decimal and sexagesimal coordinates", () => {
  const cases = [
    ["150.1 2.2", 150.1, 2.2],
    ["150.1, -2.2", 150.1, -2.2],
    ["150.1,-2.2", 150.1, -2.2],
    ["  150.1   +2.2 ", 150.1, 2.2],
    ["10h00m00s +02d12m", 150, 2.2],
    ["10h00m00s+02d12m00s", 150, 2.2],
    ["10:00:00 +02:12:00", 150, 2.2],
    ["10:00:00 -02:12:00", 150, -2.2],
    ["10 00 00 -02 12 00", 150, -2.2],
    ["10 30 2 15", 157.5, 2.25],
    ["10h 30m 00s 02d 15m", 157.5, 2.25],
    ["05h34m31.94s +22d00m52.2s", 83.63308333333333, 22.0145],
    ["10h -2d", 150, -2],
    ["150d -2.5d", 150, -2.5],
    ["150°05′ −2°30′", 150 + 5 / 60, -2.5],
    ["10:00:00 −00:30:00", 150, -0.5],
    ["24:00:00 0", 0, 0],
    ["0 -90", 0, -90],
  ];
  for (const [text, ra, dec] of cases) {
    const p = parseCoordinates(/** @type {string} */ (text));
    close(p.ra, /** @type {number} */ (ra), 1e-9);
    close(p.dec, /** @type {number} */ (dec), 1e-9);
  }
});

test("rejects malformed or out-of-range coordinates", () => {
  for (const bad of ["", "abc", "150.1", "400 0", "10 95", "10:61:00 0", "1 2 3", "10m 2", "150 2 x"]) {
    assert.throws(() => parseCoordinates(bad), undefined, bad);
  }
});
