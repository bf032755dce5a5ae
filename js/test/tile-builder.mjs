// Test helpers: build TMWD data tiles by hand.

/**
 * @param {{width: number, height: number, bytes?: 2 | 4, flags?: number, scale?: number,
 *          min?: number, max?: number, finite?: number, values: number[], magic?: string, version?: number}} t
 *   values: raw float16 bit patterns (bytes = 2) or float32 values (bytes = 4)
 */
export function buildTile(t) {
  const bytes = t.bytes ?? 2;
  const n = t.width * t.height;
  const buf = new ArrayBuffer(32 + n * bytes);
  const dv = new DataView(buf);
  const magic = t.magic ?? "TMWD";
  for (let i = 0; i < 4; i++) dv.setUint8(i, magic.charCodeAt(i));
  dv.setUint8(4, t.version ?? 1);
  dv.setUint8(5, bytes);
  dv.setUint16(6, t.flags ?? 0, true);
  dv.setUint32(8, t.width, true);
  dv.setUint32(12, t.height, true);
  dv.setFloat32(16, t.scale ?? 1, true);
  dv.setFloat32(20, t.min ?? NaN, true);
  dv.setFloat32(24, t.max ?? NaN, true);
  dv.setUint32(28, t.finite ?? n, true);
  t.values.forEach((v, i) => {
    if (bytes === 2) dv.setUint16(32 + 2 * i, v, true);
    else dv.setFloat32(32 + 4 * i, v, true);
  });
  return buf;
}
