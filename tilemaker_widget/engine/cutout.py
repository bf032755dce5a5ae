"""Cutouts of a box on the sky (FITS with a correct WCS, or an image) and apertures.

A cutout holds the map's own pixels whose centres lie inside the box, in the map's
own orientation, with the map's WCS shifted by the cutout's origin: a source at
(RA, Dec) sits in the cutout exactly at the pixel the cutout's WCS gives. Boxes may
cross RA = 0/360 (or the map's own RA seam): columns are read modulo the sky period.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .planes import Plane

MAX_CUTOUT_PIXELS = 64 * 2**20
MAX_APERTURE_ARCMIN = 600.0


class CutoutError(ValueError):
    """A box or aperture that cannot be cut (empty, outside the map, too large)."""


@dataclass(frozen=True)
class SkyBox:
    """A box given by two RA edges and two Dec edges (degrees), in any order."""

    ra_a: float
    ra_b: float
    dec_a: float
    dec_b: float

    @classmethod
    def from_corners(cls, top_left_ra: float, top_left_dec: float, bottom_right_ra: float, bottom_right_dec: float) -> SkyBox:
        return cls(top_left_ra, bottom_right_ra, top_left_dec, bottom_right_dec)


def _pixel_span(box: SkyBox, plane: Plane) -> tuple[int, int, int, int]:
    """(first column, number of columns, first row, number of rows); columns unwrapped."""
    g = plane.geometry
    for v in (box.ra_a, box.ra_b, box.dec_a, box.dec_b):
        if not math.isfinite(v):
            raise CutoutError("box corners must be finite numbers")
    if not (-90 <= box.dec_a <= 90 and -90 <= box.dec_b <= 90):
        raise CutoutError("box Dec must lie within [-90, 90]")
    period = 360.0 / abs(g.dra)
    xa = ((box.ra_a - g.ra0) / g.dra) % period
    xb = ((box.ra_b - g.ra0) / g.dra) % period
    d = (xb - xa) % period
    lo, hi = (xa, xa + d) if d <= period / 2 else (xb, xb + (period - d))
    # lo is in [0, period): a box reaching east of column 0 (x < 0 when CDELT1 < 0)
    # meets the map one period lower. With a whole number of pixels per turn the
    # columns are reduced modulo the period later and either choice works; with any
    # other pixel scale (0.7′) only the representation that overlaps the map does.
    if _overlap(lo - period, hi - period, g.nx) > _overlap(lo, hi, g.nx):
        lo, hi = lo - period, hi - period
    ya = (box.dec_a - g.dec0) / g.ddec
    yb = (box.dec_b - g.dec0) / g.ddec
    ylo, yhi = min(ya, yb), max(ya, yb)
    eps = 1e-6
    j0, j1 = math.ceil(lo - eps), math.floor(hi + eps)
    i0, i1 = max(0, math.ceil(ylo - eps)), min(g.ny - 1, math.floor(yhi + eps))
    if abs(box.ra_a - box.ra_b) < 1e-12 or abs(box.dec_a - box.dec_b) < 1e-12:
        raise CutoutError("the box has zero area")
    if j1 < j0 or i1 < i0:
        raise CutoutError("the box holds no pixel centre of this map")
    return j0, j1 - j0 + 1, i0, i1 - i0 + 1


def _overlap(lo: float, hi: float, nx: int) -> float:
    """Length of [lo, hi] inside the map's columns [-0.5, nx - 0.5] (negative: apart)."""
    return min(hi, nx - 0.5) - max(lo, -0.5)


def cut(plane: Plane, box: SkyBox) -> tuple[np.ndarray, Any]:
    """The pixels inside ``box`` (float32, NaN kept) and their astropy WCS."""
    g = plane.geometry
    j0, nx, i0, ny = _pixel_span(box, plane)
    if nx * ny > MAX_CUTOUT_PIXELS:
        raise CutoutError(
            f"the box is {nx} × {ny} pixels; cutouts are limited to {MAX_CUTOUT_PIXELS // 2**20} Mpix"
        )
    period = round(360.0 / abs(g.dra))
    cols = np.arange(j0, j0 + nx, dtype=np.int64)
    if abs(period * abs(g.dra) - 360.0) < 1e-6:
        cols = cols % period
    jj = np.where((cols >= 0) & (cols < g.nx), cols, -1)
    ii = np.arange(i0, i0 + ny, dtype=np.int64)
    if not (jj >= 0).any():
        raise CutoutError("the box does not overlap the map")
    data = plane.gather(ii, jj)
    wcs = plane.wcs.deepcopy()
    # Reference the cutout's own centre column: an equatorial CAR may move its reference
    # longitude freely, and wcslib maps RA into ±180° around it, so tools reading the
    # cutout get pixel positions inside it (not 360° away for boxes across the seam).
    kc = nx // 2
    wcs.wcs.crval = [(g.ra0 + (j0 + kc) * g.dra) % 360.0, wcs.wcs.crval[1]]
    wcs.wcs.crpix = [kc + 1.0, wcs.wcs.crpix[1] - i0]
    return data, wcs


