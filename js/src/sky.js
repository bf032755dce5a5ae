// Sky geometry of the tile grid (docs/protocol.md, "Tile grid"), free of Leaflet.
//
// Display coordinates: Leaflet's "lng" is a display longitude in [-180, 180) that runs
// left → right across the full-sky strip, "lat" is Dec. With ra_left (flip=1) the strip
// shows RA 360° at its left edge, 180° in the middle and 0° at its right edge:
// RA = 180 − lng. Without it the strip is the stored grid itself: RA = lng (mod 360).
// Leaflet tile rows count from the north; API rows count from the south.

/**
 * Parameters of an `L.Transformation` for a grid with tile size T: at zoom 0 the full
 * sky is 2T × T pixels and Leaflet's scale(z) = 2^z gives level z its 2^(z+1)·T width.
 * @param {number} tileSize
 * @returns {[number, number, number, number]}
 */
export function transformationFor(tileSize) {
  return [tileSize / 180, tileSize, -tileSize / 180, tileSize / 2];
}

/** @param {number} ra  degrees → [0, 360) */
export function normRa(ra) {
  const r = ra % 360;
  return r < 0 ? r + 360 : r === 360 ? 0 : r;
}

/**
 * @param {number} lng  display longitude (any copy of the strip)
 * @param {boolean} raLeft
 * @returns {number} RA in [0, 360)
 */
export function lngToRa(lng, raLeft) {
  return normRa(raLeft ? 180 - lng : lng);
}

/**
 * The display longitude of an RA, choosing the copy of the strip nearest `near`
 * (so panning to a point never jumps a whole sky width).
 * @param {number} ra
 * @param {boolean} raLeft
 * @param {number} [near]
 */
export function raToLng(ra, raLeft, near = 0) {
  let lng = raLeft ? 180 - normRa(ra) : normRa(ra);
  lng -= 360 * Math.round((lng - near) / 360);
  return lng;
}

/**
 * TileMaker's flip rule: the stored column shown at display column `x` of level `z`.
 * @param {number} z
 * @param {number} x  display column, 0 ≤ x < 2^(z+1)
 * @param {boolean} flip
 */
export function storedColumn(z, x, flip) {
  if (!flip) return x;
  const half = 2 ** z;
  return x < half ? half - 1 - x : half - 1 - (x - half) + half;
}

/**
 * The API request for a Leaflet tile: the column is wrapped onto the strip, the row
 * counted from the south. The column stays the *display* column: the server applies
 * the flip rule itself (as TileMaker does) when given `flip=1`.
 * @param {{x: number, y: number, z: number}} coords  Leaflet tile coords
 * @param {boolean} raLeft
 * @returns {{z: number, y: number, x: number, flip: 0 | 1}}
 */
export function apiTile(coords, raLeft) {
  const { z } = coords;
  const across = 2 ** (z + 1);
  const x = ((coords.x % across) + across) % across;
  return { z, y: 2 ** z - 1 - coords.y, x, flip: raLeft ? 1 : 0 };
}

/**
 * Sky extent of stored tile (z, y, x) per the protocol, RA in [-180, 180].
 * @param {number} z
 * @param {number} y  API row (0 = south)
 * @param {number} x  stored column
 */
export function storedTileBounds(z, y, x) {
  const w = 360 / 2 ** (z + 1);
  const h = 180 / 2 ** z;
  return { raMin: -180 + x * w, raMax: -180 + (x + 1) * w, decMin: -90 + y * h, decMax: -90 + (y + 1) * h };
}

/**
 * Leaflet "world pixel" (project() output at zoom z) → sky.
 * @param {number} px
 * @param {number} py
 * @param {number} z  zoom (may be fractional)
 * @param {number} tileSize
 * @param {boolean} raLeft
 * @returns {{ra: number, dec: number, lng: number}}
 */
