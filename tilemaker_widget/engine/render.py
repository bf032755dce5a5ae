"""Colour a data tile on the server: colormaps, stretches and image encoding.

The same stretch formulas run in the browser (js/src/colour.js), so a tile coloured
here and one coloured client-side look the same. Colour index = floor(t · 256) for
t in [0, 1] as matplotlib does, NaN transparent.
"""

from __future__ import annotations

import base64
import io
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import colormaps

STRETCHES = ("linear", "log", "sqrt", "asinh", "abs", "asinh_sym", "sqrt_sym")
# asinh_sym's softening: linear within about ±ASINH_SYM_A · max(|vmin|, |vmax|) of zero.
ASINH_SYM_A = 0.1
BAD_RGB = (221, 221, 221)  # JPEG has no alpha: NaN shows as light grey, as in TileMaker
_cmap_lock = threading.Lock()
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class RenderError(ValueError):
    """Bad rendering parameters (unknown colormap, empty range, …)."""


@lru_cache(maxsize=1)
def colormap_names() -> tuple[str, ...]:
    """Every colormap name a client may use: matplotlib's and ours (`colormaps.ALIASES`)."""
    import matplotlib

    colormaps.register()
    return tuple(sorted(colormaps.listed_names(list(matplotlib.colormaps)), key=str.lower))


DEFAULT_CMAPS = frozenset({"gray", "viridis", "RdBu_r", "inferno", "magma", "twilight"})
"""The colormaps this package gives layers by default (`catalogue.inspect.default_style`,
the polarization layers' styles): matplotlib's own, as tests/test_colormaps.py checks,
so `RenderOptions.problem` accepts them without importing matplotlib (0.14 s: a fresh
kernel's first `TileViewer` would wait for it, though the browser colours the tiles)."""


@lru_cache(maxsize=512)
def lut(name: str) -> np.ndarray:
    """256 × 4 uint8 RGBA table for a colormap: matplotlib's (``_r`` included) or ours
    (``planck``, ``planck_log``; see engine/colormaps.py)."""
    import matplotlib

    with _cmap_lock:
        try:
            cmap = matplotlib.colormaps[colormaps.resolve(name)]
        except KeyError:
            raise RenderError(f"unknown colormap {name!r}") from None
        table = cmap(np.linspace(0.0, 1.0, 256))
    return np.round(table * 255).astype(np.uint8)


def lut_json(name: str) -> dict:
    table = lut(name)
    return {
        "name": name,
        "lut": base64.b64encode(table.tobytes()).decode(),
        "under": table[0].tolist(),
        "over": table[-1].tolist(),
        "bad": [0, 0, 0, 0],
    }


GAMMA_RANGE = (0.1, 10.0)
CONTRAST_RANGE = (0.0, 10.0)
BRIGHTNESS_RANGE = (-1.0, 1.0)


def adjustment_problem(gamma: float = 1.0, contrast: float = 1.0, brightness: float = 0.0) -> str | None:
    """What is wrong with gamma, contrast and brightness values, or None."""
    for name, value, (lo, hi) in (
        ("gamma", gamma, GAMMA_RANGE), ("contrast", contrast, CONTRAST_RANGE), ("brightness", brightness, BRIGHTNESS_RANGE)
    ):
        if not (np.isfinite(value) and lo <= value <= hi):
            return f"{name} must be within [{lo:g}, {hi:g}], not {value:g}"
    return None


def adjust(t: np.ndarray, gamma: float, contrast: float, brightness: float) -> np.ndarray:
    """VisiOmatic-style contrast controls on the stretched value t (docs/protocol.md).

    ``t' = clip(contrast · (clip(t, 0, 1) − ½) + ½ + brightness, 0, 1) ^ (1 / gamma)``;
    the identity for gamma = contrast = 1, brightness = 0. NaN stays NaN. The browser
    applies the same formula (js/src/colour.js ``adjustFunction``).
    """
    with np.errstate(invalid="ignore"):
        u = np.clip(np.asarray(t, dtype=np.float64), 0.0, 1.0)
        u = np.clip(contrast * (u - 0.5) + 0.5 + brightness, 0.0, 1.0)
        return u ** (1.0 / gamma) if gamma != 1.0 else u