def fits_text(text: str) -> str:
    """``text`` in printable ASCII, as FITS header values must be: accents dropped, other
    letters spelled by their Unicode name (``ψ`` → ``psi``, ``−`` → ``-``)."""
    import unicodedata

    out = []
    for ch in unicodedata.normalize("NFKD", text):
        if " " <= ch <= "~":
            out.append(ch)
        elif unicodedata.combining(ch):
            continue
        elif unicodedata.category(ch) == "Pd" or ch == "\u2212":
            out.append("-")
        else:
            out.append(unicodedata.name(ch, "?").split()[-1].lower())
    return "".join(out)


def cutout_hdu(data: np.ndarray, wcs: Any, units: str | None, name: str) -> Any:
    """A float32 PrimaryHDU with the cutout's WCS, units and provenance."""
    from astropy.io import fits

    header = wcs.to_header()
    if units:
        header["BUNIT"] = units
    header["ORIGIN"] = "tilemaker-widget"
    header["OBJECT"] = fits_text(name)[:68]
    return fits.PrimaryHDU(np.ascontiguousarray(data, dtype=np.float32), header=header)


def fits_bytes(data: np.ndarray, wcs: Any, units: str | None, name: str) -> bytes:
    out = io.BytesIO()
    cutout_hdu(data, wcs, units, name).writeto(out)
    return out.getvalue()


def sky_oriented(data: np.ndarray, plane: Plane) -> np.ndarray:
    """North up, east (RA increasing) to the left, for pictures."""
    g = plane.geometry
    out = data
    if g.ddec > 0:
        out = out[::-1]
    if g.dra > 0:
        out = out[:, ::-1]
    return out


def aperture(plane: Plane, ra: float, dec: float, radius_arcmin: float) -> dict[str, Any]:
    """Statistics of the finite pixels whose centres lie within the radius."""
    check_aperture(dec, radius_arcmin)
    r = radius_arcmin / 60.0
    dra = min(180.0, r / max(math.cos(math.radians(min(89.9, abs(dec) + r))), 1e-3))
    box = SkyBox(ra - dra, ra + dra, max(-90.0, dec - r), min(90.0, dec + r))
    try:
        data, wcs = cut(plane, box)
    except CutoutError:
        data = np.zeros((0, 0), np.float32)
    if data.size:
        # Sky positions of the cutout's pixel centres, from its own WCS (linear CAR).
        cols = np.arange(data.shape[1], dtype=float)
        rows = np.arange(data.shape[0], dtype=float)
        ra_cols, _ = wcs.wcs_pix2world(cols, np.zeros_like(cols) + (data.shape[0] - 1) / 2, 0)
        _, dec_rows = wcs.wcs_pix2world(np.zeros_like(rows), rows, 0)
        pra = np.radians(ra_cols)[None, :]
        pdec = np.radians(dec_rows)[:, None]
        c0, d0 = math.radians(ra), math.radians(dec)
        cos_sep = np.sin(pdec) * math.sin(d0) + np.cos(pdec) * math.cos(d0) * np.cos(pra - c0)
        inside = cos_sep >= math.cos(math.radians(r))
        values = data[inside & np.isfinite(data)]
    else:
        values = np.zeros(0, np.float32)
    return aperture_stats(values, ra, dec, radius_arcmin)


def check_aperture(dec: float, radius_arcmin: float) -> None:
    """Refuse an aperture no layer can answer (the same rule for every kind of layer)."""
    if not math.isfinite(radius_arcmin) or radius_arcmin <= 0:
        raise CutoutError(f"radius must be a positive number of arcmin, not {radius_arcmin:g}")
    if radius_arcmin > MAX_APERTURE_ARCMIN:
        raise CutoutError(f"radius must be at most {MAX_APERTURE_ARCMIN:g} arcmin")
    if not -90 <= dec <= 90:
        raise CutoutError("dec must lie within [-90, 90]")


def aperture_stats(values: np.ndarray, ra: float, dec: float, radius_arcmin: float) -> dict[str, Any]:
    """The aperture route's answer for the finite values inside the circle."""
    stats: dict[str, Any] = {"ra": ra % 360.0, "dec": dec, "radius": radius_arcmin, "n_pixels": int(values.size)}
    if values.size:
        stats.update(
            mean=float(values.mean()), std=float(values.std()), min=float(values.min()), max=float(values.max())
        )
    else:
        stats.update(mean=None, std=None, min=None, max=None)
    return stats
