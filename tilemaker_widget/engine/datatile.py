"""The compact binary data tile (``tile.f16`` / ``tile.f32``); see docs/protocol.md."""

from __future__ import annotations

import math
import struct

import numpy as np

MAGIC = b"TMWD"
HEADER = struct.Struct("<4sBBHIIfffI")
assert HEADER.size == 32
FLAG_MIRRORED = 1
FLAG_PREVIEW = 2  # decimated stand-in for a block-mean tile that is not ready yet


def encode(values: np.ndarray, fmt: str = "f16", mirrored: bool = False, preview: bool = False) -> bytes:
    """Encode a 2-D float array (north row first, as displayed)."""
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
    header = HEADER.pack(
        MAGIC, 1, 2 if fmt == "f16" else 4,
        (FLAG_MIRRORED if mirrored else 0) | (FLAG_PREVIEW if preview else 0),
        a.shape[1], a.shape[0], scale, lo, hi, n,
    )
    return header + body.tobytes()


def decode(data: bytes) -> tuple[np.ndarray, dict]:
    """Inverse of `encode` (tests and Python clients)."""
    magic, version, size, flags, w, h, scale, lo, hi, n = HEADER.unpack_from(data)
    if magic != MAGIC or version != 1:
        raise ValueError("not a tilemaker-widget data tile")
    dtype = "<f2" if size == 2 else "<f4"
    values = np.frombuffer(data, dtype=dtype, offset=HEADER.size, count=w * h).reshape(h, w)
    values = values.astype(np.float32) * np.float32(scale)
    return values, {"mirrored": bool(flags & FLAG_MIRRORED), "preview": bool(flags & FLAG_PREVIEW), "min": lo, "max": hi, "n_finite": n}


def is_preview(data: bytes) -> bool:
    """The preview flag of a data or quantized tile (both keep their flags at offset 6)."""
    return len(data) >= 8 and bool(struct.unpack_from("<H", data, 6)[0] & FLAG_PREVIEW)
