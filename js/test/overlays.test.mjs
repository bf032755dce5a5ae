import { test } from "node:test";
import assert from "node:assert/strict";
import { PointIndex } from "../src/overlays/spatial.js";
import { boxContains, boxFromDrag, boxLngSpan, nextBoxName } from "../src/overlays/geometry.js";
import { makeStamp, markerRadius, packRgba, parseHex, stamp } from "../src/overlays/markers.js";
import { submapPath } from "../src/overlays/download.js";

/** A deterministic pseudo-random generator (no Math.random in tests). */
function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function points(n, seed, lng0 = -180, lng1 = 180, dec0 = -90, dec1 = 90) {
  const r = rng(seed);
  const lng = new Float64Array(n);
  const dec = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    lng[i] = lng0 + (lng1 - lng0) * r();
    dec[i] = dec0 + (dec1 - dec0) * r();
  }
  return { lng, dec };
}

test("grid query returns every point in the rectangle (a superset, no duplicates)", () => {
  for (const [n, box] of [[100000, [-180, 180, -90, 90]], [5000, [10, 12, -3, -1]], [1, [5, 5, 5, 5]]]) {
    const { lng, dec } = points(n, 7, ...box);
    const idx = new PointIndex(lng, dec);
    for (const q of [[-20, 30, -10, 40], [box[0], box[1], box[2], box[3]], [10.5, 10.6, -2, -1.9], [100, 50, 0, 1]]) {
      const got = [];
      idx.forEachIn(q[0], q[1], q[2], q[3], (i) => got.push(i));
      assert.equal(new Set(got).size, got.length);
      const gotSet = new Set(got);
      for (let i = 0; i < n; i++) {
        const inside = lng[i] >= q[0] && lng[i] <= q[1] && dec[i] >= q[2] && dec[i] <= q[3];
        if (inside) assert.ok(gotSet.has(i), `point ${i} missed for ${q}`);
      }
    }
  }
});

test("nearest agrees with a brute-force search", () => {
  const { lng, dec } = points(20000, 3, -40, 40, -30, 30);
  const idx = new PointIndex(lng, dec);
  const r = rng(11);
  for (let k = 0; k < 200; k++) {
    const x = -45 + 90 * r();
    const y = -35 + 70 * r();
    const radius = 0.5 * r();
    let best = -1, bestD = radius * radius;
    for (let i = 0; i < lng.length; i++) {
      const d = (lng[i] - x) ** 2 + (dec[i] - y) ** 2;
      if (d <= bestD) (bestD = d), (best = i);
    }
    const got = idx.nearest(x, y, radius);
    if (best < 0) assert.equal(got, -1);
    else assert.equal((lng[got] - x) ** 2 + (dec[got] - y) ** 2, bestD);
  }
});

test("box spans: shorter RA arc, boxes across RA 0, nearest copy of the strip", () => {
  // RA 350 → 10 (across 0) with RA to the left: lng 180−350 = −170 and 180−10 = 170 → one 20° span.
  const b = { top_left_ra: 10, bottom_right_ra: 350 };
  const [w, e] = boxLngSpan(b, true, 175);
  assert.ok(Math.abs(e - w - 20) < 1e-9 && w < 180 && e > 180, `${w} ${e}`);
  const [w2, e2] = boxLngSpan(b, true, -175);
  assert.ok(Math.abs(w2 - (w - 360)) < 1e-9 && Math.abs(e2 - (e - 360)) < 1e-9);
  const [w3, e3] = boxLngSpan(b, false, 0);
  assert.deepEqual([w3, e3], [-10, 10]);
  assert.ok(boxContains({ ...b, id: "x", name: "x", top_left_dec: 5, bottom_right_dec: -5 }, 0, 0, false));
  assert.ok(boxContains({ ...b, id: "x", name: "x", top_left_dec: 5, bottom_right_dec: -5 }, -179, 0, true));
  assert.ok(!boxContains({ ...b, id: "x", name: "x", top_left_dec: 5, bottom_right_dec: -5 }, 0, 0, true));
});

test("a dragged box names its screen corners; wider than 180° is refused", () => {
  // RA to the left: the left edge has the larger RA.
  const c = boxFromDrag(170, 2, 190, -3, true);
  assert.ok(Math.abs(c.top_left_ra - 10) < 1e-9 && Math.abs(c.bottom_right_ra - 350) < 1e-9);
  assert.equal(c.top_left_dec, 2);
  assert.equal(c.bottom_right_dec, -3);
  const d = boxFromDrag(20, -3, -10, 2, false);
  assert.deepEqual([d.top_left_ra, d.bottom_right_ra], [350, 20]);
  assert.equal(boxFromDrag(-100, 0, 100, 1, true), null);
  assert.equal(boxFromDrag(1, 0, 1, 1, true), null);
  assert.equal(nextBoxName([{ name: "box 2" }]), "box 3");
  assert.equal(nextBoxName([{ name: "box 2" }, { name: "x" }]), "box 3");
  assert.equal(nextBoxName([{ name: "a" }, { name: "box 3" }]), "box 4");
});

test("marker stamps and pixel packing", () => {
  assert.equal(markerRadius(1), 1.5);
  assert.equal(markerRadius(1e6), 7);
  assert.ok(markerRadius(60) > markerRadius(10));
  const s = makeStamp(5);
  assert.ok(s.fg.length > 0 && s.halo.length > 0 && s.reach === 6);
  const buf = new Uint32Array(20 * 20);
  const px = packRgba(255, 0, 255);
  stamp(buf, 20, 20, 0, 0, s.fg, s.reach, px); // clipped at the corner
  stamp(buf, 20, 20, 10, 10, s.fg, s.reach, px);
  assert.ok(buf.filter((v) => v === px).length > s.fg.length / 2);
  assert.equal(new Uint8Array(Uint32Array.of(packRgba(1, 2, 3, 4)).buffer).join(), "1,2,3,4");
  assert.deepEqual(parseHex("#0f8"), [0, 255, 136]);
  assert.equal(parseHex("red"), null);
});

test("submap path takes the RA edges then the Dec edges", () => {
  const p = submapPath("f a", { id: "b", name: "n", top_left_ra: 3, top_left_dec: 2, bottom_right_ra: 358, bottom_right_dec: -1.5 }, "fits");
  assert.equal(p, "layers/f%20a/submap/3/358/2/-1.5/image.fits");
});
