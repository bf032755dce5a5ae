"""The quantized data tile (``tile.q8``): 8-bit codes over the layer's span in an image.

The first paint of a view over a slow link. Values are mapped to 256 codes over the
layer's span (its histogram range, so every colour range inside it recolours without a
request) and stored as a grey image the browser decodes natively: lossy WebP by default
(chosen from measurements, see docs/protocol.md), lossless PNG on request. NaN travels
in the image's alpha channel (lossless in both codecs). The exact values follow later
as the ``tile.f16`` data tile. Layout: docs/protocol.md, "Quantized tile format".
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass

import numpy as np

MAGIC = b"TMWQ"
VERSION = 1
HEADER = struct.Struct("<4sBBHIIffffIIII")
assert HEADER.size == 48

CODEC_WEBP = 1
CODEC_PNG = 2
CODECS = {"webp": CODEC_WEBP, "png": CODEC_PNG}

FLAG_MIRRORED = 1
FLAG_PREVIEW = 2
FLAG_ALPHA = 4

LEVELS = 256
#: WebP quality of the default codec, measured on six native 675² tiles of the 2′
#: ACT-like benchmark map (RdBu_r, ±300): q85 is 110 kB a tile with a mean colour
#: error of 3.5 RGB units against the exact rendering; TileMaker's lossy colour WebP
#: 123 kB and 5.1 (q80: 93 kB, 4.4; q90: 130 kB, 2.6).
WEBP_QUALITY = 85


@dataclass(frozen=True)
class Span:
    """The value range the 256 codes cover: code c stands for ``lo + (c + ½)·step``."""

    lo: float
    hi: float

    @property
    def step(self) -> float:
        return (self.hi - self.lo) / LEVELS

    @classmethod
    def of(cls, lo: float, hi: float) -> Span:
        """A usable span: finite, non-empty (a constant map gets a unit-wide span)."""
        if not (math.isfinite(lo) and math.isfinite(hi)):
            lo, hi = 0.0, 1.0
        if not hi > lo:
            pad = 0.5 * max(1.0, abs(lo))
            lo, hi = lo - pad, hi + pad
        # float32 in the header: keep lo and step representable so both sides agree.
        lo = float(np.float32(lo))
        step = float(np.float32((hi - lo) / LEVELS))
        return cls(lo, lo + LEVELS * step)


def tile_span(layer: Span, values: np.ndarray) -> Span:
    """The codes' range for one tile: the layer's span narrowed to the tile's own values.

    Per-tile precision: a tile that uses a tenth of the span gets ten times finer codes.
    Values clipped by it are exactly those the layer's span clips, so any colour range
    inside the layer's span still needs no other tile.
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return layer
    a = max(layer.lo, float(finite.min()))
    b = min(layer.hi, float(finite.max()))
    if not b > a:
        return layer
    # 256 codes from a, with b in the middle of the last one (safe from rounding).
    return Span.of(a, b + (b - a) / (2 * LEVELS - 1))


def quantize(values: np.ndarray, span: Span) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Codes 0–255, the not-NaN mask, and the counts clipped below and above the span.

    ±Infinity clip to the end codes like any value beyond the span (and are counted).
    """
    a = np.asarray(values, dtype=np.float32)
    present = ~np.isnan(a)
    with np.errstate(invalid="ignore", over="ignore"):
        t = (a - np.float32(span.lo)) / np.float32(span.step)
        below = int(np.count_nonzero(t < 0))
        above = int(np.count_nonzero(t >= LEVELS))
        np.floor(t, out=t)
        np.clip(t, 0, LEVELS - 1, out=t)
    codes = np.where(present, t, 0).astype(np.uint8)
    return codes, present, below, above


def dequantize(codes: np.ndarray, span: Span) -> np.ndarray:
    """The value each code stands for (the middle of its bin)."""
    return (np.float32(span.lo) + (codes.astype(np.float32) + np.float32(0.5)) * np.float32(span.step)).astype(np.float32)


def encode(
    values: np.ndarray,
    span: Span,
    mirrored: bool = False,
    preview: bool = False,
    codec: str = "webp",
    quality: int = WEBP_QUALITY,
) -> bytes:
    """Encode a 2-D float tile (north row first, as displayed) as a ``TMWQ`` tile.

    ``span`` is the layer's; the header carries `tile_span` of it.
    """
    from PIL import Image

    if codec not in CODECS:
        raise ValueError(f"unknown quantized tile codec {codec!r}; use {' or '.join(CODECS)}")
    a = np.asarray(values, dtype=np.float32)
    span = tile_span(span, a)
    codes, present, below, above = quantize(a, span)
    finite = np.isfinite(a)
    n = int(np.count_nonzero(finite))
    lo, hi = (float(a[finite].min()), float(a[finite].max())) if n else (math.nan, math.nan)
    alpha = not present.all()
    if alpha:
        img = Image.fromarray(np.dstack([codes, np.where(present, np.uint8(255), np.uint8(0))]), "LA")
    else:
        img = Image.fromarray(codes, "L")
    out = io.BytesIO()
    if codec == "webp":
        # method 0: 15 ms a 675² tile (method 4: 43 ms) for 5 % more bytes. The alpha
        # plane (the NaN mask) is always lossless.
        img.save(out, format="WEBP", quality=quality, method=0, exact=False)
    else:
        img.save(out, format="PNG", compress_level=6)
    image = out.getvalue()
    flags = (FLAG_MIRRORED if mirrored else 0) | (FLAG_PREVIEW if preview else 0) | (FLAG_ALPHA if alpha else 0)
    header = HEADER.pack(
        MAGIC, VERSION, CODECS[codec], flags, a.shape[1], a.shape[0],
        span.lo, span.step, lo, hi, n, below, above, len(image),
    )
    return header + image


def decode(data: bytes) -> tuple[np.ndarray, dict]:
    """Inverse of `encode` with Pillow's decoders (tests and Python clients)."""
    from PIL import Image

    (magic, version, codec, flags, w, h, lo, step, vmin, vmax, n, below, above, size) = HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        raise ValueError("not a tilemaker-widget quantized tile")
    img = Image.open(io.BytesIO(data[HEADER.size : HEADER.size + size]))
    if img.size != (w, h):
        raise ValueError(f"image is {img.size}, header says {(w, h)}")
    rgba = np.asarray(img.convert("RGBA"))
    span = Span(lo, lo + LEVELS * step)
    values = dequantize(rgba[..., 0], span)
    values[rgba[..., 3] < 128] = np.nan
    return values, {
        "codec": {v: k for k, v in CODECS.items()}[codec],
        "mirrored": bool(flags & FLAG_MIRRORED),
        "preview": bool(flags & FLAG_PREVIEW),
        "span": span,
        "min": vmin,
        "max": vmax,
        "n_finite": n,
        "n_below": below,
        "n_above": above,
    }
