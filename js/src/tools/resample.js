// Profiles of layers with different pixels on one distance grid (the plot's x).

/**
 * Values on one distance grid sampled at another's (nearest point): layers of one
 * band answer on the same grid, so this is the identity for them.
 * @param {number[]} from @param {(number | null)[]} values @param {number[]} to
 * @returns {(number | null)[]}
 */
export function resampled(from, values, to) {
  if (from.length === to.length && from.every((v, i) => v === to[i])) return values;
  const out = [];
  let j = 0;
  for (const d of to) {
    while (j + 1 < from.length && Math.abs(from[j + 1] - d) <= Math.abs(from[j] - d)) j++;
    out.push(values[j] ?? null);
  }
  return out;
}
