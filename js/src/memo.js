// One memoised promise per key: every caller of the same key shares one request, and a
// failed request is forgotten so that the next call tries again.

/**
 * @template T
 * @param {(key: string) => Promise<T>} load
 * @returns {((key: string) => Promise<T>) & {clear: () => void}}
 */
export function memoAsync(load) {
  /** @type {Map<string, Promise<T>>} */
  const promises = new Map();
  const get = (/** @type {string} */ key) => {
    let p = promises.get(key);
    if (!p) {
      p = load(key);
      promises.set(key, p);
      const mine = p;
      p.catch(() => {
        if (promises.get(key) === mine) promises.delete(key);
      });
    }
    return p;
  };
  return Object.assign(get, { clear: () => promises.clear() });
}
