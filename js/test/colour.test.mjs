import { test } from "node:test";
import assert from "node:assert/strict";
import { colourize, decodeLut, lutIndex, stretchFunction, inverseStretch, renderProblem, STRETCHES } from "../src/colour.js";

// A LUT whose entries all differ: entry i = (i, 255 - i, 7i mod 256, 200).
const lut = new Uint8Array(1024);
for (let i = 0; i < 256; i++) lut.set([i, 255 - i, (7 * i) & 255, 200], 4 * i);
const rgba = (/** @type {number} */ i) => [i, 255 - i, (7 * i) & 255, 200];

/** @param {number[]} values @param {number} vmin @param {number} vmax @param {string} stretch */
function colours(values, vmin, vmax, stretch) {
  const out = colourize(Float32Array.from(values), lut, vmin, vmax, stretch);
  const px = [];
  for (let i = 0; i < values.length; i++) px.push([...out.slice(4 * i, 4 * i + 4)]);
  return px;
}

test("linear: vmin, vmax, mid, out of range, NaN, infinities", () => {
  const px = colours([-100, 100, 0, -500, 500, NaN, Infinity, -Infinity, 99.9], -100, 100, "linear");
  assert.deepEqual(px[0], rgba(0));
  assert.deepEqual(px[1], rgba(255));
  assert.deepEqual(px[2], rgba(128));
  assert.deepEqual(px[3], rgba(0));
  assert.deepEqual(px[4], rgba(255));
  assert.deepEqual(px[5], [0, 0, 0, 0]);
  assert.deepEqual(px[6], rgba(255));
  assert.deepEqual(px[7], rgba(0));
  assert.deepEqual(px[8], rgba(255)); // floor(0.9995 * 256) = 255
});

test("each stretch at u = 0, 0.25, 0.5, 1 (vmin 0, vmax 1)", () => {
  const expected = {
    linear: [0, 64, 128, 255],
    sqrt: [0, 128, 181, 255],
    log: [0, 204, 230, 255], // vmin = 0: DS9-style log1p(1000u)/log1p(1000)
    asinh: [0, 140, 197, 255], // asinh(10u)/asinh(10)
    abs: [0, 64, 128, 255],
  };
  for (const [stretch, idx] of Object.entries(expected)) {
    const px = colours([0, 0.25, 0.5, 1], 0, 1, stretch);
    assert.deepEqual(px, idx.map(rgba), stretch);
  }
});

test("log with vmin > 0 is matplotlib's LogNorm: log(v/vmin)/log(vmax/vmin)", () => {
  // 1 → 0, 10 → 0.5, 100 → 1; 0, negatives and values below vmin → bottom colour
  const px = colours([1, 10, 100, 1000, 0.5, 0, -3, 31.622776], 1, 100, "log");
  assert.deepEqual(px, [rgba(0), rgba(128), rgba(255), rgba(255), rgba(0), rgba(0), rgba(0), rgba(191)]);
  const f = stretchFunction("log", 2, 2048);
  for (const v of [2, 5, 64, 700, 2048]) {
    const u = (v - 2) / (2048 - 2);
    assert.ok(Math.abs(f(u) - Math.log(v / 2) / Math.log(1024)) < 1e-12, String(v));
  }
});

test("abs colours |v|; other stretches clip negatives to the bottom", () => {
  assert.deepEqual(colours([-0.25, -1, -3], 0, 1, "abs"), [rgba(64), rgba(255), rgba(255)]);
  for (const s of ["linear", "sqrt", "log", "asinh"]) assert.deepEqual(colours([-0.25], 0, 1, s), [rgba(0)], s);
});

test("NaN is transparent under every stretch", () => {
  for (const s of STRETCHES) assert.deepEqual(colours([NaN], 0, 1, s), [[0, 0, 0, 0]], s);
});

test("the fast loop agrees with lutIndex on many values", () => {
  const values = new Float32Array(5000);
  let seed = 12345;
  for (let i = 0; i < values.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    values[i] = (seed / 0x7fffffff) * 3 - 1.2;
  }
  for (const s of STRETCHES) {
    const out = colourize(values, lut, -0.7, 1.3, s);
    for (let i = 0; i < values.length; i++) {
      const k = lutIndex(values[i], -0.7, 1.3, s);
      assert.equal(out[4 * i], k, `${s} at ${values[i]}`);
    }
  }
});

test("a collapsed range still colours, without NaN", () => {
  assert.deepEqual(colours([4, 5, 6], 5, 5, "linear"), [rgba(0), rgba(0), rgba(255)]);
});

test("reuses the output buffer and rejects a small one", () => {
  const out = new Uint8ClampedArray(8);
  assert.equal(colourize(Float32Array.of(0, 1), lut, 0, 1, "linear", out), out);
  assert.throws(() => colourize(Float32Array.of(0, 1, 2), lut, 0, 1, "linear", out), /too small/);
  assert.throws(() => colourize(Float32Array.of(0), lut, 0, 1, "gamma"), /unknown stretch/);
});

