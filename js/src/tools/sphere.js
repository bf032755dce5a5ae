// Great circles in the browser: the ruler's distance and position angle, and the
// points a drawn line follows. The same formulas as the kernel's
// (tilemaker_widget/engine/sphere.py): Vincenty's distance, position angle east of north.

import { raToLng } from "../sky.js";

/** @typedef {{ra: number, dec: number}} Sky */

const RAD = Math.PI / 180;

/**
 * Great-circle distance in degrees.
 * @param {number} ra1 @param {number} dec1 @param {number} ra2 @param {number} dec2
 */
export function separation(ra1, dec1, ra2, dec2) {
  const d1 = dec1 * RAD, d2 = dec2 * RAD, da = (ra2 - ra1) * RAD;
  const num = Math.hypot(Math.cos(d2) * Math.sin(da), Math.cos(d1) * Math.sin(d2) - Math.sin(d1) * Math.cos(d2) * Math.cos(da));
  const den = Math.sin(d1) * Math.sin(d2) + Math.cos(d1) * Math.cos(d2) * Math.cos(da);
  return Math.atan2(num, den) / RAD;
}

/**
 * Position angle of point 2 seen from point 1, degrees east of north in [0, 360).
 * @param {number} ra1 @param {number} dec1 @param {number} ra2 @param {number} dec2
 */
export function positionAngle(ra1, dec1, ra2, dec2) {
  const d1 = dec1 * RAD, d2 = dec2 * RAD, da = (ra2 - ra1) * RAD;
  const y = Math.sin(da) * Math.cos(d2);
  const x = Math.cos(d1) * Math.sin(d2) - Math.sin(d1) * Math.cos(d2) * Math.cos(da);
  const pa = Math.atan2(y, x) / RAD;
  return ((pa % 360) + 360) % 360;
}

/**
 * `n` points (n ≥ 2) evenly along the great circle from 1 to 2, ends included.
 * @param {number} ra1 @param {number} dec1 @param {number} ra2 @param {number} dec2
 * @param {number} n
 * @returns {{ra: number[], dec: number[]}}
 */
export function along(ra1, dec1, ra2, dec2, n) {
  const v = (/** @type {number} */ ra, /** @type {number} */ dec) => {
    const c = Math.cos(dec * RAD);
    return [c * Math.cos(ra * RAD), c * Math.sin(ra * RAD), Math.sin(dec * RAD)];
  };
  const a = v(ra1, dec1), b = v(ra2, dec2);
  const total = separation(ra1, dec1, ra2, dec2) * RAD;
  const dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
  let w = [b[0] - dot * a[0], b[1] - dot * a[1], b[2] - dot * a[2]];
  const norm = Math.hypot(w[0], w[1], w[2]);
  const ra = [], dec = [];
  for (let k = 0; k < n; k++) {
    const t = n === 1 ? 0 : (total * k) / (n - 1);
    const p = norm > 0 ? [0, 1, 2].map((i) => a[i] * Math.cos(t) + (w[i] / norm) * Math.sin(t)) : a;
    ra.push(((Math.atan2(p[1], p[0]) / RAD) % 360 + 360) % 360);
    dec.push(Math.asin(Math.max(-1, Math.min(1, p[2]))) / RAD);
  }
  return { ra, dec };
}

/**
 * An angle for a readout: arcseconds below 1′, arcminutes below 1°, else degrees.
 * @param {number} deg
 */
export function formatAngle(deg) {
  if (deg < 1 / 60) return `${(deg * 3600).toPrecision(4)}″`;
  if (deg < 1) return `${(deg * 60).toPrecision(4)}′`;
  return `${deg.toPrecision(5)}°`;
}

/**
 * Leaflet positions of the great circle from a to b, unwrapped so the line never
 * jumps a sky width at RA 0 (display longitudes kept continuous from a's).
 * @param {Sky} a @param {Sky} b @param {boolean} raLeft @param {number} nearLng
 * @returns {[number, number][]}
 */
export function greatCircleLatLngs(a, b, raLeft, nearLng) {
  const n = Math.max(2, Math.min(256, Math.ceil(separation(a.ra, a.dec, b.ra, b.dec) / 0.25) + 1));
  const p = along(a.ra, a.dec, b.ra, b.dec, n);
  /** @type {[number, number][]} */
  const out = [];
  let prev = nearLng;
  for (let k = 0; k < n; k++) {
    const lng = raToLng(p.ra[k], raLeft, prev);
    out.push([p.dec[k], lng]);
    prev = lng;
  }
  return out;
}
