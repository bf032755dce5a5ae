// Box geometry in display coordinates (see sky.js): a box is two RA edges and two Dec
// edges; like the cutout engine (engine/cutout.py) its RA extent is the shorter arc
// between the edges, so boxes across RA 0/360 need no special case.

import { lngToRa, raToLng } from "../sky.js";

/**
 * @typedef {object} SkyBox
 * @property {string} id
 * @property {string} name
 * @property {number} top_left_ra
 * @property {number} top_left_dec
 * @property {number} bottom_right_ra
 * @property {number} bottom_right_dec
 */

/**
 * The display-longitude span [west, east] of a box (east − west ≤ 180), in the copy
 * of the strip whose middle is nearest `nearLng`.
 * @param {Pick<SkyBox, "top_left_ra" | "bottom_right_ra">} box
 * @param {boolean} raLeft
 * @param {number} [nearLng]
 * @returns {[number, number]}
 */
export function boxLngSpan(box, raLeft, nearLng = 0) {
  const a = raToLng(box.top_left_ra, raLeft, nearLng);
  const b = raToLng(box.bottom_right_ra, raLeft, a);
  const west = Math.min(a, b);
  const east = Math.max(a, b);
  const k = Math.round((nearLng - (west + east) / 2) / 360);
  return [west + 360 * k, east + 360 * k];
}

/**
 * @param {Pick<SkyBox, "top_left_dec" | "bottom_right_dec">} box
 * @returns {[number, number]} [south, north]
 */
export function boxDecSpan(box) {
  return [Math.min(box.top_left_dec, box.bottom_right_dec), Math.max(box.top_left_dec, box.bottom_right_dec)];
}

/**
 * Is a display position inside a box (any copy of the strip)?
 * @param {SkyBox} box
 * @param {number} lng
 * @param {number} dec
 * @param {boolean} raLeft
 */
export function boxContains(box, lng, dec, raLeft) {
  const [w, e] = boxLngSpan(box, raLeft, lng);
  const [s, n] = boxDecSpan(box);
  return lng >= w && lng <= e && dec >= s && dec <= n;
}

/** Sky area proxy (square degrees in the CAR plane), to prefer the smallest box. */
/** @param {SkyBox} box @param {boolean} raLeft */
export function boxArea(box, raLeft) {
  const [w, e] = boxLngSpan(box, raLeft);
  const [s, n] = boxDecSpan(box);
  return (e - w) * (n - s);
}

/**
 * The corners of a box dragged between two display positions: the top-left corner
 * is the one at the top left of the screen, whatever the RA direction.
 * @param {number} lngA
 * @param {number} decA
 * @param {number} lngB
 * @param {number} decB
 * @param {boolean} raLeft
 * @returns {Omit<SkyBox, "id" | "name"> | null}  null when wider than 180° (the
 *   shorter-arc rule would read it as its complement) or of zero size
 */
export function boxFromDrag(lngA, decA, lngB, decB, raLeft) {
  const west = Math.min(lngA, lngB);
  const east = Math.max(lngA, lngB);
  const clamp = (/** @type {number} */ d) => Math.max(-90, Math.min(90, d));
  const north = clamp(Math.max(decA, decB));
  const south = clamp(Math.min(decA, decB));
  if (!(east - west < 180) || east === west || north === south) return null;
  return {
    top_left_ra: lngToRa(west, raLeft),
    top_left_dec: north,
    bottom_right_ra: lngToRa(east, raLeft),
    bottom_right_dec: south,
  };
}

/**
 * The first free default name "box N".
 * @param {{name?: string}[]} boxes
 */
export function nextBoxName(boxes) {
  const taken = new Set(boxes.map((b) => b.name));
  let n = boxes.length + 1;
  while (taken.has(`box ${n}`)) n++;
  return `box ${n}`;
}
