"""Sky geometry of a CAR map and the full-sky tile grid it is shown on.

A plate-carrée (CAR) map with its reference on the equator is separable and linear:
RA depends only on the column, Dec only on the row. We check that once from the
WCS and then work with four numbers, so mapping a tile to map pixels costs two small
integer index arrays and never a per-pixel WCS call.

The tile grid is TileMaker's: level z has 2^(z+1) × 2^z tiles of T pixels over the
full sky, column 0 at RA = −180° with RA increasing, row 0 at the south pole.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class UnsupportedGeometry(ValueError):
    """The map's WCS is not a plain equatorial CAR projection (`CarGeometry`), or (raised
    by engine/wcsimage.py) cannot be placed on the sky at all."""


# Celestial axis pairs by their CTYPE prefix, named for messages. Only ICRS CAR maps
# take the exact index-only path; the others are placed by engine/wcsimage.py.
_FRAMES = {
    "GLON": "galactic",
    "ELON": "ecliptic",
    "SLON": "supergalactic",
    "HLON": "helioecliptic",
    "HPLN": "helioprojective",
}


def require_equatorial(cel, name: str = "map") -> None:
    """Refuse, for the plain CAR path, a celestial WCS whose frame is not ICRS (or FK5 at J2000).

    FK5 J2000 differs from ICRS by less than 0.03″, far below any CAR map's pixel,
    so it is accepted as ICRS; FK4, FK5 at another equinox, apparent places and
    every non-equatorial system are refused with a message naming the frame.

    Parameters
    ----------
    cel
        The celestial part of an astropy WCS (two axes).
    name
        What the map is called in the message.

    Raises
    ------
    UnsupportedGeometry
        If the frame is not equatorial ICRS/FK5-J2000.
    """
    ctype = [str(c).upper() for c in cel.wcs.ctype]
    lon = ctype[cel.wcs.lng] if cel.wcs.lng >= 0 else ctype[0]
    prefix = lon[:4].rstrip("-")
    if prefix != "RA":
        frame = _FRAMES.get(lon[:4], f"{prefix or '?'} longitude/latitude")
        raise UnsupportedGeometry(
            f"{name}: the map is in {frame} coordinates ({', '.join(ctype)}); only "
            "equatorial (RA/Dec, ICRS) maps can be shown yet: reproject it to RA/Dec first"
        )
    cel.wcs.set()  # wcslib fills RADESYS/EQUINOX defaults per the FITS standard
    radesys = str(cel.wcs.radesys).strip().upper() or "ICRS"
    equinox = float(cel.wcs.equinox)
    if radesys == "ICRS" or (radesys == "FK5" and equinox == 2000.0):
        return
    where = radesys if not math.isfinite(equinox) else f"{radesys}, equinox {equinox:g}"
    raise UnsupportedGeometry(
        f"{name}: equatorial coordinates in the {where} frame cannot be placed on the "
        "ICRS sky yet; only RADESYS ICRS (or FK5 with EQUINOX 2000) maps can be shown"
    )


def _wrap180(x: float) -> float:
    return (x + 180.0) % 360.0 - 180.0


@dataclass(frozen=True)
class CarGeometry:
    """Pixel centres: RA(j) = ra0 + j·dra, Dec(i) = dec0 + i·ddec (0-based, degrees)."""

    ny: int
    nx: int
    ra0: float
    dra: float
    dec0: float
    ddec: float

    @classmethod
    def from_wcs(cls, wcs, shape: tuple[int, int], name: str = "map") -> CarGeometry:
        ny, nx = int(shape[-2]), int(shape[-1])
        try:
            cel = wcs.celestial
        except Exception as exc:  # astropy raises several kinds here
            raise UnsupportedGeometry(f"{name}: no celestial WCS ({exc})") from None
        ctype = [str(c).upper() for c in cel.wcs.ctype]
        if cel.naxis != 2 or not cel.has_celestial:
            raise UnsupportedGeometry(f"{name}: no celestial WCS (CTYPE {ctype})")
        require_equatorial(cel, name)
        if not all(c.endswith("-CAR") for c in ctype):
            proj = ctype[0][-3:] if ctype and ctype[0] else "?"
            raise UnsupportedGeometry(
                f"{name}: projection {proj} ({', '.join(ctype)}) is not supported yet; "
                "only plate carrée (CAR) maps can be shown"
            )
        if cel.wcs.lng != 0 or cel.wcs.lat != 1:
            raise UnsupportedGeometry(f"{name}: the first axis must be RA/longitude")
        # wcslib answers NaN for native longitudes beyond ±180° unless bounds checking
        # is off; a CAR patch across RA = 180° with CRVAL1 = 0 (pixell's default) has
        # such pixels. `cel` is our own copy, so this does not touch the caller's WCS.
        cel.wcs.bounds_check(False, False)

        def world(x, y):
            ra, dec = cel.wcs_pix2world(np.asarray(x, float), np.asarray(y, float), 0)
            return np.asarray(ra, float), np.asarray(dec, float)

        # Probe on a few rows/columns near the middle: pole rows may be undefined.
        cy = (ny - 1) / 2.0
        (ra_a, ra_b), (dec_a, _) = world([0.0, 1.0], [cy, cy])
        _, (dec_c, dec_d) = world([0.0, 0.0], [cy, cy + 1.0])
        dra = _wrap180(float(ra_b - ra_a))
        ddec = float(dec_d - dec_c)
        if dra == 0 or ddec == 0 or not math.isfinite(dra * ddec):
            raise UnsupportedGeometry(f"{name}: degenerate pixel scale in the WCS")
        ra0 = float(ra_a)
        dec0 = float(dec_a) - cy * ddec
        # Verify separability and linearity at spread-out pixels.
        xs = np.array([0.0, nx - 1.0, (nx - 1) / 2.0, nx / 3.0])
        ys = np.array([cy, ny * 0.1, ny * 0.9, cy])
        ras, decs = world(xs, ys)
        ok = np.isfinite(ras) & np.isfinite(decs)
        tol = 1e-6 * max(1.0, abs(dra) * 10)
        ra_err = np.abs(((ras - (ra0 + xs * dra)) + 180.0) % 360.0 - 180.0)
        dec_err = np.abs(decs - (dec0 + ys * ddec))
        if not ok.any() or (ra_err[ok] > tol).any() or (dec_err[ok] > 1e-6).any():
            raise UnsupportedGeometry(
                f"{name}: the CAR projection is not a plain equatorial one "
                "(rotated, or reference latitude ≠ 0); this is not supported yet"
            )
        return cls(ny=ny, nx=nx, ra0=ra0 % 360.0, dra=dra, dec0=dec0, ddec=ddec)

    @property
    def pixel_scale(self) -> float:
        """Degrees per pixel (the finer axis)."""
        return min(abs(self.dra), abs(self.ddec))

    def sky_to_pixel(self, ra: float, dec: float) -> tuple[float, float]:
        """Fractional 0-based (x, y) of a sky position; x wraps onto the map if it can."""
        x, y = self.sky_to_pixels(np.float64(ra), np.float64(dec))
        return float(x), float(y)

    def sky_to_pixels(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`sky_to_pixel` for arrays of positions."""
        period = 360.0 / abs(self.dra)
        x = ((np.asarray(ra, float) - self.ra0) / self.dra) % period
        x = np.where((x > self.nx - 0.5) & (x - period >= -0.5), x - period, x)
        y = (np.asarray(dec, float) - self.dec0) / self.ddec
        return x, y

    def nearest_pixels(self, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the pixel containing each position (−1 off the map), int64."""
        x, y = self.sky_to_pixels(ra, dec)
        j, i = np.floor(x + 0.5).astype(np.int64), np.floor(y + 0.5).astype(np.int64)
        inside = (j >= 0) & (j < self.nx) & (i >= 0) & (i < self.ny)
        return np.where(inside, i, -1), np.where(inside, j, -1)

    def pixel_to_sky(self, x: float, y: float) -> tuple[float, float]:
        return (self.ra0 + x * self.dra) % 360.0, self.dec0 + y * self.ddec

    def bounds(self) -> dict[str, float]:
        """Edges in TileMaker's convention: RA in (−180, 180], left = lowest RA."""
        ra_edges = [self.ra0 - 0.5 * self.dra, self.ra0 + (self.nx - 0.5) * self.dra]
        dec_edges = [self.dec0 - 0.5 * self.ddec, self.dec0 + (self.ny - 0.5) * self.ddec]
        if abs(self.nx * self.dra) >= 360.0 - 1e-9:
            left, right = -180.0, 180.0
        else:
            lo = min(ra_edges)
            left, right = _wrap180(lo), _wrap180(lo + abs(self.nx * self.dra))
        return {
            "bounding_left": left,
            "bounding_right": right,
            "bounding_top": min(90.0, max(dec_edges)),
            "bounding_bottom": max(-90.0, min(dec_edges)),
        }


# How far a viewer may zoom: out to level MIN_ZOOM (at −2 the whole sky is half a tile
# wide and a quarter high, so it fits any notebook cell) and in to OVERZOOM levels past the native
# one (a native pixel is then 16 screen pixels). The front end reads both from the
# layer description (min_zoom, max_zoom); the widget's zoom trait is checked with them.
MIN_ZOOM = -2
OVERZOOM = 4


@dataclass(frozen=True)
class TileGrid:
    """The full-sky tile pyramid a layer is served on."""

    tile_size: int
    native_level: int

    @property
    def max_zoom(self) -> int:
        """The deepest view level: native plus `OVERZOOM` (tiles enlarged)."""
        return self.native_level + OVERZOOM

    @property
    def width(self) -> int:
        return self.tile_size * 2 ** (self.native_level + 1)

    @property
    def height(self) -> int:
        return self.tile_size * 2**self.native_level

    @property
    def resolution(self) -> float:
        """Degrees per native grid pixel."""
        return 180.0 / self.height

    @property
    def number_of_levels(self) -> int:
        return self.native_level + 1

    def tiles_at(self, z: int) -> tuple[int, int]:
        """(tiles across, tiles down) at level z."""
        return 2 ** (z + 1), 2**z

    def contains(self, z: int, y: int, x: int) -> bool:
        # The level first: 2 ** (z + 1) for an absurd z would hold the interpreter.
        if not 0 <= z <= self.native_level:
            return False
        nx, ny = self.tiles_at(z)
        return 0 <= x < nx and 0 <= y < ny


def choose_grid(geom: CarGeometry) -> tuple[TileGrid, bool]:
    """The tile grid for a map, and whether it maps 1:1 onto the map's pixels.

    Maps whose square pixels divide the sky into a whole number of rows with a small
    odd factor (ACT/SO at 0.25′, 0.5′, 1′, 2′, 4′…) get TileMaker's tile size (675 for
    those) and are served without resampling. Any other map is shown on the nearest
    finer grid with tiles of 256–512 pixels, filled by nearest-neighbour sampling.
    """
    res = geom.pixel_scale
    rows = 180.0 / res
    square = abs(abs(geom.dra) - abs(geom.ddec)) <= 1e-9 * res
    n_rows = round(rows)
    if square and abs(rows - n_rows) <= 1e-6 * rows and n_rows >= 2:
        if n_rows % 256 == 0:
            tile = 256
        else:
            tile = n_rows
            while tile % 2 == 0 and tile > 512:
                tile //= 2
        if 16 <= tile <= 1024 or tile == n_rows:
            level = round(math.log2(n_rows // tile))
            if tile * 2**level == n_rows and tile <= 1024:
                return TileGrid(tile, level), True
    return grid_for_resolution(res), False


def grid_for_resolution(res: float) -> TileGrid:
    """The coarsest grid whose pixels are at most ``res`` degrees, tiles of 256–512 pixels.

    The grid of every layer whose own pixels are not the grid's (a resampled CAR map,
    a HEALPix map, an image in another projection).
    """
    rows = 180.0 / res
    level = max(0, math.ceil(math.log2(rows / 512.0)))
    tile = max(1, math.ceil(rows / 2**level))
    return TileGrid(tile, level)


@dataclass(frozen=True)
class GridMapping:
    """Which map pixel feeds each native grid pixel (−1 where the map has none)."""

    geom: CarGeometry
    grid: TileGrid
    exact: bool

    def columns(self, gx: np.ndarray) -> np.ndarray:
        """Map column for native grid columns ``gx`` (RA increasing with gx)."""
        g = self.geom
        res = self.grid.resolution
        if self.exact:
            # Integer arithmetic: a half-pixel offset (ACT's pixel centres sit on grid
            # pixel edges) must snap the same way for every column.
            offset = math.floor((g.ra0 + 180.0) / res + 1e-6)  # round(g0), g0 = (ra0+180)/res - 0.5
            step = 1 if g.dra > 0 else -1
            j = ((gx - offset) * step) % self.grid.width
        else:
            ra = -180.0 + (gx + 0.5) * res
            period = 360.0 / abs(g.dra)
            j = np.floor(((ra - g.ra0) / g.dra + 0.5) % period).astype(np.int64)
        j = np.asarray(j, dtype=np.int64)
        return np.where(j < g.nx, j, -1)

    def rows(self, gy: np.ndarray) -> np.ndarray:
        """Map row for native grid rows ``gy`` (Dec increasing with gy)."""
        g = self.geom
        res = self.grid.resolution
        if self.exact:
            offset = math.floor((g.dec0 + 90.0) / res + 1e-6)
            step = 1 if g.ddec > 0 else -1
            i = (np.asarray(gy, dtype=np.int64) - offset) * step
        else:
            dec = -90.0 + (gy + 0.5) * res
            i = np.floor((dec - g.dec0) / g.ddec + 0.5).astype(np.int64)
        return np.where((i >= 0) & (i < g.ny), i, -1)

    def tile_indices(self, z: int, y: int, x: int) -> tuple[np.ndarray, np.ndarray]:
        """Map rows (north first) and columns (RA increasing) under tile (z, y, x).

        At level z each tile pixel covers f × f native grid pixels, f = 2^(N−z); the
        arrays have T·f entries.
        """
        t = self.grid.tile_size
        f = 2 ** (self.grid.native_level - z)
        gy = np.arange((y + 1) * t * f - 1, y * t * f - 1, -1, dtype=np.int64)
        gx = np.arange(x * t * f, (x + 1) * t * f, dtype=np.int64)
        return self.rows(gy), self.columns(gx)
