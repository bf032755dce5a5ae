"""The compact binary data tile (``tile.f16`` / ``tile.f32`` / ``tile.f16z``); see docs/protocol.md."""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np

MAGIC = b"TMWD"
HEADER = struct.Struct("<4sBBHIIfffI")
assert HEADER.size == 32
FLAG_MIRRORED = 1
FLAG_PREVIEW = 2  # decimated stand-in for a block-mean tile that is not ready yet
FLAG_DEFLATE = 4  # the values are byte planes, zlib-compressed (``tile.f16z``)
#: zlib level: 1 is within 4 % of 6 on these bodies at two thirds of the time.
DEFLATE_LEVEL = 1


def encode(
    values: np.ndarray, fmt: str = "f16", mirrored: bool = False, preview: bool = False, deflate: bool = False
) -> bytes:
    """Encode a 2-D float array (north row first, as displayed).

    With ``deflate`` the values are stored as byte planes (every value's low byte, then
    every high byte: the noisy low bits stop hiding the smooth high ones) and compressed
    with zlib: 0.75× the bytes of a native 675² tile of a noisy map, 0.4–0.5× on the
    block-mean levels and on tiles with NaN borders.
    """
    if fmt not in ("f16", "f32"):
        raise ValueError(f"unknown data tile format {fmt!r}")
    a = np.asarray(values, dtype=np.float32)
    n = int(np.count_nonzero(np.isfinite(a)))
    # fmin/fmax skip NaN without the masked copy a[finite] would make.
    lo = float(np.fmin.reduce(a, axis=None)) if n else math.nan
    hi = float(np.fmax.reduce(a, axis=None)) if n else math.nan
    if n and not (math.isfinite(lo) and math.isfinite(hi)):  # ±inf present
        finite = a[np.isfinite(a)]
        lo, hi = float(finite.min()), float(finite.max())
    scale = 1.0
    if fmt == "f16":
        peak = max(abs(lo), abs(hi)) if n else 0.0
        if peak > 0:
            # A power of two keeps the scaling exact; the peak lands in [2^14, 2^15).
            scale = 2.0 ** (math.floor(math.log2(peak)) - 14)
        body = (a / np.float32(scale)).astype("<f2") if scale != 1.0 else a.astype("<f2")
    else:
        body = a.astype("<f4", copy=False)
    flags = (FLAG_MIRRORED if mirrored else 0) | (FLAG_PREVIEW if preview else 0) | (FLAG_DEFLATE if deflate else 0)
    header = HEADER.pack(MAGIC, 1, 2 if fmt == "f16" else 4, flags, a.shape[1], a.shape[0], scale, lo, hi, n)
    if deflate:
        planes = np.ascontiguousarray(body).view(np.uint8).reshape(-1, body.dtype.itemsize).T
        return header + zlib.compress(np.ascontiguousarray(planes).tobytes(), DEFLATE_LEVEL)
    return header + body.tobytes()


def decode(data: bytes) -> tuple[np.ndarray, dict]:
    """Inverse of `encode` (tests and Python clients)."""
    magic, version, size, flags, w, h, scale, lo, hi, n = HEADER.unpack_from(data)
    if magic != MAGIC or version != 1:
        raise ValueError("not a tilemaker-widget data tile")
    dtype = "<f2" if size == 2 else "<f4"
    if flags & FLAG_DEFLATE:
        planes = np.frombuffer(zlib.decompress(data[HEADER.size :]), np.uint8).reshape(size, w * h)
        data = data[: HEADER.size] + np.ascontiguousarray(planes.T).tobytes()
    values = np.frombuffer(data, dtype=dtype, offset=HEADER.size, count=w * h).reshape(h, w)
    values = values.astype(np.float32) * np.float32(scale)
    return values, {"mirrored": bool(flags & FLAG_MIRRORED), "preview": bool(flags & FLAG_PREVIEW), "min": lo, "max": hi, "n_finite": n}


def is_preview(data: bytes) -> bool:
    """The preview flag of a data or quantized tile (both keep their flags at offset 6)."""
    return len(data) >= 8 and bool(struct.unpack_from("<H", data, 6)[0] & FLAG_PREVIEW)
