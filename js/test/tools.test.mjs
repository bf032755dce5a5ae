import { test } from "node:test";
import assert from "node:assert/strict";
import { along, formatAngle, greatCircleLatLngs, positionAngle, separation } from "../src/tools/sphere.js";
import { resampled } from "../src/tools/resample.js";

// [ra1, dec1, ra2, dec2, separation, position angle] from astropy's SkyCoord
// (separation, position_angle): across RA 0, across and near the poles, nearly antipodal.
const ASTROPY = [
  [10.0, 0.0, 11.0, 0.0, 1.0, 90.0],
  [359.9, 1.0, 0.1, -1.0, 2.0099741138510008, 174.28911308382433],
  [0.2, 5.0, 359.5, 5.3, 0.7589800050505107, 293.31375758344853],
  [10.0, 89.9, 190.0, 89.8, 0.3000000000000011, 0.0],
  [45.0, -89.5, 300.0, -88.0, 2.1834704813045165, 242.22648335038497],
  [0.0, 0.0, 179.0, 0.5, 178.8819773640169, 63.433203431642205],
];

test("separation and position angle agree with astropy", () => {
  for (const [ra1, dec1, ra2, dec2, sep, pa] of ASTROPY) {
    assert.ok(Math.abs(separation(ra1, dec1, ra2, dec2) - sep) < 1e-9, `${ra1},${dec1} → ${ra2},${dec2}`);
    const d = ((positionAngle(ra1, dec1, ra2, dec2) - pa + 540) % 360) - 180;
    assert.ok(Math.abs(d) < 1e-6, `PA ${positionAngle(ra1, dec1, ra2, dec2)} vs ${pa}`);
  }
});

test("points along the great circle are evenly spaced and end at the ends", () => {
  const p = along(350, 60, 20, 70, 11);
  const total = separation(350, 60, 20, 70);
  for (let k = 0; k < 11; k++) {
    assert.ok(Math.abs(separation(350, 60, p.ra[k], p.dec[k]) - (total * k) / 10) < 1e-9);
  }
  assert.ok(Math.abs(p.ra[10] - 20) < 1e-9 && Math.abs(p.dec[10] - 70) < 1e-9);
});

test("a line across RA 0 stays continuous on the screen", () => {
  const ll = greatCircleLatLngs({ ra: 359, dec: 0 }, { ra: 1, dec: 0 }, true, 181);
  for (let k = 1; k < ll.length; k++) assert.ok(Math.abs(ll[k][1] - ll[k - 1][1]) < 1, "no jump of a sky width");
  assert.ok(Math.abs(ll[0][1] - 181) < 1e-9 && Math.abs(ll[ll.length - 1][1] - 179) < 1e-9);
});

test("readouts and resampling", () => {
  assert.equal(formatAngle(0.5), "30.00′");
  assert.equal(formatAngle(2), "2.0000°");
  assert.equal(formatAngle(1 / 3600), "1.000″");
  assert.deepEqual(resampled([0, 1, 2], [5, 6, 7], [0, 1, 2]), [5, 6, 7]);
  assert.deepEqual(resampled([0, 2, 4], [5, null, 7], [0, 1.1, 3.9]), [5, null, 7]);
});
