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