@dataclass(frozen=True)
class RenderOptions:
    cmap: str = "viridis"
    vmin: float = -100.0
    vmax: float = 100.0
    stretch: str = "linear"
    absolute: bool = False
    gamma: float = 1.0
    contrast: float = 1.0
    brightness: float = 0.0

    @property
    def adjusted(self) -> bool:
        """Whether gamma, contrast or brightness change the colours."""
        return (self.gamma, self.contrast, self.brightness) != (1.0, 1.0, 0.0)

    def problem(self) -> str | None:
        """What is wrong with these options, or None (the one rule for every route).

        The HTTP API answers 400 with this message; the widget's traits refuse the same
        values with the same message; the browser's menus check the same rule
        (js/src/colour.js ``renderProblem``).
        """
        if self.stretch not in STRETCHES:
            return f"unknown stretch {self.stretch!r}; use one of {', '.join(STRETCHES)}"
        if not (np.isfinite(self.vmin) and np.isfinite(self.vmax)):
            return "vmin and vmax must be finite numbers"
        if max(abs(self.vmin), abs(self.vmax)) > _FLOAT32_MAX:
            return f"vmin and vmax must lie within ±{_FLOAT32_MAX:.4g} (maps are coloured in float32)"
        # Compared as the renderer sees them: a range that collapses in float32 is empty.
        if not np.float32(self.vmin) < np.float32(self.vmax):
            return f"vmin ({self.vmin:.9g}) must be less than vmax ({self.vmax:.9g})"
        if self.stretch == "log" and self.vmin <= 0:
            return f"a log stretch needs vmin > 0 (vmin is {self.vmin:.9g})"
        adjustment = adjustment_problem(self.gamma, self.contrast, self.brightness)
        if adjustment:
            return adjustment
        if self.cmap not in DEFAULT_CMAPS:
            try:
                lut(self.cmap)
            except RenderError as exc:
                return str(exc)
        return None

    def validate(self) -> RenderOptions:
        """These options, or `RenderError` with `problem`'s message."""
        problem = self.problem()
        if problem:
            raise RenderError(problem)
        return self


def normalise(values: np.ndarray, opts: RenderOptions) -> np.ndarray:
    """Map values to t (0 at vmin, 1 at vmax) with the stretch; NaN stays NaN."""
    v = np.abs(values) if (opts.absolute or opts.stretch == "abs") else values
    lo, hi = np.float32(opts.vmin), np.float32(opts.vmax)
    if opts.stretch == "log":
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.log10(np.where(v > 0, v / lo, np.nan)) / np.log10(hi / lo)
        return np.where(np.isfinite(values) & ~np.isfinite(t), -1.0, t).astype(np.float32)
    if opts.stretch in ("asinh_sym", "sqrt_sym"):
        return _symmetric(v, opts)
    t = (v - lo) / (hi - lo)
    if opts.stretch == "sqrt":
        t = np.sqrt(np.clip(t, 0, None))
    elif opts.stretch == "asinh":
        t = np.arcsinh(t / 0.1) / np.arcsinh(1 / 0.1)
    return t.astype(np.float32, copy=False)


def symmetric_function(stretch: str, vmin: float, vmax: float):
    """g of a sign-symmetric stretch: odd in v, so v = 0 sits where g(0) = 0 falls.

    ``sqrt_sym``: g(v) = sign(v)·sqrt(|v|); ``asinh_sym``: g(v) = asinh(v / (a·S)) with
    S = max(|vmin|, |vmax|) and a = `ASINH_SYM_A`. The colour is then
    t = (g(clip(v, vmin, vmax)) − g(vmin)) / (g(vmax) − g(vmin)).
    """
    if stretch == "sqrt_sym":
        return lambda v: np.sign(v) * np.sqrt(np.abs(v))
    scale = ASINH_SYM_A * max(abs(vmin), abs(vmax))
    return lambda v: np.arcsinh(v / scale)


