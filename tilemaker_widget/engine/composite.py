"""Colour composites: three layers as the red, green and blue of one picture.

Each channel has its own range and stretch (the one-layer colour mapping's
`render.normalise`, as in docs/protocol.md) and a weight, VisiOmatic's channel mixing:

    level_c = min(255, floor(256 · clip(weight_c · t_c, 0, 1)))

with ``t_c`` the channel's stretched value clipped to [0, 1] and NaN counted as 0; a
pixel NaN in all three channels is transparent. The browser colours composites from
the data tiles with the same formula (js/src/tools/composite.js), so a channel's range
or weight changes there with no request; this is the server-rendered form (the
``composite/{z}/{y}/{x}/tile.png`` route) for other clients.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .render import RenderError, RenderOptions, normalise

CHANNELS = ("r", "g", "b")
MAX_WEIGHT = 10.0


@dataclass(frozen=True)
class Channel:
    """One channel's colour mapping: range, stretch and weight."""

    vmin: float
    vmax: float
    stretch: str = "linear"
    weight: float = 1.0

    def options(self) -> RenderOptions:
        return RenderOptions("gray", self.vmin, self.vmax, self.stretch)

    def validate(self, name: str) -> Channel:
        problem = self.options().problem()
        if problem:
            raise RenderError(f"channel {name}: {problem}")
        if not (np.isfinite(self.weight) and 0.0 <= self.weight <= MAX_WEIGHT):
            raise RenderError(f"channel {name}: weight must be within [0, {MAX_WEIGHT:g}], not {self.weight:g}")
        return self


def levels(values: np.ndarray | None, channel: Channel, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A channel's 0–255 levels and where it has a value."""
    if values is None:
        return np.zeros(shape, np.uint8), np.zeros(shape, bool)
    t = normalise(values, channel.options())
    present = np.isfinite(values)
    with np.errstate(invalid="ignore"):
        u = np.clip(np.nan_to_num(np.asarray(t, np.float64), nan=0.0), 0.0, 1.0) * channel.weight
    level = np.clip(np.floor(np.clip(u, 0.0, 1.0) * 256.0), 0, 255).astype(np.uint8)
    return level, present


def composite_rgba(tiles: Sequence[np.ndarray | None], channels: Sequence[Channel]) -> np.ndarray | None:
    """An (n, m, 4) uint8 picture of three value arrays (None: no data there)."""
    shape = next((t.shape for t in tiles if t is not None), None)
    if shape is None:
        return None
    out = np.zeros((*shape, 4), np.uint8)
    any_present = np.zeros(shape, bool)
    for k, (tile, ch) in enumerate(zip(tiles, channels, strict=True)):
        level, present = levels(tile, ch, shape)
        out[..., k] = level
        any_present |= present
    out[..., 3] = np.where(any_present, 255, 0)
    out[~any_present, :3] = 0
    return out


def encode_rgba(rgba: np.ndarray, ext: str) -> bytes:
    """PNG/WebP with transparency, JPEG with NaN light grey (as one-layer tiles)."""
    from PIL import Image

    from .render import BAD_RGB

    buf = io.BytesIO()
    if ext == "png":
        Image.fromarray(rgba, "RGBA").save(buf, format="PNG", compress_level=1)
    elif ext == "webp":
        Image.fromarray(rgba, "RGBA").save(buf, format="WEBP", lossless=True, quality=0, method=0)
    elif ext in ("jpg", "jpeg"):
        rgb = rgba[..., :3].copy()
        rgb[rgba[..., 3] == 0] = BAD_RGB
        Image.fromarray(rgb, "RGB").save(buf, format="JPEG", quality=90)
    else:
        raise RenderError(f"unknown image format {ext!r}")
    return buf.getvalue()
