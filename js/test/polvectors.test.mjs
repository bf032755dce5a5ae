// Polarization vectors: data level per zoom, screen direction of ψ, which layers feed them.
import assert from "node:assert/strict";
import test from "node:test";

import { polarizationInputs, screenDirection, SPACING, vectorLevel } from "../src/overlays/polvectors.js";

test("the data level puts one level pixel about SPACING screen pixels apart", () => {
  for (const zoom of [2, 3.5, 5, 7]) {
    const { level, stride, pixel } = vectorLevel(zoom, 10);
    assert.equal(pixel, 2 ** (zoom - level));
    assert.ok(pixel * stride >= SPACING / 2 && pixel * stride <= SPACING * 2, `zoom ${zoom}`);
  }
  // Past the native level: every native pixel (they are then far apart on screen).
  const deep = vectorLevel(12, 5);
  assert.deepEqual(deep, { level: 5, stride: 1, pixel: 128 });
  // Zoomed far out: level 0, one pixel in every `stride`.
  assert.deepEqual(vectorLevel(0, 5), { level: 0, stride: SPACING, pixel: 1 });
});

test("ψ is east of north: 0 points up, 90 points east (left when RA increases to the left)", () => {
  const close = (/** @type {number[]} */ a, /** @type {number[]} */ b) => a.every((v, i) => Math.abs(v - b[i]) < 1e-12);
  assert.ok(close(screenDirection(0, true), [0, -1]));
  assert.ok(close(screenDirection(90, true), [-1, 0]));
  assert.ok(close(screenDirection(90, false), [1, 0]));
  assert.ok(close(screenDirection(45, true), [-Math.SQRT1_2, -Math.SQRT1_2]));
  // Headless: ψ and ψ ± 180° are the same segment.
  const [x1, y1] = screenDirection(30, true);
  const [x2, y2] = screenDirection(-150, true);
  assert.ok(Math.abs(x1 + x2) < 1e-12 && Math.abs(y1 + y2) < 1e-12);
});

test("Q and U come from the band of the layer shown", () => {
  const band = (/** @type {string} */ b) => ["I", "Q", "U", "P", "ψ"].map((name) => ({
    id: `${b}-${name}`, name, band_id: b, map_id: `m${b}`,
    ...(name === "P" ? { polarization: { quantity: "P" } } : name === "ψ" ? { polarization: { quantity: "angle", convention: "COSMO" } } : {}),
  }));
  const layers = [...band("f090"), ...band("f150"), { id: "ivar", name: "ivar", band_id: "x", map_id: "mx" }];
  const got = polarizationInputs(/** @type {any} */ (layers), "f150-P");
  assert.equal(got?.q.id, "f150-Q");
  assert.equal(got?.u.id, "f150-U");
  assert.equal(got?.psi?.polarization?.convention, "COSMO");
  assert.equal(polarizationInputs(/** @type {any} */ (layers), "ivar"), null);
});