export function worldToSky(px, py, z, tileSize, raLeft) {
  const scale = 2 ** z * tileSize;
  const lng = -180 + (px * 180) / scale;
  const dec = 90 - (py * 180) / scale;
  return { ra: lngToRa(lng, raLeft), dec, lng };
}

/**
 * Sky → Leaflet world pixel at zoom z (the strip copy nearest `nearLng`).
 * @param {number} ra
 * @param {number} dec
 * @param {number} z
 * @param {number} tileSize
 * @param {boolean} raLeft
 * @param {number} [nearLng]
 */
export function skyToWorld(ra, dec, z, tileSize, raLeft, nearLng = 0) {
  const scale = 2 ** z * tileSize;
  const lng = raToLng(ra, raLeft, nearLng);
  return { x: ((lng + 180) * scale) / 180, y: ((90 - dec) * scale) / 180 };
}

/**
 * Split a non-negative quantity into sexagesimal fields, rounding the last one to
 * `decimals` places and carrying (so 59.9999 s never prints as 60).
 * @param {number} value
 * @param {number} decimals
 * @returns {[number, number, number]}
 */
function sexagesimal(value, decimals) {
  const unit = 10 ** decimals;
  let total = Math.round(value * 3600 * unit); // in units of 10^-decimals of the third field
  const c = total % (60 * unit);
  total = (total - c) / (60 * unit);
  const b = total % 60;
  const a = (total - b) / 60;
  return [a, b, c / unit];
}

/** @param {number} n @param {number} [w] */
const pad = (n, w = 2) => String(n).padStart(w, "0");

/** @param {number} s @param {number} decimals */
function padSeconds(s, decimals) {
  const txt = s.toFixed(decimals);
  return decimals > 0 ? txt.padStart(3 + decimals, "0") : txt.padStart(2, "0");
}

/**
 * RA in degrees → "hh:mm:ss.ss".
 * @param {number} ra
 * @param {number} [decimals]  of the seconds
 */
export function formatRa(ra, decimals = 2) {
  let [h, m, s] = sexagesimal(normRa(ra) / 15, decimals);
  if (h >= 24) h -= 24;
  return `${pad(h)}:${pad(m)}:${padSeconds(s, decimals)}`;
}

/**
 * Dec in degrees → "±dd:mm:ss.s".
 * @param {number} dec
 * @param {number} [decimals]
 */
export function formatDec(dec, decimals = 1) {
  const sign = dec < 0 ? "-" : "+";
  const [d, m, s] = sexagesimal(Math.abs(dec), decimals);
  const neg = sign === "-" && (d > 0 || m > 0 || s > 0);
  return `${neg ? "-" : "+"}${pad(d)}:${pad(m)}:${padSeconds(s, decimals)}`;
}

// --- parsing typed coordinates -------------------------------------------------

const NUMBER = String.raw`\d+(?:\.\d*)?|\.\d+`;

/**
 * Normalise unit symbols to h/d/m/s and ':' so one grammar covers
 * "10h00m00s", "150°05′", "10:00:00" and "10 00 00".
 * @param {string} s
 */
