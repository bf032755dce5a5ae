import { test } from "node:test";
import assert from "node:assert/strict";
import { adjustFunction, colourize, indexFunction } from "../src/colour.js";

// A LUT whose entries all differ: the red channel is the index.
const lut = new Uint8Array(1024);
for (let i = 0; i < 256; i++) lut.set([i, 255 - i, (7 * i) & 255, 255], 4 * i);

const VALUES = [-120, -100, -50, -10, 0, 10, 37, 50, 99, 100, 300, NaN];
// Indices from the Python renderer (engine/render.py colour_indices), −1 for NaN.
const PYTHON = [
  ["linear", 2.0, 1.5, 0.1, [0, 0, 121, 185, 198, 210, 239, 252, 255, 255, 255, -1]],
  ["asinh", 0.5, 0.8, -0.2, [0, 0, 29, 61, 68, 75, 92, 99, 124, 125, 125, -1]],
  ["abs", 1.0, 2.0, 0.0, [255, 255, 255, 153, 128, 153, 222, 255, 255, 255, 255, -1]],
  ["sqrt_sym", 3.0, 1.0, 0.05, [94, 94, 148, 187, 209, 228, 242, 247, 255, 255, 255, -1]],
];

test("gamma, contrast, brightness: the documented formula", () => {
  assert.equal(adjustFunction({}), null);
  assert.equal(adjustFunction({ gamma: 1, contrast: 1, brightness: 0 }), null);
  const f = adjustFunction({ gamma: 2, contrast: 1.5, brightness: 0.1 });
  for (const t of [-1, 0, 0.1, 0.25, 0.5, 0.8, 1, 2]) {
    const u = Math.min(1, Math.max(0, t));
    const expected = Math.pow(Math.min(1, Math.max(0, 1.5 * (u - 0.5) + 0.5 + 0.1)), 0.5);
    assert.equal(f(t), expected);
  }
});

test("colourize with contrast controls gives the Python renderer's indices", () => {
  for (const [stretch, gamma, contrast, brightness, expected] of PYTHON) {
    const adjust = { gamma, contrast, brightness };
    const out = colourize(Float32Array.from(VALUES), lut, -100, 100, stretch, undefined, adjust);
    const got = VALUES.map((_, i) => (out[4 * i + 3] === 0 ? -1 : out[4 * i]));
    assert.deepEqual(got, expected, stretch);
    const index = indexFunction(stretch, -100, 100, adjust);
    assert.deepEqual(VALUES.map((v) => (v !== v ? -1 : index(v))), expected, `${stretch} (index function)`);
  }
});

test("the identity leaves colours unchanged", () => {
  const values = Float32Array.from({ length: 1000 }, (_, i) => -150 + 0.3 * i);
  for (const stretch of ["linear", "asinh", "sqrt", "abs", "asinh_sym"]) {
    const a = colourize(values, lut, -100, 100, stretch);
    const b = colourize(values, lut, -100, 100, stretch, undefined, { gamma: 1, contrast: 1, brightness: 0 });
    assert.deepEqual(b, a);
  }
});
