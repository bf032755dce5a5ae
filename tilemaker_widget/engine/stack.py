"""Stacking a layer on known source positions (cluster and point-source stacks).

Around every source, a small square grid of offsets in the source's own tangent
plane (gnomonic, ``RA---TAN``/``DEC--TAN``) is looked up in the layer at its
native resolution (`LayerSource.points`: the nearest pixel's exact value), so only
the pixels under the cutouts are read, wherever the sources lie and whichever kind
of layer it is. The stack is the per-pixel mean and median over the sources whose
own position holds a value; every stacked pixel also counts the finite values it
averaged.

The result's WCS is a TAN projection with its reference at (0°, 0°): pixel
coordinates give offsets from the sources as if every source sat at RA = Dec = 0,
east to the left (``CDELT1 < 0``), north up.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import sphere
from .errors import ToolError
from .source import LayerSource

MAX_STACK_PIXELS = 64 * 2**20
"""The most values one stack may look up (sources × cutout pixels)."""
MAX_SIDE = 1001
"""The widest stacked cutout, in pixels."""
_CHUNK = 2**20  # positions looked up at once (bounds the temporary arrays)


@dataclass(frozen=True)
class Stack:
    """A stacked cutout: mean, median and the count of finite values per pixel."""

    mean: np.ndarray
    median: np.ndarray
    count: np.ndarray
    n_sources: int
    """Sources used (those whose own position holds a value)."""
    n_given: int
    pixel: float
    """Pixel size of the stack, degrees."""

    @property
    def side(self) -> int:
        return self.mean.shape[0]

    def wcs(self) -> Any:
        """The stack's astropy WCS: TAN about (0, 0), centre pixel on the sources."""
        from astropy.wcs import WCS

        w = WCS(naxis=2)
        c = (self.side - 1) / 2.0
        w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
        w.wcs.crval = [0.0, 0.0]
        w.wcs.crpix = [c + 1.0, c + 1.0]
        w.wcs.cdelt = [-self.pixel, self.pixel]
        w.wcs.cunit = ["deg", "deg"]
        return w


def side_for(size: float, pixel: float) -> int:
    """An odd number of pixels spanning at least ``size`` degrees, the source in the middle."""
    if not (math.isfinite(size) and size > 0):
        raise ToolError(f"the stack's size must be a positive angle, not {size!r}")
    if not (math.isfinite(pixel) and 0 < pixel <= 180.0):  # larger ones overflow to inf in arcmin
        raise ToolError(f"the stack's pixel must be a positive angle of at most 180°, not {pixel!r}°")
    ratio = size / pixel  # may overflow to inf for a tiny pixel: checked before ceil()
    side = 2 * math.ceil(ratio / 2.0 - 0.5 - 1e-9) + 1 if ratio <= MAX_SIDE else MAX_SIDE + 1
    side = max(side, 1)
    if side > MAX_SIDE:
        raise ToolError(f"a stacked cutout of {size * 60:g}′ at {pixel * 60:.3g}′ pixels is {side} pixels wide; at most {MAX_SIDE}")
    return side


def offsets(side: int, pixel: float) -> tuple[np.ndarray, np.ndarray]:
    """Tangent-plane offsets (east, north; degrees) of the stack's pixels, row 0 south."""
    c = (side - 1) / 2.0
    k = np.arange(side, dtype=float) - c
    eta, minus_xi = np.meshgrid(k * pixel, k * pixel, indexing="ij")
    return -minus_xi, eta  # columns run west (east to the left, as CDELT1 < 0)


def stack(src: LayerSource, ra: np.ndarray, dec: np.ndarray, size: float, pixel: float) -> Stack:
    """Stack ``src`` on the positions (ICRS degrees) in ``size``-degree cutouts.

    Parameters
    ----------
    src
        The layer.
    ra, dec
        The source positions, degrees.
    size
        The cutout's side, degrees (rounded up to an odd number of pixels).
    pixel
        The stack's pixel, degrees (the layer's own, for native resolution).
    """
    ra = np.asarray(ra, float).ravel()
    dec = np.asarray(dec, float).ravel()
    if ra.size != dec.size:
        raise ToolError(f"{ra.size} RAs but {dec.size} Decs")
    if ra.size == 0:
        raise ToolError("a stack needs at least one source")
    if not (np.isfinite(ra).all() and np.isfinite(dec).all() and (np.abs(dec) <= 90).all()):
        raise ToolError("source positions must be finite, with Dec within [-90, 90]")
    side = side_for(size, pixel)
    if ra.size * side * side > MAX_STACK_PIXELS:
        raise ToolError(
            f"{ra.size} sources × {side}² pixels is more than {MAX_STACK_PIXELS // 2**20} Mpix to look up; "
            "stack fewer sources or smaller cutouts"
        )
    xi, eta = offsets(side, pixel)
    centre = side * side // 2
    per_chunk = max(1, _CHUNK // (side * side))
    cubes = []
    for k in range(0, ra.size, per_chunk):
        r0, d0 = ra[k : k + per_chunk, None], dec[k : k + per_chunk, None]
        pra, pdec = sphere.tangent_to_sky(r0, d0, xi.ravel()[None, :], eta.ravel()[None, :])
        # One look-up per source: each reads only the blocks under its own cutout
        # (neighbouring sources in one look-up would read the gaps between them).
        values = np.stack([src.points(a, b) for a, b in zip(pra, pdec, strict=True)])
        cubes.append(values[np.isfinite(values[:, centre])])
    cube = np.concatenate(cubes).reshape(-1, side, side)
    count = np.isfinite(cube).sum(axis=0).astype(np.int32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixels stay NaN
        mean = np.nanmean(cube, axis=0, dtype=np.float64).astype(np.float32) if len(cube) else np.full((side, side), np.nan, np.float32)
        median = np.nanmedian(cube, axis=0).astype(np.float32) if len(cube) else np.full((side, side), np.nan, np.float32)
    return Stack(mean, median, count, int(len(cube)), int(ra.size), pixel)


def stack_hdulist(st: Stack, units: str | None, name: str) -> Any:
    """The stack as FITS: mean (primary), MEDIAN and COUNT extensions, one WCS."""
    from astropy.io import fits

    header = st.wcs().to_header()
    if units:
        header["BUNIT"] = units
    header["NSOURCES"] = (st.n_sources, "sources stacked (position on the layer)")
    header["NGIVEN"] = (st.n_given, "sources given")
    header["OBJECT"] = name[:68]
    header["ORIGIN"] = "tilemaker-widget"
    primary = fits.PrimaryHDU(st.mean, header=header)
    primary.header["EXTNAME"] = "MEAN"
    median = fits.ImageHDU(st.median, header=header.copy(), name="MEDIAN")
    count_header = header.copy()
    count_header.pop("BUNIT", None)
    count = fits.ImageHDU(st.count, header=count_header, name="COUNT")
    return fits.HDUList([primary, median, count])
