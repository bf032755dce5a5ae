"""Per-step cost of one native tile in-process (no HTTP), min of N runs so CPU contention matters less.

    .venv/bin/python benchmarks/micro_tile.py [--quick]

Shows where a tile's CPU goes (read, f16/f32 encode, colour, PNG/WebP encode) and what
the alternatives measured for the report would cost (they are not used by the server).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import makemap  # noqa: E402


def best(fn, n: int = 15) -> tuple[float, object]:
    out = fn()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times) * 1000, out


def f16_bits(a: np.ndarray, scale: float) -> np.ndarray:
    """float32 → float16 with round-to-nearest-even via integer ops (bit-identical to astype)."""
    x = a * np.float32(1.0 / scale)
    bits = x.view(np.uint32)
    sign = (bits >> 16) & np.uint32(0x8000)
    f = bits & np.uint32(0x7FFFFFFF)
    h = f + np.uint32((0xFFF - (112 << 23)) & 0xFFFFFFFF)
    h += (f >> 13) & np.uint32(1)
    h >>= 13
    small = f < 0x38800000
    if small.any():
        h[small] = (np.abs(x[small]) + np.float32(0.5)).view(np.uint32) - np.uint32(0x3F000000)
    nan = f > 0x7F800000
    if nan.any():
        h[nan] = 0x7E00
    h |= sign
    return h.astype(np.uint16).view("<f2")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    from PIL import Image

    from tilemaker_widget.cache import Cache
    from tilemaker_widget.catalogue.config import load_config
    from tilemaker_widget.engine import Engine, datatile, pyramid, render

    res = 2.0 if args.quick else 1.0
    m = makemap.ensure(HERE / "out", res)
    layer = load_config(m["config"]).layers()[0]
    engine = Engine(Cache())
    prep = engine.prepare(layer)
    z = prep.grid.native_level
    y, x = 2 ** (z - 1) + 1, 2**z
    rows = []

    def row(name: str, fn, note: str = "") -> object:
        ms, out = best(fn)
        size = f"{len(out) / 1e3:.0f} kB" if isinstance(out, (bytes, bytearray)) else ""
        rows.append((name, ms, size, note))
        return out

    tile = row(
        "read: native_tile (memmap gather, >f4→f32)",
        lambda: pyramid.native_tile(prep.plane, prep.mapping, z, y, x),
    )
    row("encode f16 (datatile.encode)", lambda: datatile.encode(tile, "f16"))
    row("encode f32 (datatile.encode)", lambda: datatile.encode(tile, "f32"))
    fin = np.isfinite(tile)
    row("  f16 part: a[isfinite].min()+max()", lambda: (tile[fin].min(), tile[fin].max()) and b"")
    row(
        "  f16 part: astype('<f2') (numpy, no F16C)",
        lambda: (tile / np.float32(4)).astype("<f2").tobytes(),
    )
    scale = 2.0 ** (np.floor(np.log2(np.nanmax(np.abs(tile)))) - 14)
    ref = (tile / np.float32(scale)).astype("<f2")
    alt = f16_bits(tile, scale)
    same = np.array_equal(ref.view(np.uint16), alt.view(np.uint16))
    row(
        "  alternative: integer-op float16 conversion",
        lambda: f16_bits(tile, scale).tobytes(),
        f"bit-identical: {same}",
    )
    row(
        "  alternative: np.fmin/fmax.reduce (no mask copy)",
        lambda: (np.fmin.reduce(tile, axis=None), np.fmax.reduce(tile, axis=None)) and b"",
    )
    opts = render.RenderOptions("RdBu_r", -300.0, 300.0).validate()
    row("colour: colour_indices", lambda: render.colour_indices(tile, opts)[0].tobytes())
    row("render png (encode_image, zlib level 1)", lambda: render.encode_image(tile, opts, "png"))
    row("render webp (encode_image, lossless m0)", lambda: render.encode_image(tile, opts, "webp"))
    idx, _ = render.colour_indices(tile, opts)
    table = render.lut("RdBu_r")

    def png(**kw) -> bytes:
        img = Image.frombuffer("P", idx.shape[::-1], idx.tobytes(), "raw", "P", 0, 1)
        img.putpalette(table[:, :3].tobytes())
        out = io.BytesIO()
        img.save(out, format="PNG", **kw)
        return out.getvalue()

    def webp(**kw) -> bytes:
        out = io.BytesIO()
        Image.fromarray(table[idx], "RGBA").save(out, format="WEBP", **kw)
        return out.getvalue()

    row("  PNG P zlib level 1 (current)", lambda: png(compress_level=1))
    row(
        "  alternative: PNG P level 1 + Z_HUFFMAN_ONLY",
        lambda: png(compress_level=1, compress_type=2),
    )
    row("  alternative: PNG P level 1 + Z_RLE", lambda: png(compress_level=1, compress_type=3))
    row("  alternative: PNG P level 0 (stored)", lambda: png(compress_level=0))
    row("  WebP lossless m0 q0 (current)", lambda: webp(lossless=True, quality=0, method=0))
    row("  TileMaker-like WebP lossy q80 m4 (PIL default)", lambda: webp(quality=80, method=4))
    row("  alternative: WebP lossy q80 m0", lambda: webp(quality=80, method=0))
    print(f"{layer.layer_id}, tile ({z}, {y}, {x}) {tile.shape}; min of 15 runs, one thread")
    for name, ms, size, note in rows:
        print(f"  {name:<52}{ms:8.2f} ms  {size:>8}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
