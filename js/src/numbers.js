// Number guards and the readout format shared by every control.

/** @param {unknown} v @returns {v is number} */
export const isNum = (v) => typeof v === "number" && Number.isFinite(v);

/**
 * Format a number for a readout: compact, ~4 significant digits, no "-0".
 * @param {number | null | undefined} v
 */
export function formatValue(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(3).replace(/\.?0+e/, "e");
  return String(Number(v.toPrecision(5)));
}

/**
 * A number in at most 10 characters, as C's `%.4g` (4 significant digits, exponent
 * below 1e-2 and from 1e4): 0.0022541 → "2.254e-3", -0.000233 → "-2.33e-4". For
 * fields and labels that must never cut a value; the full value goes in a tooltip.
 * @param {number | null | undefined} v
 */
export function formatShort(v) {
  if (v === null || v === undefined || Number.isNaN(v)) return "—";
  if (!Number.isFinite(v)) return v > 0 ? "∞" : "−∞";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-2) return v.toExponential(3).replace(/\.?0+e/, "e").replace("e+", "e");
  return String(Number(v.toPrecision(4)));
}

/**
 * Parse a typed number strictly ("1e3", "-0.5", "−2" with a minus sign); the error
 * says why a text is not one (`parseFloat` would read "600abc" as 600).
 * @param {string} text
 * @returns {number}
 */
export function parseNumber(text) {
  const t = text.trim().replace(/^[−–]/, "-");
  if (!t) throw new Error("empty: type a number");
  const v = Number(t);
  if (!Number.isFinite(v)) throw new Error(`'${text.trim()}' is not a number`);
  return v;
}
