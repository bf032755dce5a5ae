"""Images in any celestial projection astropy understands, as layers on the full-sky grid.

TAN, SIN, ZEA, ARC, AIT, MOL, an oblique or rotated CAR, a CAR in galactic coordinates,
FK4/FK5 equatorial frames: any 2-D celestial WCS whose frame can be placed on the ICRS
sky. Each grid position is converted into the image's frame (engine/skyframe.py) and
then into a pixel by astropy.wcs; each pixel centre goes the other way. The native
level comes from the pixel scale at the reference point; tiles, levels, cutouts and
apertures are `ResampledSource`'s. Plain equatorial CAR maps keep their exact,
index-only path (`CarSource`); this one is for everything else.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from .geometry import UnsupportedGeometry, grid_for_resolution
from .planes import Plane
from .resampled import CHUNK, ResampledSource, bounds_from_positions
from .skyframe import SkyFrame, UnknownFrame


def celestial_wcs(wcs: Any, name: str = "map") -> Any:
    """The two celestial axes of a WCS, longitude first, or `UnsupportedGeometry`.

    What truly cannot be placed on the sky is refused here with a message naming it: no
    celestial axes, a frame that needs an observer or a time (helioprojective...).
    """
    try:
        cel = wcs.celestial
    except Exception as exc:  # astropy raises several kinds here
        raise UnsupportedGeometry(f"{name}: no celestial WCS ({exc})") from None
    ctype = [str(c) for c in cel.wcs.ctype]
    if cel.naxis != 2 or not cel.has_celestial:
        raise UnsupportedGeometry(f"{name}: no celestial WCS (CTYPE {ctype}); it cannot be placed on the sky")
    try:
        SkyFrame.from_wcs(cel, name)
    except UnknownFrame as exc:
        raise UnsupportedGeometry(str(exc)) from None
    return cel


def check_placeable(wcs: Any, shape: tuple[int, ...], name: str = "map") -> None:
    """Refuse (`UnsupportedGeometry`) a map that cannot be placed on the sky; else nothing."""
    cel = celestial_wcs(wcs, name)
    ny, nx = int(shape[-2]), int(shape[-1])
    _reference_scale(cel, ny, nx, name)


def _reference_scale(cel: Any, ny: int, nx: int, name: str) -> float:
    """Degrees per pixel at the reference point (the finer axis), checked finite."""
    from astropy.wcs.utils import proj_plane_pixel_scales

    try:
        scales = proj_plane_pixel_scales(cel)
    except Exception as exc:  # a singular matrix
        raise UnsupportedGeometry(f"{name}: degenerate pixel scale in the WCS ({exc})") from None
    units = [str(u) for u in cel.wcs.cunit]
    factor = 1.0 / 60.0 if units[0] == "arcmin" else 1.0 / 3600.0 if units[0] == "arcsec" else 1.0
    scale = float(np.min(np.abs(scales))) * factor
    if not math.isfinite(scale) or scale <= 0 or scale > 180.0:
        raise UnsupportedGeometry(f"{name}: degenerate pixel scale in the WCS")
    return scale


def _aligned(cel: Any, frame: SkyFrame) -> bool:
    """Whether the pixel axes run along ICRS RA and Dec at the reference point."""
    if not frame.is_icrs:
        return False
    m = cel.pixel_scale_matrix
    return abs(m[0, 1]) <= 1e-9 * abs(m[0, 0]) and abs(m[1, 0]) <= 1e-9 * abs(m[1, 1])


class WcsImageSource(ResampledSource):
    """A 2-D image in any celestial WCS (a `Plane` whose geometry is not plain CAR)."""

    def __init__(self, plane: Plane) -> None:
        name = getattr(plane, "_name", "map")
        cel = celestial_wcs(plane.wcs, name).deepcopy()
        self.plane = plane
        self.ny, self.nx = (int(n) for n in plane.shape)
        self.wcs = cel
        self.frame = SkyFrame.from_wcs(cel, name)
        self.pixel_scale = _reference_scale(cel, self.ny, self.nx, name)
        # Grid pixels of the map's own size when its axes run along RA and Dec; of
        # 1/√2 of it when they are turned (another frame, a rotated WCS), the size at
        # which a turned square pixel always holds a grid pixel centre: at the native
        # level every map pixel is shown, none skipped by the sampling.
        self.grid = grid_for_resolution(self.pixel_scale / (1.0 if _aligned(cel, self.frame) else math.sqrt(2.0)))
        self.key = "|".join(str(p) for p in plane.identity)
        self.units = plane.units
        digest = hashlib.sha1(cel.to_header_string(relax=True).encode()).hexdigest()[:16]
        self.index_key = f"wcs|{digest}|{self.ny}x{self.nx}"
        self._bounds: dict[str, float] | None = None
        self._lock = threading.Lock()

    # -- where the pixels are ------------------------------------------------
    def _to_pixels(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lon, lat = self.frame.from_icrs(np.asarray(ra, float), np.asarray(dec, float))
        with np.errstate(invalid="ignore"):
            x, y = self.wcs.wcs_world2pix(lon, lat, 0)
        return np.asarray(x, float), np.asarray(y, float)

    def lookup(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        x, y = self._to_pixels(ra, dec)
        with np.errstate(invalid="ignore"):
            ix, iy = np.floor(x + 0.5), np.floor(y + 0.5)
            ok = (ix >= 0) & (ix < self.nx) & (iy >= 0) & (iy < self.ny)
        idx = np.full(ix.shape, -1, np.int64)
        idx[ok] = iy[ok].astype(np.int64) * self.nx + ix[ok].astype(np.int64)
        # Some projections (SIN, TAN...) map a position and its antipode to the same
        # pixel: keep only pixels whose centre is near the position asked for.
        if ok.any():
            pra, pdec = self.centres(idx[ok])
            shape = np.broadcast_shapes(np.shape(ra), np.shape(dec))
            ra_ok = np.broadcast_to(np.asarray(ra, float), shape)[ok]
            dec_ok = np.broadcast_to(np.asarray(dec, float), shape)[ok]
            far = ~(_separations(ra_ok, dec_ok, pra, pdec) <= 20.0 * self.pixel_scale)
            idx[np.flatnonzero(ok)[far]] = -1
        return idx

    def centres(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        idx = np.asarray(idx, np.int64)
        iy, ix = np.divmod(idx, self.nx)
        with np.errstate(invalid="ignore"):
            lon, lat = self.wcs.wcs_pix2world(ix.astype(float), iy.astype(float), 0)
        return self.frame.to_icrs(np.asarray(lon, float), np.asarray(lat, float))

    def values(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx, np.int64)
        out = np.full(idx.shape, np.nan, np.float32)
        ok = idx >= 0
        if ok.any():
            iy, ix = np.divmod(idx[ok], self.nx)
            out[ok] = self.plane.points(iy, ix)
        return out

    def present(self, idx: np.ndarray) -> np.ndarray:
        return np.asarray(idx) >= 0

    def _pixel_box(self, ra_lo: float, ra_hi: float, dec_lo: float, dec_hi: float) -> tuple[int, int, int, int] | None:
        """(row0, row1, col0, col1) of the image pixels whose centres may lie in the box."""
        b = self.bounds()
        dec_lo, dec_hi = max(dec_lo, b["bounding_bottom"]), min(dec_hi, b["bounding_top"])
        if dec_hi < dec_lo:
            return None
        full_ra = b["bounding_left"] == -180.0 and b["bounding_right"] == 180.0
        if not full_ra:
            # Clip the box's RA to the footprint's (both as intervals from the left edge).
            left = b["bounding_left"]
            width = (b["bounding_right"] - left) % 360.0 or 360.0
            a0 = (ra_lo - left) % 360.0
            a1 = a0 + (ra_hi - ra_lo)
            lo, hi = max(a0, 0.0), min(a1, width)
            if a1 > 360.0:  # the box wraps back onto the footprint's start
                lo, hi = (0.0, min(a1 - 360.0, width)) if hi < lo else (lo, hi)
                if a0 > width:
                    lo, hi = 0.0, min(a1 - 360.0, width)
            if hi < lo:
                return None
            ra_lo, ra_hi = left + lo, left + hi
        n = 33
        ra, dec = np.meshgrid(np.linspace(ra_lo, ra_hi, n), np.linspace(dec_lo, dec_hi, n))
        x, y = self._to_pixels(ra.ravel(), dec.ravel())
        ok = np.isfinite(x) & np.isfinite(y)
        if not ok.any():
            return None
        # Pad by the sampling step (in pixels) and a pixel: the box's edges between samples.
        step = max((ra_hi - ra_lo), (dec_hi - dec_lo)) / (n - 1) / self.pixel_scale
        pad = int(math.ceil(2 * step)) + 2
        col0 = max(0, int(np.floor(x[ok].min())) - pad)
        col1 = min(self.nx, int(np.ceil(x[ok].max())) + pad + 1)
        row0 = max(0, int(np.floor(y[ok].min())) - pad)
        row1 = min(self.ny, int(np.ceil(y[ok].max())) + pad + 1)
        if col1 <= col0 or row1 <= row0:
            return None
        return row0, row1, col0, col1

    def _box_pixels(self, box: tuple[int, int, int, int] | None) -> Iterator[np.ndarray]:
        if box is None:
            return
        row0, row1, col0, col1 = box
        cols = np.arange(col0, col1, dtype=np.int64)
        rows_per_chunk = max(1, CHUNK // max(1, cols.size))
        for r in range(row0, row1, rows_per_chunk):
            rows = np.arange(r, min(row1, r + rows_per_chunk), dtype=np.int64)
            yield (rows[:, None] * self.nx + cols[None, :]).ravel()

    def candidates(self, ra_lo: float, ra_hi: float, dec_lo: float, dec_hi: float) -> Iterator[np.ndarray]:
        yield from self._box_pixels(self._pixel_box(ra_lo, ra_hi, dec_lo, dec_hi))

    def disc(self, ra: float, dec: float, radius: float) -> np.ndarray:
        dra = min(180.0, radius / max(math.cos(math.radians(min(89.9, abs(dec) + radius))), 1e-3))
        box = self._pixel_box(ra - dra, ra + dra, max(-90.0, dec - radius), min(90.0, dec + radius))
        parts = list(self._box_pixels(box))
        return np.concatenate(parts) if parts else np.zeros(0, np.int64)

    def chunks(self) -> Iterator[np.ndarray]:
        yield from self._box_pixels((0, self.ny, 0, self.nx))

    def spread(self, max_values: int) -> np.ndarray:
        # Evenly spaced whole rows: cheap to read from a memory map, and real pixels.
        step = max(1, math.ceil(self.ny * self.nx / max_values))
        rows = [self.plane.read(slice(r, r + 1), slice(0, self.nx)) for r in range(step // 2, self.ny, step)]
        return np.concatenate(rows, axis=None) if rows else np.zeros(0, np.float32)

    def pixel_xy(self, idx: int) -> tuple[int | None, int | None]:
        iy, ix = divmod(int(idx), self.nx)
        return ix, iy

    def shape(self) -> list[int]:
        return [self.ny, self.nx]

    def bounds(self) -> dict[str, float]:
        with self._lock:
            if self._bounds is None:
                self._bounds = self._footprint()
            return self._bounds

    def _footprint(self) -> dict[str, float]:
        """The edges of the image's sky footprint: its border and a grid of its pixels."""
        n = 257
        edge_x = np.linspace(-0.5, self.nx - 0.5, n)
        edge_y = np.linspace(-0.5, self.ny - 0.5, n)
        gx, gy = np.meshgrid(np.linspace(0, self.nx - 1, 65), np.linspace(0, self.ny - 1, 65))
        x = np.concatenate([edge_x, edge_x, np.full(n, -0.5), np.full(n, self.nx - 0.5), gx.ravel()])
        y = np.concatenate([np.full(n, -0.5), np.full(n, self.ny - 0.5), edge_y, edge_y, gy.ravel()])
        with np.errstate(invalid="ignore"):
            lon, lat = self.wcs.wcs_pix2world(x, y, 0)
        ok = np.isfinite(lon) & np.isfinite(lat)
        ra, dec = self.frame.to_icrs(np.asarray(lon)[ok], np.asarray(lat)[ok])
        poles = [bool((self.lookup(np.array([0.0]), np.array([d])) >= 0)[0]) for d in (90.0, -90.0)]
        b = bounds_from_positions(ra, dec, *poles)
        # The sampled grid may pass between the image's pixels near its widest points.
        pad = 2 * self.pixel_scale
        b["bounding_top"] = min(90.0, b["bounding_top"] + pad)
        b["bounding_bottom"] = max(-90.0, b["bounding_bottom"] - pad)
        if not (b["bounding_left"] == -180.0 and b["bounding_right"] == 180.0):
            width = (b["bounding_right"] - b["bounding_left"]) % 360.0
            cos = max(math.cos(math.radians(max(abs(b["bounding_top"]), abs(b["bounding_bottom"])))), 1e-3)
            rpad = min(pad / cos, (360.0 - width) / 2)
            if width + 2 * rpad >= 360.0 - 1e-9:
                b["bounding_left"], b["bounding_right"] = -180.0, 180.0
            else:
                b["bounding_left"] = (b["bounding_left"] - rpad + 180.0) % 360.0 - 180.0
                b["bounding_right"] = (b["bounding_right"] + rpad + 180.0) % 360.0 - 180.0
        return b


def _separations(ra0: np.ndarray, dec0: np.ndarray, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Great-circle distances (degrees) between paired positions."""
    d0, d = np.radians(dec0), np.radians(dec)
    h = np.sin((d - d0) / 2) ** 2 + np.cos(d0) * np.cos(d) * np.sin(np.radians(ra - ra0) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))))
