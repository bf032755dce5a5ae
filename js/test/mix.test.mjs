import { test } from "node:test";
import assert from "node:assert/strict";
import { mixComposite } from "../src/tools/mix.js";

test("composite colours agree with the server's (engine/composite.py composite_rgba)", () => {
  const values = [
    Float32Array.from([-60, -10, 0, 33.3, 70, 150, NaN]),
    Float32Array.from([0, 10, 50, 77, 120, 300, NaN]),
    Float32Array.from([NaN, 60, 90, 130, 170, 210, NaN]),
  ];
  const channels = [
    { layer: "a", vmin: -50, vmax: 100, stretch: "linear", weight: 1 },
    { layer: "b", vmin: 0, vmax: 150, stretch: "sqrt", weight: 1.5 },
    { layer: "c", vmin: 50, vmax: 200, stretch: "asinh_sym", weight: 0.5 },
  ];
  // From the Python renderer for the same values and channels.
  const python = [[0, 0, 0, 255], [68, 99, 16, 255], [85, 221, 53, 255], [142, 255, 87, 255], [204, 255, 112, 255], [255, 255, 128, 255], [0, 0, 0, 0]];
  const out = mixComposite(values, channels, new Uint8ClampedArray(4 * 7));
  const got = [];
  for (let i = 0; i < 7; i++) got.push([...out.slice(4 * i, 4 * i + 4)]);
  assert.deepEqual(got, python);
});

test("a layer without a tile there counts as NaN", () => {
  const out = mixComposite([null, Float32Array.from([75]), null], [
    { layer: "a", vmin: 0, vmax: 1, stretch: "linear", weight: 1 },
    { layer: "b", vmin: 0, vmax: 150, stretch: "linear", weight: 1 },
    { layer: "c", vmin: 0, vmax: 1, stretch: "linear", weight: 1 },
  ], new Uint8ClampedArray(4));
  assert.deepEqual([...out], [0, 128, 0, 255]);
});