function normalise(s) {
  return s
    .trim()
    .toLowerCase()
    .replace(/[°º]/g, "d")
    .replace(/''|[″"]/g, "s")
    .replace(/[′']/g, "m")
    .replace(/[−–]/g, "-")
    .replace(/\s+/g, " ");
}

/**
 * Parse one angle: decimal degrees, or sexagesimal with units or ':' / spaces.
 * @param {string} text
 * @param {boolean} isRa  bare sexagesimal fields are hours for RA, degrees for Dec
 * @returns {number} degrees
 */
function parseAngle(text, isRa) {
  let s = text.trim();
  let sign = 1;
  if (s.startsWith("+") || s.startsWith("-")) {
    if (s[0] === "-") sign = -1;
    s = s.slice(1).trim();
  }
  const re = new RegExp(`^(${NUMBER})\\s*([hdms:]?)\\s*`);
  /** @type {{value: number, unit: string}[]} */
  const fields = [];
  while (s.length) {
    const m = re.exec(s);
    if (!m) throw new Error(`cannot read "${text.trim()}"`);
    fields.push({ value: parseFloat(m[1]), unit: m[2] });
    s = s.slice(m[0].length);
  }
  if (fields.length === 0 || fields.length > 3) throw new Error(`cannot read "${text.trim()}"`);
  const first = fields[0].unit;
  if (fields.length === 1 && (first === "" || first === "d")) return sign * fields[0].value;
  let hours = isRa;
  if (first === "h") hours = true;
  else if (first === "d") hours = false;
  else if (first === "m" || first === "s") throw new Error(`cannot read "${text.trim()}"`);
  for (let i = 1; i < fields.length; i++) {
    if (fields[i].value >= 60) throw new Error(`minutes and seconds must be below 60 in "${text.trim()}"`);
  }
  const [a, b = { value: 0 }, c = { value: 0 }] = fields;
  const v = a.value + b.value / 60 + c.value / 3600;
  return sign * (hours ? 15 * v : v);
}

/**
 * Split "RA Dec" text into its two halves.
 * @param {string} s  normalised text
 * @returns {[string, string]}
 */
function splitPair(s) {
  if (s.includes(",")) {
    const i = s.indexOf(",");
    return [s.slice(0, i), s.slice(i + 1)];
  }
  // A sign after the first character starts the Dec.
  const signed = /^(.+?[\dhdms:.])\s*([+-].*)$/.exec(s);
  if (signed) return [signed[1], signed[2]];
  const tokens = s.split(" ");
  if (tokens.length === 2) return [tokens[0], tokens[1]];
  const withDegrees = tokens.findIndex((t) => /\dd/.test(t));
  if (withDegrees > 0) return [tokens.slice(0, withDegrees).join(" "), tokens.slice(withDegrees).join(" ")];
  if (tokens.length === 4 || tokens.length === 6) {
    const h = tokens.length / 2;
    return [tokens.slice(0, h).join(" "), tokens.slice(h).join(" ")];
  }
  throw new Error(`expected "RA Dec", got "${s}"`);
}

/**
 * Parse typed coordinates: "150.1 2.2", "150.1, -2.2", "10h00m00s +02d12m",
 * "10:00:00 +02:12:00", "10 00 00 +02 12 00", "150.1d -2.2d".
 * Decimal RA is degrees; sexagesimal RA is hours unless marked with d/°.
 * @param {string} text
 * @returns {{ra: number, dec: number}}  RA in [0, 360), Dec in [-90, 90]
 */
export function parseCoordinates(text) {
  const s = normalise(text);
  if (!s) throw new Error("no coordinates given");
  const [raText, decText] = splitPair(s);
  const ra = parseAngle(raText, true);
  const dec = parseAngle(decText, false);
  if (!(ra >= 0 && ra <= 360)) throw new Error(`RA out of range: ${ra}`);
  if (!(dec >= -90 && dec <= 90)) throw new Error(`Dec out of range: ${dec}`);
  return { ra: normRa(ra), dec };
}

/**
 * The footprint's display-longitude span [west, east] in the copy nearest `near`.
 * @param {{bounding_left: number, bounding_right: number}} info  TileMaker's edges: left = lowest RA
 * @param {boolean} raLeft
 * @param {number} near
 * @returns {[number, number]}
 */
export function footprintLngSpan(info, raLeft, near) {
  let width = info.bounding_right - info.bounding_left;
  if (width <= 0) width += 360;
  width = Math.min(width, 360);
  const lowest = raToLng(info.bounding_left, raLeft, near);
  const [west, east] = raLeft ? [lowest - width, lowest] : [lowest, lowest + width];
  const k = Math.round((near - (west + east) / 2) / 360);
  return [west + 360 * k, east + 360 * k];
}