test("stretches map 0 → 0 and 1 → 1 and invert", () => {
  for (const s of STRETCHES) {
    const f = stretchFunction(s, 3, 300);
    const g = inverseStretch(s, 3, 300);
    assert.ok(Math.abs(f(0)) < 1e-12 && Math.abs(f(1) - 1) < 1e-12, s);
    for (const u of [0.1, 0.3, 0.77]) assert.ok(Math.abs(g(f(u)) - u) < 1e-9, `${s} ${u}`);
  }
});

test("decodes a base64 LUT", () => {
  const b64 = Buffer.from(lut).toString("base64");
  assert.deepEqual(decodeLut(b64), lut);
  assert.throws(() => decodeLut("AAAA"), /1024/);
});

test("a 675×675 tile colours quickly (informational)", () => {
  const n = 675 * 675;
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = i % 97 === 0 ? NaN : Math.sin(i) * 300;
  const out = new Uint8ClampedArray(4 * n);
  for (const s of STRETCHES) {
    colourize(values, lut, -300, 300, s, out); // warm up
    const t0 = performance.now();
    for (let r = 0; r < 5; r++) colourize(values, lut, -300, 300, s, out);
    const ms = (performance.now() - t0) / 5;
    console.log(`# colourize 675x675 ${s}: ${ms.toFixed(2)} ms`);
  }
});

test("renderProblem: the kernel's rule and words (engine/render.py RenderOptions.problem)", () => {
  // Expected messages as Python's RenderOptions(...).problem() gives them.
  assert.equal(renderProblem("linear", -500, 500), null);
  assert.equal(renderProblem("log", 1, 1000), null);
  assert.equal(renderProblem("log", -500, 500), "a log stretch needs vmin > 0 (vmin is -500)");
  assert.equal(renderProblem("log", 0, 500), "a log stretch needs vmin > 0 (vmin is 0)");
  assert.equal(renderProblem("linear", 5, 5), "vmin (5) must be less than vmax (5)");
  assert.equal(renderProblem("linear", 1, 1.00000001), "vmin (1) must be less than vmax (1.00000001)");
  assert.equal(renderProblem("sqrt", NaN, 1), "vmin and vmax must be finite numbers");
  assert.equal(renderProblem("asinh", 0, Infinity), "vmin and vmax must be finite numbers");
  assert.equal(renderProblem("linear", 0, 1e39), "vmin and vmax must lie within ±3.403e+38 (maps are coloured in float32)");
  assert.match(/** @type {string} */ (renderProblem("gamma", 0, 1)), /^unknown stretch 'gamma'; use one of linear, log/);
});

test("sign-symmetric stretches: the formula of docs/protocol.md, zero stays in the middle", () => {
  // t = (g(v) − g(vmin)) / (g(vmax) − g(vmin)); index = min(255, floor(256 t)).
  const gSqrt = (/** @type {number} */ v) => Math.sign(v) * Math.sqrt(Math.abs(v));
  const cases = [
    [-500, 500],
    [-100, 500],
    [0, 300],
    [-2e-4, 5e-4],
  ];
  for (const [vmin, vmax] of cases) {
    const s = 0.1 * Math.max(Math.abs(vmin), Math.abs(vmax));
    const gAsinh = (/** @type {number} */ v) => Math.asinh(v / s);
    for (const [name, g] of /** @type {const} */ ([["sqrt_sym", gSqrt], ["asinh_sym", gAsinh]])) {
      for (const f of [0, 0.001, 0.01, 0.1, 0.37, 0.5, 0.62, 0.9, 0.999, 1]) {
        const v = vmin + f * (vmax - vmin);
        const t = (g(v) - g(vmin)) / (g(vmax) - g(vmin));
        const want = Math.min(255, Math.floor(256 * t));
        assert.equal(lutIndex(v, vmin, vmax, name), want, `${name} ${vmin}..${vmax} at ${v}`);
      }
      assert.equal(lutIndex(vmin - 1, vmin, vmax, name), 0);
      assert.equal(lutIndex(vmax + 1, vmin, vmax, name), 255);
    }
  }
  // The reported problem: RdBu_r at ±500 µK draws zero red with asinh, white with asinh_sym.
  assert.equal(lutIndex(0, -500, 500, "asinh"), Math.floor(256 * (Math.asinh(5) / Math.asinh(10))));
  assert.ok(lutIndex(0, -500, 500, "asinh") > 190);
  for (const name of ["asinh_sym", "sqrt_sym"]) {
    assert.equal(lutIndex(0, -500, 500, name), 128);
    assert.equal(lutIndex(-50, -500, 500, name) + lutIndex(50, -500, 500, name), 255, name); // odd about zero
  }
});
