import { test } from "node:test";
import assert from "node:assert/strict";
import { formatShort, parseNumber } from "../src/numbers.js";
import { decLabelBaseline, raLabelLeft } from "../src/graticule.js";
import { footprintLngSpan } from "../src/sky.js";

test("formatShort fits a toolbar field (%.4g-like) for the values that were cut", () => {
  assert.equal(formatShort(0.0022541), "2.254e-3");
  assert.equal(formatShort(-0.000233), "-2.33e-4");
  assert.equal(formatShort(500), "500");
  assert.equal(formatShort(-123.456), "-123.5");
  assert.equal(formatShort(0.05), "0.05");
  assert.equal(formatShort(12345.6), "1.235e4");
  assert.equal(formatShort(-1.5e-12), "-1.5e-12");
  assert.equal(formatShort(0), "0");
  for (const v of [0.0022541, -0.000233, 9.87654e30, -1.23456e-30, 3.14159, -99999.9]) {
    const s = formatShort(v);
    assert.ok(s.length <= 10, `${v} → ${s}`);
    assert.ok(Math.abs(Number(s) - v) <= Math.abs(v) * 5e-4, `${v} → ${s}`);
  }
});

test("parseNumber is strict and says why", () => {
  assert.equal(parseNumber(" 1e3 "), 1000);
  assert.equal(parseNumber("−2.5"), -2.5);
  assert.throws(() => parseNumber("abc"), /'abc' is not a number/);
  assert.throws(() => parseNumber("600abc"), /'600abc' is not a number/);
  assert.throws(() => parseNumber("  "), /empty/);
  assert.throws(() => parseNumber("Infinity"), /not a number/);
});

test("grid labels stay inside the view", () => {
  // A Dec line 5 px below the top edge: its label goes under the line, whole.
  const y = decLabelBaseline(5, 11);
  assert.ok(y - 11 >= 0, `baseline ${y}`);
  assert.equal(decLabelBaseline(200, 11), 198);
  assert.equal(raLabelLeft(100, 40, 960), 103);
  assert.equal(raLabelLeft(950, 40, 960), 907);
});

test("a map's footprint in display longitude, RA to the left or right", () => {
  // RA 0–60 (bounding_left 0, right 60): RA increasing to the left puts it at lng 120…180.
  assert.deepEqual(footprintLngSpan({ bounding_left: 0, bounding_right: 60 }, true, 150), [120, 180]);
  assert.deepEqual(footprintLngSpan({ bounding_left: 0, bounding_right: 60 }, false, 0), [0, 60]);
  // Across RA 0 (−15 … 15), and the full sky.
  assert.deepEqual(footprintLngSpan({ bounding_left: -15, bounding_right: 15 }, true, -180), [-195, -165]);
  const [w, e] = footprintLngSpan({ bounding_left: -180, bounding_right: 180 }, true, 0);
  assert.equal(e - w, 360);
});