def _symmetric(v: np.ndarray, opts: RenderOptions) -> np.ndarray:
    g = symmetric_function(opts.stretch, opts.vmin, opts.vmax)
    g0, g1 = float(g(opts.vmin)), float(g(opts.vmax))
    # float64: the browser computes in double precision, and colours must agree.
    x = np.clip(np.asarray(v, dtype=np.float64), opts.vmin, opts.vmax)
    t = (g(x) - g0) / (g1 - g0)
    return t.astype(np.float32)


def colour_indices(values: np.ndarray, opts: RenderOptions) -> tuple[np.ndarray, np.ndarray]:
    """Colour index 0–255 per pixel and the NaN mask."""
    t = normalise(values, opts)
    bad = np.isnan(t)
    if opts.adjusted:
        t = adjust(t, opts.gamma, opts.contrast, opts.brightness)
    idx = np.floor(np.nan_to_num(t, nan=0.0) * 256.0)
    np.clip(idx, 0, 255, out=idx)
    return idx.astype(np.uint8), bad


def _palette_with_transparency(idx: np.ndarray, bad: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Indices, RGB palette and the index that stands for NaN (transparent).

    A palette PNG is ~7× cheaper to encode than RGBA. NaN takes a palette entry the
    tile does not use; only if all 256 colours occur does the closest pair of
    neighbouring colours share one entry (a difference of at most that pair's step).
    """
    palette = table[:, :3].copy()
    used = np.bincount(idx[~bad], minlength=256)
    free = np.flatnonzero(used == 0)
    if free.size:
        hole = int(free[0])
    else:
        steps = np.abs(np.diff(palette.astype(np.int16), axis=0)).sum(axis=1)
        hole = int(np.argmin(steps)) + 1
        idx = np.where(idx == hole, np.uint8(hole - 1), idx)
    idx = np.where(bad, np.uint8(hole), idx)
    palette[hole] = 0  # transparent black, as the RGBA tiles had
    return idx, palette, hole


def encode_image(values: np.ndarray, opts: RenderOptions, ext: str) -> bytes:
    """PNG (palette, NaN transparent), WebP (lossless) or JPEG (NaN light grey)."""
    from PIL import Image

    table = lut(opts.cmap)
    idx, bad = colour_indices(values, opts)
    out = io.BytesIO()
    if ext == "png":
        transparency = None
        palette = table[:, :3]
        if bad.any():
            idx, palette, hole = _palette_with_transparency(idx, bad, table)
            transparency = bytes(0 if k == hole else 255 for k in range(256))
        img = Image.frombuffer("P", idx.shape[::-1], np.ascontiguousarray(idx).tobytes(), "raw", "P", 0, 1)
        img.putpalette(palette.tobytes())
        extra = {} if transparency is None else {"transparency": transparency}
        # Z_RLE: as fast as Huffman-only on noisy maps, and still compact on masks.
        img.save(out, format="PNG", compress_level=1, compress_type=3, **extra)
    elif ext == "webp":
        rgba = table[idx]
        rgba[bad] = 0
        Image.fromarray(rgba, "RGBA").save(out, format="WEBP", lossless=True, quality=0, method=0)
    elif ext in ("jpg", "jpeg"):
        rgb = table[idx][..., :3]
        rgb[bad] = BAD_RGB
        Image.fromarray(rgb, "RGB").save(out, format="JPEG", quality=90)
    else:
        raise RenderError(f"unknown image format {ext!r}")
    return out.getvalue()


def colourbar_png(name: str, width: int = 256, height: int = 8) -> bytes:
    from PIL import Image

    table = lut(name)
    row = table[np.linspace(0, 255, width).astype(int)]
    img = Image.fromarray(np.repeat(row[None], height, axis=0), "RGBA")
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
